"""GPU facts from NVML, with pynvml replaced at its function boundary, and the real no-driver path."""

from __future__ import annotations

import pynvml
from ansible_collections.comfyops.comfyui.plugins.module_utils import _gpu
from nvml_profiles import fake_nvml


def test_h200_profile():
    facts = _gpu.collect(fake_nvml("h200"))
    assert facts["nvml_available"] is True and facts["reason"] is None
    assert facts["driver_version"] == "570.133.20" and facts["cuda_driver_version"] == "12.8"
    (gpu,) = facts["gpus"]
    assert gpu["name"] == "NVIDIA H200" and gpu["compute_capability"] == "9.0"
    assert gpu["memory_total"] == 143771 * 2**20 and gpu["memory_free"] == gpu["memory_total"] - 512 * 2**20
    assert gpu["power_draw_watts"] == 112.0 and gpu["power_limit_watts"] == 700.0
    assert gpu["persistence_mode"] is True and gpu["compute_mode"] == "default" and gpu["mig_mode"] is False
    assert gpu["pci_bus_id"] == "00000000:18:00.0" and gpu["uuid"].startswith("GPU-")
    assert gpu["throttle_reasons"] == ["gpu_idle"] and gpu["throttle_harmful"] == []
    assert gpu["ecc_uncorrected_volatile"] == 0 and gpu["remapped_rows_pending"] is False
    # Hopper retires no pages: it remaps rows, and NVML says so
    assert gpu["unsupported"] == ["retired_pages_pending: Not Supported"]


def test_several_gpus_keep_their_order_and_nvml_is_shut_down():
    nvml = fake_nvml("a10", "t4")
    facts = _gpu.collect(nvml)
    assert [g["name"] for g in facts["gpus"]] == ["NVIDIA A10", "Tesla T4"]
    assert [g["index"] for g in facts["gpus"]] == [0, 1]
    assert nvml.calls == {"init": 1, "shutdown": 1}


def test_pre_ampere_has_retired_pages_not_row_remapping():
    (gpu,) = _gpu.collect(fake_nvml("t4"))["gpus"]
    assert gpu["retired_pages_pending"] is False
    assert gpu["remapped_rows_pending"] is None
    assert any(item.startswith("remapped_rows:") for item in gpu["unsupported"])


def test_mig_enabled_gpu():
    (gpu,) = _gpu.collect(fake_nvml("a100_mig"))["gpus"]
    assert gpu["mig_mode"] is True and gpu["mig_mode_pending"] is True


def test_ecc_errors_remaps_and_harmful_throttling():
    (gpu,) = _gpu.collect(fake_nvml("a100_ecc"))["gpus"]
    assert gpu["ecc_uncorrected_volatile"] == 3 and gpu["ecc_uncorrected_aggregate"] == 17
    assert gpu["remapped_rows_pending"] is True and gpu["remapped_rows_failure"] is False
    assert gpu["throttle_reasons"] == ["sw_power_cap", "hw_thermal_slowdown"]
    assert gpu["throttle_harmful"] == ["hw_thermal_slowdown"]
    assert gpu["temperature"] == 91


def test_consumer_card_without_ecc_reports_null_not_zero():
    (gpu,) = _gpu.collect(fake_nvml("rtx4090"))["gpus"]
    assert gpu["ecc_uncorrected_volatile"] is None
    assert any(item.startswith("ecc_volatile:") for item in gpu["unsupported"])


def test_driver_not_loaded():
    facts = _gpu.collect(fake_nvml("h200", init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    assert facts["nvml_available"] is False and facts["gpus"] == []
    assert "Driver Not Loaded" in facts["reason"]


def test_the_real_pynvml_without_a_driver(no_driver_nvml):
    """The installed nvidia-ml-py where libnvidia-ml.so cannot be loaded (pinned: passes on a GPU host too)."""
    facts = _gpu.collect(no_driver_nvml)
    assert facts["nvml_available"] is False and facts["gpus"] == []
    assert "NVMLError_LibraryNotFound" in facts["reason"]


def test_missing_library(monkeypatch):
    monkeypatch.setattr(_gpu, "import_nvml", lambda: (None, "Traceback: No module named 'pynvml'"))
    facts = _gpu.collect()
    assert facts["nvml_available"] is False and "nvidia-ml-py" in facts["reason"]
    assert "No module named" in facts["import_error"]


def test_cuda_version_text():
    assert _gpu.cuda_version_text(11080) == "11.8"
    assert _gpu.cuda_version_text(12040) == "12.4"
    assert _gpu.cuda_version_text(0) is None
