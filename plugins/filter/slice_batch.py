# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: slice_batch
short_description: The batch size of one AWX job slice, so that the batch limit holds across slices
version_added: 0.1.0
description:
  - "C(playbooks/deploy.yml)'s C(serial) when the rollout runs as O(slices) AWX job slices at once: a percentage
    (V(30%)) holds as it is, since each slice takes that share of its own hosts; a number of hosts is shared out
    between the slices (V(10) over 4 slices: V(2) per slice) and refused when smaller than the number of slices.
    With one slice, the batch as it is."
author:
  - comfyops maintainers (@comfyops)
positional: slices
options:
  _input:
    description: C(comfyui_deploy_batch), a number of hosts or a percentage.
    type: raw
    required: true
  slices:
    description: C(comfyui_deploy_slices), the job template's slice count.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Batches
  hosts: comfyui_hosts
  serial: "{{ comfyui_deploy_batch | default('30%') | comfyops.comfyui.slice_batch(comfyui_deploy_slices | default(1)) }}"
  tasks: []
"""

RETURN = r"""
_value:
  description: The batch for this slice, a number of hosts or the percentage.
  type: raw
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._release import ReleaseError
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import slice_batch as build
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors(None, ReleaseError)
def slice_batch(batch, slices):
    return build(batch, slices)


class FilterModule:
    def filters(self):
        return {"slice_batch": slice_batch}
