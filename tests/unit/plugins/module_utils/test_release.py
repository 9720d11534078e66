"""Release directories: create, activate, rollback by the link, clean, lock; check mode changes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import ReleaseError, Releases, release_commit, slice_batch


def ready(releases, *ids):
    for release_id in ids:
        releases.create(release_id, {"comfyui_ref": release_id})
        releases.mark(release_id, "ready")


def test_create_is_building_until_ready_and_idempotent(tmp_path):
    releases = Releases(tmp_path)
    changed, meta = releases.create("a", {"comfyui_ref": "v0.8.0"})
    assert changed and meta["state"] == "building" and meta["created"]
    assert releases.create("a", {})[0] is False
    with pytest.raises(ReleaseError, match="not ready"):
        releases.activate("a")
    assert releases.mark("a", "ready")[0] and not releases.mark("a", "ready")[0]


def test_activate_switches_the_link_and_remembers_the_previous(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a", "b")
    assert releases.activate("a") == (True, None)
    assert os.readlink(tmp_path / "current") == "releases/a"
    assert releases.activate("a") == (False, "a")
    assert releases.activate("b", deployed_by="ops") == (True, "a")
    assert (releases.current(), releases.previous()) == ("b", "a")
    assert releases.metadata("a")["state"] == "ready" and releases.metadata("b")["state"] == "active"
    assert releases.metadata("b")["deployed_by"] == "ops"


def test_rollback_reads_the_link_not_modification_times(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a", "b", "c")
    releases.activate("a")
    releases.activate("b")
    # c is the newest directory, but it was never active: the rollback target is a
    os.utime(releases.path("c"), (2e9, 2e9))
    assert releases.rollback() == (True, "b", "a")
    assert (releases.current(), releases.previous()) == ("a", "b")
    assert releases.metadata("b")["state"] == "rolled_back"
    assert releases.rollback(to="c") == (True, "a", "c")


def test_rollback_without_previous_changes_nothing(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a")
    releases.activate("a")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ReleaseError, match="no previous release"):
        releases.rollback()
    assert sorted(os.listdir(tmp_path)) == before and releases.current() == "a"


def test_rollback_refuses_unfinished_target(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a")
    releases.create("broken", {})
    releases.activate("a")
    with pytest.raises(ReleaseError, match="building"):
        releases.rollback(to="broken")
    with pytest.raises(ReleaseError, match="does not exist"):
        releases.rollback(to="nope")


def test_check_mode_plans_without_changing(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a", "b")
    releases.activate("a")
    assert releases.activate("b", check_mode=True) == (True, "a")
    assert releases.current() == "a" and releases.previous() is None
    assert releases.create("c", {}, check_mode=True)[0] and not releases.path("c").startswith("x") and not os.path.exists(releases.path("c"))


def test_clean_keeps_active_and_target_and_drops_unfinished_first(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "r1", "r2", "r3", "r4")
    releases.create("r5-building", {})
    releases.activate("r1")
    releases.activate("r2")
    assert releases.clean(keep=3, check_mode=True) == ["r5-building", "r3"]
    assert len(releases.list()) == 5
    assert releases.clean(keep=3) == ["r5-building", "r3"]
    assert [m["id"] for m in releases.list()] == ["r1", "r2", "r4"]
    assert releases.clean(keep=1) == ["r4"], "the active release and the rollback target stay"
    with pytest.raises(ReleaseError, match="never removed"):
        releases.remove("r1")


def test_bad_ids_refused(tmp_path):
    with pytest.raises(ReleaseError, match="release id"):
        Releases(tmp_path).create("../escape", {})


HOLD = """
import sys, time
sys.path.insert(0, sys.argv[2])
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import Releases
with Releases(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))  # the holder holding its lock, not a wait for readiness
"""


def test_lock_is_exclusive_and_a_dead_holder_frees_it(tmp_path):
    collections = next(p for p in sys.path if p.endswith("build/collections"))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), collections, "30"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    releases = Releases(tmp_path)
    with pytest.raises(ReleaseError, match="pid %d" % holder.pid):
        with releases.lock():
            pass
    holder.kill()
    holder.wait()
    with releases.lock():
        assert (tmp_path / "state" / "release.lock").read_text() == str(os.getpid())


def test_failed_activation_keeps_the_earlier_rollback_target(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a", "b", "bad")
    releases.activate("a")
    releases.activate("b")
    releases.activate("bad")
    assert releases.rollback(to="b", mark_from="failed") == (True, "bad", "b")
    assert (releases.current(), releases.previous()) == ("b", "a"), "the failed release is not the rollback target"
    assert releases.metadata("bad")["state"] == "failed"
    releases.activate("bad", force=True)
    releases.rollback(mark_from="failed")
    assert (releases.current(), releases.previous()) == ("b", "a")


def test_pending_activation_is_activating_until_confirmed(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a", "b")
    releases.activate("a")
    assert releases.activate("b", pending=True) == (True, "a")
    assert (releases.current(), releases.previous()) == ("b", "a")
    assert releases.metadata("b")["state"] == "activating"
    assert releases.activate("b", pending=True) == (False, "b"), "pending again changes nothing"
    assert releases.activate("b") == (True, "b") and releases.metadata("b")["state"] == "active"
    assert releases.activate("b", pending=True) == (False, "b"), "an active release is never put back to activating"


def test_an_interrupted_activation_is_never_the_rollback_target(tmp_path):
    releases = Releases(tmp_path)
    ready(releases, "a", "b", "c")
    releases.activate("a")
    releases.activate("b", pending=True)  # the host stopped here, before the gates
    releases.activate("c", pending=True)
    assert (releases.current(), releases.previous()) == ("c", "a"), "b never passed its gates"
    assert releases.metadata("b")["state"] == "ready"
    assert releases.rollback(mark_from="failed") == (True, "c", "a")
    assert releases.metadata("a")["state"] == "active" and releases.metadata("c")["state"] == "failed"


def test_deploy_outcome_of_each_kind_of_host(tmp_path):
    from ansible_collections.comfyops.comfyui.plugins.module_utils._release import deploy_outcome

    releases = Releases(tmp_path)
    ready(releases, "a", "b")
    releases.activate("a")
    assert deploy_outcome(releases.query(), "b") == "not reached"
    assert deploy_outcome(releases.query(), "b", check_mode=True) == "would deploy"
    assert deploy_outcome(releases.query(), "b", failed=True) == "failed"
    releases.activate("b", pending=True)
    assert deploy_outcome(releases.query(), "b", failed=True) == "failed", "activating is not deployed"
    releases.rollback(mark_from="failed")
    assert deploy_outcome(releases.query(), "b", failed=True) == "rolled back"
    releases.activate("b", force=True)
    assert deploy_outcome(releases.query(), "b") == "deployed"
    assert deploy_outcome({"unreachable": True, "msg": "gone"}, "b", failed=True) == "unreachable"
    assert deploy_outcome(None, "b") == "not reached"


@pytest.mark.parametrize(("batch", "slices", "serial"), [("30%", 4, "30%"), (" 5 % ", 2, "5 %"), (10, 4, 2), ("6", 3, 2), (3, 1, 3), (2, 2, 1)])
def test_slice_batch_keeps_a_percentage_and_shares_a_number_of_hosts(batch, slices, serial):
    assert slice_batch(batch, slices) == serial


@pytest.mark.parametrize(
    ("batch", "slices", "message"),
    [
        (1, 3, "1 hosts at a time cannot hold across 3 job slices"),
        (0, 1, "comfyui_deploy_batch: 0 is neither"),
        ("ten", 1, "comfyui_deploy_batch: 'ten' is neither"),
        (True, 1, "comfyui_deploy_batch: True is neither"),
        ("0%", 1, "is not a percentage between 0 and 100"),
        ("101%", 1, "is not a percentage between 0 and 100"),
        (3, 0, "comfyui_deploy_slices: 0 is not a number of job slices"),
        (3, "two", "comfyui_deploy_slices: 'two' is not"),
    ],
)
def test_slice_batch_refuses_what_cannot_hold_naming_the_option(batch, slices, message):
    with pytest.raises(ReleaseError, match=re.escape(message)):
        slice_batch(batch, slices)


@pytest.mark.parametrize(
    ("release_id", "commit"),
    [
        ("v0.8.0-0123456789ab-deadbeef", "0123456789ab"),
        ("my-branch-name-0123456789ab-deadbeef", "0123456789ab"),
        ("abc1234-unknown-deadbeef", ""),
        ("rebuild", ""),
    ],
)
def test_release_commit_reads_the_commit_a_release_id_names(release_id, commit):
    assert release_commit(release_id) == commit
