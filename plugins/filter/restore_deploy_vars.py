# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: restore_deploy_vars
short_description: The deploy settings that rebuild, on a new host, the release a backup recorded
version_added: 0.3.0
description:
  - "From what a snapshot recorded (RV(comfyops.comfyui.comfyui_backup_info#module:recorded)): the release id, the ComfyUI
    source at the recorded commit (for a git source) and the inventory's custom nodes pinned to the recorded commits,
    as C(comfyui_deploy_release_id), C(comfyui_deploy_source) and C(comfyui_deploy_custom_nodes)."
  - Fails, naming them, when the recorded release had custom nodes the inventory does not declare, or when the backup
    recorded no release.
author:
  - comfyops maintainers (@comfyops)
positional: source, custom_nodes
options:
  _input:
    description: What the snapshot recorded.
    type: dict
    required: true
  source:
    description: The host's C(comfyui_deploy_source).
    type: dict
    required: true
  custom_nodes:
    description: The host's C(comfyui_deploy_custom_nodes).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: The recorded release's settings
  ansible.builtin.set_fact:
    _plan: "{{ info.recorded | comfyops.comfyui.restore_deploy_vars(comfyui_deploy_source, comfyui_deploy_custom_nodes | default([])) }}"
"""

RETURN = r"""
_value:
  description: C(comfyui_deploy_release_id), C(comfyui_deploy_source) and C(comfyui_deploy_custom_nodes).
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import BackupError, deploy_overrides
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors("restore_deploy_vars", BackupError)
def restore_deploy_vars(recorded, source, custom_nodes):
    return deploy_overrides(recorded or {}, source or {}, custom_nodes or [])


class FilterModule:
    def filters(self):
        return {"restore_deploy_vars": restore_deploy_vars}
