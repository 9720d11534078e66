"""The PyTorch index for a host: CPU, or the newest CUDA build its driver runs."""

from __future__ import annotations

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._torch import base_image, torch_index_url
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


@pytest.mark.parametrize(
    ("device", "cuda", "expected"),
    [
        ("cpu", None, "ubuntu:24.04"),
        ("cuda", "12.8", "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"),  # H200 on driver 570
        ("cuda", "12.9", "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"),  # the newest not above the driver
        ("cuda", "12.2", "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04"),  # A10 on driver 535
        ("cuda", "13.1", "nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04"),
    ],
)
def test_base_image_matches_the_driver_as_the_torch_index_does(device, cuda, expected):
    assert base_image(device, cuda) == expected
    if device == "cuda":  # the image's CUDA and the wheels' CUDA are the same version
        assert torch_index_url(device, cuda).endswith("/cu" + expected.split(":")[1].split("-")[0].rsplit(".", 1)[0].replace(".", ""))


def test_base_image_from_own_lists():
    images = {"12.4": "registry.example/cuda:12.4", "12.8": "registry.example/cuda:12.8"}
    assert base_image("cuda", "12.6", images) == "registry.example/cuda:12.4"
    assert base_image("cpu", None, images, cpu_image="registry.example/python:3.12") == "registry.example/python:3.12"
    assert base_image("cuda", None, configured="registry.example/own:1") == "registry.example/own:1"  # as asked: no driver needed


def test_base_image_refuses_an_old_or_unknown_driver_and_an_empty_list():
    with pytest.raises(UnitError, match="older than every CUDA base image offered"):
        base_image("cuda", "11.8")
    with pytest.raises(UnitError, match="NVML gave none"):
        base_image("cuda", None)
    with pytest.raises(UnitError, match="comfyui_deploy_cuda_images is empty"):
        base_image("cuda", "12.8", {})
