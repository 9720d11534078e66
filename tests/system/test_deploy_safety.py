"""Issue 9 on a real deploy (deploy.yml, standalone, this machine): secrets, injection, ownership, pids, the lock.

One site for the module: a root that the service user (nobody) can traverse, the simulator's git repository as
the source, a presigned-looking archive URL, pip index and model URLs with credentials, an auth header and an
environment with a token and shell metacharacters. Every test asserts on the deploy the fixture made, or makes its
own; each passes alone.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import Releases
from loopback import free_port
from test_deploy_standalone import server_pid, simulator_archive
from wheels import make_wheel

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRETS = {
    "env": "hf_envTOKEN0123456789",
    "pip": "pipPASSWORD0123456789",
    "model_query": "modelQUERYtoken0123456789",
    "auth": "authHEADERtoken0123456789",
    "archive": "archiveSIGNATURE0123456789",
}
SERVICE_USER = "nobody"


@pytest.fixture(scope="module")
def site():
    root = Path(tempfile.mkdtemp(prefix="comfyops-safety-", dir="/var/tmp"))
    root.chmod(0o755)  # the service user must reach its tree (pytest's own temp dirs are 0700)
    www, tarball = simulator_archive(root)
    wheel = make_wheel(root / "wheels", "comfyops-testdep", "0.1")
    model = root / "tiny.safetensors"
    model.write_bytes(b"a tiny model for the safety tests\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    info = {
        "root": root,
        "port": free_port(),
        "archive": "http://127.0.0.1:%d/%s?X-Amz-Signature=%s" % (port, tarball.name, SECRETS["archive"]),
        "sha256": hashlib.sha256(tarball.read_bytes()).hexdigest(),
        "model": {
            "folder": "checkpoints",
            "name": "tiny.safetensors",
            "url": model.as_uri() + "?token=" + SECRETS["model_query"],
            "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        },
        "proof": root / "proof",
        "wheel": wheel,
    }
    info["first"] = playbook(info, "deploy.yml", "-vvv", "--diff")
    yield info
    server.shutdown()
    if os.environ.get("COMFYOPS_KEEP_SITE"):  # to look at a failure: the tree stays, the server keeps running
        return
    if (root / "srv" / "bin" / "comfyuictl").exists():
        playbook(info, "shutdown.yml")
    shutil.rmtree(root, ignore_errors=True)


def environment(site, **extra):
    return {"HF_TOKEN": SECRETS["env"], "INJECT": "$(touch %s)`touch %s`" % (site["proof"], site["proof"]), "PASSWORD": "pa$$w0rd", **extra}


def settings(site, **more):
    return {
        "comfyui_deploy_user": SERVICE_USER,
        "comfyui_deploy_group": "nogroup",
        "comfyui_deploy_python": "/usr/bin/python3",  # Debian's: pyenv's interpreters live under /root (0700)
        "comfyui_deploy_source": {"type": "archive", "url": site["archive"], "checksum": "sha256:" + site["sha256"]},
        "comfyui_deploy_instances": [{"name": "default", "port": site["port"]}],
        "comfyui_deploy_pip_index_url": "http://deployer:%s@127.0.0.1:9/simple" % SECRETS["pip"],
        "comfyui_deploy_models": [site["model"]],
        "comfyui_deploy_model_auth_header": "Bearer " + SECRETS["auth"],
        "comfyui_deploy_environment": environment(site),
        "comfyui_deploy_extra_packages": [str(site["wheel"])],
        **more,
    }


def playbook(site, book, *flags, background=False, **more):
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(COMFYOPS_DEMO_ROOT=str(site["root"]), COMFYOPS_ALERT_STATE_DIR=str(site["root"] / "alerts"), NO_PROXY="*", PIP_NO_INDEX="1", ANSIBLE_NOCOLOR="1")
    cmd = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(REPO / "inventories/demo"),
        str(REPO / "playbooks" / book),
        "-e",
        json.dumps(settings(site, **more)),
        *flags,
    ]
    if background:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=600)


def failure(run):
    """What a failed run says: its fatal and failed lines, then its end."""
    lines = (run.stdout if isinstance(run.stdout, str) else "").splitlines()
    return "\n".join([line[:600] for line in lines if "fatal:" in line or "failed:" in line] + lines[-30:])


def server_environ(site):
    return dict(item.split("=", 1) for item in Path("/proc/%d/environ" % server_pid(site)).read_text().split("\0") if "=" in item)


def port_open(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)  # poll


def test_the_deploy_succeeds_and_the_summary_shows_the_audit_trail(site):
    run = site["first"]
    assert run.returncode == 0, failure(run)
    summary = run.stdout[run.stdout.index("Deployed, rolled back, failed, not reached and unreachable hosts") :]
    # in whichever result format the callback prints (YAML or JSON)
    for key, value in (("outcome", "deployed"), ("controller_user", "root"), ("action", "deploy")):
        assert re.search(r"""["']?%s["']?: ["']?%s\b""" % (key, value), summary), (key, summary[:3000])
    assert re.search(r"""["']?audit["']?:""", summary), summary[:3000]


def test_no_secret_in_output_logs_metadata_or_reports(site):
    """-vvv and --diff output, and every file the deploy wrote except the two that must hold secrets."""
    run = site["first"]
    text = run.stdout + run.stderr
    assert "comfyui_deploy" in text and len(text) > 10000, "the -vvv output is there to be searched"
    allowed = {"pip.conf"}  # the venv's own pip.conf holds the index credentials, root only
    leaks = [(name, line[:300]) for line in text.splitlines() for name, secret in SECRETS.items() if secret in line]
    assert leaks == [], leaks
    srv = site["root"] / "srv"
    for path in srv.rglob("*"):
        if path.is_symlink() or not path.is_file() or path.name in allowed or "site-packages" in path.parts:
            continue
        data = path.read_bytes()
        for name, secret in SECRETS.items():
            if path.parent == srv / "secrets" and name == "env":
                continue  # the instance's secrets file holds HF_TOKEN by design (0600 root, outside every release)
            assert secret.encode() not in data, "%s leaks the %s secret" % (path, name)
    conf = next((srv / "venvs").glob("*/pip.conf"))
    assert conf.stat().st_mode & 0o777 == 0o600 and conf.stat().st_uid == 0
    for env_file in (srv / "current" / "instances").iterdir():
        assert env_file.stat().st_mode & 0o777 == 0o640 and env_file.stat().st_uid == 0
    assert (srv / "secrets").stat().st_mode & 0o777 == 0o700
    secrets = srv / "secrets" / "default.json"
    assert secrets.stat().st_mode & 0o777 == 0o600 and secrets.stat().st_uid == 0
    held = json.loads(secrets.read_text())  # HF_TOKEN is the rotated one once the rotation test has run
    assert sorted(held) == ["HF_TOKEN", "PASSWORD"] and held["PASSWORD"] == "pa$$w0rd" and held["HF_TOKEN"].startswith("hf_")


def test_a_rotated_token_reaches_the_server_a_rollback_runs_with_it_and_no_release_keeps_one(site):
    """Issue 26: a release keeps a secret's name and digest, never its value; the value lives in secrets/, written
    from the current inventory by the deploy and the rollback alike."""
    srv = site["root"] / "srv"
    before = Releases(str(srv)).current()
    rotated = "hf_ROTATEDtoken0123456789"
    run = playbook(site, "deploy.yml", comfyui_deploy_environment=environment(site, HF_TOKEN=rotated))
    assert run.returncode == 0, failure(run)
    assert Releases(str(srv)).current() != before, "the environment is part of the release id"
    assert server_environ(site)["HF_TOKEN"] == rotated
    back = playbook(site, "rollback.yml", comfyui_deploy_environment=environment(site, HF_TOKEN=rotated))
    assert back.returncode == 0, failure(back)
    assert Releases(str(srv)).current() == before
    assert server_environ(site)["HF_TOKEN"] == rotated, "the rollback ran with the revoked token"
    for path in (srv / "releases").rglob("*"):
        if path.is_file() and not path.is_symlink() and "site-packages" not in path.parts:
            data = path.read_bytes()
            assert SECRETS["env"].encode() not in data and rotated.encode() not in data, "%s keeps a token" % path
    record = json.loads((srv / "current" / "instances" / "default.secrets.json").read_text())
    assert record["names"] == ["HF_TOKEN", "PASSWORD"] and record["digest"].startswith("sha256:")
    assert "HF_TOKEN" not in json.loads((srv / "current" / "instances" / "default.json").read_text())
    assert rotated not in back.stdout + run.stdout


def test_extra_packages_the_database_and_custom_nodes(site):
    """Issue 10, from the real ComfyUI 0.8.0: requests unlisted, comfyui.db in the checkout, custom_nodes/ required."""
    srv = site["root"] / "srv"
    venv = Path(os.path.realpath(srv / "current" / "venv"))
    assert list(venv.glob("lib/python3*/site-packages/comfyops_testdep/__init__.py")), "the extra package is in the venv"
    assert (srv / "shared" / "user" / "comfyui-default.db").is_file(), "the database is with the instance's user data"
    assert not (srv / "current" / "app" / "user" / "comfyui.db").exists()
    assert "Failed to initialize database" not in (srv / "logs" / "default.log").read_text()
    assert (srv / "current" / "app" / "custom_nodes").is_dir()


def test_the_release_id_carries_no_signature(site):
    rel = Releases(str(site["root"] / "srv"))
    assert rel.current().startswith("ComfyUI-0.8.1-" + site["sha256"][:12]), rel.current()
    assert "Signature" not in rel.current()


def test_environment_values_are_never_run_as_shell(site):
    assert not site["proof"].exists(), "an environment value ran as a command"
    environ = server_environ(site)
    assert environ["PASSWORD"] == "pa$$w0rd"
    assert environ["INJECT"].startswith("$(touch ")
    assert environ["XDG_CACHE_HOME"] == str(site["root"] / "srv" / "cache")


def test_the_server_runs_as_the_service_user_who_cannot_write_roots_tree(site):
    nobody = pwd.getpwnam(SERVICE_USER)
    status = Path("/proc/%d/status" % server_pid(site)).read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == [str(nobody.pw_uid)] * 4
    srv = site["root"] / "srv"
    current = os.path.realpath(srv / "current")
    for path in ("state", "run", "bin", current, os.path.join(current, "app"), "venvs", "releases", "shared/models", "."):
        probe = subprocess.run(["runuser", "-u", SERVICE_USER, "--", "touch", os.path.join(srv, path, "planted")], capture_output=True, check=False)
        assert probe.returncode != 0, "%s could write %s" % (SERVICE_USER, path)
    for path in ("shared/output", "shared/input", "shared/user", "logs", "cache"):
        probe = subprocess.run(["runuser", "-u", SERVICE_USER, "--", "touch", os.path.join(srv, path, "mine")], capture_output=True, check=False)
        assert probe.returncode == 0, "%s cannot write %s: %s" % (SERVICE_USER, path, probe.stderr)


def test_a_planted_pid_is_never_signalled_and_stop_finds_the_real_server(site):
    """Issue 26: a pidfile naming another process left the real server running and said "already stopped"."""
    srv = site["root"] / "srv"
    ctl = str(srv / "bin" / "comfyuictl")
    pidfile = srv / "run" / "default.pid"
    real = server_pid(site)
    decoy = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        pidfile.write_text("%d\n" % decoy.pid)
        out = subprocess.run([ctl, "stop", "default"], capture_output=True, text=True, check=False)
        assert "is not this instance's server: not signalled" in out.stderr
        assert "found by its identity (not by the pidfile): pid %d" % real in out.stderr, out.stderr
        assert out.returncode == 0 and out.stdout.strip() == "stopped", out
        assert decoy.poll() is None, "the decoy was killed"
        assert not Path("/proc/%d" % real).exists() or "zombie" in Path("/proc/%d/status" % real).read_text(), "the server still runs"
    finally:
        decoy.stdin.close()
        decoy.wait()
    status = subprocess.run([ctl, "status", "default"], capture_output=True, text=True, check=False)
    assert status.stdout.strip() == "stopped" and status.returncode == 3
    # something else on the instance's port: stop says what it is and fails, never "stopped"
    squat = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(site["port"])]
    squatter = subprocess.Popen(squat, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open(site["port"]), 30, "the squatter's listener")
        out = subprocess.run([ctl, "stop", "default"], capture_output=True, text=True, check=False)
        assert out.returncode == 1 and out.stdout == "", out
        assert "port %d still has a listener after the stop: pid %d:" % (site["port"], squatter.pid) in out.stderr and "http.server" in out.stderr
    finally:
        squatter.kill()
        squatter.wait()
    started = subprocess.run([ctl, "start", "default"], capture_output=True, text=True, check=False)
    assert started.stdout.strip() == "started", started
    wait_for(lambda: port_open(site["port"]), 120, "the server again")


