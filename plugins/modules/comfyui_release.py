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
    unfinished ones go first)."
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
    choices: [query, present, ready, failed, activating, active, rollback, absent, clean]
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
replaced:
  description: The release that was current before V(activating), V(active) or V(rollback).
  returned: with activating, active and rollback
  type: str
removed: {description: Releases removed by V(clean) or V(absent)., returned: with clean and absent, type: list, elements: str}
"""

import contextlib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import ReleaseError, Releases


def main():
    module = AnsibleModule(
        argument_spec={
            "base": {"type": "path", "required": True},
            "state": {
                "type": "str",
                "choices": ["query", "present", "ready", "failed", "activating", "active", "rollback", "absent", "clean"],
                "default": "query",
            },
            "id": {"type": "str"},
            "to": {"type": "str"},
            "info": {"type": "dict", "default": {}},
            "deployed_by": {"type": "str"},
            "keep": {"type": "int", "default": 5},
            "force": {"type": "bool", "default": False},
            "rollback_mark": {"type": "str", "choices": ["rolled_back", "failed"], "default": "rolled_back"},
        },
        required_if=[("state", state, ("id",)) for state in ("present", "ready", "failed", "activating", "active", "absent")],
        supports_check_mode=True,
    )
    p = module.params
    releases = Releases(p["base"])
    check = module.check_mode
    before = {"current": releases.current(), "previous": releases.previous()}
    result = {"changed": False}
    try:
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
    if module._diff:
        result["diff"] = {"before": before, "after": {"current": result["current"], "previous": result["previous"]}}
    module.exit_json(**result)


def apply(releases, p, check):
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
    return {"changed": bool(removed), "removed": removed}


if __name__ == "__main__":
    main()
