"""The PyTorch index for a host: CPU, or the newest CUDA build its driver runs."""

from __future__ import annotations

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._torch import torch_index_url
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError


@pytest.mark.parametrize(
    ("device", "cuda", "expected"),
    [
        ("cpu", None, "https://download.pytorch.org/whl/cpu"),
        ("cuda", "12.8", "https://download.pytorch.org/whl/cu128"),  # H200 on driver 570
        ("cuda", "12.9", "https://download.pytorch.org/whl/cu128"),  # no cu129 build offered: the newest below
        ("cuda", "12.2", "https://download.pytorch.org/whl/cu121"),  # A10 on driver 535
        ("cuda", "13.0", "https://download.pytorch.org/whl/cu130"),
        ("cuda", "11.8", "https://download.pytorch.org/whl/cu118"),
    ],
)
def test_index_by_device_and_driver(device, cuda, expected):
    assert torch_index_url(device, cuda) == expected


def test_own_builds_and_mirror():
    assert torch_index_url("cuda", "12.4", builds=["12.1", "12.4"], base="https://mirror.example/whl/") == "https://mirror.example/whl/cu124"


def test_old_or_unknown_driver_is_refused_with_a_reason():
    with pytest.raises(UnitError, match="older than every PyTorch build"):
        torch_index_url("cuda", "11.4")
    with pytest.raises(UnitError, match="NVML gave none"):
        torch_index_url("cuda", "")
    with pytest.raises(UnitError, match="expected a dotted version"):
        torch_index_url("cuda", "twelve")
