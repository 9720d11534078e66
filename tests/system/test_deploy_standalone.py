"""deploy.yml on this machine with the standalone service manager: an archive source, custom nodes.

The archive is the simulator's v0.8.1 tree made by `git archive`, served from a loopback HTTP server.
A good checksum deploys and serves; a wrong one stops before the switch and leaves nothing behind.
A custom node pinned by commit, whose requirements.txt names a local wheel, is installed into the
release and its requirement into the release's own venv: ComfyUI (the simulator) imports and lists it.
No traffic leaves loopback: pip runs with PIP_NO_INDEX.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import Releases
from loopback import free_port
from wheels import make_wheel

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def simulator_archive(root: Path) -> tuple[Path, Path]:
    """The simulator's git repository under `root`, and its v0.8.1 `git archive` tarball in `root`/www (to serve)."""
    www = root / "www"
    www.mkdir()
    subprocess.run([str(REPO / "comfyui-simulator/tools/make-git-repo.sh"), str(root / "ComfyUI")], check=True, capture_output=True)
    tarball = www / "ComfyUI-0.8.1.tar.gz"
    with open(tarball, "wb") as out:
        subprocess.run(["git", "-C", str(root / "ComfyUI"), "archive", "--format=tar.gz", "--prefix=ComfyUI-0.8.1/", "v0.8.1"], check=True, stdout=out)
    return www, tarball


