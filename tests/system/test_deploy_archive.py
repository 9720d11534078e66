"""deploy.yml with an archive source, on this machine with the standalone service manager.

The archive is the simulator's v0.8.1 tree made by `git archive`, served from a loopback HTTP server.
A good checksum deploys and serves; a wrong one stops before the switch and leaves nothing behind.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import Releases

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A demo root with the simulator's archive served on 127.0.0.1; every instance stopped at the end."""
    root = tmp_path_factory.mktemp("archive-deploy")
    www = root / "www"
    www.mkdir()
    subprocess.run([str(REPO / "comfyui-simulator/tools/make-git-repo.sh"), str(root / "ComfyUI")], check=True, capture_output=True)
    tarball = www / "ComfyUI-0.8.1.tar.gz"
    with open(tarball, "wb") as out:
        subprocess.run(["git", "-C", str(root / "ComfyUI"), "archive", "--format=tar.gz", "--prefix=ComfyUI-0.8.1/", "v0.8.1"], check=True, stdout=out)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {
        "root": root,
        "url": "http://127.0.0.1:%d/%s" % (server.server_address[1], tarball.name),
        "sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
        "port": free_port(),
    }
    yield info
    if (root / "srv" / "bin" / "comfyuictl").exists():
        playbook(info, "shutdown.yml")
    server.shutdown()


def playbook(site, book, checksum=None):
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(COMFYOPS_DEMO_ROOT=str(site["root"]), NO_PROXY="*", ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    extra = {
        "comfyui_deploy_source": {"type": "archive", "url": site["url"], "checksum": "sha256:" + (checksum or site["sha256"])},
        "comfyui_deploy_instances": [{"name": "default", "port": site["port"]}],
    }
    cmd = [str(BIN / "ansible-playbook"), "-i", str(REPO / "inventories/demo"), str(REPO / "playbooks" / book), "-e", json.dumps(extra)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=600)


def releases(site):
    return Releases(str(site["root"] / "srv"))


def test_a_checksummed_archive_deploys_and_serves(site):
    run = playbook(site, "deploy.yml")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    rel = releases(site)
    current = rel.metadata(rel.current())
    assert current["state"] == "active" and current["source_type"] == "archive"
    assert current["id"].startswith("ComfyUI-0.8.1-" + site["sha256"][:12] + "-"), current["id"]
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open("http://127.0.0.1:%d/system_stats" % site["port"], timeout=5) as response:
        assert json.load(response)["system"]["comfyui_version"] == "0.8.1"


def test_a_wrong_checksum_stops_before_the_switch_and_leaves_nothing(site):
    rel = releases(site)
    before = rel.current()
    run = playbook(site, "deploy.yml", checksum="0" * 64)
    assert run.returncode != 0
    assert "Nothing was switched; current is still %s" % before in run.stdout
    assert rel.current() == before
    assert [m["id"] for m in rel.list() if "0000000000" in m["id"]] == [], "the unfinished release was removed"
