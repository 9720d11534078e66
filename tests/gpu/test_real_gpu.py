"""The NVML-based code on a real NVIDIA GPU, when this host has one (make gpu-test; skipped, and said so, without).

Run it on a GPU host to check the facts reader, the validation checks and the nvidia_gpu_info module against the
real driver; with COMFYOPS_GPU_FIXTURE=<file> it also writes the facts as a JSON fixture for the unit tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _checks, _gpu
from conftest import REPO

FACTS = _gpu.collect()
pytestmark = pytest.mark.skipif(not FACTS["nvml_available"], reason="no NVIDIA GPU with a driver here: %s" % FACTS["reason"])


def test_facts_of_every_gpu():
    assert FACTS["driver_version"] and FACTS["cuda_driver_version"] and FACTS["gpus"]
    for gpu in FACTS["gpus"]:
        assert gpu["name"] and gpu["uuid"].startswith("GPU-") and gpu["memory_total"] > 0
        assert 0 <= gpu["memory_used"] <= gpu["memory_total"] and gpu["compute_capability"]
    if os.environ.get("COMFYOPS_GPU_FIXTURE"):
        with open(os.environ["COMFYOPS_GPU_FIXTURE"], "w", encoding="utf-8") as handle:
            json.dump(FACTS, handle, indent=2, sort_keys=True)


def test_gpu_checks_pass_with_modest_thresholds():
    params = {"min_gpus": 1, "min_vram": "1GB", "min_driver_version": "450.0", "min_cuda_version": "11.0", "min_compute_capability": "5.0"}
    report = _checks.run_checks(params, checks=["gpu_count", "vram", "driver_version", "cuda_version", "compute_capability"])
    assert report["summary"]["fail"] == 0, report["checks"]


def test_the_module_through_ansible(tmp_path):
    play = tmp_path / "play.yml"
    task = {"name": "facts", "comfyops.comfyui.nvidia_gpu_info": {"require_gpu": True}, "register": "out"}
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local"]
    cmd += ["-e", "ansible_python_interpreter=%s" % sys.executable, str(play)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)
    out = json.loads(proc.stdout[proc.stdout.index("{") :])["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert not out.get("failed") and len(out["gpus"]) == len(FACTS["gpus"])