def node_repo(root: Path, name: str, requirements: str, init: str = "NODE_CLASS_MAPPINGS = {}\n") -> dict[str, str]:
    """A custom node pack as a git repository with one commit; its entry for comfyui_deploy_custom_nodes."""
    node = root / "nodes" / name
    node.mkdir(parents=True)
    (node / "__init__.py").write_text(init)
    (node / "requirements.txt").write_text(requirements)
    git = ["git", "-C", str(node), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", name]):
        subprocess.run([*git, *args], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return {"name": name, "repo": str(node), "version": commit}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A demo root with the simulator's archive served on 127.0.0.1; every instance stopped at the end."""
    root = tmp_path_factory.mktemp("archive-deploy")
    www, tarball = simulator_archive(root)
    wheel = make_wheel(root / "wheels", "comfyops-testdep", "0.1")
    node = node_repo(root, "comfyops-probe", str(wheel) + "\n", init=PROBE_NODE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {
        "root": root,
        "url": "http://127.0.0.1:%d/%s" % (server.server_address[1], tarball.name),
        "sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
        "port": free_port(),
        "node": node,
    }
    yield info
    if (root / "srv" / "bin" / "comfyuictl").exists():
        playbook(info, "shutdown.yml")
    server.shutdown()


PROBE_NODE = """
import comfyops_testdep


class ComfyopsProbe:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "comfyops"

    def run(self, value):
        return (len(comfyops_testdep.VERSION) + value,)


NODE_CLASS_MAPPINGS = {"ComfyopsProbe": ComfyopsProbe}
"""


def get(site, path):
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open("http://127.0.0.1:%d%s" % (site["port"], path), timeout=5) as response:
        return json.load(response)


def playbook(site, book, checksum=None, **more):
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(
        COMFYOPS_DEMO_ROOT=str(site["root"]),
        COMFYOPS_ALERT_STATE_DIR=str(site["root"] / "alerts"),
        NO_PROXY="*",
        PIP_NO_INDEX="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )
    extra = {
        "comfyui_deploy_source": {"type": "archive", "url": site["url"], "checksum": "sha256:" + (checksum or site["sha256"])},
        "comfyui_deploy_instances": [{"name": "default", "port": site["port"]}],
        # as slow to start as the real ComfyUI 0.8.0 at its fastest here (12-42 s on 2 cores): the gates must wait
        "comfyui_deploy_environment": {"COMFYUI_SIM_START_DELAY": "12"},
        **more,
    }
    cmd = [str(BIN / "ansible-playbook"), "-i", str(REPO / "inventories/demo"), str(REPO / "playbooks" / book), "-e", json.dumps(extra)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=600)


def releases(site):
    return Releases(str(site["root"] / "srv"))


@pytest.fixture(scope="module")
def first_deploy(site):
    """The archive deployed once; every test that needs a serving release asks for this, so each runs alone."""
    return playbook(site, "deploy.yml")


def test_a_checksummed_archive_deploys_and_serves(site, first_deploy):
    run = first_deploy
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    rel = releases(site)
    current = rel.metadata(rel.current())
    assert current["state"] == "active" and current["source_type"] == "archive"
    assert current["id"].startswith("ComfyUI-0.8.1-" + site["sha256"][:12] + "-"), current["id"]
    assert get(site, "/system_stats")["system"]["comfyui_version"] == "0.8.1"


def test_a_wrong_checksum_stops_before_the_switch_and_leaves_nothing(site, first_deploy):
    rel = releases(site)
    before = rel.current()
    run = playbook(site, "deploy.yml", checksum="0" * 64)
    assert run.returncode != 0
    assert "Nothing was switched; current is still %s" % before in run.stdout
    assert rel.current() == before
    assert [m["id"] for m in rel.list() if "0000000000" in m["id"]] == [], "the unfinished release was removed"


def test_a_custom_node_and_its_requirement_and_a_model_come_with_the_release(site, first_deploy):
    rel = releases(site)
    before = rel.metadata(rel.current())
    model = site["root"] / "tiny.safetensors"
    model.write_bytes(b"not really a model, but bytes with a digest\n")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    models = [{"folder": "checkpoints", "name": "tiny.safetensors", "url": model.as_uri(), "sha256": digest}]
    run = playbook(site, "deploy.yml", comfyui_deploy_custom_nodes=[site["node"]], comfyui_deploy_models=models)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    current = rel.metadata(rel.current())
    assert current["id"] != before["id"]
    assert current["custom_nodes"] == [[site["node"]["name"], site["node"]["version"]]]
    assert current["venv"] != before["venv"], "the node's requirements are part of the venv key"
    venv = Path(os.path.realpath(site["root"] / "srv" / "current" / "venv"))
    assert list(venv.glob("lib/python3*/site-packages/comfyops_testdep/__init__.py")), "the requirement is in the release's venv"
    assert "ComfyopsProbe" in get(site, "/object_info"), "the simulator imported the node with its requirement"
    assert current["models"] == [{"folder": "checkpoints", "name": "tiny.safetensors", "sha256": digest}]
    # the venv build and the download ran in the background and said how far they were, then how they ended
    assert re.search(r'"msg": "venv [0-9a-f]{8,}: [0-9.]+ (B|KiB|MiB|GiB), [^"]*done in \d+ s \(built\)"', run.stdout), run.stdout[-3000:]
    assert re.search(r'"msg": "checkpoints/tiny.safetensors: 44 B, [^"]*done in \d+ s \(downloaded\)"', run.stdout)
    assert len(current["model_manifest_digest"]) == 64
    assert "tiny.safetensors" in get(site, "/models/checkpoints"), "the model is seen through extra_model_paths.yaml"


def test_production_refuses_models_without_digests(site, first_deploy):
    rel = releases(site)
    before = (rel.current(), [m["id"] for m in rel.list()])
    model = {"folder": "checkpoints", "name": "nodigest.safetensors", "url": (site["root"] / "tiny.safetensors").as_uri()}
    run = playbook(site, "deploy.yml", comfyui_deploy_tier="production", comfyui_deploy_require_sha256=False, comfyui_deploy_models=[model])
    assert run.returncode != 0
    assert "which comfyui_deploy_tier 'production' refuses" in run.stdout
    assert (rel.current(), [m["id"] for m in rel.list()]) == before, "nothing changed"


def server_pid(site):
    return int((site["root"] / "srv" / "run" / "default.pid").read_text())


def _audit_lines(site):
    return (site["root"] / "srv" / "state" / "audit.log").read_text().splitlines()


def test_a_rerun_is_a_noop_until_an_instance_stops_or_the_configuration_changes(site, first_deploy):
    assert playbook(site, "deploy.yml").returncode == 0  # the archive's release, whatever ran before this test
    pid, audit = server_pid(site), _audit_lines(site)
    noop = playbook(site, "deploy.yml")
    assert noop.returncode == 0, noop.stdout[-4000:]
    assert "Lock | take the deploy lock" not in noop.stdout  # the rest of the role was not even included
    assert re.search(r"Configure \| limits of the service user\] \**\nskipping", noop.stdout)  # nor the host prepared again
    assert "no-op: %s is active, healthy and configured as asked" % releases(site).current() in noop.stdout
    assert server_pid(site) == pid and _audit_lines(site) == audit  # nothing restarted, nothing recorded
    os.kill(pid, 15)  # the instance dies: the next run is no no-op, it starts it again
    deadline = time.monotonic() + 60
    while Path("/proc/%d" % pid).exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # polls for the process to be gone, bounded
    again = playbook(site, "deploy.yml")
    assert again.returncode == 0 and "Lock | take the deploy lock" in again.stdout and "work to do: default is failed (service, api)" in again.stdout
    assert get(site, "/system_stats")["system"]["comfyui_version"] == "0.8.1" and server_pid(site) != pid
    changed = playbook(site, "deploy.yml", comfyui_deploy_stop_timeout=31)  # a setting outside the release id
    assert changed.returncode == 0 and "work to do: the configuration changed since the last deploy" in changed.stdout
    assert "Lock | take the deploy lock" in changed.stdout


def test_a_node_pack_pinning_an_older_torch_fails_the_build_before_the_switch(site, first_deploy):
    """The torch stand-in with a CUDA label is what the extra packages install; a node pack pins an older one (local
    wheels, no index): the deploy fails naming node, package, wanted and held version; nothing is switched."""
    wheels = site["root"] / "torch-wheels"
    cuda_torch = make_wheel(wheels, "torch", "2.5.1+cu124")
    make_wheel(wheels, "torch", "1.0.0")
    rel = releases(site)
    before = rel.current()
    node = node_repo(site["root"], "old-torch-pack", "torch==1.0.0\n")
    run = playbook(
        site,
        "deploy.yml",
        comfyui_deploy_custom_nodes=[node],
        comfyui_deploy_extra_packages=[str(cuda_torch)],
        comfyui_deploy_pip_find_links=[str(wheels)],
    )
    assert run.returncode != 0
    assert "custom node 'old-torch-pack' wants torch==1.0.0, but torch 2.5.1+cu124 is held" in run.stdout, run.stdout[-4000:]
    assert "Nothing was switched; current is still %s" % before in run.stdout
    assert rel.current() == before and get(site, "/system_stats")["system"]["comfyui_version"] == "0.8.1"
    assert not [m for m in rel.list() if m["state"] == "building"], "the unfinished release was removed"
