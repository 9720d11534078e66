# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU facts through NVML (the ``pynvml`` module of nvidia-ml-py).

Plain Python, no Ansible: ``collect()`` returns a dict that modules return as is and
that host checks read.  The NVML module is passed in (tests give a stand-in with the
same functions), or imported here.
"""

from __future__ import annotations

import traceback
from typing import Any

# Clock event ("throttle") reason bits, from nvml.h.
THROTTLE_REASONS = (
    (0x0000000000000001, "gpu_idle"),
    (0x0000000000000002, "applications_clocks_setting"),
    (0x0000000000000004, "sw_power_cap"),
    (0x0000000000000008, "hw_slowdown"),
    (0x0000000000000010, "sync_boost"),
    (0x0000000000000020, "sw_thermal_slowdown"),
    (0x0000000000000040, "hw_thermal_slowdown"),
    (0x0000000000000080, "hw_power_brake_slowdown"),
    (0x0000000000000100, "display_clock_setting"),
)
# Reasons that mean the GPU runs slower than it should (idle and app settings are benign).
HARMFUL_THROTTLE = {"sw_thermal_slowdown", "hw_thermal_slowdown", "hw_slowdown", "hw_power_brake_slowdown"}
COMPUTE_MODES = {0: "default", 1: "exclusive_thread", 2: "prohibited", 3: "exclusive_process"}

NVML_TEMPERATURE_GPU = 0
NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
NVML_VOLATILE_ECC = 0
NVML_AGGREGATE_ECC = 1


def import_nvml() -> tuple[Any, str | None]:
    """Return (module, None) or (None, traceback text) when nvidia-ml-py is missing."""
    try:
        import pynvml  # pylint: disable=import-outside-toplevel

        return pynvml, None
    except ImportError:
        return None, traceback.format_exc()


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def decode_throttle(mask: int | None) -> list[str] | None:
    if mask is None:
        return None
    return [name for bit, name in THROTTLE_REASONS if mask & bit]


def cuda_version_text(number: int | None) -> str | None:
    """NVML's CUDA driver version integer (12040) as '12.4'."""
    if not number:
        return None
    return "%d.%d" % (number // 1000, (number % 1000) // 10)


class _Reader:
    """Calls one NVML getter; an unsupported or failing query is None, and is noted."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self.unsupported: list[str] = []

    def __call__(self, label: str, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except self.nvml.NVMLError as exc:
            self.unsupported.append("%s: %s" % (label, exc))
            return None


def _device(nvml: Any, index: int) -> dict[str, Any]:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    read = _Reader(nvml)
    memory = read("memory", nvml.nvmlDeviceGetMemoryInfo, handle)
    utilization = read("utilization", nvml.nvmlDeviceGetUtilizationRates, handle)
    pci = read("pci", nvml.nvmlDeviceGetPciInfo, handle)
    power = read("power_draw", nvml.nvmlDeviceGetPowerUsage, handle)
    limit = read("power_limit", nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
    mig = read("mig_mode", nvml.nvmlDeviceGetMigMode, handle)
    capability = read("compute_capability", nvml.nvmlDeviceGetCudaComputeCapability, handle)
    compute_mode = read("compute_mode", nvml.nvmlDeviceGetComputeMode, handle)
    persistence = read("persistence_mode", nvml.nvmlDeviceGetPersistenceMode, handle)
    ecc_volatile = read("ecc_volatile", nvml.nvmlDeviceGetTotalEccErrors, handle, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC)
    ecc_aggregate = read("ecc_aggregate", nvml.nvmlDeviceGetTotalEccErrors, handle, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_AGGREGATE_ECC)
    retired_pending = read("retired_pages_pending", nvml.nvmlDeviceGetRetiredPagesPendingStatus, handle)
    remapped = read("remapped_rows", nvml.nvmlDeviceGetRemappedRows, handle)
    reasons_getter = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    throttle_mask = read("throttle_reasons", reasons_getter, handle)
    throttle = decode_throttle(throttle_mask)
    return {
        "index": index,
        "uuid": _text(read("uuid", nvml.nvmlDeviceGetUUID, handle)),
        "name": _text(read("name", nvml.nvmlDeviceGetName, handle)),
        "pci_bus_id": _text(pci.busId) if pci is not None else None,
        "memory_total": memory.total if memory is not None else None,
        "memory_used": memory.used if memory is not None else None,
        "memory_free": memory.free if memory is not None else None,
        "utilization_gpu": utilization.gpu if utilization is not None else None,
        "utilization_memory": utilization.memory if utilization is not None else None,
        "temperature": read("temperature", nvml.nvmlDeviceGetTemperature, handle, NVML_TEMPERATURE_GPU),
        "power_draw_watts": round(power / 1000.0, 1) if power is not None else None,
        "power_limit_watts": round(limit / 1000.0, 1) if limit is not None else None,
        "persistence_mode": bool(persistence) if persistence is not None else None,
        "compute_mode": COMPUTE_MODES.get(compute_mode, str(compute_mode)) if compute_mode is not None else None,
        "mig_mode": bool(mig[0]) if mig is not None else None,
        "mig_mode_pending": bool(mig[1]) if mig is not None else None,
        "ecc_uncorrected_volatile": ecc_volatile,
        "ecc_uncorrected_aggregate": ecc_aggregate,
        "retired_pages_pending": bool(retired_pending) if retired_pending is not None else None,
        "remapped_rows_pending": bool(remapped[2]) if remapped is not None else None,
        "remapped_rows_failure": bool(remapped[3]) if remapped is not None else None,
        "throttle_reasons": throttle,
        "throttle_harmful": sorted(HARMFUL_THROTTLE.intersection(throttle or [])),
        "compute_capability": "%d.%d" % tuple(capability) if capability is not None else None,
        "unsupported": read.unsupported,
    }


def collect(nvml: Any = None) -> dict[str, Any]:
    """GPU facts of this host.

    Returns ``{"nvml_available", "reason", "driver_version", "cuda_driver_version", "gpus": [...]}``;
    a host without nvidia-ml-py or without a driver gives ``nvml_available: False`` and the reason.
    """
    result: dict[str, Any] = {"nvml_available": False, "reason": None, "driver_version": None, "cuda_driver_version": None, "gpus": []}
    if nvml is None:
        nvml, error = import_nvml()
        if nvml is None:
            result["reason"] = "the Python library nvidia-ml-py (module pynvml) is not installed"
            result["import_error"] = error
            return result
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        result["reason"] = "NVML could not start: %s (%s)" % (exc, type(exc).__name__)
        return result
    try:
        result["nvml_available"] = True
        result["driver_version"] = _text(nvml.nvmlSystemGetDriverVersion())
        result["cuda_driver_version"] = cuda_version_text(nvml.nvmlSystemGetCudaDriverVersion())
        for index in range(nvml.nvmlDeviceGetCount()):
            result["gpus"].append(_device(nvml, index))
    except nvml.NVMLError as exc:
        result["nvml_available"] = False
        result["reason"] = "NVML query failed: %s (%s)" % (exc, type(exc).__name__)
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass
    return result
