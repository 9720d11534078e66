#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_gpu_info
short_description: Read NVIDIA GPU facts through NVML
version_added: 0.1.0
description:
  - Reads every NVIDIA GPU of the host through NVML (the C{pynvml} module of C(nvidia-ml-py)).
  - Per GPU, index, UUID, name, PCI bus id, memory total, used and free in bytes, utilisation,
    temperature, power draw and limit, persistence and compute mode, MIG mode, uncorrected ECC
    error counts, pending retired pages or row remaps, decoded throttle reasons and compute capability.
  - Host-wide, the driver version and the CUDA version the driver supports.
  - On a host without a driver or without C(nvidia-ml-py) it returns an empty list with
    O(require_gpu=false), and says why in RV(reason).
  - An info module, never C(changed).
author:
  - comfyops maintainers (@comfyops)
requirements:
  - nvidia-ml-py (the C(pynvml) module) on the managed host, for GPU facts
options:
  require_gpu:
    description:
      - Fail when NVML cannot start or the host has fewer than O(min_gpus) GPUs.
    type: bool
    default: false
  min_gpus:
    description:
      - With O(require_gpu=true), the number of GPUs the host must have.
    type: int
    default: 1
extends_documentation_fragment:
  - comfyops.comfyui.attributes
notes:
  - Values a GPU does not support (for example ECC on a consumer card) are V(null), and the
    query appears in that GPU's RV(gpus[].unsupported) list.
"""

EXAMPLES = r"""
- name: Read GPU facts (never fails on a host without a GPU)
  comfyops.comfyui.nvidia_gpu_info:
  register: gpu_facts

- name: Show how much VRAM each GPU has free
  ansible.builtin.debug:
    msg: "{{ gpu_facts.gpus | map(attribute='memory_free') | list }}"

- name: Insist on two GPUs
  comfyops.comfyui.nvidia_gpu_info:
    require_gpu: true
    min_gpus: 2
  when: inventory_hostname in groups['gpu_hosts'] | default([])
"""

RETURN = r"""
nvml_available:
  description: Whether NVML started and answered.
  returned: always
  type: bool
  sample: true
reason:
  description: Why there are no GPU facts, when RV(nvml_available) is false.
  returned: always
  type: str
  sample: "NVML could not start: NVML Shared Library Not Found (NVMLError_LibraryNotFound)"
driver_version:
  description: NVIDIA driver version.
  returned: always
  type: str
  sample: "570.133.20"
cuda_driver_version:
  description: The newest CUDA version the driver supports.
  returned: always
  type: str
  sample: "12.8"
gpu_count:
  description: Number of GPUs.
  returned: always
  type: int
  sample: 1
gpus:
  description: One entry per GPU, by NVML index.
  returned: always
  type: list
  elements: dict
  contains:
    index: {description: NVML index., type: int, returned: always}
    uuid: {description: GPU UUID., type: str, returned: always}
    name: {description: Product name., type: str, returned: always, sample: NVIDIA H200}
    pci_bus_id: {description: PCI bus id., type: str, returned: always}
    memory_total: {description: Memory in bytes., type: int, returned: always}
    memory_used: {description: Used memory in bytes., type: int, returned: always}
    memory_free: {description: Free memory in bytes., type: int, returned: always}
    utilization_gpu: {description: GPU utilisation in percent., type: int, returned: always}
    utilization_memory: {description: Memory controller utilisation in percent., type: int, returned: always}
    temperature: {description: Core temperature in degrees Celsius., type: int, returned: always}
    power_draw_watts: {description: Power draw in watts., type: float, returned: always}
    power_limit_watts: {description: Enforced power limit in watts., type: float, returned: always}
    persistence_mode: {description: Whether persistence mode is on., type: bool, returned: always}
    compute_mode: {description: "V(default), V(exclusive_thread), V(prohibited) or V(exclusive_process).", type: str, returned: always}
    mig_mode: {description: Whether MIG is enabled now., type: bool, returned: always}
    mig_mode_pending: {description: MIG mode after the next reset., type: bool, returned: always}
    ecc_uncorrected_volatile: {description: Uncorrected ECC errors since the last driver load., type: int, returned: always}
    ecc_uncorrected_aggregate: {description: Uncorrected ECC errors over the GPU's life., type: int, returned: always}
    retired_pages_pending: {description: Pages waiting to be retired at the next reset (pre-Ampere)., type: bool, returned: always}
    remapped_rows_pending: {description: Row remaps waiting for a reset (Ampere and newer)., type: bool, returned: always}
    remapped_rows_failure: {description: A row remap failed., type: bool, returned: always}
    throttle_reasons: {description: Decoded clock event reasons now active., type: list, elements: str, returned: always}
    throttle_harmful: {description: "Active reasons that slow the GPU (thermal, power brake, slowdown).", type: list, elements: str, returned: always}
    compute_capability: {description: CUDA compute capability., type: str, returned: always, sample: "9.0"}
    unsupported: {description: "Queries this GPU does not support, with NVML's answer.", type: list, elements: str, returned: always}
"""

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.comfyops.comfyui.plugins.module_utils._gpu import collect
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule


def main():
    module = ComfyOpsModule(
        argument_spec={"require_gpu": {"type": "bool", "default": False}, "min_gpus": {"type": "int", "default": 1}},
        supports_check_mode=True,
    )
    facts = collect()
    import_error = facts.pop("import_error", None)
    facts["gpu_count"] = len(facts["gpus"])
    if module.params["require_gpu"]:
        if import_error:
            module.fail_json(msg=missing_required_lib("nvidia-ml-py"), exception=import_error, **facts)
        if not facts["nvml_available"]:
            module.fail_json(msg="No GPU facts on this host, and require_gpu is true: %s" % facts["reason"], **facts)
        if facts["gpu_count"] < module.params["min_gpus"]:
            module.fail_json(msg="This host has %d GPU(s); at least %d are required" % (facts["gpu_count"], module.params["min_gpus"]), **facts)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
