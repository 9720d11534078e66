# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: deploy_outcome
short_description: What a deploy run did to one host, from its releases
version_added: 0.1.0
description:
  - Classifies one host at the end of C(playbooks/deploy.yml) from the result of
    M(comfyops.comfyui.comfyui_release) with O(comfyops.comfyui.comfyui_release#module:state=query).
  - "V(deployed): C(current) is the run's release and it is V(active). V(rolled back): the run's release is
    marked V(failed) on the host (it failed a gate and the host went back). V(unreachable): the query did not
    reach the host. For a host that failed in the run, anything else is V(failed) (a failed build, validation).
    For a host still in the run: V(would deploy) in check mode, else V(not reached) (the rollout stopped first)."
author:
  - comfyops maintainers (@comfyops)
positional: release_id
options:
  _input:
    description: The registered result of a C(state=query) task (may be an unreachable result).
    type: dict
    required: true
  release_id:
    description: The release the run deployed.
    type: str
    required: true
  failed:
    description: Whether the host failed earlier in the run.
    type: bool
    default: false
  check_mode:
    description: Whether the run is in check mode.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: What became of this host
  ansible.builtin.set_fact:
    outcome: "{{ where | comfyops.comfyui.deploy_outcome(comfyui_release_id, check_mode=ansible_check_mode) }}"
"""

RETURN = r"""
_value:
  description: One of V(deployed), V(rolled back), V(failed), V(would deploy), V(not reached), V(unreachable).
  type: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._release import deploy_outcome
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


class FilterModule:
    def filters(self):
        return {"deploy_outcome": typed(DOCUMENTATION)(deploy_outcome)}
