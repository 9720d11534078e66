"""deploy.yml's release id: one id for the run, from the source and the settings of every host of the group.

The first play of playbooks/deploy.yml (taken from the file as it is) runs on two local hosts with the
"Set the release id" task of playbooks/tasks/release_id.yml (which it imports), followed by a task that prints the id.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SOURCE = {"comfyui_deploy_source": {"type": "local", "path": "/nonexistent", "ref": "r1"}}


@pytest.fixture(scope="module")
def id_play(tmp_path_factory):
    plays = yaml.safe_load((REPO / "playbooks" / "deploy.yml").read_text())
    play = plays[0]
    assert any(t.get("ansible.builtin.import_tasks") == "tasks/release_id.yml" for t in play["tasks"]), "deploy.yml's first play imports the release id"
    shared = yaml.safe_load((REPO / "playbooks" / "tasks" / "release_id.yml").read_text())
    play["tasks"] = [t for t in shared if t["name"] == "Set the release id"]
    assert play["tasks"], "tasks/release_id.yml has a task named 'Set the release id'"
    play["tasks"].append({"name": "Show it", "ansible.builtin.debug": {"msg": "ID={{ comfyui_release_id }}"}, "run_once": True})
    path = tmp_path_factory.mktemp("release-id") / "id.yml"
    path.write_text(yaml.safe_dump([play]))
    return path


def release_id(id_play, h2_vars, *args, source=None):
    inventory = id_play.parent / "hosts.json"
    inventory.write_text(json.dumps({"comfyui_hosts": {"hosts": {"h1": {"ansible_connection": "local"}, "h2": dict(ansible_connection="local", **h2_vars)}}}))
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(id_play), "-e", f"ansible_python_interpreter={sys.executable}"]
    cmd += ["-e", json.dumps(source or SOURCE), *args]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return re.search(r"ID=([^\s\"']+)", run.stdout).group(1)


def test_same_settings_same_id_and_limit_keeps_it(id_play):
    first = release_id(id_play, {})
    assert first.startswith("r1-local-")
    assert release_id(id_play, {}) == first
    assert release_id(id_play, {}, "--limit", "h2") == first


def test_a_change_to_another_hosts_own_settings_is_a_new_release(id_play):
    assert release_id(id_play, {"comfyui_deploy_python": "python3.12"}) != release_id(id_play, {}), "issue 10: the Python version makes a release"
    assert release_id(id_play, {"comfyui_deploy_torch_cuda_builds": ["12.8"]}) != release_id(id_play, {})
    assert release_id(id_play, {"comfyui_deploy_environment": {"X": "1"}}) != release_id(id_play, {})
    assert release_id(id_play, {"comfyui_deploy_instances": [{"name": "a", "port": 8188}, {"name": "b", "port": 8189}]}) != release_id(id_play, {})


def test_archive_ids_name_the_file_and_its_checksum(id_play):
    archive = {"comfyui_deploy_source": {"type": "archive", "url": "http://127.0.0.1:1/ComfyUI-0.8.1.tar.gz", "checksum": "sha256:" + "ab" * 32}}
    assert release_id(id_play, {}, source=archive).startswith("ComfyUI-0.8.1-abababababab-")
