"""host_validate's endpoint probes run concurrently: N unreachable endpoints with a T-second
timeout should take about T, not N*T.

Plain alternative on the same data: the same TCP connects one after another (what a loop of
`ansible.builtin.wait_for` tasks does). Targets are loopback "black holes" (a listener whose
backlog is full, so connects time out), never another address.

    .venv/bin/python benchmarks/endpoints_concurrency.py [N] [TIMEOUT] [RUNS]
"""

from __future__ import annotations

import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from ansible_collections.comfyops.comfyui.plugins.module_utils import _checks
from loopback import blackhole


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    server, fillers, port = blackhole()
    endpoints = [f"127.0.0.1:{port}"] * count
    ours, plain = [], []
    try:
        for _run in range(runs):
            started = time.perf_counter()
            report = _checks.run_checks({"endpoints": endpoints, "endpoint_timeout": timeout}, ["endpoints"])
            ours.append(time.perf_counter() - started)
            assert all(item["status"] == "fail" for item in report["checks"]), report
            started = time.perf_counter()
            for _endpoint in endpoints:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
                except OSError:
                    pass
            plain.append(time.perf_counter() - started)
    finally:
        for sock in fillers:
            sock.close()
        server.close()
    ours_median, plain_median = statistics.median(ours), statistics.median(plain)
    print(f"{count} unreachable endpoints, {timeout:.1f} s timeout each, median of {runs} runs")
    print(f"host_validate endpoints check (concurrent): {ours_median:.2f} s")
    print(f"one connect after another (plain loop):     {plain_median:.2f} s")
    print(f"ratio plain/ours: {plain_median / ours_median:.1f}x")


if __name__ == "__main__":
    main()
