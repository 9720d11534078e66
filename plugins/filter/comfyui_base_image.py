# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: comfyui_base_image
short_description: The container base image that matches a host's CUDA driver (container mode)
version_added: 0.5.0
description:
  - "For V(cuda): the image in O(images) of the newest CUDA version that is not newer than the CUDA version the
    driver supports, the same rule as P(comfyops.comfyui.torch_index#filter) uses for the PyTorch wheels, so the
    image's CUDA runtime and the wheels agree. For any other device: O(cpu_image)."
  - Fails with a message when the driver's CUDA version is unknown or older than every image offered.
author:
  - comfyops maintainers (@comfyops)
positional: cuda_driver_version
options:
  _input:
    description: The device, V(cuda) or another (V(cpu), ...).
    type: str
    required: true
  cuda_driver_version:
    description: The CUDA version the driver supports, as M(comfyops.comfyui.nvidia_gpu_info) returns it (V(12.8)).
    type: str
  images:
    description: CUDA version to image reference. Default NVIDIA's C(nvidia/cuda:<version>-cudnn-runtime-ubuntu...) images for 12.1 to 13.0.
    type: dict
  cpu_image:
    description: The image for a device other than V(cuda).
    type: str
    default: ubuntu:24.04
  configured:
    description: The image asked for (C(comfyui_deploy_image_base)); any value but V(auto) is returned as it is.
    type: str
    default: auto
"""

EXAMPLES = r"""
- name: The base image for this host's driver
  ansible.builtin.set_fact:
    base: "{{ 'cuda' | comfyops.comfyui.comfyui_base_image(gpu.cuda_driver_version) }}"
"""

RETURN = r"""
_value:
  description: The image reference.
  type: str
  sample: nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._torch import DEFAULT_CPU_IMAGE, base_image
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors("comfyui_base_image", UnitError)
def comfyui_base_image(device, cuda_driver_version=None, images=None, cpu_image=DEFAULT_CPU_IMAGE, configured="auto"):
    return base_image(device, cuda_driver_version, images, cpu_image, configured)


class FilterModule:
    def filters(self):
        return {"comfyui_base_image": comfyui_base_image}
