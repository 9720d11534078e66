# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: torch_index
short_description: The PyTorch wheel index that matches a host's CPU or CUDA driver
version_added: 0.1.0
description:
  - "For a device other than V(cuda): C(<base>/cpu). For V(cuda): C(<base>/cu<MAJOR><MINOR>) of the newest build in
    O(builds) that is not newer than the CUDA version the driver supports (a driver runs code built for its own
    CUDA version or an older one)."
  - Fails with a message when the driver's CUDA version is unknown or older than every build.
author:
  - comfyops maintainers (@comfyops)
positional: cuda_driver_version
options:
  _input:
    description: The device, V(cuda) or another (V(cpu), V(mps), ...).
    type: str
    required: true
  cuda_driver_version:
    description: The CUDA version the driver supports, as M(comfyops.comfyui.nvidia_gpu_info) returns it (V(12.8)).
    type: str
  builds:
    description: The CUDA builds PyTorch offers.
    type: list
    elements: str
    default: ["11.8", "12.1", "12.4", "12.6", "12.8", "13.0"]
  base:
    description: The index root.
    type: str
    default: https://download.pytorch.org/whl
"""

EXAMPLES = r"""
- name: The PyTorch index for this host
  ansible.builtin.set_fact:
    torch_index: "{{ 'cuda' | comfyops.comfyui.torch_index(gpu.cuda_driver_version) }}"
"""

RETURN = r"""
_value:
  description: The index URL.
  type: str
  sample: https://download.pytorch.org/whl/cu128
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._torch import DEFAULT_BASE, DEFAULT_BUILDS, torch_index_url
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors("torch_index", UnitError)
def torch_index(device, cuda_driver_version=None, builds=DEFAULT_BUILDS, base=DEFAULT_BASE):
    return torch_index_url(device, cuda_driver_version, builds, base)


class FilterModule:
    def filters(self):
        return {"torch_index": torch_index}
