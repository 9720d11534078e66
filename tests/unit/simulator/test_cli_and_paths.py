"""Flags, folders, extra model paths and custom nodes, as ComfyUI handles them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from comfyui_sim import cli
from comfyui_sim.config import ConfigError, parse_size
from comfyui_sim.folder_paths import ExtraPathsError, FolderPaths, parse_simple_yaml
from conftest import SIMULATOR
from test_prompts import smoke


def test_unknown_flag_is_rejected_like_comfyui():
    result = subprocess.run([sys.executable, str(SIMULATOR / "main.py"), "--cpu", "--no-such-flag"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "main.py: error: unrecognized arguments: --no-such-flag" in result.stderr


def test_comfyui_flags_parse():
    args = cli.parse_args(
        [
            "--listen",
            "--port",
            "9000",
            "--cpu",
            "--extra-model-paths-config",
            "a.yaml",
            "b.yaml",
            "--extra-model-paths-config",
            "c.yaml",
            "--whitelist-custom-nodes",
            "x",
            "y",
            "--reserve-vram",
            "1.5",
            "--verbose",
            "--disable-api-nodes",
            "--multi-user",
            "--database-url",
            "sqlite:///x.db",
            "--max-upload-size",
            "10",
            "--log-stdout",
        ]
    )
    assert args.listen == "0.0.0.0,::" and args.port == 9000 and args.cpu
    assert args.extra_model_paths_config == ["a.yaml", "b.yaml", "c.yaml"]
    assert args.whitelist_custom_nodes == ["x", "y"] and args.reserve_vram == 1.5 and args.verbose == "DEBUG"
    with pytest.raises(SystemExit):
        cli.parse_args(["--lowvram", "--highvram"])


def test_gui_line_and_log_stdout(start_simulator):
    sim = start_simulator("--cpu", "--log-stdout")
    assert f"To see the GUI go to: http://127.0.0.1:{sim.port}" in sim.log
    assert "ComfyUI API simulator" in sim.log


def test_directory_flags(start_simulator, tmp_path):
    out = tmp_path / "elsewhere-out"
    sim = start_simulator("--cpu", "--output-directory", str(out))
    sim.run_prompt(smoke())
    assert (out / "healthcheck_00001_.png").is_file()


def test_disable_api_nodes_drops_api_node_classes(start_simulator):
    sim = start_simulator("--cpu", "--disable-api-nodes")
    info = sim.get("/object_info").json()
    assert "GeminiNode" not in info and "EmptyImage" in info


def test_extra_model_paths_yaml(start_simulator, tmp_path):
    store = tmp_path / "store"
    (store / "ckpts").mkdir(parents=True)
    (store / "ckpts" / "big.safetensors").write_bytes(b"x")
    (store / "more").mkdir()
    (store / "more" / "second.safetensors").write_bytes(b"x")
    (store / "lora").mkdir()
    (store / "lora" / "l.safetensors").write_bytes(b"x")
    first = tmp_path / "extra.yaml"
    first.write_text(f"""# shared model store
comfyui:
    base_path: {store}
    is_default: true
    checkpoints: |
        ckpts
        more
""")
    second = tmp_path / "extra2.yaml"
    second.write_text("other:\n  loras: store/lora\n")
    sim = start_simulator("--cpu", "--extra-model-paths-config", str(first), "--extra-model-paths-config", str(second))
    assert sim.get("/models/checkpoints").json() == ["big.safetensors", "second.safetensors"]
    assert sim.get("/models/loras").json() == ["l.safetensors"]
    info = sim.get("/object_info/CheckpointLoaderSimple").json()
    assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == ["big.safetensors", "second.safetensors"]


def test_bad_extra_model_paths_is_refused(start_simulator, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("comfyui:\n  - not a map\n")
    sim = start_simulator("--cpu", "--extra-model-paths-config", str(bad), wait=False)
    assert sim.proc.wait(10) == 1
    assert f"{bad}:2" in sim.log


def test_simple_yaml_parser():
    text = "a:\n  base_path: /x  # comment\n  is_default: true\n  loras: |\n    one\n    two\n  'q': \"v\"\nb:\n"
    assert parse_simple_yaml(text, "t") == {"a": {"base_path": "/x", "is_default": True, "loras": "one\ntwo\n", "q": "v"}, "b": {}}
    with pytest.raises(ExtraPathsError, match="t:1"):
        parse_simple_yaml("[1, 2]\n", "t")


def test_folder_paths_default_first(tmp_path):
    paths = FolderPaths(str(tmp_path))
    paths.add_model_folder_path("checkpoints", "/first", is_default=True)
    paths.add_model_folder_path("clip", "/legacy")
    assert paths.models["checkpoints"][0] == "/first"
    assert paths.models["text_encoders"][-1] == "/legacy"
    assert paths.list_models("nope") is None


@pytest.mark.parametrize(("text", "expected"), [("24GiB", 24 * 2**30), ("500 GB", 500 * 10**9), (1024, 1024), ("1.5k", 1536)])
def test_parse_size(text, expected):
    assert parse_size(text, "x") == expected


def test_parse_size_rejects_garbage():
    with pytest.raises(ConfigError, match="x: expected a size"):
        parse_size("lots", "x")


CUSTOM_NODE = """
class Doubler:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1, "min": 0, "max": 1000})}}
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "test"
    def run(self, value):
        with open(OUT, "w") as handle:
            handle.write(str(value * 2))
        return (value * 2,)

