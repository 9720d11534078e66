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
    build = newest_supported(cuda_driver_version, builds, "PyTorch build")
    return "%s/cu%s" % (base, "".join(str(part) for part in build[:2]))


def newest_supported(cuda_driver_version: Any, offered: Any, what: str) -> tuple[int, ...]:
    """The newest CUDA version in `offered` that is not above the one the driver supports (as NVML reports it)."""
    if not cuda_driver_version:
        raise UnitError("the %s for CUDA needs the driver's CUDA version, and NVML gave none: is the NVIDIA driver installed?" % what)
    driver = parse_version(cuda_driver_version, "cuda_driver_version")
    usable = sorted((parse_version(version, what) for version in offered if parse_version(version, what) <= driver), reverse=True)
    if not usable:
        raise UnitError(
            "the driver supports CUDA %s, older than every %s offered (%s): update the driver"
            % (cuda_driver_version, what, ", ".join(str(version) for version in offered))
        )
    return usable[0]


# NVIDIA's CUDA runtime images (cuDNN included) per CUDA version, the same versions as DEFAULT_BUILDS from 12.1 on
DEFAULT_CUDA_IMAGES = {
    "12.1": "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04",
    "12.4": "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
    "12.6": "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04",
    "12.8": "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04",
    "13.0": "nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04",
}
DEFAULT_CPU_IMAGE = "ubuntu:24.04"


def base_image(device: str, cuda_driver_version: Any = None, images: Any = None, cpu_image: str = DEFAULT_CPU_IMAGE, configured: str = "auto") -> str:
    """The container base image for a host: `configured` unless it is "auto"; for CUDA, NVIDIA's runtime image of the newest CUDA version its driver
    runs (the same rule as the PyTorch index, so the image and the wheels agree); for any other device, `cpu_image`."""
    if configured != "auto":
        return configured
    if device != "cuda":
        return cpu_image
    offered: dict[str, str] = {str(version): str(image) for version, image in (DEFAULT_CUDA_IMAGES if images is None else images).items()}
    if not offered:
        raise UnitError("no CUDA base images offered (comfyui_deploy_cuda_images is empty)")
    chosen = newest_supported(cuda_driver_version, list(offered), "CUDA base image")
    return next(image for version, image in offered.items() if parse_version(version, "CUDA base image") == chosen)
