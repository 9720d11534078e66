# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ComfyUI's command line for one instance, decided once for every way it runs.

The systemd unit and the standalone control script (the instance's environment file), the
container (its command) and the Kubernetes Deployment (its args) all start ComfyUI with
these flags: where its data goes, where it listens, which device and VRAM mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

VRAM_MODES = ("normal", "low", "high", "no")
DEVICES = ("cuda", "cpu")


class ArgsError(ValueError):
    """A setting that cannot become a ComfyUI flag, with the option named."""


def _text_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ArgsError("%s must be a list of strings, got %r" % (where, value))
    return [str(item) for item in value]


def server_args(
    instance: Mapping[str, Any],
    listen: str,
    data: Mapping[str, str],
    device: str = "cuda",
    vram_mode: str = "normal",
    whitelist_nodes: Sequence[str] = (),
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The flags of one instance.

    ``instance``: name, port, and optionally listen, cuda_device, extra_args (an entry of comfyui_deploy_instances).
    ``data``: the directories output, input, user, temp (the instance's temp dir) and database (a file path).
    ``whitelist_nodes``: when given, every custom node is disabled but these (ComfyUI's whitelist flags).
    """
    name = instance.get("name")
    where = "comfyui_deploy_instances[%s]" % name
    port = instance.get("port")
    if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).isdigit() or not 0 < int(port) < 65536:
        raise ArgsError("%s.port must be a TCP port (1-65535), got %r" % (where, port))
    if device not in DEVICES:
        raise ArgsError("comfyui_deploy_device must be one of %s, got %r" % (", ".join(DEVICES), device))
    if vram_mode not in VRAM_MODES:
        raise ArgsError("comfyui_deploy_vram_mode must be one of %s, got %r" % (", ".join(VRAM_MODES), vram_mode))
    missing = [key for key in ("output", "input", "user", "temp", "database") if not data.get(key)]
    if missing:
        raise ArgsError("the instance's data directories lack %s" % ", ".join(missing))
    args = [
        "--listen", str(instance.get("listen") or listen),
        "--port", str(int(port)),
        "--output-directory", data["output"],
        "--input-directory", data["input"],
        "--user-directory", data["user"],
        "--temp-directory", data["temp"],
        "--database-url", "sqlite:///" + data["database"],
    ]  # fmt: skip
    if device == "cpu":
        args.append("--cpu")
    elif instance.get("cuda_device") is not None:
        args += ["--cuda-device", str(instance["cuda_device"])]
    if device != "cpu" and vram_mode != "normal":
        args.append("--%svram" % vram_mode)
    whitelist = _text_list(whitelist_nodes, "the custom nodes to whitelist")
    if whitelist:
        args += ["--disable-all-custom-nodes", "--whitelist-custom-nodes", *whitelist]
    return args + _text_list(extra_args, "comfyui_deploy_extra_args") + _text_list(instance.get("extra_args"), where + ".extra_args")
