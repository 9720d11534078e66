# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: release_source
short_description: The ComfyUI source of a deploy run
version_added: 0.1.0
description:
  - "The first host's C(comfyui_deploy_source), or the default of the role P(comfyops.comfyui.comfyui_deploy#role)'s
    argument spec: the one source P(comfyops.comfyui.release_id#filter) names the release after."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The hosts of the group.
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Where ComfyUI comes from in this run
  ansible.builtin.debug:
    msg: "{{ (groups['comfyui_hosts'] | comfyops.comfyui.release_source(hostvars)).type }}"
"""

RETURN = r"""
_value:
  description: The source (type, url, ref, checksum or path).
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.role_spec import release_source as _release_source


@typed(DOCUMENTATION)
def release_source(hosts, hostvars):
    return _release_source(list(hosts), hostvars)


class FilterModule:
    def filters(self):
        return {"release_source": release_source}
