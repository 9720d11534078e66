# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a host stands against a deploy, and whether the deploy has anything to do there, in one pass.

A deploy is a no-op on a host when its target release is current and active (its gates passed), the last
successful deploy recorded this very configuration digest (state/deployed.json), and every instance serves
now (service, api and queue checks, read-only: no workflow, nothing written). Anything else, an activating
release included, goes the full way: build (skipped when built), units, gates.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._health import run_health
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import Releases

NOOP_CHECKS = ["service", "api", "queue"]


def deploy_state(base: str, release_id: str, config_digest: str, instances: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """The releases query for `release_id` (as comfyui_release state=query gives it), plus noop and noop_reason."""
    releases = Releases(base)
    result = releases.query_for(release_id)
    reason = releases.noop_reason(release_id, config_digest)
    health = None
    if not reason:
        report = run_health(instances, params, NOOP_CHECKS, read_only=True)
        health = report["state"]
        sick = [item for item in report["instances"] if item["state"] not in ("healthy", "degraded")]
        if sick:
            failing = {item["name"]: ", ".join(c["name"] for c in item["checks"] if c["status"] in ("fail", "starting")) for item in sick}
            reason = "; ".join("%s is %s (%s)" % (item["name"], item["state"], failing[item["name"]]) for item in sick)
    result.update(noop=not reason, noop_reason=reason or "%s is active, healthy and configured as asked" % release_id, health=health)
    return result
