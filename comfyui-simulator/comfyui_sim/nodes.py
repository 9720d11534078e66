"""Node definitions: the 545 classes recorded from ComfyUI 0.8.0, plus real custom nodes.

Built-in nodes are simulated: they pass small value objects along the graph
(an image is its size and colour), sleep for their configured time, and the
image savers write real PNG files.  Custom nodes found in ``custom_nodes/`` are
imported and *really run*, as ComfyUI runs them.
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import json
import logging
import os
import random
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from .folder_paths import FolderPaths
from .png import read_png_size, solid_png
from .workflow import combo_options

log = logging.getLogger("comfyui_sim")

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "object_info.json.gz")

# (class, input) -> the model folder whose files fill the input's list.
MODEL_INPUTS: dict[tuple[str, str], str] = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("CheckpointLoader", "ckpt_name"): "checkpoints",
    ("CheckpointLoader", "config_name"): "configs",
    ("unCLIPCheckpointLoader", "ckpt_name"): "checkpoints",
    ("ImageOnlyCheckpointLoader", "ckpt_name"): "checkpoints",
    ("CreateHookModelAsLora", "ckpt_name"): "checkpoints",
    ("CreateHookModelAsLoraModelOnly", "ckpt_name"): "checkpoints",
    ("VAELoader", "vae_name"): "vae",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
    ("CreateHookLora", "lora_name"): "loras",
    ("CreateHookLoraModelOnly", "lora_name"): "loras",
    ("CLIPLoader", "clip_name"): "text_encoders",
    ("DualCLIPLoader", "clip_name1"): "text_encoders",
    ("DualCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name1"): "text_encoders",
    ("TripleCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name1"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name2"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name4"): "text_encoders",
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("ControlNetLoader", "control_net_name"): "controlnet",
    ("DiffControlNetLoader", "control_net_name"): "controlnet",
    ("GLIGENLoader", "gligen_name"): "gligen",
    ("StyleModelLoader", "style_model_name"): "style_models",
    ("HypernetworkLoader", "hypernetwork_name"): "hypernetworks",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("LatentUpscaleModelLoader", "model_name"): "latent_upscale_models",
    ("PhotoMakerLoader", "photomaker_model_name"): "photomaker",
    ("ModelPatchLoader", "name"): "model_patches",
    ("DiffusersLoader", "model_path"): "diffusers",
}
INPUT_IMAGE_INPUTS = {("LoadImage", "image"), ("LoadImageMask", "image")}


def _set_options(spec: list, options: list) -> list:
    spec = copy.deepcopy(spec)
    if isinstance(spec[0], list):
        spec[0] = options
    else:
        spec[1]["options"] = options
    return spec


@dataclass
class SimImage:
    width: int
    height: int
    batch: int = 1
    color: int = 0


@dataclass
class SimLatent:
    width: int
    height: int
    batch: int = 1


@dataclass
class SimObject:
    kind: str
    source: str


class NodeRegistry:
    def __init__(self, paths: FolderPaths, disable_api_nodes: bool = False):
        self.paths = paths
        with gzip.open(DATA, "rt", encoding="utf-8") as handle:
            self.recorded: dict[str, dict] = json.load(handle)
        if disable_api_nodes:
            self.recorded = {k: v for k, v in self.recorded.items() if not v.get("api_node")}
        self.custom: dict[str, type] = {}
        self.custom_info: dict[str, dict] = {}
        self.import_failures: list[str] = []

    # -- custom nodes ------------------------------------------------------------------
    def load_custom_nodes(self, disable_all: bool, whitelist: list[str]) -> list[tuple[float, str, bool]]:
        """Import every package or module in custom_nodes/ as ComfyUI does; return import times."""
        times = []
        folder = self.paths.custom_nodes
        if not os.path.isdir(folder):
            return times
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if name.startswith(".") or name == "__pycache__" or name.endswith(".disabled"):
                continue
            if os.path.isfile(path) and not name.endswith(".py"):
                continue
            if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "__init__.py")):
                continue
            module_name = os.path.splitext(name)[0]
            if disable_all and module_name not in whitelist and name not in whitelist:
                log.info("Skipping %s due to disable_all_custom_nodes and whitelist_custom_nodes", name)
                continue
            started = time.perf_counter()
            ok = self._import_custom(path, module_name)
            times.append((time.perf_counter() - started, path, ok))
        return times

    def _import_custom(self, path: str, module_name: str) -> bool:
        init = os.path.join(path, "__init__.py") if os.path.isdir(path) else path
        try:
            spec = importlib.util.spec_from_file_location(module_name, init, submodule_search_locations=[path] if os.path.isdir(path) else None)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
            if mappings is None:
                log.warning("Skip %s module for custom nodes due to the lack of NODE_CLASS_MAPPINGS.", path)
                return False
            display = getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", {}) or {}
            for class_name, cls in mappings.items():
                self.custom[class_name] = cls
                self.custom_info[class_name] = self._custom_node_info(class_name, cls, display, module_name)
            return True
        except Exception as exc:
            sys.modules.pop(module_name, None)
            log.warning(traceback.format_exc())
            log.warning("Cannot import %s module for custom nodes: %s", path, exc)
            self.import_failures.append(path)
            return False

    @staticmethod
    def _custom_node_info(name: str, cls: type, display: dict, module_name: str) -> dict:
        inputs = cls.INPUT_TYPES()
        returns = list(getattr(cls, "RETURN_TYPES", ()))
        return {
            "input": inputs,
            "input_order": {key: list(value.keys()) for key, value in inputs.items()},
            "output": returns,
            "output_is_list": list(getattr(cls, "OUTPUT_IS_LIST", [False] * len(returns))),
            "output_name": list(getattr(cls, "RETURN_NAMES", returns)),
            "name": name,
            "display_name": display.get(name, name),
            "description": getattr(cls, "DESCRIPTION", ""),
            "python_module": f"custom_nodes.{module_name}",
            "category": getattr(cls, "CATEGORY", "sd"),
            "output_node": bool(getattr(cls, "OUTPUT_NODE", False)),
        }

    # -- definitions ---------------------------------------------------------------------
    def class_names(self) -> list[str]:
        return list(self.recorded) + [c for c in self.custom_info if c not in self.recorded]

    def has(self, class_type: str) -> bool:
        return class_type in self.recorded or class_type in self.custom_info

    def info(self, class_type: str) -> dict | None:
        """One node's definition, with model and input-file lists read from disk now."""
        if class_type in self.custom_info:
            return self.custom_info[class_type]
        recorded = self.recorded.get(class_type)
        if recorded is None:
            return None
        filled = None
        for (cls, input_name), folder in MODEL_INPUTS.items():
            if cls != class_type:
                continue
            filled = filled or copy.deepcopy(recorded)
            for section in ("required", "optional"):
                spec = filled["input"].get(section, {}).get(input_name)
                if spec is not None:
                    extra = [o for o in (combo_options(spec) or []) if isinstance(o, str)]
                    files = self.paths.list_models(folder) or []
                    filled["input"][section][input_name] = _set_options(spec, files + [e for e in extra if e not in files])
        if (class_type, "image") in INPUT_IMAGE_INPUTS:
            filled = filled or copy.deepcopy(recorded)
            spec = filled["input"]["required"]["image"]
            filled["input"]["required"]["image"] = _set_options(spec, self.paths.list_input_images())
        return filled or recorded

    def all_info(self) -> dict[str, dict]:
        return {name: self.info(name) for name in self.class_names()}

    # -- running ---------------------------------------------------------------------------
    def run(self, class_type: str, inputs: dict[str, Any], context: RunContext) -> tuple[tuple, dict | None]:
        """Run one node; return (outputs, ui)."""
        if class_type in self.custom:
            cls = self.custom[class_type]
            result = getattr(cls(), cls.FUNCTION)(**inputs)
            if isinstance(result, dict):
                return tuple(result.get("result", ())), result.get("ui")
            return tuple(result), None
        handler = _BUILTINS.get(class_type)
        info = self.recorded[class_type]
        if handler is not None:
            return handler(inputs, context)
        return _generic_outputs(info, inputs), None


