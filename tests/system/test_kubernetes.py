"""playbooks/kubernetes.yml on the controller: manifests from the deploy's variables, validated offline, idempotent.

The apply half (only with comfyui_deploy_k8s_kubeconfig: rollout, rollback) runs against a real control plane in
tests/k8s (make k8s-test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
HOST_VARS = {
    "ansible_connection": "local",
    "comfyui_deploy_source": {"type": "local", "path": "/nonexistent", "ref": "v0.8.0"},
    "comfyui_deploy_instances": [{"name": "gpu0", "port": 8188, "cuda_device": 0}, {"name": "gpu1", "port": 8188, "cuda_device": 1}],
    "comfyui_deploy_startup_budget": 900,
    "comfyui_deploy_k8s_ingress": {"host": "comfyui.example", "auth": "url", "auth_url": "https://sso.example/oauth2/auth"},
}


def playbook(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    inventory = tmp_path / "hosts.json"
    host_vars = dict(HOST_VARS, comfyui_deploy_k8s_dir=str(tmp_path / "k8s"))
    inventory.write_text(json.dumps({"comfyui_hosts": {"hosts": {"gpu-a": host_vars, "gpu-b": {"ansible_connection": "local"}}}}))
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "kubernetes.yml"), *args]
    cmd += ["-e", f"ansible_python_interpreter={sys.executable}"]
    run = subprocess.run(cmd, check=False, capture_output=True, text=True, env=ENV, cwd=tmp_path)
    if check:
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run


def recap(run: subprocess.CompletedProcess) -> str:
    return run.stdout[run.stdout.index("PLAY RECAP") :]


def test_renders_valid_manifests_then_changes_nothing(tmp_path):
    first = playbook(tmp_path)
    files = sorted(path.name for path in (tmp_path / "k8s").iterdir())
    assert files == [
        "00-namespace-comfyui.yaml", "01-configmap-comfyui-config.yaml", "02-persistentvolumeclaim-comfyui-models.yaml",
        "03-persistentvolumeclaim-comfyui-gpu0-data.yaml", "04-persistentvolumeclaim-comfyui-gpu1-data.yaml",
        "05-deployment-comfyui-gpu0.yaml", "06-deployment-comfyui-gpu1.yaml", "07-service-comfyui.yaml",
        "08-ingress-comfyui.yaml", "09-poddisruptionbudget-comfyui.yaml", "10-networkpolicy-comfyui.yaml",
    ]  # fmt: skip
    assert "changed=1" in recap(first) and "not applied" in first.stdout
    deployment = yaml.safe_load((tmp_path / "k8s" / "06-deployment-comfyui-gpu1.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    release = deployment["metadata"]["labels"]["app.kubernetes.io/version"]
    assert release.startswith("v0.8.0-local-") and container["image"] == "comfyops/comfyui:" + release  # deploy.yml's release id
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 900
    ingress = yaml.safe_load((tmp_path / "k8s" / "08-ingress-comfyui.yaml").read_text())
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-url"] == "https://sso.example/oauth2/auth"
    second = playbook(tmp_path)
    assert "changed=0" in recap(second)


def test_check_mode_reports_without_writing_and_drops_stale_files(tmp_path):
    playbook(tmp_path)
    before = {path.name: path.read_text() for path in (tmp_path / "k8s").iterdir()}
    checked = playbook(tmp_path, "--check", "-e", '{"comfyui_deploy_k8s_ingress": {}}')
    assert "changed=1" in recap(checked)
    assert {path.name: path.read_text() for path in (tmp_path / "k8s").iterdir()} == before
    applied = playbook(tmp_path, "-e", '{"comfyui_deploy_k8s_ingress": {}}')
    assert "changed=1" in recap(applied)
    assert "08-ingress-comfyui.yaml" not in {path.name for path in (tmp_path / "k8s").iterdir()}


def test_a_bad_value_fails_before_anything_is_written(tmp_path):
    run = playbook(tmp_path, "-e", '{"comfyui_deploy_instances": [{"name": "gpu0", "port": 8188, "gpus": -2}]}', check=False)
    assert run.returncode != 0
    assert "comfyui_deploy_instances[0].gpus must be 0 or more, got -2" in run.stdout
    assert not (tmp_path / "k8s").exists()


def test_a_hand_edit_is_validated_with_the_field_named(tmp_path):
    playbook(tmp_path)
    path = tmp_path / "k8s" / "05-deployment-comfyui-gpu0.yaml"
    path.write_text(path.read_text().replace("path: /system_stats", "path: /system_stat", 1))
    cmd = [str(BIN / "ansible"), "localhost", "-m", "comfyops.comfyui.comfyui_k8s_manifests", "-a", f"dest={tmp_path / 'k8s'} mode=validate version=1.31"]
    cmd += ["-e", f"ansible_python_interpreter={sys.executable}"]
    run = subprocess.run(cmd, check=False, capture_output=True, text=True, env=ENV)
    assert run.returncode != 0
    assert "Deployment/comfyui-gpu0: spec.template.spec.containers[0].startupProbe.httpGet.path: '/system_stat' is not a route ComfyUI serves" in run.stdout