def test_two_deploys_at_once_one_is_refused_naming_the_holder_and_a_dead_run_is_recovered(site):
    lock = site["root"] / "srv" / "state" / "deploy.lock"
    # a new release whose server takes 15 s to start: the first run holds the lock at least that long
    slow = environment(site, COMFYUI_SIM_START_DELAY="15")
    first = playbook(site, "deploy.yml", background=True, comfyui_deploy_environment=slow)
    try:
        wait_for(lock.exists, 300, "the first run's deploy lock")
        holder = json.loads(lock.read_text())
        second = playbook(site, "deploy.yml", comfyui_deploy_extra_args=["--verbose", "DEBUG"])
        assert first.poll() is None, "the first run still runs, so the refusal was the lock's"
        assert second.returncode != 0
        assert "held by run %s" % holder["run_id"] in second.stdout and "(pid %d, deploy.yml)" % holder["pid"] in second.stdout
        out, _err = first.communicate(timeout=600)
        assert first.returncode == 0, out[-6000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert not lock.exists(), "the lock was given back"
    audit = [json.loads(line) for line in (site["root"] / "srv" / "state" / "audit.log").read_text().splitlines()]
    assert audit[-1]["action"] == "deploy" and audit[-1]["outcome"] == "deployed" and audit[-1]["playbook"] == "deploy.yml"
    # a run killed while it holds the lock: the next run recovers it, and says so
    dead = playbook(site, "deploy.yml", background=True, comfyui_deploy_environment=slow, comfyui_deploy_extra_args=["--verbose", "WARNING"])
    wait_for(lock.exists, 300, "the doomed run's deploy lock")
    os.killpg(dead.pid, signal.SIGKILL)
    dead.wait()
    after = playbook(site, "deploy.yml", comfyui_deploy_extra_args=["--verbose", "WARNING"])
    assert after.returncode == 0, failure(after)
    assert "recovered the deploy lock left by" in after.stdout


def test_a_public_listen_address_is_refused(site):
    run = playbook(site, "deploy.yml", comfyui_deploy_listen="0.0.0.0")
    assert run.returncode != 0
    assert "0.0.0.0 is not loopback" in run.stdout and "comfyui_deploy_allow_public_listen" in run.stdout
