#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_release
short_description: Manage ComfyUI release directories and the atomically switched current link
version_added: 0.1.0
description:
  - "Keeps releases under O(base): C(releases/<id>/) with a metadata file (id, ComfyUI ref and commit, custom nodes
    and their commits, model manifest digest, created, deployed by, state), a C(current) link switched by rename,
    a C(previous) link to the rollback target, and a C(shared/) tree (models, input, output, user) that outlives releases."
  - "States: V(query) (current, previous, every release); V(present) (create, marked V(building) until V(ready));
    V(ready) and V(failed) (mark a release); V(activating) (switch C(current) to it with its gates still to pass:
    a host stopped before they pass keeps it marked so, and it never becomes a rollback target); V(active) (switch
    C(current) to it, or confirm an V(activating) current release; the release it replaces becomes the rollback
    target); V(rollback) (to the previous active release, read from the C(previous) link, or to O(to));
    V(absent) (remove one release); V(clean) (keep O(keep) releases: never the active one or the rollback target;
    unfinished ones go first; then the virtual environments no kept release uses); V(locked) and V(unlocked)
    (take and give back the host-wide deploy lock of O(run))."
  - "Every id (O(id), O(to)) is checked in every state: one path component of letters, digits, C(.), C(_), C(+), C(-);
    never C(..), empty, absolute or with C(/), so no state can reach outside C(releases/)."
  - "The deploy lock (C(state/deploy.lock)) names its holder: O(run) (run id, controller host and user, pid, playbook).
    While a live run holds it, every change by another run (or without O(run)) is refused with the holder's name.
    A holder on this host is alive while its pid runs with the same start time; one elsewhere while its lease
    (O(lock_ttl) seconds, renewed by each change it makes) lasts. A dead run's lock is recovered and the recovery audited."
  - "Each switch (V(activating), V(active), V(rollback)), removal and V(unlocked) with an O(outcome) appends a JSON line
    to C(state/audit.log) (time, controller user and host, playbook, action, from and to release, outcome); it is
    opened append-only and never truncated. V(query) returns its newest lines as RV(audit)."
  - "As root, C(base), C(releases/) and C(state/) must be root-owned and not writable by others: locks are opened with
    C(O_NOFOLLOW), so a link planted by the service user is refused, never written through."
  - Changes hold a lock; a lock left by a dead process is free again. Check mode computes the same plan and changes nothing.
author:
  - comfyops maintainers (@comfyops)
