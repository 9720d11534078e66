"""Where the simulator finds models, inputs and outputs, as ComfyUI's ``folder_paths.py`` does.

Model folders are searched in order: ``<base>/models/<folder>``, then the
sections of every ``extra_model_paths.yaml`` (the one beside ``main.py`` first,
then each ``--extra-model-paths-config``); a section with ``is_default: true``
goes to the front.
"""

from __future__ import annotations

import os

PT_EXTENSIONS = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}

# Folder name -> extensions listed (empty: every file), in the order GET /models answers.
MODEL_FOLDERS: dict[str, set[str]] = {
    "checkpoints": PT_EXTENSIONS,
    "configs": {".yaml"},
    "loras": PT_EXTENSIONS,
    "vae": PT_EXTENSIONS,
    "text_encoders": PT_EXTENSIONS | {".gguf"},
    "diffusion_models": PT_EXTENSIONS | {".gguf"},
    "clip_vision": PT_EXTENSIONS,
    "style_models": PT_EXTENSIONS,
    "embeddings": PT_EXTENSIONS,
    "diffusers": {"folder"},
    "vae_approx": PT_EXTENSIONS,
    "controlnet": PT_EXTENSIONS,
    "gligen": PT_EXTENSIONS,
    "upscale_models": PT_EXTENSIONS,
    "latent_upscale_models": PT_EXTENSIONS,
    "custom_nodes": set(),
    "hypernetworks": PT_EXTENSIONS,
    "photomaker": PT_EXTENSIONS,
    "classifiers": {""},
    "model_patches": PT_EXTENSIONS,
    "audio_encoders": PT_EXTENSIONS,
}

# Extra default directories under models/ (ComfyUI's legacy names).
LEGACY_DIRS = {"text_encoders": ["clip"], "diffusion_models": ["unet"], "controlnet": ["t2i_adapter"]}
# Legacy names accepted in extra_model_paths.yaml.
LEGACY_NAMES = {"clip": "text_encoders", "unet": "diffusion_models"}


class ExtraPathsError(ValueError):
    """An extra_model_paths.yaml file that cannot be used."""


def parse_simple_yaml(text: str, where: str) -> dict:
    """Parse the YAML subset extra_model_paths.yaml uses: nested maps, scalars, ``|`` blocks.

    The simulator is stdlib-only, so it carries this small parser instead of PyYAML.
    Anything outside the subset (lists, anchors, flow style) is rejected with its line.
    """
    lines = text.splitlines()
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not stripped.strip() or stripped.strip() == "---":
            i += 1
            continue
        indent = len(stripped) - len(stripped.lstrip(" "))
        if "\t" in raw[: indent + 1]:
            raise ExtraPathsError(f"{where}:{i + 1}: tabs are not allowed for indentation")
        content = stripped.strip()
        if content.startswith(("- ", "[", "{", "&", "*")) or content == "-" or ":" not in content:
            raise ExtraPathsError(f"{where}:{i + 1}: unsupported YAML here ({content!r}); use 'key: value' maps")
        key, _colon, value = content.partition(":")
        key = _unquote(key.strip())
        value = value.strip()
        while stack and indent <= stack[-1][0]:
            stack.pop()
        if not stack:
            raise ExtraPathsError(f"{where}:{i + 1}: bad indentation")
        parent = stack[-1][1]
        i += 1
        if value in ("|", "|-", "|+", ">", ">-"):
            block = []
            block_indent = None
            while i < len(lines):
                line = lines[i]
                if not line.strip():
                    block.append("")
                    i += 1
                    continue
                current = len(line) - len(line.lstrip(" "))
                if current <= indent:
                    break
                block_indent = current if block_indent is None else block_indent
                block.append(line[block_indent:])
                i += 1
            joiner = " " if value.startswith(">") else "\n"
            parent[key] = joiner.join(block).strip("\n") + ("" if value.endswith("-") else "\n")
        elif value == "":
            child: dict = {}
            parent[key] = child
            stack.append((indent, child))
        else:
            parent[key] = _scalar(value)
    return root


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _scalar(text: str):
    if text.lower() in ("true", "yes", "on"):
        return True
    if text.lower() in ("false", "no", "off"):
        return False
    if text.lower() in ("null", "~"):
        return None
    return _unquote(text)


