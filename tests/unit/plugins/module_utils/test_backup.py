"""The backup library with the real restic (Debian's package): the backup set, restic's JSON, retention, restore
safety on crafted trees, and faults (kill -9 mid-backup, a full disk, two runs at once, a flipped byte)."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _backup
from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import (
    BackupError,
    Backups,
    BackupSet,
    Restic,
    Snapshot,
    check_manifest,
    check_tree,
    retention,
)
from conftest import wait_until

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is installed by `make unit` (tests/testbed/ensure-packages.sh)")


def make_base(root: Path, release: str = "v0.8.0-abc-123") -> Path:
    base = root / "srv"
    rel = base / "releases" / release
    (rel / "instances").mkdir(parents=True)
    (rel / "app").mkdir()
    (rel / "venv").mkdir()
    (rel / ".comfyops-release.json").write_text(json.dumps({"id": release, "commit": "abc", "custom_nodes": [{"name": "n", "version": "1" * 40}]}))
    (rel / "instances" / "default.json").write_text('{"args": ["--port", "8188"]}\n')
    (rel / "app" / "extra_model_paths.yaml").write_text("comfyops: {base_path: /srv/comfyui/shared/models}\n")
    (rel / "venv" / "freeze.txt").write_text("torch==2.13.0\n")
    os.symlink("releases/" + release, base / "current")
    user = base / "shared" / "user" / "default" / "workflows"
    user.mkdir(parents=True)
    for i in range(5):
        (user / ("flow-%d.json" % i)).write_text(json.dumps({"nodes": [i]}))
    db = sqlite3.connect(base / "shared" / "user" / "comfyui-default.db")
    db.execute("CREATE TABLE t (n INTEGER)")
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    db.commit()
    db.close()
    (base / "logs").mkdir()
    (base / "logs" / "default.log").write_text("started\n")
    old = base / "logs" / "old.log"
    old.write_text("long ago\n")
    os.utime(old, (time.time() - 90 * 86400, time.time() - 90 * 86400))
    (base / "state").mkdir()
    (base / "state" / "deployed.json").write_text(json.dumps({"release": release}))
    (base / "shared" / "models").mkdir()
    (base / "shared" / "models" / "manifest.json").write_text(json.dumps({"models": [{"folder": "checkpoints", "name": "m.safetensors", "sha256": "0" * 64}]}))
    (base / "shared" / "output").mkdir()
    (base / "shared" / "output" / "img_00001_.png").write_bytes(b"\x89PNG" + os.urandom(1000))
    return base


@pytest.fixture
def repo(tmp_path):
    password = tmp_path / "restic-password"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    return Restic(str(tmp_path / "repo"), str(password), cache_dir=str(tmp_path / "cache"), lock_wait=3)


@pytest.fixture
def backups(tmp_path, repo):
    return Backups(str(make_base(tmp_path)), repo, ["default"], host="gpu-01")


def test_a_backup_holds_the_set_and_says_what_it_did(backups, repo):
    result = backups.backup()
    assert result["initialised"] is True and len(result["snapshot_id"]) == 8 and result["bytes_added"] > 0
    assert result["release"] == "v0.8.0-abc-123" and result["databases"] == ["user/comfyui-default.db"]
    [snap] = backups.snapshots()
    assert snap.tag("host") == "gpu-01" and snap.tag("release") == "v0.8.0-abc-123" and snap.tag("instances") == "default"
    paths = {f["path"] for f in json.loads(Path(backups.set.staging, "manifest.json").read_text())["files"]}
    assert {"user/default/workflows/flow-0.json", "config/instances/default.json", "config/extra_model_paths.yaml", "meta/freeze.txt"} <= paths
    assert {"meta/models.json", "meta/release.json", "config/deployed.json", "logs/default.log", "user/comfyui-default.db"} <= paths
    assert "logs/old.log" not in paths  # older than max_age_days
    assert oct(os.stat(backups.set.root).st_mode & 0o777) == "0o700"


def test_a_second_backup_of_an_unchanged_host_adds_almost_nothing(backups):
    first = backups.backup()
    second = backups.backup()
    assert second["copied"] <= 1 and second["files_new"] == 0  # the database is copied afresh each time
    assert second["bytes_added"] < first["bytes_added"]


def _writer(path, stop):
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    n = 1000
    while not stop.is_set():
        db.execute("INSERT INTO t VALUES (?)", (n,))
        db.commit()
        n += 1
    db.close()


def test_a_database_written_during_the_copy_is_copied_whole(backups):
    stop = multiprocessing.get_context("fork").Event()
    writer = multiprocessing.get_context("fork").Process(target=_writer, args=(os.path.join(backups.base, "shared", "user", "comfyui-default.db"), stop))
    writer.start()
    try:
        for _round in range(3):
            backups.set.gather()
            copy = sqlite3.connect(os.path.join(backups.set.staging, "user", "comfyui-default.db"))
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert copy.execute("SELECT count(*) FROM t").fetchone()[0] >= 100
            copy.close()
    finally:
        stop.set()
        writer.join(10)


def test_a_file_that_keeps_changing_is_left_out_and_named_and_a_changed_one_is_copied_again(backups, monkeypatch):
    busy = Path(backups.base, "shared", "user", "busy.log")
    busy.write_text("x")
    real_copy = shutil.copyfile

    def copy_while_appending(src, dst, **kwargs):
        result = real_copy(src, dst, **kwargs)
        if src.endswith("busy.log"):
            with open(src, "a") as handle:
                handle.write("more")
        return result

    monkeypatch.setattr(_backup.shutil, "copyfile", copy_while_appending)
    done = backups.set.gather()
    assert done.changing == ["user/busy.log"]
    assert json.loads(Path(backups.set.staging, "meta", "backup.json").read_text())["left_out_changing"] == ["user/busy.log"]
    monkeypatch.undo()
    flow = Path(backups.base, "shared", "user", "default", "workflows", "flow-1.json")
    flow.write_text('{"nodes": ["edited"]}')
    backups.set.gather()
    assert Path(backups.set.staging, "user", "default", "workflows", "flow-1.json").read_text() == '{"nodes": ["edited"]}'


def test_restic_json_parsing():
    summary = '{"message_type":"summary","files_new":3,"data_added":709,"total_files_processed":4,"total_bytes_processed":60,'
    text = '{"message_type":"status","percent_done":0.5}\nnot json\n' + summary + '"total_duration":0.25,"snapshot_id":"e11f0615"}\n'
    assert _backup.backup_summary(text) == {
        "snapshot_id": "e11f0615",
        "files_new": 3,
        "files_changed": 0,
        "files_unmodified": 0,
        "files": 4,
        "bytes": 60,
        "bytes_added": 709,
        "duration": 0.25,
    }
    with pytest.raises(BackupError, match="without a summary: no snapshot was made"):
        _backup.backup_summary('{"message_type":"status"}\n')
    message = "unable to create lock in backend: repository is already locked exclusively by PID 4242 on gpu-01 by root (UID 0, GID 0)\nlock was created at"
    assert _backup.locked_by(message) == (4242, "gpu-01", "root")


def snap(day: str, n: int = 0) -> Snapshot:
    return Snapshot("%s-%02d" % (day, n) + "0" * 50, "s%s%d" % (day[-2:], n), "%sT1%d:00:00Z" % (day, n), "h", ("comfyops",), ("/x",))


def test_retention_keeps_last_daily_weekly_and_always_the_newest_verified():
    snaps = [snap("2026-11-%02d" % d, n) for d in range(1, 29) for n in range(2)]
    keep, remove = retention(snaps, keep_last=3, keep_daily=7, keep_weekly=4, verified=set())
    kept = {s.id for s in keep}
    assert {s.id for s in sorted(snaps, key=lambda s: s.time)[-3:]} <= kept
    assert len({s.time[:10] for s in keep}) >= 7 and len(keep) + len(remove) == len(snaps)
    oldest_verified = snaps[0]
    keep, remove = retention(snaps, 0, 0, 0, {oldest_verified.id})
    assert [s.id for s in keep] == [oldest_verified.id]  # a policy that would delete everything keeps the newest verified
    keep, _remove = retention(snaps, 0, 0, 0, set())
    assert [s.id for s in keep] == [max(snaps, key=lambda s: s.time).id]  # and, none verified, the newest


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda d: os.symlink("/etc/passwd", d / "abs"), "abs: a symbolic link (to /etc/passwd): refused"),
        (lambda d: os.symlink("../../../etc", d / "up"), "up: a symbolic link (to ../../../etc): refused"),
        (lambda d: os.symlink("inside.txt", d / "rel"), "rel: a symbolic link (to inside.txt): refused"),
        (lambda d: os.mkfifo(d / "pipe"), "pipe: a FIFO: refused"),
        (lambda d: os.mknod(d / "null", 0o600 | 0o020000, os.makedev(1, 3)), "null: a device file: refused"),
    ],
)
def test_restore_safety_refuses_crafted_trees(tmp_path, make, problem):
    tree = tmp_path / "restored"
    tree.mkdir()
    (tree / "inside.txt").write_text("ok")
    make(tree)
    assert problem in check_tree(str(tree))


def test_restore_safety_refuses_a_manifest_that_points_outside(tmp_path):
    tree = tmp_path / "restored"
    tree.mkdir()
    (tree / "a.txt").write_text("a")
    (tree / "manifest.json").write_text(
        json.dumps({"files": [{"path": "../../etc/shadow", "size": 1, "sha256": "0"}, {"path": "a.txt", "size": 9, "sha256": "0"}]})
    )
    _manifest, problems = check_manifest(str(tree))
    assert "../../etc/shadow: the manifest names a path outside the tree" in problems
    assert "a.txt: its content differs from the manifest (size or sha256)" in problems


def test_restore_puts_user_data_back_and_keeps_what_was_there(backups, tmp_path):
    backups.backup()
    user = Path(backups.base, "shared", "user")
    shutil.rmtree(user)
    user.mkdir()
    (user / "junk.txt").write_text("written after the disaster")
    result = backups.restore(None)
    assert result["restored"] == ["user", "config/instances"] and result["pre_restore_snapshot"]
    assert json.loads((user / "default" / "workflows" / "flow-3.json").read_text()) == {"nodes": [3]}
    assert sqlite3.connect(user / "comfyui-default.db").execute("SELECT count(*) FROM t").fetchone() == (100,)
    assert not (user / "junk.txt").exists()
    [aside] = Path(backups.set.root).glob("pre-restore-*")
    assert (aside / "user" / "junk.txt").read_text() == "written after the disaster"
    assert any("pre-restore" in s.tags for s in backups.snapshots())
    assert not list(Path(backups.set.root).glob("restore-*"))  # the scratch directory is gone


def test_kill_9_during_backup_publishes_nothing_the_previous_verifies_the_next_succeeds(backups, repo):
    first = backups.backup()
    big = Path(backups.base, "shared", "user", "big.bin")
    with open(big, "wb") as handle:
        for _block in range(64):
            handle.write(os.urandom(1024 * 1024))
    backups.set.gather()
    proc = subprocess.Popen(
        ["restic", "backup", "--json", "--tag", "comfyops", backups.set.staging], env=repo.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_until(lambda: list(Path(repo.repository, "locks").iterdir()), 20, "restic's lock")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [s.short_id for s in backups.snapshots()] == [first["snapshot_id"]]  # nothing published
    assert list(Path(repo.repository, "locks").iterdir())  # a stale lock is left behind
    checked = backups.verify()
    assert checked["ok"] and checked["snapshot_id"].startswith(first["snapshot_id"])  # the stale lock was removed
    again = backups.backup()
    assert len(backups.snapshots()) == 2 and again["snapshot_id"] != first["snapshot_id"]


def test_a_live_lock_waits_then_fails_clearly(backups, repo):
    backups.backup()
    started = time.monotonic()
    with HeldLock(repo) as held:
        with pytest.raises(BackupError, match=r"locked by PID %d on .* still running after 3 s; wait for it or stop it" % held.proc.pid):
            backups.verify()
    assert time.monotonic() - started >= 3
    assert backups.verify()["ok"]  # the holder is gone: the lock it left is stale and removed


class HeldLock:
    """The repository locked by a live restic: `restic backup --stdin` holds its lock while it waits for input."""

    def __init__(self, repo):
        self.repo = repo

    def __enter__(self):
        args = ["restic", "backup", "--stdin", "--stdin-filename", "held.bin", "--tag", "held"]
        self.proc = subprocess.Popen(args, env=self.repo.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proc.stdin.write(os.urandom(4096))
        self.proc.stdin.flush()
        wait_until(lambda: list(Path(self.repo.repository, "locks").iterdir()), 20, "restic's lock")
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def test_two_runs_at_once_one_waits(backups):
    backups.backup()
    order = []

    def run(name):
        with backups.lock(wait=30):
            order.append(name + " in")
            time.sleep(0.3)  # hold the lock a moment, so that the other must wait
            order.append(name + " out")

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


def test_a_flipped_byte_is_named_by_verify_and_restore_refuses_that_snapshot(backups, repo):
    backups.backup()
    packs = sorted(Path(repo.repository, "data").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else 0)
    pack = packs[-1]
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(data))
    result = backups.verify(read_data_subset="100%")
    assert not result["ok"] and pack.name[:8] in " ".join(result["problems"])
    [snapshot] = backups.snapshots()
    assert snapshot.id in result["damaged_snapshots"]
    with pytest.raises(BackupError, match="failed its verification \\(damaged\\): refusing to restore it"):
        backups.restore(None)


def test_a_full_disk_fails_clearly_and_loses_nothing(tmp_path, backups):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a tmpfs needs CAP_SYS_ADMIN")
    try:
        password = tmp_path / "restic-password"
        full = Backups(backups.base, Restic(str(small / "repo"), str(password), cache_dir=str(tmp_path / "cache2")), ["default"], host="gpu-01")
        big = Path(backups.base, "shared", "user", "big.bin")
        big.write_bytes(os.urandom(8 * 1024 * 1024))
        with pytest.raises(BackupError, match="no space left on device"):
            full.backup()
        assert big.stat().st_size == 8 * 1024 * 1024  # the data is untouched
        assert not list((small / "repo" / "snapshots").iterdir())
        big.unlink()
        assert full.backup()["snapshot_id"]  # with room again, it works
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_check_mode_plans_without_writing(backups):
    plan = backups.set.plan()
    assert plan["release"] == "v0.8.0-abc-123" and plan["files"] >= 12 and plan["bytes"] > 0
    assert not os.path.exists(backups.set.root)


def test_info_lists_snapshots_with_release_and_verified(backups):
    backups.backup()
    backups.verify()
    [item] = backups.info()
    assert item["release"] == "v0.8.0-abc-123" and item["host"] == "gpu-01" and item["verified"] and item["damaged"] is False


def test_no_snapshot_to_restore_says_so(backups):
    backups.restic.init()
    with pytest.raises(BackupError, match="has no comfyops snapshot to use"):
        backups.restore(None)


def test_a_backup_set_of_a_host_without_a_release(tmp_path):
    base = tmp_path / "empty"
    (base / "shared" / "user").mkdir(parents=True)
    (base / "shared" / "user" / "settings.json").write_text("{}")
    done = BackupSet(str(base), []).gather()
    assert done.manifest["release"] == "" and "user/settings.json" in {f["path"] for f in done.manifest["files"]}


def test_the_recorded_release_is_rebuilt_by_commit_with_its_custom_nodes_pinned():
    recorded = {"release": {"id": "v0.8.0-abc-123", "comfyui_commit": "a" * 40, "custom_nodes": [["probe", "b" * 40]]}, "backup": {"release": "v0.8.0-abc-123"}}
    source = {"type": "git", "url": "https://github.com/comfyanonymous/ComfyUI", "ref": "master"}
    nodes = [{"name": "probe", "repo": "https://example.com/probe.git", "version": "main"}, {"name": "other", "repo": "x", "version": "v1"}]
    plan = _backup.deploy_overrides(recorded, source, nodes)
    assert plan["comfyui_deploy_release_id"] == "v0.8.0-abc-123"
    assert plan["comfyui_deploy_source"] == dict(source, ref="a" * 40) and source["ref"] == "master"
    assert plan["comfyui_deploy_custom_nodes"] == [dict(nodes[0], version="b" * 40), nodes[1]]
    with pytest.raises(BackupError, match=r"custom nodes the inventory does not declare .*: probe"):
        _backup.deploy_overrides(recorded, source, nodes[1:])
    with pytest.raises(BackupError, match="recorded no release"):
        _backup.deploy_overrides({"release": {}, "backup": {"release": ""}}, source, [])


def test_the_newest_snapshot_is_a_backup_not_the_copy_a_restore_made(backups):
    first = backups.backup()
    backups.restore(None)  # makes a pre-restore snapshot of what was in place
    assert len(backups.snapshots()) == 2
    assert backups.resolve(None).short_id == first["snapshot_id"]
    assert backups.resolve(None, host="gpu-01").short_id == first["snapshot_id"]


def test_a_repository_that_went_away_is_made_anew_by_the_next_backup(backups, repo):
    assert backups.backup()["initialised"] is True
    assert backups.backup()["initialised"] is False  # known: not asked again
    shutil.rmtree(repo.repository)
    again = backups.backup()
    assert again["initialised"] is True and len(backups.snapshots()) == 1


def test_models_the_backup_recorded_are_checked_by_digest():
    recorded = {
        "models": [{"folder": "checkpoints", "name": "a.safetensors", "sha256": "1" * 64}, {"folder": "loras", "name": "b.safetensors", "sha256": "2" * 64}]
    }
    here = {
        "models": [{"folder": "checkpoints", "name": "a.safetensors", "sha256": "1" * 64}, {"folder": "loras", "name": "b.safetensors", "sha256": "3" * 64}]
    }
    assert _backup.models_missing(recorded, here) == ["loras/b.safetensors (sha256 222222222222)"]
    assert _backup.models_missing(recorded, recorded) == [] and _backup.models_missing({}, {}) == []


def test_a_restore_keeps_modes_and_owners_exactly_as_backed_up_with_a_non_root_service_user(backups):
    """Issue 26: a 0640 workflow came back 0644 and a 0750 directory 0700, all of it owned by whoever the restore
    chose. The service user here is nobody (not root); a file root kept for itself stays root's."""
    import grp
    import pwd

    nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    user = Path(backups.base, "shared", "user")
    wanted = {
        user: (0o750, nobody, nogroup),
        user / "default": (0o2770, nobody, nogroup),
        user / "default" / "workflows": (0o750, nobody, nogroup),
        user / "default" / "workflows" / "flow-1.json": (0o640, nobody, nogroup),
        user / "default" / "workflows" / "flow-2.json": (0o600, 0, 0),
        user / "comfyui-default.db": (0o660, nobody, nogroup),
    }
    for path, (mode, uid, gid) in wanted.items():
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    backups.backup()
    manifest = json.loads((Path(backups.set.staging) / "manifest.json").read_text())
    flow = next(entry for entry in manifest["files"] if entry["path"] == "user/default/workflows/flow-1.json")
    assert (flow["mode"], flow["owner"], flow["group"]) == ("0640", "nobody", "nogroup")
    for path in wanted:  # everything changed after the backup
        os.chown(path, 0, 0)
        os.chmod(path, 0o777)
    (user / "default" / "workflows" / "flow-1.json").write_text("damaged")
    backups.restore(None, uid=nobody, gid=nogroup)
    got = {path: (stat_mode(path), path.stat().st_uid, path.stat().st_gid) for path in wanted}
    assert got == wanted
    assert json.loads((user / "default" / "workflows" / "flow-1.json").read_text()) == {"nodes": [1]}


def stat_mode(path):
    return path.stat().st_mode & 0o7777