class Sink:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {})}}
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "test"
    def run(self, value):
        return {"ui": {"text": [str(value)]}}

NODE_CLASS_MAPPINGS = {"Doubler": Doubler, "Sink": Sink}
NODE_DISPLAY_NAME_MAPPINGS = {"Doubler": "Double it"}
"""


def make_custom_nodes(base, out_file):
    package = base / "custom_nodes" / "doubler"
    package.mkdir()
    (package / "__init__.py").write_text(f"OUT = {str(out_file)!r}\n" + CUSTOM_NODE)
    broken = base / "custom_nodes" / "broken_pack"
    broken.mkdir()
    (broken / "__init__.py").write_text("import no_such_dependency_xyz\n")


def test_custom_nodes_load_run_and_failed_imports_show(start_simulator, sim_base, tmp_path):
    out_file = tmp_path / "ran.txt"
    make_custom_nodes(sim_base, out_file)
    sim = start_simulator("--cpu")
    info = sim.get("/object_info/Doubler").json()["Doubler"]
    assert info["display_name"] == "Double it" and info["python_module"] == "custom_nodes.doubler"
    assert info["output"] == ["INT"] and info["output_node"] is False
    assert "IMPORT FAILED" in sim.log and "broken_pack" in sim.log
    assert "No module named 'no_such_dependency_xyz'" in sim.log
    workflow = {"1": {"class_type": "Doubler", "inputs": {"value": 21}}, "2": {"class_type": "Sink", "inputs": {"value": ["1", 0]}}}
    _pid, entry = sim.run_prompt(workflow)
    assert entry["status"]["status_str"] == "success"
    assert out_file.read_text() == "42"
    assert entry["outputs"] == {"2": {"text": ["42"]}}


def test_disable_all_custom_nodes_with_whitelist(start_simulator, sim_base, tmp_path):
    make_custom_nodes(sim_base, tmp_path / "ran.txt")
    none = start_simulator("--cpu", "--disable-all-custom-nodes")
    assert none.get("/object_info/Doubler").json() == {}
    some = start_simulator("--cpu", "--disable-all-custom-nodes", "--whitelist-custom-nodes", "doubler")
    assert "Doubler" in some.get("/object_info/Doubler").json()
    assert "IMPORT FAILED" not in some.log


def test_make_git_repo_script(tmp_path):
    dest = tmp_path / "ComfyUI"
    script = SIMULATOR / "tools" / "make-git-repo.sh"
    subprocess.run([str(script), str(dest)], check=True, capture_output=True, timeout=60)
    tags = subprocess.run(["git", "-C", str(dest), "tag"], capture_output=True, text=True, check=True).stdout.split()
    assert tags == ["v0.8.0", "v0.8.1"]
    first = subprocess.run(["git", "-C", str(dest), "rev-parse", "v0.8.0"], capture_output=True, text=True, check=True).stdout
    for name in ("main.py", "comfyui_version.py", "requirements.txt", "models/checkpoints", "custom_nodes", "input", "user"):
        assert (dest / name).exists(), name
    assert '__version__ = "0.8.1"' in (dest / "comfyui_version.py").read_text()
    # the validator shared with the collection travels as a real file, not a link out of the repo
    shared = dest / "comfyui_sim" / "workflow.py"
    assert shared.is_file() and not shared.is_symlink()
    again = subprocess.run([str(script), str(dest)], check=True, capture_output=True, text=True, timeout=60)
    assert "up to date" in again.stdout
    other = tmp_path / "again"
    subprocess.run([str(script), str(other)], check=True, capture_output=True, timeout=60)
    assert subprocess.run(["git", "-C", str(other), "rev-parse", "v0.8.0"], capture_output=True, text=True, check=True).stdout == first


def _checkout_copy(tmp_path):
    """A copy of the simulator laid out like a ComfyUI checkout (links resolved), as a release holds it."""
    copy = tmp_path / "checkout"
    shutil.copytree(SIMULATOR, copy, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "comfyui.db"))
    return copy


def test_without_database_url_the_database_goes_into_the_checkout(start_simulator, sim_base, tmp_path):
    checkout = _checkout_copy(tmp_path)
    start_simulator("--cpu", checkout=checkout)
    assert (checkout / "user" / "comfyui.db").is_file(), "ComfyUI 0.8.0 writes user/comfyui.db inside its checkout"


def test_a_checkout_it_cannot_write_logs_the_database_warning_and_still_serves(start_simulator, tmp_path):
    checkout = _checkout_copy(tmp_path)
    # the checkout's user/ cannot hold a database (as under ProtectSystem=strict; a file there fails even for root)
    shutil.rmtree(checkout / "user")
    (checkout / "user").write_text("not a directory\n")
    sim = start_simulator("--cpu", checkout=checkout)
    assert "Failed to initialize database" in sim.log
    assert sim.get("/system_stats").status == 200


def test_a_database_url_that_cannot_be_opened_is_a_warning(start_simulator, tmp_path):
    sim = start_simulator("--cpu", "--database-url", "sqlite:///%s" % (tmp_path / "missing" / "dir" / "x.db"))
    assert "Failed to initialize database" in sim.log and sim.get("/system_stats").status == 200


def test_without_custom_nodes_it_will_not_start(start_simulator, sim_base):
    (sim_base / "custom_nodes").rmdir()
    sim = start_simulator("--cpu", wait=False)
    assert sim.proc.wait(15) != 0
    assert "No such file or directory" in sim.log and "custom_nodes" in sim.log