@dataclass
class RunContext:
    paths: FolderPaths
    prompt: dict
    extra_data: dict
    disable_metadata: bool = False


def _first(inputs: dict, kind: type):
    for value in inputs.values():
        if isinstance(value, kind):
            return value
    return None


def _generic_outputs(info: dict, inputs: dict) -> tuple:
    outputs = []
    for kind in info.get("output", []):
        if kind == "IMAGE":
            outputs.append(_first(inputs, SimImage) or SimImage(512, 512))
        elif kind == "LATENT":
            outputs.append(_first(inputs, SimLatent) or SimLatent(512, 512))
        else:
            outputs.append(SimObject(str(kind), info.get("name", "")))
    return tuple(outputs)


def _empty_image(inputs, _ctx):
    return (SimImage(int(inputs["width"]), int(inputs["height"]), int(inputs["batch_size"]), int(inputs["color"])),), None


def _empty_latent(inputs, _ctx):
    return (SimLatent(int(inputs["width"]), int(inputs["height"]), int(inputs["batch_size"])),), None


def _vae_decode(inputs, _ctx):
    latent = inputs["samples"]
    return (SimImage(latent.width, latent.height, latent.batch, 0x808080),), None


def _scale_by(inputs, _ctx):
    image = inputs["image"]
    factor = float(inputs["scale_by"])
    return (SimImage(max(1, round(image.width * factor)), max(1, round(image.height * factor)), image.batch, image.color),), None


