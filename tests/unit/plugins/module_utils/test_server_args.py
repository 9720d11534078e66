"""ComfyUI's flags for one instance, one rule for systemd, standalone, containers and Kubernetes."""

from __future__ import annotations

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._server_args import ArgsError, server_args

DATA = {"output": "/o", "input": "/i", "user": "/u", "temp": "/t/x", "database": "/u/comfyui-x.db"}


def test_flags_in_order():
    args = server_args({"name": "x", "port": 8188, "cuda_device": 1, "extra_args": ["--b"]}, "127.0.0.1", DATA, "cuda", "low", ["n1"], ["--a"])
    assert args == [
        "--listen", "127.0.0.1", "--port", "8188", "--output-directory", "/o", "--input-directory", "/i",
        "--user-directory", "/u", "--temp-directory", "/t/x", "--database-url", "sqlite:////u/comfyui-x.db",
        "--cuda-device", "1", "--lowvram", "--disable-all-custom-nodes", "--whitelist-custom-nodes", "n1", "--a", "--b",
    ]  # fmt: skip


def test_cpu_and_instance_listen():
    args = server_args({"name": "x", "port": "8189", "listen": "::1", "cuda_device": 0}, "127.0.0.1", DATA, "cpu", "low")
    assert args[:4] == ["--listen", "::1", "--port", "8189"] and "--cpu" in args
    assert "--cuda-device" not in args and "--lowvram" not in args


@pytest.mark.parametrize(
    ("instance", "device", "vram", "named"),
    [
        ({"name": "x", "port": 70000}, "cuda", "normal", r"comfyui_deploy_instances\[x\].port"),
        ({"name": "x", "port": True}, "cuda", "normal", r"comfyui_deploy_instances\[x\].port"),
        ({"name": "x", "port": 1}, "rocm", "normal", "comfyui_deploy_device"),
        ({"name": "x", "port": 1}, "cuda", "tiny", "comfyui_deploy_vram_mode"),
        ({"name": "x", "port": 1, "extra_args": "--a --b"}, "cuda", "normal", r"comfyui_deploy_instances\[x\].extra_args"),
    ],
)
def test_bad_values_name_the_option(instance, device, vram, named):
    with pytest.raises(ArgsError, match=named):
        server_args(instance, "127.0.0.1", DATA, device, vram)
