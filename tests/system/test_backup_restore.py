"""backup.yml and restore.yml on this machine (the demo inventory, standalone, the simulator as ComfyUI), with the
real restic: the README's demo lines: back up the demo, break it, restore it, and it serves the same data again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from demo_playbook import demo_playbook
from loopback import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is installed by `make system`")


def playbook(root, port, book, *args):
    return demo_playbook(root, book, {"comfyui_deploy_instances": [{"name": "default", "port": port}]}, *args)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("backup-demo")
    subprocess.run([str(REPO / "comfyui-simulator/tools/make-git-repo.sh"), str(root / "ComfyUI")], check=True, capture_output=True)
    port = free_port()
    deployed = playbook(root, port, "deploy.yml")
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    yield root, port
    playbook(root, port, "shutdown.yml")


def test_back_up_the_demo_break_it_restore_it(demo):
    root, port = demo
    flows = root / "srv" / "shared" / "user" / "default" / "workflows"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "mine.json").write_text('{"nodes": [{"id": 7, "type": "SaveImage"}]}')
    backed = playbook(root, port, "backup.yml")
    assert backed.returncode == 0, backed.stdout[-3000:]
    assert "localhost: snapshot " in backed.stdout and "of release v0.8.0-" in backed.stdout

    shutil.rmtree(root / "srv" / "shared" / "user")  # the break: the operator's work is gone
    (root / "srv" / "shared" / "user").mkdir()

    restored = playbook(root, port, "restore.yml", "-e", "comfyui_restore_hosts=localhost")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert "localhost: restored user and config/instances from snapshot" in restored.stdout
    assert json.loads((flows / "mine.json").read_text()) == {"nodes": [{"id": 7, "type": "SaveImage"}]}
    audit = (root / "srv" / "state" / "audit.log").read_text().splitlines()
    assert json.loads(audit[-1])["action"] == "restore" and json.loads(audit[-1])["outcome"].startswith("restored ")


def test_restore_without_naming_the_hosts_refuses(demo):
    root, port = demo
    out = playbook(root, port, "restore.yml")
    assert out.returncode != 0 and "name the hosts to restore: -e comfyui_restore_hosts=" in out.stdout


def test_disaster_recovery_onto_a_new_base_deploys_the_recorded_release_and_restores_the_data(demo, tmp_path):
    root, port = demo
    flows = root / "srv" / "shared" / "user" / "default" / "workflows"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "dr.json").write_text('{"nodes": [{"id": 9, "type": "EmptyImage"}]}')
    backed = playbook(root, port, "backup.yml")
    assert backed.returncode == 0, backed.stdout[-3000:]
    recorded = json.loads((root / "srv" / "state" / "deployed.json").read_text())["release"]

    new = tmp_path / "new-host"  # a new machine: nothing deployed, the same repository
    subprocess.run([str(REPO / "comfyui-simulator/tools/make-git-repo.sh"), str(new / "ComfyUI")], check=True, capture_output=True)
    new_port = free_port()
    repository = json.dumps({"backup_repository": str(root / "backup-repo")})
    try:
        out = playbook(new, new_port, "restore.yml", "-e", "comfyui_restore_hosts=localhost", "-e", "comfyui_restore_from=localhost", "-e", repository)
        assert out.returncode == 0, out.stdout[-4000:]
        assert os.readlink(new / "srv" / "current") == "releases/" + recorded  # the release the backup recorded
        assert json.loads((new / "srv" / "shared" / "user" / "default" / "workflows" / "dr.json").read_text())["nodes"][0]["id"] == 9
        # the configuration is the one the deploy made for this host (its paths, its port), not the old host's
        assert "localhost: restored user from snapshot" in out.stdout
        assert str(new_port) in (new / "srv" / "current" / "instances" / "default.json").read_text()
    finally:
        playbook(new, new_port, "shutdown.yml")


def test_a_model_the_backup_recorded_that_the_host_lacks_stops_the_restore_first(demo):
    root, port = demo
    manifest = root / "srv" / "shared" / "models" / "manifest.json"
    before = manifest.read_text() if manifest.exists() else None
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"models": [{"folder": "checkpoints", "name": "sd15.safetensors", "size": 4, "sha256": "ab" * 32, "source": "file:///x"}]}))
    try:
        assert playbook(root, port, "backup.yml").returncode == 0
        manifest.write_text(json.dumps({"models": []}))  # the model is gone from this host
        out = playbook(root, port, "restore.yml", "-e", "comfyui_restore_hosts=localhost")
        assert out.returncode != 0
        assert "the backup recorded models this host lacks or has with other digests" in out.stdout and "checkpoints/sd15.safetensors" in out.stdout
        assert "Restore | take the deploy lock" not in out.stdout  # it stopped before anything changed
    finally:
        if before is None:
            manifest.unlink()
        else:
            manifest.write_text(before)
        playbook(root, port, "backup.yml")  # the newest snapshot is a plain one again, for the other tests