class FolderPaths:
    def __init__(
        self,
        base_directory: str,
        output_directory: str | None = None,
        input_directory: str | None = None,
        temp_directory: str | None = None,
        user_directory: str | None = None,
    ):
        self.base = os.path.abspath(base_directory)
        self.output = os.path.abspath(output_directory or os.path.join(self.base, "output"))
        self.input = os.path.abspath(input_directory or os.path.join(self.base, "input"))
        self.temp = os.path.abspath(temp_directory or os.path.join(self.base, "temp"))
        self.user = os.path.abspath(user_directory or os.path.join(self.base, "user"))
        self.custom_nodes = os.path.join(self.base, "custom_nodes")
        self.models: dict[str, list[str]] = {}
        models_dir = os.path.join(self.base, "models")
        for folder in MODEL_FOLDERS:
            if folder == "custom_nodes":
                self.models[folder] = [self.custom_nodes]
                continue
            names = [folder, *LEGACY_DIRS.get(folder, [])]
            self.models[folder] = [os.path.join(models_dir, name) for name in names]

    def add_model_folder_path(self, folder: str, path: str, is_default: bool = False) -> None:
        folder = LEGACY_NAMES.get(folder, folder)
        paths = self.models.setdefault(folder, [])
        if path in paths:
            paths.remove(path)
        if is_default:
            paths.insert(0, path)
        else:
            paths.append(path)

    def load_extra_model_paths(self, yaml_path: str) -> None:
        """Honour one extra_model_paths.yaml exactly as ComfyUI's utils/extra_config.py does."""
        try:
            with open(yaml_path, encoding="utf-8") as handle:
                config = parse_simple_yaml(handle.read(), yaml_path)
        except OSError as exc:
            raise ExtraPathsError(f"{yaml_path}: cannot read ({exc.strerror})") from None
        yaml_dir = os.path.dirname(os.path.abspath(yaml_path))
        for section, section_conf in config.items():
            if section_conf is None:
                continue
            if not isinstance(section_conf, dict):
                raise ExtraPathsError(f"{yaml_path}: section {section!r} must be a map of folder names to paths")
            conf = dict(section_conf)
            base_path = conf.pop("base_path", None)
            if base_path is not None:
                base_path = os.path.expandvars(os.path.expanduser(str(base_path)))
                if not os.path.isabs(base_path):
                    base_path = os.path.abspath(os.path.join(yaml_dir, base_path))
            is_default = bool(conf.pop("is_default", False))
            for folder, value in conf.items():
                for line in str(value).split("\n"):
                    entry = line.strip()
                    if not entry:
                        continue
                    if base_path is not None:
                        full = os.path.join(base_path, entry)
                    elif not os.path.isabs(entry):
                        full = os.path.abspath(os.path.join(yaml_dir, entry))
                    else:
                        full = entry
                    self.add_model_folder_path(folder, os.path.normpath(full), is_default)

    def list_models(self, folder: str) -> list[str] | None:
        """Files of one model folder, relative with '/' separators, sorted; None for an unknown folder."""
        if folder not in self.models:
            return None
        extensions = MODEL_FOLDERS.get(folder, PT_EXTENSIONS)
        found: set[str] = set()
        for root_dir in self.models[folder]:
            if not os.path.isdir(root_dir):
                continue
            if extensions == {"folder"}:
                for dirpath, dirnames, filenames in os.walk(root_dir, followlinks=True):
                    dirnames[:] = [d for d in dirnames if d != ".git"]
                    if "model_index.json" in filenames:
                        found.add(os.path.relpath(dirpath, root_dir).replace(os.sep, "/"))
                continue
            for dirpath, dirnames, filenames in os.walk(root_dir, followlinks=True):
                dirnames[:] = [d for d in dirnames if d != ".git"]
                for name in filenames:
                    if extensions and os.path.splitext(name)[1].lower() not in extensions:
                        continue
                    relative = os.path.relpath(os.path.join(dirpath, name), root_dir)
                    found.add(relative.replace(os.sep, "/"))
        return sorted(found)

    def model_path(self, folder: str, name: str) -> str | None:
        """Full path of a listed model file, searched in folder order."""
        for root_dir in self.models.get(folder, []):
            candidate = os.path.join(root_dir, name)
            if os.path.isfile(candidate):
                return candidate
        return None

    def list_input_images(self) -> list[str]:
        if not os.path.isdir(self.input):
            return []
        return sorted(name for name in os.listdir(self.input) if os.path.isfile(os.path.join(self.input, name)) and not name.startswith("."))
