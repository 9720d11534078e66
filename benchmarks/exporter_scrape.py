"""The ComfyUI exporter under load, against the plain alternatives on the same simulators.

1. Scrape latency of one exporter watching 4 instances (every scrape polls: cache off), healthy and with one instance
   hung (it accepts connections and never answers), and with two hung: p50/p99 over SCRAPES scrapes, against a naive sequential poller
   (the same three requests per instance, one instance after the other, the same per-request timeout).
   Targets: p99 <= 50 ms healthy; p99 <= the per-instance timeout + 50 ms with one hung.
2. The exporter process at a 15 s scrape interval (4 instances, NVML absent): CPU over WINDOW seconds as a share of
   one core, and its RSS. Targets: <= 1 % of a core, <= 60 MB.
3. A smoke workflow's latency on ComfyUI (simulator, 0.2 s per node like the real 0.4 s run) with no exporter, and
   with the exporter scraped every second: the median ratio. Target: <= 1.02.

    .venv/bin/python benchmarks/exporter_scrape.py [SCRAPES] [WINDOW]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build" / "collections"))
sys.path.insert(0, str(REPO / "tests" / "support"))
from ansible_collections.comfyops.comfyui.plugins.module_utils import _exporter  # noqa: E402
from ansible_collections.comfyops.comfyui.plugins.module_utils._comfyui import ComfyUIClient, ComfyUIError  # noqa: E402
from loopback import free_port  # noqa: E402
from prometheus_client import exposition  # noqa: E402

TIMEOUT = 0.5  # per-instance poll deadline for part 1
SMOKE = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "bench/smoke"}},
}


def simulator(base: Path, env: dict[str, str] | None = None, wait: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    for folder in ("custom_nodes", "input", "output", "user", "models/checkpoints"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("COMFYUI_SIM_")}
    full.update(env or {})
    log = open(base / "sim.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "comfyui-simulator" / "main.py"), "--cpu", "--port", str(port), "--base-directory", str(base),
         "--database-url", "sqlite:///%s" % (base / "user" / "db.sqlite")],
        stdout=log, stderr=subprocess.STDOUT, env=full,
    )  # fmt: skip
    url = "http://127.0.0.1:%d" % port
    marker = "simulated hang" if env and env.get("COMFYUI_SIM_HANG") else "To see the GUI go to"
    deadline = time.monotonic() + 30
    while marker not in (base / "sim.log").read_text(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("simulator did not start: %s" % (base / "sim.log").read_text()[-2000:])
        time.sleep(0.05)  # poll: the simulator's log line is its readiness signal
    return proc, url


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def exporter_scrape_times(urls: list[str], scrapes: int, state: Path) -> list[float]:
    settings = _exporter.parse_settings(
        {
            "instances": [{"name": "i%d" % i, "url": u} for i, u in enumerate(urls)],
            "timeout": TIMEOUT,
            "cache_seconds": 0,
            "gpu": False,
            "state_file": str(state),
        }
    )
    exporter = _exporter.Exporter(settings)
    registry = _exporter.registry_for(exporter)
    times = []
    for _scrape in range(scrapes):
        started = time.perf_counter()
        exposition.generate_latest(registry)
        times.append(time.perf_counter() - started)
    exporter.close()
    return times


def sequential_scrape_times(urls: list[str], scrapes: int) -> list[float]:
    """The plain alternative: each instance asked in turn, each request with the same timeout."""
    times = []
    for _scrape in range(scrapes):
        started = time.perf_counter()
        for url in urls:
            client = ComfyUIClient(url, timeout=TIMEOUT, retries=0)
            try:
                client.system_stats()
                client.get_json("/queue")
                client.get_json("/history?max_items=64")
            except ComfyUIError:
                pass
        times.append(time.perf_counter() - started)
    return times


def part1(work: Path, scrapes: int) -> dict[str, float]:
    procs, urls = [], []
    for index in range(4):
        proc, url = simulator(work / ("s%d" % index))
        procs.append(proc)
        urls.append(url)
    hung_proc, hung_url = simulator(work / "hung", {"COMFYUI_SIM_HANG": "1"})
    hung2_proc, hung2_url = simulator(work / "hung2", {"COMFYUI_SIM_HANG": "1"})
    procs += [hung_proc, hung2_proc]
    try:
        client = ComfyUIClient(urls[0], timeout=5)
        for color in range(20):  # some history to read, as on a working instance
            SMOKE["1"]["inputs"]["color"] = color
            client.wait(client.submit(SMOKE)[0], 10)
        out = {}
        cases = (("healthy", urls), ("one hung", [*urls[:3], hung_url]), ("two hung", [*urls[:2], hung_url, hung2_url]))
        for label, instance_urls in cases:
            ours = percentiles(exporter_scrape_times(instance_urls, scrapes, work / ("state-%s.json" % label.replace(" ", "-"))))
            plain = percentiles(sequential_scrape_times(instance_urls, max(5, scrapes // 4)))
            print("scrape, 4 instances, %-8s  exporter p50 %7.1f ms  p99 %7.1f ms | sequential p50 %7.1f ms  p99 %7.1f ms | p99 ratio %.3f"
                  % (label, ours[0] * 1e3, ours[1] * 1e3, plain[0] * 1e3, plain[1] * 1e3, ours[1] / plain[1]))  # fmt: skip
            out[label] = ours[1]
            out[label + " sequential"] = plain[1]
        return out
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def part2(work: Path, window: float) -> tuple[float, float]:
    procs, instances = [], []
    for index in range(4):
        proc, url = simulator(work / ("c%d" % index))
        procs.append(proc)
        instances.append({"name": "i%d" % index, "url": url})
    port = free_port()
    config = work / "exporter.json"
    config.write_text(json.dumps({"instances": instances, "port": port, "state_file": str(work / "cpu-state.json"), "cache_seconds": 10}))
    launcher = "import sys; from ansible_collections.comfyops.comfyui.plugins.module_utils import _exporter; sys.exit(_exporter.main())"
    env = dict(os.environ, PYTHONPATH=str(REPO / "build" / "collections"))
    exporter = subprocess.Popen([sys.executable, "-c", launcher, "--config", str(config)], env=env, stderr=subprocess.PIPE)
    try:
        exporter.stderr.readline()  # "serving ..." once it listens
        process = psutil.Process(exporter.pid)
        url = "http://127.0.0.1:%d/metrics" % port
        urllib.request.urlopen(url, timeout=10).read()  # warm: imports done, first poll made
        before = process.cpu_times()
        started = time.monotonic()
        next_scrape = started
        while time.monotonic() - started < window:
            if time.monotonic() >= next_scrape:
                urllib.request.urlopen(url, timeout=10).read()
                next_scrape += 15
            time.sleep(0.2)  # the scrape schedule's clock
        after = process.cpu_times()
        elapsed = time.monotonic() - started
        cpu = (after.user - before.user + after.system - before.system) / elapsed
        rss = process.memory_info().rss / 2**20
        print("exporter at a 15 s scrape interval over %.0f s: CPU %.3f %% of a core, RSS %.1f MB" % (elapsed, cpu * 100, rss))
        return cpu, rss
    finally:
        exporter.terminate()
        exporter.wait()
        for proc in procs:
            proc.terminate()
            proc.wait()


def part3(work: Path, runs: int = 25) -> float:
    proc, url = simulator(work / "lat", {"COMFYUI_SIM_DEFAULT_NODE_SECONDS": "0.2"})
    client = ComfyUIClient(url, timeout=10)
    settings = _exporter.parse_settings({"instances": [{"name": "lat", "url": url}], "cache_seconds": 0, "gpu": False, "state_file": str(work / "lat.json")})
    exporter = _exporter.Exporter(settings)
    registry = _exporter.registry_for(exporter)

    def smoke_latencies(count: int, seed: int) -> list[float]:
        found = []
        for index in range(count):
            SMOKE["1"]["inputs"]["color"] = seed * 1000 + index  # new each time: no cache hit
            started = time.perf_counter()
            prompt_id = client.submit(SMOKE)[0]
            client.wait(prompt_id, 30, poll=0.02)
            found.append(time.perf_counter() - started)
        return found

    stop = threading.Event()

    def scraper() -> None:
        while not stop.wait(1.0):
            exposition.generate_latest(registry)

    try:
        without, with_exporter = [], []
        for round_ in range(3):  # interleaved rounds: drift on a shared machine hits both alike
            without += smoke_latencies(runs, round_ * 2)
            stop.clear()
            thread = threading.Thread(target=scraper, daemon=True)
            thread.start()
            with_exporter += smoke_latencies(runs, round_ * 2 + 1)
            stop.set()
            thread.join()
        ratio = statistics.median(with_exporter) / statistics.median(without)
        print("smoke workflow on ComfyUI: median %.1f ms alone, %.1f ms with the exporter scraping every second: ratio %.3f"
              % (statistics.median(without) * 1e3, statistics.median(with_exporter) * 1e3, ratio))  # fmt: skip
        return ratio
    finally:
        exporter.close()
        proc.terminate()
        proc.wait()


def main() -> int:
    scrapes = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    window = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    work = Path(tempfile.mkdtemp(prefix="bench-exporter-"))
    try:
        p99 = part1(work, scrapes)
        cpu, rss = part2(work, window)
        ratio = part3(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    checks = [
        ("healthy scrape p99 <= 50 ms", p99["healthy"] <= 0.050),
        ("hung scrape p99 <= timeout + 50 ms", p99["one hung"] <= TIMEOUT + 0.050),
        ("two hung: p99 <= timeout + 50 ms", p99["two hung"] <= TIMEOUT + 0.050),
        ("CPU <= 1 % of a core", cpu <= 0.01),
        ("RSS <= 60 MB", rss <= 60),
        ("smoke latency ratio <= 1.02", ratio <= 1.02),
    ]
    for label, ok in checks:
        print("%-40s %s" % (label, "met" if ok else "MISSED"))
    print("ratios: two-hung scrape p99 vs sequential %.3f; hung-scrape p99 / timeout %.3f; smoke with/without exporter %.3f"
          % (p99["two hung"] / p99["two hung sequential"], p99["one hung"] / TIMEOUT, ratio))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
