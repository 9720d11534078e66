"""Alert delivery through the collection's notification library (module_utils/_notify.py), on loopback.

1. Call to receipt, per channel: `Notifier.send` of one alert until the receiver has it (webhook: a real HTTP
   receiver; email: aiosmtpd; alertmanager: a real Alertmanager's API answering). Distinct alerts, so none is
   deduplicated; p50 and p95 of --runs calls.
2. 1,000 identical alerts, each its own `send` call (as 1,000 failing runs would make them): how many messages
   reach the webhook and how long all 1,000 calls take, against a plain sender (one POST per alert, no state).
3. Through Alertmanager with group_wait 10s: from the call until Alertmanager's webhook delivers the
   notification to the receiver.

    .venv/bin/python benchmarks/alert_delivery.py [--runs 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build" / "collections"))
sys.path.insert(0, str(REPO / "tests" / "support"))
from ansible_collections.comfyops.comfyui.plugins.module_utils._http import request  # noqa: E402
from ansible_collections.comfyops.comfyui.plugins.module_utils._notify import Alert, Notifier, parse_channel  # noqa: E402
from receivers import Alertmanager, HttpReceiver, SmtpServer  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def call_to_receipt(work: Path, runs: int) -> dict[str, list[float]]:
    rx = HttpReceiver()
    smtp = SmtpServer(work)
    am_rx = HttpReceiver()
    manager = Alertmanager(work, am_rx.url, group_wait="10s")
    timings: dict[str, list[float]] = {"webhook": [], "email": [], "alertmanager": []}
    try:
        channels = {
            "webhook": parse_channel({"type": "webhook", "url": rx.url + "/hook", "rate_limit": 100000}, "webhook"),
            "email": parse_channel(
                {"type": "email", "to": ["oncall@example.com"], "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "tls": "none", "rate_limit": 100000}, "email"
            ),
            "alertmanager": parse_channel({"type": "alertmanager", "url": manager.url}, "alertmanager"),
        }
        notifier = Notifier(str(work / "state-latency"))
        for index in range(runs):
            for name, channel in channels.items():
                alert = Alert.make("BenchLatency", "critical", labels={"host": "h%05d" % index, "channel": name})
                started = time.perf_counter()
                [outcome] = notifier.send([alert], [channel])
                assert outcome.status == "delivered", outcome
                if name == "webhook":
                    rx.wait_for(index + 1)
                elif name == "email":
                    smtp.wait_for(index + 1)
                else:  # received: Alertmanager's API lists it
                    while not any(a["labels"].get("host") == "h%05d" % index for a in manager.alerts()):
                        time.sleep(0.001)  # poll
                timings[name].append(time.perf_counter() - started)
    finally:
        manager.close()
        am_rx.close()
        smtp.close()
        rx.close()
    return timings


def identical(work: Path, count: int) -> tuple[float, int, float, int]:
    rx = HttpReceiver()
    try:
        channel = parse_channel({"type": "webhook", "url": rx.url + "/hook"}, "webhook")
        notifier = Notifier(str(work / "state-identical"))
        alert = Alert.make("ComfyUIRolledBack", "critical", labels={"host": "gpu-01", "release": "r1"})
        started = time.perf_counter()
        for _index in range(count):
            notifier.send([alert], [channel])
        ours = time.perf_counter() - started
        ours_messages = len(rx.requests)
        before = len(rx.requests)
        body = json.dumps({"alert": alert.to_dict()}).encode()
        started = time.perf_counter()
        for _index in range(count):
            request("POST", rx.url + "/hook", body=body, headers={"Content-Type": "application/json"}, timeout=5)
        plain = time.perf_counter() - started
        return ours, ours_messages, plain, len(rx.requests) - before
    finally:
        rx.close()


def through_alertmanager(work: Path) -> float:
    rx = HttpReceiver()
    directory = work / "am-group-wait"
    directory.mkdir()
    manager = Alertmanager(directory, rx.url + "/am", group_wait="10s")
    try:
        channel = parse_channel({"type": "alertmanager", "url": manager.url}, "alertmanager")
        started = time.perf_counter()
        Notifier(str(work / "state-am")).send([Alert.make("ComfyUIRolledBack", "critical", labels={"host": "gpu-01"})], [channel])
        rx.wait_for(1, timeout=30)
        return time.perf_counter() - started
    finally:
        manager.close()
        rx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--identical", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alert-bench-") as tmp:
        work = Path(tmp)
        timings = call_to_receipt(work, args.runs)
        for name, values in timings.items():
            print(
                "call to receipt  %-12s p50 %6.1f ms  p95 %6.1f ms  (%d calls)"
                % (name, 1000 * statistics.median(values), 1000 * percentile(values, 0.95), len(values))
            )
        ours, messages, plain, plain_messages = identical(work, args.identical)
        print(
            "%d identical alerts: ours %d message(s) in %.2f s (%.2f ms a call); plain sender %d messages in %.2f s"
            % (args.identical, messages, ours, 1000 * ours / args.identical, plain_messages, plain)
        )
        waited = through_alertmanager(work)
        print("through Alertmanager (group_wait 10s): delivered to its webhook %.2f s after the call" % waited)
        print("ratio messages plain/ours: %.0fx fewer messages; time ours/plain: %.2f" % (plain_messages / max(1, messages), ours / plain))


if __name__ == "__main__":
    main()
