# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: debian_packages
short_description: The problems of package names a role hands to apt
version_added: 0.1.0
description:
  - Each name must be a Debian package name with an optional C(=version) pin (C(nginx), C(nginx=1.22.1-9)); a name
    that apt could read as an option (C(-oAPT::Get::...)) or as something else is a problem.
  - Returns the problems, one message each naming the variable (and the index in a list); empty when all are names.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: A list of package names, or one name.
    type: raw
    required: true
  option:
    description: The variable to name in the messages.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Preflight | the packages are package names
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join('; ') }}"
  vars:
    _problems: "{{ gpu_host_packages | comfyops.comfyui.debian_packages('gpu_host_packages') }}"
"""

RETURN = r"""
_value:
  description: The problems, one message each.
  type: list
  elements: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._debian import package_problems
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION, problems=True)
def debian_packages(values, option):
    return package_problems(values, option)


class FilterModule:
    def filters(self):
        return {"debian_packages": debian_packages}
