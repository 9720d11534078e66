"""The modules as Ansible runs them: ansible-playbook on localhost, results read through the json callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NO_DRIVER_PYTHONPATH, REPO, recorded

BIN = Path(sys.executable).parent


def run_module(tmp_path, module, args, check=False, env_more=None):
    playbook = tmp_path / "play.yml"
    task = {"name": "under test", module: args, "register": "out", "ignore_errors": True}
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), **(env_more or {}))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_health_module_healthy_and_never_changed(simulator, sim_base, tmp_path):
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_health", {"url": simulator.url, "output_dir": str(sim_base / "output")})
    assert not out.get("failed") and out["changed"] is False and out["state"] == "healthy"
    check = run_module(tmp_path, "comfyops.comfyui.comfyui_health", {"url": simulator.url}, check=True)
    assert check["changed"] is False and check["state"] == "healthy"


def test_health_module_fails_when_unhealthy_unless_told_not_to(simulator, tmp_path):
    args = {"url": simulator.url, "checks": ["api"], "expected_version": "9.9.9"}
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_health", args)
    assert out["failed"] and "default is failed: api (the server reports ComfyUI 0.8.0, not 9.9.9 (expected_version))" in out["msg"]
    assert out["instances"][0]["failed"] == ["api"]
    quiet = run_module(tmp_path, "comfyops.comfyui.comfyui_health", {**args, "fail_on": "never"})
    assert not quiet.get("failed") and quiet["state"] == "failed"


def test_health_module_refuses_garbage(simulator, tmp_path):
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_health", {"url": simulator.url, "min_vram_free": "heaps"})
    assert out["failed"] and "min_vram_free: expected a size" in out["msg"]


def test_prompt_module_runs_and_reports_files(simulator, sim_base, tmp_path):
    args = {"url": simulator.url, "workflow": recorded("smoke_workflow.json"), "output_dir": str(sim_base / "output"), "overrides": {"1": {"color": 77}}}
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_prompt", args)
    assert out["changed"] is True and out["status"] == "success"
    (item,) = out["files"]
    assert item["path"] == str(sim_base / "output" / "healthcheck_00001_.png") and item["size"] > 0


def test_prompt_module_check_mode_validates_without_running(simulator, tmp_path):
    args = {"url": simulator.url, "workflow": recorded("smoke_workflow.json")}
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_prompt", args, check=True)
    assert out["status"] == "valid" and out["changed"] is True
    assert simulator.get("/history").json() == {}, "check mode ran nothing"


def test_prompt_module_validate_only_reports_missing_model(simulator, sim_base, tmp_path):
    (sim_base / "models/checkpoints/tiny-test.safetensors").write_bytes(b"x")
    workflow = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15-missing.safetensors"}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    }
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_prompt", {"url": simulator.url, "workflow": workflow, "validate_only": True})
    assert out["failed"] and out["status"] == "invalid"
    assert out["node_errors"]["1"]["errors"][0]["type"] == "value_not_in_list"
    assert out["changed"] is False


def test_prompt_module_timeout_interrupts(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_DEFAULT_NODE_SECONDS": "1"})
    args = {"url": sim.url, "workflow": recorded("smoke_workflow.json"), "wait_timeout": 0.3}
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_prompt", args)
    assert out["failed"] and out["status"] == "timeout" and out["error"]["action"] == "interrupted"


@pytest.mark.parametrize(
    ("args", "message"), [({"workflow": "{not json"}, "workflow: not valid JSON"), ({"workflow_file": "/no/such.json"}, "workflow_file /no/such.json")]
)
def test_prompt_module_bad_input(simulator, tmp_path, args, message):
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_prompt", {"url": simulator.url, **args})
    assert out["failed"] and message in out["msg"]


def test_gpu_info_module_on_a_host_without_the_driver(tmp_path):
    no_driver = {"PYTHONPATH": NO_DRIVER_PYTHONPATH}  # the real pynvml, its library not loadable (also on a GPU host)
    out = run_module(tmp_path, "comfyops.comfyui.nvidia_gpu_info", {}, env_more=no_driver)
    assert out["changed"] is False and out["nvml_available"] is False and out["gpus"] == []
    assert "NVMLError_LibraryNotFound" in out["reason"]
    required = run_module(tmp_path, "comfyops.comfyui.nvidia_gpu_info", {"require_gpu": True}, env_more=no_driver)
    assert required["failed"] and "No GPU facts on this host" in required["msg"]


def test_host_validate_module_garbage_and_fail_on(tmp_path):
    garbage = run_module(tmp_path, "comfyops.comfyui.host_validate", {"min_ram": "plenty"})
    assert garbage["failed"] and "host_validate: min_ram: expected a size" in garbage["msg"]
    args = {"checks": ["cpu_cores", "disk"], "min_cpu_cores": 4096, "disk": [{"path": "/", "min_free": "1MB"}]}
    failing = run_module(tmp_path, "comfyops.comfyui.host_validate", args)
    assert failing["failed"] and failing["summary"]["failed"] == ["cpu_cores"] and failing["changed"] is False
    reported = run_module(tmp_path, "comfyops.comfyui.host_validate", {**args, "fail_on": "never"}, check=True)
    assert not reported.get("failed") and reported["summary"]["status"] == "fail"


@pytest.mark.parametrize("rid", ["..", "", "/tmp"])
def test_release_module_refuses_ids_that_leave_releases(tmp_path, rid):
    """Issue 9: state=absent with id '..' removed the whole base directory, '' every release, '/tmp' a directory outside."""
    base = tmp_path / "srv"
    (base / "shared" / "models").mkdir(parents=True)
    (base / "shared" / "models" / "keep.bin").write_bytes(b"model")
    (base / "releases" / "A").mkdir(parents=True)
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_release", {"base": str(base), "state": "absent", "id": rid})
    assert out["failed"] and "is not allowed" in out["msg"]
    assert (base / "shared" / "models" / "keep.bin").exists() and (base / "releases" / "A").is_dir()


def test_k8s_manifests_validate_mode_names_a_yaml_file_that_is_no_manifest(tmp_path):
    """Issue 26: before, any other YAML file in the folder (a kustomization, a list) crashed validate mode."""
    dest = tmp_path / "manifests"
    rendered = run_module(
        tmp_path,
        "comfyops.comfyui.comfyui_k8s_manifests",
        {"dest": str(dest), "settings": {"release": "r1", "image": "registry.example/comfyui:r1", "instances": [{"name": "gpu0", "port": 8188}]}},
    )
    assert not rendered.get("failed"), rendered.get("msg")
    (dest / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n")
    (dest / "notes.yml").write_text("- just\n- a list\n")
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_k8s_manifests", {"dest": str(dest), "mode": "validate"})
    assert out["failed"] and "Traceback" not in out.get("module_stderr", "")
    assert "%s: document 1 is not a Kubernetes manifest" % (dest / "notes.yml") in out["msg"]
    assert "Kustomization is not a kind Kubernetes 1.31 knows" in out["msg"]
    assert len(out["errors"]) == 2, out["errors"]
