"""Run every query of the collection's Grafana dashboards against a real Prometheus; each must return data.

    python tests/support/dashboard_check.py http://127.0.0.1:9090 [--timeout 60]

Exit 0 when every query returned at least one series (within the timeout, waiting for scrapes), else 1 with the
empty panels listed. Used by the system tests and the molecule scenario `monitoring`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import dashboard_queries  # noqa: E402

DASHBOARDS = REPO / "roles" / "monitoring_stack" / "files" / "dashboards"


def query(prometheus: str, expr: str) -> list:
    url = "%s/api/v1/query?%s" % (prometheus.rstrip("/"), urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)["data"]["result"]


def empty_panels(prometheus: str, timeout: float) -> tuple[int, list[str]]:
    """(how many queries, the ones still empty after `timeout` seconds in all)."""
    queries = [(path.name, q["panel"], q["expr"]) for path in sorted(DASHBOARDS.glob("*.json")) for q in dashboard_queries(json.loads(path.read_text()))]
    deadline = time.monotonic() + timeout
    waiting = list(queries)
    while waiting:
        waiting = [item for item in waiting if not query(prometheus, item[2])]
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(1)  # poll: Prometheus has no push signal for "scraped"
    return len(queries), ["%s / %s: %s" % item for item in waiting]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prometheus")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    count, empty = empty_panels(args.prometheus, args.timeout)
    if empty:
        print("panels without data (%d of %d queries):\n%s" % (len(empty), count, "\n".join(empty)))
        return 1
    print("every dashboard query returned data: %d queries" % count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
