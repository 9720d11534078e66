"""The no-op deploy's verdict: the target current and active, this configuration recorded, every instance serving
(a real simulator over loopback); anything else says why, and an activating release is never a no-op."""

from __future__ import annotations

from ansible_collections.comfyops.comfyui.plugins.module_utils._noop import deploy_state
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import Releases
from loopback import free_port


def active(base, release_id, digest=None):
    releases = Releases(base)
    releases.create(release_id, {})
    releases.mark(release_id, "ready")
    releases.activate(release_id)
    if digest:
        releases.record_deployed(release_id, digest)
    return releases


def test_the_target_active_recorded_and_serving_is_a_noop(tmp_path, simulator):
    active(tmp_path, "r1", "d1")
    instances = [{"name": "gpu0", "url": simulator.url}]
    state = deploy_state(str(tmp_path), "r1", "d1", instances, {})
    assert state["noop"] is True and state["health"] == "healthy" and state["needs_switch"] is False
    assert state["current"] == "r1" and state["release"]["state"] == "active" and "rollback_target" in state


def test_each_reason_for_work(tmp_path, simulator):
    instances = [{"name": "gpu0", "url": simulator.url}]
    assert deploy_state(str(tmp_path), "r1", "d1", instances, {})["noop_reason"] == "current is nothing, not r1"
    releases = active(tmp_path, "r1")
    assert deploy_state(str(tmp_path), "r1", "d1", instances, {})["noop_reason"] == "no deploy of r1 with this configuration is recorded"
    releases.record_deployed("r1", "d1")
    assert deploy_state(str(tmp_path), "r1", "d2", instances, {})["noop_reason"] == "the configuration changed since the last deploy"
    assert deploy_state(str(tmp_path), "r2", "d1", instances, {})["noop_reason"] == "current is r1, not r2"
    down = [{"name": "gpu0", "url": "http://127.0.0.1:%d" % free_port()}]
    state = deploy_state(str(tmp_path), "r1", "d1", down, {"timeout": 1})
    assert state["noop"] is False and state["noop_reason"].startswith("gpu0 is failed (api") and state["health"] == "failed"


def test_an_activating_release_is_never_a_noop(tmp_path, simulator):
    releases = active(tmp_path, "r0", "d1")
    releases.create("r1", {})
    releases.mark("r1", "ready")
    releases.activate("r1", pending=True)  # switched to, its gates never ran
    releases.record_deployed("r1", "d1")  # even with a record (it cannot happen, but must not matter)
    state = deploy_state(str(tmp_path), "r1", "d1", [{"name": "gpu0", "url": simulator.url}], {})
    assert state["noop"] is False and state["noop_reason"] == "release r1 is activating, not active" and state["needs_switch"] is True
