# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PyTorch wheel index that matches a host: its CPU, or the newest CUDA build its driver runs."""

from __future__ import annotations

from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError, parse_version

DEFAULT_BASE = "https://download.pytorch.org/whl"
# CUDA builds PyTorch publishes wheels for (https://download.pytorch.org/whl/cu<major><minor>)
DEFAULT_BUILDS = ("11.8", "12.1", "12.4", "12.6", "12.8", "13.0")


def torch_index_url(device: str, cuda_driver_version: Any = None, builds: Any = DEFAULT_BUILDS, base: str = DEFAULT_BASE) -> str:
    """https://download.pytorch.org/whl/cpu for a CPU host; for CUDA, the newest build the driver supports.

    A CUDA driver runs code built for its own CUDA version or an older one, so the choice is the
    newest build not above `cuda_driver_version` (as NVML reports it, for example "12.8").
    """
    base = base.rstrip("/")
    if device != "cuda":
        return base + "/cpu"
    if not cuda_driver_version:
        raise UnitError("the PyTorch index for CUDA needs the driver's CUDA version, and NVML gave none: is the NVIDIA driver installed?")
    driver = parse_version(cuda_driver_version, "cuda_driver_version")
    offered = [parse_version(build, "torch CUDA builds") for build in builds]
    usable = sorted((build for build in offered if build <= driver), reverse=True)
    if not usable:
        raise UnitError(
            "the driver supports CUDA %s, older than every PyTorch build offered (%s): update the driver"
            % (cuda_driver_version, ", ".join(str(b) for b in builds))
        )
    return "%s/cu%s" % (base, "".join(str(part) for part in usable[0][:2]))
