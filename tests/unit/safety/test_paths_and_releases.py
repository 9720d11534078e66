"""Issue 9: ids and paths can never reach outside their tree; locks are never written through links."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _fsutil, _release


@pytest.fixture
def base(tmp_path):
    """A release tree with current and previous, and shared models that must survive everything."""
    root = tmp_path / "srv"
    releases = _release.Releases(str(root))
    for rid in ("A", "B"):
        releases.create(rid, {})
        releases.mark(rid, "ready")
    releases.activate("A")
    releases.activate("B")
    (root / "shared" / "models").mkdir(parents=True)
    (root / "shared" / "models" / "keep.bin").write_bytes(b"model")
    (root / "state").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious").write_text("x")
    return root, releases


@pytest.mark.parametrize("bad", ["..", "", "../shared", "/etc", "a/b", ".", "x\ny", 'q"uote', "sp ace", "-rf"])
@pytest.mark.parametrize("state", ["remove", "mark", "activate", "create"])
def test_bad_ids_are_refused_in_every_state(base, tmp_path, bad, state):
    root, releases = base
    call = {
        "remove": lambda: releases.remove(bad),
        "mark": lambda: releases.mark(bad, "ready"),
        "activate": lambda: releases.activate(bad),
        "create": lambda: releases.create(bad, {}),
    }[state]
    with pytest.raises(_release.ReleaseError, match="not allowed"):
        call()
    assert (root / "shared" / "models" / "keep.bin").read_bytes() == b"model"
    assert (tmp_path / "outside" / "precious").exists()
    assert releases.current() == "B" and releases.previous() == "A"
    assert not (root / "shared" / _release.META).exists()


def test_rollback_to_a_bad_id_is_refused(base):
    _root, releases = base
    with pytest.raises(_release.ReleaseError, match=r"to: release id '\.\./shared'"):
        releases.rollback(to="../shared")


def test_a_linked_release_is_not_removed_through(base, tmp_path):
    root, releases = base
    os.symlink(tmp_path / "outside", root / "releases" / "evil")
    with pytest.raises(_release.ReleaseError, match="symbolic link"):
        releases.remove("evil")
    assert (tmp_path / "outside" / "precious").exists()


def test_a_planted_lock_link_is_refused_never_truncated(base, tmp_path):
    root, releases = base
    target = tmp_path / "outside" / "precious"
    os.symlink(target, root / "state" / "release.lock")
    with pytest.raises(_release.ReleaseError, match="symbolic link"), releases.lock():
        pass
    assert target.read_text() == "x"


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership rules apply to root; CI runs as root")
def test_root_refuses_a_state_dir_the_service_user_owns(base):
    root, releases = base
    os.chown(root / "state", 65534, 65534)
    with pytest.raises(_release.ReleaseError, match="owned by uid 65534"), releases.lock():
        pass


def test_inside_refuses_escapes(tmp_path):
    (tmp_path / "out").mkdir()
    os.symlink("/etc", tmp_path / "out" / "link")
    for bad in ("../x", "/etc/passwd", "", "link/passwd", "a/../../x", "."):
        with pytest.raises(_fsutil.PathError, match="output file"):
            _fsutil.inside(str(tmp_path / "out"), bad, "output file")
    assert _fsutil.inside(str(tmp_path / "out"), "sub/f.png", "output file") == str(tmp_path / "out" / "sub" / "f.png")


def test_deploy_lock_names_its_holder_and_recovers_a_dead_run(base):
    _root, releases = base
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        holder = {"run_id": "run-1", "controller_host": os.uname().nodename, "controller_user": "alice", "pid": alive.pid, "playbook": "deploy.yml"}
        assert releases.acquire(holder) is None
        other = {"run_id": "run-2", "controller_host": os.uname().nodename, "controller_user": "bob", "pid": os.getpid()}
        with pytest.raises(_release.ReleaseError, match=r"held by run run-1 by alice@.*pid %d, deploy.yml" % alive.pid):
            releases.acquire(other)
        with pytest.raises(_release.ReleaseError, match="held by run run-1"):
            releases.check_deploy_lock(other)  # a change by another run is refused too
        with pytest.raises(_release.ReleaseError, match="held by run run-1"):
            releases.check_deploy_lock(None)
        releases.check_deploy_lock(holder)  # the holder itself goes on
    finally:
        alive.stdin.close()
        alive.wait()
    recovered = releases.acquire(other)
    assert recovered["run_id"] == "run-1"
    assert releases.deploy_lock()["run_id"] == "run-2"
    assert any(r["action"] == "recover lock" for r in releases.audit_tail())
    assert releases.release_lock(other) and releases.deploy_lock() is None


def test_a_remote_holder_lives_by_its_lease(base):
    _root, releases = base
    remote = {"run_id": "far", "controller_host": "controller.example", "pid": 1}
    releases.acquire(remote, ttl=3600)
    with pytest.raises(_release.ReleaseError, match="held by run far"):
        releases.acquire({"run_id": "near"})
    releases.acquire(remote, ttl=1)
    lock = releases.deploy_lock()
    assert not releases.holder_alive(lock, now=lock["expires"] + 1)


def test_audit_trail_is_appended_never_truncated(base):
    root, releases = base
    run = {"run_id": "r", "controller_user": "alice", "controller_host": "ctl", "playbook": "deploy.yml"}
    for outcome in ("deployed", "rolled back to A"):
        releases.audit(run, "deploy", "A", "B", outcome)
    releases.activate("A")  # a re-activation rewrites metadata, never the trail
    lines = (root / "state" / "audit.log").read_text().splitlines()
    assert [json.loads(line)["outcome"] for line in lines] == ["deployed", "rolled back to A"]
    assert set(json.loads(lines[0])) >= set(_release.AUDIT_KEYS)
    assert releases.query()["audit"][-1]["outcome"] == "rolled back to A"


def test_a_failed_release_never_becomes_the_rollback_target(base):
    _root, releases = base
    releases.create("C", {})
    releases.mark("C", "ready")
    releases.activate("C", pending=True)
    releases.rollback(to="B", mark_from="failed")
    releases.mark("C", "failed")
    releases.create("D", {})
    releases.mark("D", "ready")
    releases.activate("D")
    assert releases.previous() == "B"


def test_clean_removes_venvs_no_kept_release_uses(base):
    root, releases = base
    venvs = root / "venvs"
    for key in ("used", "orphan", "old"):
        (venvs / key / "bin").mkdir(parents=True)
    os.symlink(venvs / "used", root / "releases" / "B" / "venv")
    for rid in ("C", "D"):
        releases.create(rid, {})
        releases.mark(rid, "ready")
    os.symlink(venvs / "old", root / "releases" / "C" / "venv")
    assert releases.clean_venvs(check_mode=True) == ["orphan"] and (venvs / "orphan").is_dir()
    removed = releases.clean(keep=3)
    assert removed == ["C"]
    assert releases.clean_venvs(removed) == ["old", "orphan"]
    assert sorted(p.name for p in venvs.iterdir()) == ["used"]


def test_a_failed_first_deploy_leaves_no_current(tmp_path):
    releases = _release.Releases(str(tmp_path / "srv"))
    releases.create("A", {})
    releases.mark("A", "ready")
    releases.activate("A", pending=True)
    releases.mark("A", "failed")
    assert releases.current() is None and not os.path.lexists(tmp_path / "srv" / "current")
    releases.create("B", {})
    releases.mark("B", "ready")
    releases.activate("B")
    assert releases.current() == "B" and releases.previous() is None, "the failed release is no rollback target"


def test_the_controller_vouches_for_its_dead_runs(base):
    """A run on another host (the controller) holds the lock; the host sees a live lease, the controller a dead pid."""
    from ansible_collections.comfyops.comfyui.plugins.filter.run_dead import run_dead

    _root, releases = base
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    here = os.uname().nodename
    holder = {"run_id": "old", "controller_host": here, "pid": gone.pid, "pid_start": 1}
    assert run_dead(holder) and not run_dead(dict(holder, controller_host="other-controller")) and not run_dead(None)
    mine = {"run_id": "me", "controller_host": here, "pid": os.getpid(), "pid_start": _release.process_start(os.getpid())}
    assert not run_dead(mine)
    releases.acquire(dict(holder, controller_host="ctl-as-seen-by-a-container"), ttl=3600)  # the host sees a live lease
    with pytest.raises(_release.ReleaseError, match="held by run old"):
        releases.acquire({"run_id": "new"})
    assert releases.acquire({"run_id": "new"}, dead_run="old")["run_id"] == "old"
    assert releases.deploy_lock()["run_id"] == "new"
