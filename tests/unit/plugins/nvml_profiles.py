"""Realistic GPUs behind pynvml's function boundary: the functions return what NVML returns
for each profile, and failures are the real pynvml exception classes."""

from __future__ import annotations

import types

import pynvml

NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED


def _gpu(
    name,
    total,
    used,
    cc,
    *,
    mig=(0, 0),
    ecc=(0, 0),
    retired=None,
    remapped=(0, 0, 0, 0),
    throttle=0x1,
    temp=35,
    power=(70000, 700000),
    util=(0, 0),
    persistence=1,
    compute=0,
):
    return {
        "name": name,
        "total": total,
        "used": used,
        "cc": cc,
        "mig": mig,
        "ecc": ecc,
        "retired": retired,
        "remapped": remapped,
        "throttle": throttle,
        "temp": temp,
        "power": power,
        "util": util,
        "persistence": persistence,
        "compute": compute,
    }


GiB = 2**30
PROFILES = {
    "h200": _gpu("NVIDIA H200", 143771 * 2**20, 512 * 2**20, (9, 0), power=(112000, 700000)),
    "a10": _gpu("NVIDIA A10", 23028 * 2**20, 1200 * 2**20, (8, 6), power=(58000, 150000), persistence=0),
    "t4": _gpu("Tesla T4", 15360 * 2**20, 300 * 2**20, (7, 5), retired=0, remapped=None, power=(27000, 70000)),
    "a100_mig": _gpu("NVIDIA A100-SXM4-80GB", 81920 * 2**20, 0, (8, 0), mig=(1, 1)),
    "a100_ecc": _gpu("NVIDIA A100-SXM4-40GB", 40960 * 2**20, 0, (8, 0), ecc=(3, 17), remapped=(0, 2, 1, 0), throttle=0x40 | 0x4, temp=91),
    "rtx4090": _gpu("NVIDIA GeForce RTX 4090", 24564 * 2**20, 800 * 2**20, (8, 9), ecc=None, remapped=None),
}


def fake_nvml(*names, driver="570.133.20", cuda=12080, init_error=None):
    """A stand-in for the pynvml module with the named GPU profiles."""
    gpus = [PROFILES[name] for name in names]
    calls = {"init": 0, "shutdown": 0}

    def handle(index):
        return gpus[index]

    def init():
        calls["init"] += 1
        if init_error is not None:
            raise pynvml.NVMLError(init_error)

    def maybe(value):
        if value is None:
            raise pynvml.NVMLError(NOT_SUPPORTED)
        return value

    def ecc(h, _kind, counter):
        return maybe(h["ecc"])[counter]

    return types.SimpleNamespace(
        NVMLError=pynvml.NVMLError,
        calls=calls,
        nvmlInit=init,
        nvmlShutdown=lambda: calls.__setitem__("shutdown", calls["shutdown"] + 1),
        nvmlSystemGetDriverVersion=lambda: driver,
        nvmlSystemGetCudaDriverVersion=lambda: cuda,
        nvmlDeviceGetCount=lambda: len(gpus),
        nvmlDeviceGetHandleByIndex=handle,
        nvmlDeviceGetUUID=lambda h: "GPU-%08x-0000-0000-0000-000000000000" % (gpus.index(h) + 1),
        nvmlDeviceGetName=lambda h: h["name"],
        nvmlDeviceGetPciInfo=lambda h: types.SimpleNamespace(busId="00000000:%02X:00.0" % (0x18 + gpus.index(h))),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(total=h["total"], used=h["used"], free=h["total"] - h["used"]),
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=h["util"][0], memory=h["util"][1]),
        nvmlDeviceGetTemperature=lambda h, _sensor: h["temp"],
        nvmlDeviceGetPowerUsage=lambda h: h["power"][0],
        nvmlDeviceGetEnforcedPowerLimit=lambda h: h["power"][1],
        nvmlDeviceGetPersistenceMode=lambda h: h["persistence"],
        nvmlDeviceGetComputeMode=lambda h: h["compute"],
        nvmlDeviceGetMigMode=lambda h: h["mig"],
        nvmlDeviceGetTotalEccErrors=ecc,
        nvmlDeviceGetRetiredPagesPendingStatus=lambda h: maybe(h["retired"]),
        nvmlDeviceGetRemappedRows=lambda h: maybe(h["remapped"]),
        nvmlDeviceGetCurrentClocksEventReasons=lambda h: h["throttle"],
        nvmlDeviceGetCudaComputeCapability=lambda h: h["cc"],
    )