def _load_image(inputs, ctx):
    path = os.path.join(ctx.paths.input, inputs["image"])
    size = read_png_size(path)
    if size is None:
        raise ValueError(f"cannot identify image file '{path}'")
    return (SimImage(size[0], size[1]), SimObject("MASK", path)), None


def _checkpoint(inputs, ctx):
    name = inputs["ckpt_name"]
    path = ctx.paths.model_path("checkpoints", name)
    if path is None:
        raise FileNotFoundError(f"Model in folder 'checkpoints' with filename '{name}' not found.")
    return (SimObject("MODEL", name), SimObject("CLIP", name), SimObject("VAE", name)), None


def _save_path(prefix: str, output_dir: str, width: int, height: int):
    """ComfyUI's folder_paths.get_save_image_path."""
    prefix = prefix.replace("%width%", str(width)).replace("%height%", str(height))
    subfolder = os.path.dirname(os.path.normpath(prefix))
    filename = os.path.basename(os.path.normpath(prefix))
    full_folder = os.path.join(output_dir, subfolder)
    if os.path.commonpath((output_dir, os.path.abspath(full_folder))) != output_dir:
        raise ValueError(
            "**** ERROR: Saving image outside the output folder is not allowed."
            f"\n full_output_folder: {os.path.abspath(full_folder)}\n         output_dir: {output_dir}"
        )
    os.makedirs(full_folder, exist_ok=True)
    counter = 0
    for existing in os.listdir(full_folder):
        if existing.startswith(filename + "_"):
            digits = existing[len(filename) + 1 :].split("_")[0]
            if digits.isdigit() and existing[len(filename) :].count("_") >= 2:
                counter = max(counter, int(digits))
    return full_folder, filename, counter + 1, subfolder


def _write_images(images: SimImage, prefix: str, output_dir: str, kind: str, ctx: RunContext) -> dict:
    folder, filename, counter, subfolder = _save_path(prefix, output_dir, images.width, images.height)
    text = {} if ctx.disable_metadata else {"prompt": json.dumps(ctx.prompt)}
    if not ctx.disable_metadata and "extra_pnginfo" in ctx.extra_data:
        for key, value in ctx.extra_data["extra_pnginfo"].items():
            text[key] = json.dumps(value)
    results = []
    for batch_number in range(images.batch):
        name = f"{filename.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
        data = solid_png(images.width, images.height, images.color, text)
        tmp = os.path.join(folder, f".{name}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, os.path.join(folder, name))
        results.append({"filename": name, "subfolder": subfolder, "type": kind})
        counter += 1
    return {"images": results}


def _save_image(inputs, ctx):
    return (), _write_images(inputs["images"], str(inputs.get("filename_prefix", "ComfyUI")), ctx.paths.output, "output", ctx)


def _preview_image(inputs, ctx):
    suffix = "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _index in range(5))
    return (), _write_images(inputs["images"], "ComfyUI_temp_" + suffix, ctx.paths.temp, "temp", ctx)


_BUILTINS = {
    "EmptyImage": _empty_image,
    "EmptyLatentImage": _empty_latent,
    "VAEDecode": _vae_decode,
    "ImageScaleBy": _scale_by,
    "LoadImage": _load_image,
    "CheckpointLoaderSimple": _checkpoint,
    "SaveImage": _save_image,
    "PreviewImage": _preview_image,
}
