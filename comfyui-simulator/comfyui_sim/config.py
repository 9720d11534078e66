"""Misbehaviour knobs of the ComfyUI API simulator.

Every knob can be set in a JSON file or through an environment variable; the
environment wins.  The file is the one named by ``COMFYUI_SIM_CONFIG``, or else
``simulator.json`` in the base directory (the checkout, or ``--base-directory``).
See the simulator's README for what each knob does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from comfyui_sim import units


class ConfigError(ValueError):
    """A knob has a value the simulator cannot use."""


def parse_size(value: Any, where: str) -> int:
    """Bytes from an int or a string such as ``"24GiB"`` or ``"512 MB"`` (the collection's own parser)."""
    try:
        return units.parse_size(value, where)
    except units.UnitError as exc:
        raise ConfigError(str(exc)) from None


def _to_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _to_float(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{where}: must not be negative, got {value!r}")
    return number


def _to_int(value: Any, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a whole number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{where}: must not be negative, got {value!r}")
    return number


def _to_json(value: Any, where: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc})") from None
    return value


@dataclass
class GPU:
    name: str
    vram_total: int
    vram_free: int


@dataclass
class SimConfig:
    start_delay: float = 0.0
    crash_at_start: bool = False
    crash_after_prompts: int = 0
    fail_executions: list[str] = field(default_factory=list)
    hang: bool = False
    version: str | None = None
    pytorch_version: str = "2.14.1+cu130"
    gpus: list[GPU] = field(default_factory=list)
    low_vram_free: int | None = None
    node_seconds: dict[str, float] = field(default_factory=dict)
    default_node_seconds: float = 0.0
    source: str = "defaults"

    def fails(self, class_type: str) -> bool:
        return "all" in self.fail_executions or class_type in self.fail_executions


# knob name -> (environment variable, converter)
KNOBS = {
    "start_delay": ("COMFYUI_SIM_START_DELAY", _to_float),
    "crash_at_start": ("COMFYUI_SIM_CRASH_AT_START", _to_bool),
    "crash_after_prompts": ("COMFYUI_SIM_CRASH_AFTER_PROMPTS", _to_int),
    "fail_executions": ("COMFYUI_SIM_FAIL_EXECUTIONS", None),
    "hang": ("COMFYUI_SIM_HANG", _to_bool),
    "version": ("COMFYUI_SIM_VERSION", lambda v, w: str(v)),
    "pytorch_version": ("COMFYUI_SIM_PYTORCH_VERSION", lambda v, w: str(v)),
    "gpus": ("COMFYUI_SIM_GPUS", None),
    "low_vram_free": ("COMFYUI_SIM_LOW_VRAM_FREE", parse_size),
    "node_seconds": ("COMFYUI_SIM_NODE_SECONDS", None),
    "default_node_seconds": ("COMFYUI_SIM_DEFAULT_NODE_SECONDS", _to_float),
}


def _fail_list(value: Any, where: str) -> list[str]:
    if isinstance(value, bool):
        return ["all"] if value else []
    if isinstance(value, str):
        if value.strip().lower() in ("1", "true", "yes", "on", "all"):
            return ["all"]
        if value.strip().lower() in ("", "0", "false", "no", "off"):
            return []
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ConfigError(f"{where}: expected true, 'all' or a list of node classes, got {value!r}")


def _gpu_list(value: Any, where: str) -> list[GPU]:
    value = _to_json(value, where)
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of GPUs, got {value!r}")
    gpus = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or "name" not in item or "vram_total" not in item:
            raise ConfigError(f"{where}[{index}]: each GPU needs 'name' and 'vram_total'")
        total = parse_size(item["vram_total"], f"{where}[{index}].vram_total")
        free = parse_size(item.get("vram_free", total), f"{where}[{index}].vram_free")
        gpus.append(GPU(name=str(item["name"]), vram_total=total, vram_free=min(free, total)))
    return gpus


def _seconds_map(value: Any, where: str) -> dict[str, float]:
    value = _to_json(value, where)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a map of node class to seconds, got {value!r}")
    return {str(k): _to_float(v, f"{where}.{k}") for k, v in value.items()}


_SPECIAL = {"fail_executions": _fail_list, "gpus": _gpu_list, "node_seconds": _seconds_map}


def load(base_directory: str, environ: dict[str, str] | None = None) -> SimConfig:
    """Read the knobs from the config file and the environment."""
    environ = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = {}
    path = environ.get("COMFYUI_SIM_CONFIG") or os.path.join(base_directory, "simulator.json")
    sources = []
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read simulator config ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the simulator config must be a JSON object")
        unknown = sorted(set(data) - set(KNOBS))
        if unknown:
            raise ConfigError(f"{path}: unknown knob(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOBS))}")
        raw.update({k: (v, f"{path}: {k}") for k, v in data.items()})
        sources.append(path)
    for knob, (variable, _conv) in KNOBS.items():
        if variable in environ:
            raw[knob] = (environ[variable], variable)
            sources.append(variable)
    config = SimConfig(source=", ".join(sources) or "defaults")
    for knob, (value, where) in raw.items():
        convert = _SPECIAL.get(knob) or KNOBS[knob][1]
        setattr(config, knob, convert(value, where))
    return config