options:
  base:
    description: The release root, such as C(/srv/comfyui).
    type: path
    required: true
  state:
    description: What to do.
    type: str
    choices: [query, present, ready, failed, activating, active, rollback, absent, clean, locked, unlocked]
    default: query
  id:
    description: The release id, for V(present), V(ready), V(failed), V(activating), V(active) and V(absent).
    type: str
  to:
    description: With V(rollback), a named release instead of the previous one.
    type: str
  info:
    description: Metadata to record (comfyui_ref, comfyui_commit, custom_nodes, model_manifest_digest, ...).
    type: dict
    default: {}
  deployed_by:
    description: Who deploys, recorded with V(present), V(activating) and V(active).
    type: str
  keep:
    description: With V(clean), how many releases to keep.
    type: int
    default: 5
  force:
    description: With V(activating) or V(active), switch to a release that is still V(building) or V(failed).
    type: bool
    default: false
  rollback_mark:
    description: With V(rollback), the state the release rolled back from gets (V(failed) when a deploy gate failed).
    type: str
    choices: [rolled_back, failed]
    default: rolled_back
  run:
    description:
      - The run making the change, as the P(comfyops.comfyui.deploy_run#lookup) lookup returns it. Required with
        V(locked) and V(unlocked); with other states a change is refused while another live run holds the deploy lock.
    type: dict
    suboptions:
      run_id: {description: Unique per playbook run., type: str, required: true}
      controller_host: {description: The controller's host name., type: str}
      controller_user: {description: Who runs the playbook., type: str}
      pid: {description: The pid of the ansible-playbook process on the controller., type: int}
      pid_start: {description: "That process's start time (clock ticks since boot), to tell a reused pid.", type: int}
      playbook: {description: The playbook file., type: str}
      action: {description: "What the run does (deploy, rollback, shutdown).", type: str}
  lock_ttl:
    description: Seconds the deploy lock of a run on another controller lives without a renewal.
    type: int
    default: 3600
  dead_run:
    description:
      - "With V(locked), the id of a run its controller has seen dead (see the P(comfyops.comfyui.run_dead#filter)
        filter): a lock it holds is recovered at once instead of when its lease ends."
    type: str
  outcome:
    description: With V(unlocked), the run's outcome on this host, recorded in the audit trail (nothing is recorded without it).
    type: str
  config_digest:
    description:
      - With V(unlocked), an O(outcome) of V(deployed) or V(unchanged) and O(id), the digest of the deploy's
        configuration, recorded in C(state/deployed.json) so that the next deploy of the same release with the same
        configuration can be a no-op (M(comfyops.comfyui.comfyui_deploy_state)).
    type: str
extends_documentation_fragment:
  - comfyops.comfyui.attributes
attributes:
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Create the release, unfinished until it is ready
  comfyops.comfyui.comfyui_release:
    base: /srv/comfyui
    state: present
    id: "20261129T0412-a1b2c3d"
    info:
      comfyui_ref: v0.8.0
    deployed_by: "{{ lookup('ansible.builtin.env', 'USER') }}"

- name: Switch to it; its health and workflow gates are still to pass
  comfyops.comfyui.comfyui_release:
    base: /srv/comfyui
    state: activating
    id: "20261129T0412-a1b2c3d"

- name: The gates passed
  comfyops.comfyui.comfyui_release:
    base: /srv/comfyui
    state: active
    id: "20261129T0412-a1b2c3d"

- name: Roll back to the release that was active before
  comfyops.comfyui.comfyui_release:
    base: /srv/comfyui
    state: rollback

- name: Keep five releases
  comfyops.comfyui.comfyui_release:
    base: /srv/comfyui
    state: clean
    keep: 5
"""

RETURN = r"""
current: {description: The active release after the task., returned: always, type: str}
previous: {description: The rollback target after the task., returned: always, type: str}
releases: {description: "Every release's metadata, oldest first.", returned: always, type: list, elements: dict}
release: {description: The metadata of O(id) after the task., returned: when O(id) is given, type: dict}
rollback_target:
  description:
    - With V(query) and O(id), where a failed activation of O(id) would go back to, by the one rule of the collection
      (the current release when it is another one that passed its gates, else the C(previous) link; never an
      V(activating), V(building) or V(failed) release). Null when there is none.
  returned: with query and id
  type: str
needs_switch:
  description: With V(query) and O(id), whether O(id) still has to be switched to and gated (not current, or not V(active)).
  returned: with query and id
  type: bool
replaced:
  description: The release that was current before V(activating), V(active) or V(rollback).
  returned: with activating, active and rollback
  type: str
removed: {description: Releases removed by V(clean) or V(absent)., returned: with clean and absent, type: list, elements: str}
removed_venvs:
  description: With V(clean), the virtual environments under C(venvs/) that no kept release used, removed.
  returned: with clean
  type: list
  elements: str
deploy_lock:
  description: "The deploy lock's holder (run_id, controller_host, controller_user, pid, playbook, acquired), or null."
  returned: always
  type: dict
recovered: {description: "With V(locked), the holder of a dead run's lock that was recovered, or null.", returned: with locked, type: dict}
audit:
  description: The newest 20 lines of C(state/audit.log), oldest first.
  returned: always
  type: list
  elements: dict
"""

import contextlib

from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import LOCK_TTL, ReleaseError, Releases, check_id


def main():
    module = ComfyOpsModule(
        argument_spec={
            "base": {"type": "path", "required": True},
            "state": {
                "type": "str",
                "choices": ["query", "present", "ready", "failed", "activating", "active", "rollback", "absent", "clean", "locked", "unlocked"],
                "default": "query",
            },
            "id": {"type": "str"},
            "to": {"type": "str"},
            "info": {"type": "dict", "default": {}},
            "config_digest": {"type": "str"},
            "deployed_by": {"type": "str"},
            "keep": {"type": "int", "default": 5},
            "force": {"type": "bool", "default": False},
            "rollback_mark": {"type": "str", "choices": ["rolled_back", "failed"], "default": "rolled_back"},
            "run": {
                "type": "dict",
                "options": {
                    "run_id": {"type": "str", "required": True},
                    "controller_host": {"type": "str"},
                    "controller_user": {"type": "str"},
                    "pid": {"type": "int"},
                    "pid_start": {"type": "int"},
                    "playbook": {"type": "str"},
                    "action": {"type": "str"},
                },
            },
            "lock_ttl": {"type": "int", "default": LOCK_TTL},
            "outcome": {"type": "str"},
            "dead_run": {"type": "str"},
        },
        required_if=[("state", state, ("id",)) for state in ("present", "ready", "failed", "activating", "active", "absent")] + [("state", "locked", ("run",))],
        supports_check_mode=True,
    )
    p = module.params
    releases = Releases(p["base"])
    check = module.check_mode
    result = {"changed": False}
    try:
        before = {"current": releases.current(), "previous": releases.previous()}
        for option in ("id", "to"):
            if p[option] is not None:
                check_id(p[option], option)
        if not 1 <= p["lock_ttl"] <= 7 * 86400:
            raise ReleaseError("lock_ttl: seconds from 1 to 604800, got %d" % p["lock_ttl"])
        if p["state"] != "query":
            with releases.lock() if not check else contextlib.nullcontext():
                result.update(apply(releases, p, check))
    except ReleaseError as exc:
        module.fail_json(msg=str(exc), **releases.query())
    except OSError as exc:
        module.fail_json(msg="comfyui_release: %s: %s" % (exc.filename, exc.strerror), **releases.query())
    after = releases.query()
    if check and p["state"] in ("activating", "active", "rollback") and result["changed"] and result.get("replaced") != result.get("target"):
        after["previous"], after["current"] = result.get("replaced"), result.get("target")
    result.update(after)
    result.pop("target", None)
    if p["id"]:
        result["release"] = releases.metadata(p["id"]) if p["state"] not in ("absent",) else None
        if p["state"] == "query":
            result.update(releases.query_for(p["id"]))
    if module._diff:
        result["diff"] = {"before": before, "after": {"current": result["current"], "previous": result["previous"]}}
    module.exit_json(**result)


def apply(releases, p, check):
    state, release_id, run = p["state"], p["id"], p["run"]
    if state == "locked":
        # bookkeeping of this run, given back when it ends: not a change of the host
        return {"changed": False, "recovered": releases.acquire(run, p["lock_ttl"], check_mode=check, dead_run=p["dead_run"])}
    if state == "unlocked":
        if p["outcome"] and not check:
            releases.audit(run, (run or {}).get("action") or "run", to_release=release_id, outcome=p["outcome"])
        if p["config_digest"] and release_id and p["outcome"] in ("deployed", "unchanged"):
            releases.record_deployed(release_id, p["config_digest"], check_mode=check)
        releases.release_lock(run, force=p["force"], check_mode=check)
        return {"changed": False}
    releases.check_deploy_lock(run, p["lock_ttl"], check_mode=check)
    result = change(releases, p, check)
    if result["changed"] and not check and state in ("activating", "active", "rollback", "absent", "clean"):
        moved = state in ("activating", "active", "rollback")
        releases.audit(
            run,
            state,
            from_release=result.get("replaced") if moved else None,
            to_release=result.get("target") if moved else ", ".join(result.get("removed") or []),
            outcome="activating" if state == "activating" else "done",
        )
    return result


def change(releases, p, check):
    state, release_id = p["state"], p["id"]
    if state == "present":
        changed, _meta = releases.create(release_id, dict(p["info"], deployed_by=p["deployed_by"]), check_mode=check)
        return {"changed": changed}
    if state in ("ready", "failed"):
        changed, _meta = releases.mark(release_id, state, p["info"], check_mode=check)
        return {"changed": changed}
    if state in ("activating", "active"):
        changed, replaced = releases.activate(release_id, deployed_by=p["deployed_by"], check_mode=check, force=p["force"], pending=state == "activating")
        return {"changed": changed, "replaced": replaced, "target": release_id}
    if state == "rollback":
        changed, replaced, target = releases.rollback(p["to"], mark_from=p["rollback_mark"], check_mode=check)
        return {"changed": changed, "replaced": replaced, "target": target}
    if state == "absent":
        changed = releases.remove(release_id, check_mode=check)
        return {"changed": changed, "removed": [release_id] if changed else []}
    removed = releases.clean(p["keep"], check_mode=check)
    venvs = releases.clean_venvs(removed, check_mode=check)
    return {"changed": bool(removed or venvs), "removed": removed, "removed_venvs": venvs}


if __name__ == "__main__":
    main()
