# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ComfyUI exporter: Prometheus metrics for every ComfyUI instance of one host, and its GPUs.

Plain Python over the collection's own ComfyUI client (``_comfyui``), NVML reader (``_gpu``) and path helper
(``_fsutil``), and ``prometheus_client`` (imported only when serving or collecting, so that the logic can be
imported without it). The role copies these files to the host, next to ``comfyops-exporter``, which calls
``main()``: one implementation for the tests, the demo and production.

How it stays out of ComfyUI's way:

- instances (and NVML) are polled concurrently, each call with one deadline for the whole poll; a hung instance
  costs one timeout, never the sum of them, and an instance whose previous poll is still out is not asked again;
- a poll is reused for ``cache_seconds``: several Prometheus servers scraping one exporter share it;
- finished prompts are read from ComfyUI's ``/history`` and counted once: the ids seen are kept (bounded) with
  the counters in a state file written atomically, so counters neither reset nor double-count across exporter
  restarts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._comfyui import ComfyUIClient, ComfyUIError, ComfyUIUnavailable, parse_history_entry
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, atomic_write, check_name, inside
from ansible_collections.comfyops.comfyui.plugins.module_utils._gpu import collect as collect_gpus

EXPORTER_VERSION = "0.1.0"
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
OUTCOMES = ("success", "error", "interrupted")
# Why a poll failed; every instance gets each at 0 from the start, so that rate() and increase() see the first one
POLL_ERRORS = ("timeout", "unreachable", "http", "not_comfyui", "error", "history_gap")
MAX_SEEN = 4096  # prompt ids remembered per instance: far more than one history window
MAX_NODE_CLASSES = 200  # distinct node_class label values kept per instance (bounded cardinality)

DEFAULTS: dict[str, Any] = {
    "listen": "127.0.0.1",
    "port": 9188,
    "timeout": 2.0,
    "cache_seconds": 10.0,
    "history_items": 64,
    "state_file": None,
    "health_textfile_dir": None,
    "base": None,
    "gpu": True,
}


class ExporterConfigError(ValueError):
    """A bad setting: the message names it, the value and what is expected."""


@dataclass(frozen=True)
class Instance:
    name: str
    url: str
    pidfile: str | None = None
    unit: str | None = None
    output_dir: str | None = None


@dataclass
class Settings:
    instances: list[Instance]
    listen: str = "127.0.0.1"
    port: int = 9188
    timeout: float = 2.0
    cache_seconds: float = 10.0
    history_items: int = 64
    state_file: str | None = None
    health_textfile_dir: str | None = None
    base: str | None = None
    gpu: bool = True


def _number(config: dict[str, Any], key: str, low: float, high: float, where: str) -> float:
    value = config.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ExporterConfigError("%s%s: expected a number from %s to %s, got %r" % (where, key, low, high, value))
    return float(value)


def _path(value: Any, option: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise ExporterConfigError("%s: expected an absolute path, got %r" % (option, value))
    return value


def parse_settings(config: Any, where: str = "") -> Settings:
    """Settings from the exporter's JSON configuration; ExporterConfigError naming the key otherwise."""
    if not isinstance(config, dict):
        raise ExporterConfigError("%sexpected a JSON object with 'instances', got %s" % (where, type(config).__name__))
    unknown = sorted(set(config) - set(DEFAULTS) - {"instances"})
    if unknown:
        raise ExporterConfigError("%sunknown setting(s) %s (known: instances, %s)" % (where, ", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    raw = config.get("instances")
    if not isinstance(raw, list):
        raise ExporterConfigError("%sinstances: expected a list of {name, url, ...}, got %r" % (where, raw))
    instances: list[Instance] = []
    for index, item in enumerate(raw):
        option = "%sinstances[%d]" % (where, index)
        if not isinstance(item, dict):
            raise ExporterConfigError("%s: expected {name, url}, got %r" % (option, item))
        extra = sorted(set(item) - {"name", "url", "pidfile", "unit", "output_dir"})
        if extra:
            raise ExporterConfigError("%s: unknown key(s) %s (known: name, url, pidfile, unit, output_dir)" % (option, ", ".join(extra)))
        try:
            name = check_name(item.get("name"), option + ".name", "instance name")
        except PathError as exc:
            raise ExporterConfigError(str(exc)) from None
        try:
            ComfyUIClient(str(item.get("url")), timeout=1.0)
        except ComfyUIError as exc:
            raise ExporterConfigError("%s.url: %s" % (option, exc)) from None
        unit = item.get("unit")
        if unit is not None and (not isinstance(unit, str) or not unit or unit.startswith("-") or "/" in unit):
            raise ExporterConfigError("%s.unit: expected a systemd unit name, got %r" % (option, unit))
        instances.append(
            Instance(name, str(item["url"]), _path(item.get("pidfile"), option + ".pidfile"), unit, _path(item.get("output_dir"), option + ".output_dir"))
        )
    names = [i.name for i in instances]
    if len(set(names)) != len(names):
        raise ExporterConfigError("%sinstances: names must be unique, got %s" % (where, ", ".join(names)))
    port = config.get("port", DEFAULTS["port"])
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ExporterConfigError("%sport: expected 1-65535, got %r" % (where, port))
    items = config.get("history_items", DEFAULTS["history_items"])
    if isinstance(items, bool) or not isinstance(items, int) or not 1 <= items <= 10000:
        raise ExporterConfigError("%shistory_items: expected 1-10000, got %r" % (where, items))
    gpu = config.get("gpu", DEFAULTS["gpu"])
    if not isinstance(gpu, bool):
        raise ExporterConfigError("%sgpu: expected true or false, got %r" % (where, gpu))
    listen = config.get("listen", DEFAULTS["listen"])
    if not isinstance(listen, str) or not listen:
        raise ExporterConfigError("%slisten: expected an address such as 127.0.0.1, got %r" % (where, listen))
    return Settings(
        instances=instances,
        listen=listen,
        port=port,
        timeout=_number(config, "timeout", 0.05, 60, where),
        cache_seconds=_number(config, "cache_seconds", 0, 3600, where),
        history_items=items,
        state_file=_path(config.get("state_file"), where + "state_file"),
        health_textfile_dir=_path(config.get("health_textfile_dir"), where + "health_textfile_dir"),
        base=_path(config.get("base"), where + "base"),
        gpu=gpu,
    )


# -- counters that survive restarts ----------------------------------------------------------------------------


@dataclass
class Counters:
    """One instance's prompt counters, and the prompt ids already counted."""

    prompts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    duration_count: int = 0
    duration_sum: float = 0.0
    node_errors: dict[str, int] = field(default_factory=dict)
    outputs: int = 0
    output_bytes: int = 0
    last_finished: float | None = None
    seen: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Any) -> Counters:
        counters = cls()
        if not isinstance(data, dict):
            return counters
        for key, value in data.items():
            if key in counters.__dict__ and isinstance(
                value, type(counters.__dict__[key]) if key not in ("last_finished", "duration_sum") else (int, float, type(None))
            ):
                setattr(counters, key, value)
        if len(counters.buckets) != len(DURATION_BUCKETS):
            counters.buckets = [0] * len(DURATION_BUCKETS)
        counters.prompts = {k: int(counters.prompts.get(k, 0)) for k in OUTCOMES}
        return counters


def load_state(path: str | None) -> dict[str, Counters]:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        sys.stderr.write("comfyops-exporter: %s unreadable (%s): counters start from zero\n" % (path, exc))
        return {}
    instances = data.get("instances") if isinstance(data, dict) else None
    return {str(k): Counters.from_json(v) for k, v in (instances or {}).items()}


def save_state(path: str | None, counters: dict[str, Counters]) -> None:
    if path:
        atomic_write(path, json.dumps({"version": 1, "instances": {k: v.to_json() for k, v in counters.items()}}, sort_keys=True), mode=0o600)


# -- one poll ----------------------------------------------------------------------------------------------------


@dataclass
class InstanceSample:
    """What one poll of one instance saw."""

    name: str
    up: bool = False
    error: str | None = None  # a short reason when not up: timeout, refused, http, not_comfyui, in_flight
    message: str = ""
    duration: float = 0.0
    version: str | None = None
    python_version: str | None = None
    pytorch_version: str | None = None
    ram_total: int | None = None
    ram_free: int | None = None
    devices: list[dict[str, Any]] = field(default_factory=list)
    pending: int | None = None
    running: int | None = None
    running_age: float | None = None
    oldest_pending_age: float | None = None
    start_time: float | None = None
    restarts: int | None = None
    history_gap: bool = False


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def process_start(instance: Instance) -> tuple[float | None, int | None]:
    """(start time in seconds since the epoch, service restarts) of the instance's server, when it is known.

    The start time is exact and stable (boot time plus the process's start ticks, or systemd's own timestamp),
    so that ``changes()`` over it counts real restarts only.
    """
    if instance.unit:
        try:
            out = subprocess.run(
                ["systemctl", "show", instance.unit, "--timestamp=unix", "--property=ExecMainStartTimestamp,NRestarts,MainPID"],
                capture_output=True,
                text=True,
                timeout=2,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None, None
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        stamp = values.get("ExecMainStartTimestamp", "").lstrip("@")
        restarts = values.get("NRestarts", "")
        alive = values.get("MainPID", "0") not in ("", "0")
        return (float(stamp) if alive and stamp.replace(".", "").isdigit() else None), (int(restarts) if restarts.isdigit() else None)
    if instance.pidfile:
        try:
            with open(instance.pidfile, encoding="ascii") as handle:
                pid = int(handle.read(32).strip())
            with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
                ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        except (OSError, ValueError, IndexError):
            return None, None
        boot = _boot_time()
        return (boot + ticks / os.sysconf("SC_CLK_TCK") if boot is not None else None), None
    return None, None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ComfyUIUnavailable):
        return "timeout" if exc.timed_out else "unreachable"
    if exc.__class__.__name__ == "NotComfyUI":
        return "not_comfyui"
    if exc.__class__.__name__ == "ComfyUIHTTPError":
        return "http"
    return "error"


class Exporter:
    """Polls the instances and the GPUs, keeps the counters, and yields Prometheus metric families."""

    def __init__(self, settings: Settings, nvml: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.nvml = nvml
        self.clock = clock
        self.counters = load_state(settings.state_file)
        for instance in settings.instances:
            self.counters.setdefault(instance.name, Counters())
        self.scrape_errors: dict[tuple[str, str], int] = {}
        self.pool = ThreadPoolExecutor(max_workers=len(settings.instances) + 1, thread_name_prefix="comfyops-poll")
        self.in_flight: dict[str, Future[InstanceSample]] = {}
        self.lock = threading.Lock()  # one poll at a time; concurrent scrapes share it
        self.samples: dict[str, InstanceSample] = {}
        self.gpus: dict[str, Any] = {"nvml_available": False, "reason": "not read yet", "gpus": []}
        self.gpu_future: Future[dict[str, Any]] | None = None
        self.polled_at: float | None = None
        self.polls = 0

    # -- polling ---------------------------------------------------------------------------------------------
    def poll_instance(self, instance: Instance) -> InstanceSample:
        started = time.monotonic()
        deadline = started + self.settings.timeout
        sample = InstanceSample(instance.name)
        sample.start_time, sample.restarts = process_start(instance)
        client = ComfyUIClient(instance.url, timeout=self.settings.timeout, retries=0)

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ComfyUIUnavailable("%s: no answer within %.1f s" % (client.safe_url, self.settings.timeout), timed_out=True)
            return remaining

        try:
            stats = client.system_stats(timeout=left())
            sample.version, sample.python_version, sample.pytorch_version = stats.comfyui_version, stats.python_version, stats.pytorch_version
            sample.ram_total, sample.ram_free = stats.ram_total, stats.ram_free
            sample.devices = [
                {"device": "%s:%s" % (d.type, d.index) if d.index is not None else d.type or "cpu", "name": d.name, "total": d.vram_total, "free": d.vram_free}
                for d in stats.devices
            ]
            queue = client.request("GET", "/queue", timeout=left())[1]
            from ansible_collections.comfyops.comfyui.plugins.module_utils._comfyui import parse_queue  # pylint: disable=import-outside-toplevel

            state = parse_queue(queue)
            now = self.clock()
            sample.pending, sample.running = len(state.pending), len(state.running)
            ages = [now - q.create_time for q in state.running if q.create_time]
            sample.running_age = max(0.0, *ages) if ages else 0.0
            waits = [now - q.create_time for q in state.pending if q.create_time]
            sample.oldest_pending_age = max(0.0, *waits) if waits else 0.0
            history = client.request("GET", "/history?max_items=%d" % self.settings.history_items, timeout=left())[1]
            sample.history_gap = self.count_history(instance, history)
            sample.up = True
        except ComfyUIError as exc:
            sample.error, sample.message = _reason(exc), str(exc)
        sample.duration = time.monotonic() - started
        return sample

    def count_history(self, instance: Instance, history: Any) -> bool:
        """Count every finished prompt of the history window not counted before; True when the window may have
        missed some (full, and none of it seen before, after a first poll)."""
        if not isinstance(history, dict):
            return False
        counters = self.counters[instance.name]
        seen = set(counters.seen)
        fresh = [pid for pid in history if pid not in seen and isinstance(history[pid], dict)]
        gap = bool(counters.seen) and len(history) >= self.settings.history_items and len(fresh) == len(history)
        for prompt_id in fresh:
            entry = parse_history_entry(prompt_id, history[prompt_id])
            if not entry.completed and entry.status not in ("error", "interrupted"):
                continue  # not finished: ComfyUI lists a prompt only when done, but be sure
            outcome = entry.status if entry.status in OUTCOMES else "error"
            counters.prompts[outcome] += 1
            duration = entry.duration
            if duration is not None:
                counters.duration_count += 1
                counters.duration_sum += duration
                for index, bound in enumerate(DURATION_BUCKETS):
                    if duration <= bound:
                        counters.buckets[index] += 1
            if entry.finished is not None:
                counters.last_finished = max(counters.last_finished or 0.0, entry.finished)
            if outcome == "error" and entry.error:
                node = str(entry.error.get("node_type") or "unknown")
                if node in counters.node_errors or len(counters.node_errors) < MAX_NODE_CLASSES:
                    counters.node_errors[node] = counters.node_errors.get(node, 0) + 1
            for item in entry.files():
                if item.get("type") != "output":
                    continue
                counters.outputs += 1
                counters.output_bytes += self.output_size(instance, item)
            counters.seen.append(prompt_id)
        if fresh:
            del counters.seen[:-MAX_SEEN]
        return gap

    @staticmethod
    def output_size(instance: Instance, item: dict[str, Any]) -> int:
        """The size of a file the server says it wrote, only when it resolves inside the instance's output_dir."""
        if not instance.output_dir:
            return 0
        try:
            path = inside(instance.output_dir, os.path.join(str(item.get("subfolder") or ""), str(item.get("filename"))), "output file")
            return os.path.getsize(path)
        except (PathError, OSError):
            return 0

    def poll(self) -> None:
        """One concurrent poll of every instance and the GPUs, within one timeout (plus a small margin)."""
        started = time.monotonic()
        futures: dict[str, Future[InstanceSample]] = {}
        for instance in self.settings.instances:
            previous = self.in_flight.get(instance.name)
            if previous is not None and not previous.done():
                continue  # still out from an earlier poll: not asked twice
            futures[instance.name] = self.in_flight[instance.name] = self.pool.submit(self.poll_instance, instance)
        if self.settings.gpu and (self.gpu_future is None or self.gpu_future.done()):
            self.gpu_future = self.pool.submit(collect_gpus, self.nvml)
        waiting: list[Future[Any]] = list(futures.values()) + ([self.gpu_future] if self.gpu_future is not None else [])
        wait_futures(waiting, timeout=self.settings.timeout + 0.25)
        changed = False
        for instance in self.settings.instances:
            future = self.in_flight.get(instance.name)
            if future is not None and future.done():
                sample = future.result()
                changed = changed or sample.up
            else:
                sample = InstanceSample(instance.name, error="timeout", message="no answer within %.1f s" % self.settings.timeout)
                sample.duration = time.monotonic() - started
            if sample.error:
                key = (instance.name, sample.error)
                self.scrape_errors[key] = self.scrape_errors.get(key, 0) + 1
            if sample.history_gap:
                key = (instance.name, "history_gap")
                self.scrape_errors[key] = self.scrape_errors.get(key, 0) + 1
            self.samples[instance.name] = sample
        if self.gpu_future is not None and self.gpu_future.done():
            self.gpus = self.gpu_future.result()
        if changed:
            save_state(self.settings.state_file, self.counters)
        self.polled_at = time.monotonic()
        self.polls += 1

    def refresh(self) -> None:
        with self.lock:
            if self.polled_at is None or time.monotonic() - self.polled_at >= self.settings.cache_seconds:
                self.poll()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- reading the other files ---------------------------------------------------------------------------
    def release(self) -> str | None:
        if not self.settings.base:
            return None
        try:
            return os.path.basename(os.readlink(os.path.join(self.settings.base, "current")).rstrip("/"))
        except OSError:
            return None

    def smoke(self) -> dict[str, dict[str, float]]:
        """comfyui_health's last results per instance, from its textfile output."""
        from prometheus_client.parser import text_string_to_metric_families  # pylint: disable=import-outside-toplevel

        found: dict[str, dict[str, float]] = {}
        directory = self.settings.health_textfile_dir
        if not directory:
            return found
        for instance in self.settings.instances:
            try:
                with open(os.path.join(directory, "comfyui_health_%s.prom" % instance.name), encoding="utf-8") as handle:
                    text = handle.read(1 << 20)
                families = list(text_string_to_metric_families(text))
            except (OSError, ValueError):
                continue
            values: dict[str, float] = {}
            for family in families:
                for sample in family.samples:
                    if sample.name == "comfyui_health_check_ok" and sample.labels.get("check") == "workflow":
                        values["success"] = sample.value
                    elif sample.name in ("comfyui_health_workflow_seconds", "comfyui_health_workflow_output_ok", "comfyui_health_last_run_timestamp_seconds"):
                        values[sample.name[len("comfyui_health_") :]] = sample.value
            found[instance.name] = values
        return found

    # -- exposition ------------------------------------------------------------------------------------------
    def collect(self) -> Iterator[Any]:
        # pylint: disable-next=import-outside-toplevel
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily

        self.refresh()
        release = self.release() or ""
        samples = [self.samples[i.name] for i in self.settings.instances if i.name in self.samples]
        inst = ["instance_name"]

        def gauge(name: str, doc: str, labels: list[str], rows: list[tuple[list[str], float | None]], unit: str = "") -> Any:
            family = GaugeMetricFamily(name, doc, labels=labels, unit=unit)
            for values, value in rows:
                if value is not None:
                    family.add_metric(values, float(value))
            return family

        def counter(name: str, doc: str, labels: list[str], rows: list[tuple[list[str], float]]) -> Any:
            family = CounterMetricFamily(name, doc, labels=labels)
            for values, value in rows:
                family.add_metric(values, float(value))
            return family

        build = InfoMetricFamily("comfyui_exporter_build", "The comfyops ComfyUI exporter's version.")
        build.add_metric([], {"version": EXPORTER_VERSION})
        yield build
        yield gauge("comfyui_up", "1 when the instance answered the last poll as ComfyUI, else 0.", inst, [([s.name], 1.0 if s.up else 0.0) for s in samples])
        yield counter(
            "comfyui_scrape_errors",
            "Polls of an instance that failed, by reason (timeout, unreachable, http, not_comfyui, history_gap).",
            [*inst, "reason"],
            [([i.name, reason], self.scrape_errors.get((i.name, reason), 0)) for i in self.settings.instances for reason in POLL_ERRORS],
        )
        yield gauge("comfyui_poll_duration_seconds", "How long the last poll of the instance took.", inst, [([s.name], s.duration) for s in samples])
        info = InfoMetricFamily("comfyui", "Versions the instance reports, and the release deployed on the host.", labels=inst)
        for s in samples:
            if s.up:
                info.add_metric(
                    [s.name],
                    {
                        "version": s.version or "",
                        "python_version": (s.python_version or "").split()[0],
                        "pytorch_version": s.pytorch_version or "",
                        "release": release,
                    },
                )
        yield info
        if release:
            rel = InfoMetricFamily("comfyui_release", "The release the host's current link points at.")
            rel.add_metric([], {"release": release})
            yield rel
        yield gauge(
            "comfyui_start_time_seconds",
            "When the instance's server process started, seconds since the epoch.",
            inst,
            [([s.name], s.start_time) for s in samples],
        )
        yield gauge(
            "comfyui_service_restarts",
            "Restarts of the instance's systemd unit (NRestarts), where systemd runs it.",
            inst,
            [([s.name], s.restarts) for s in samples],
        )
        yield gauge("comfyui_queue_pending", "Prompts waiting in the queue.", inst, [([s.name], s.pending) for s in samples])
        yield gauge("comfyui_queue_running", "Prompts running now.", inst, [([s.name], s.running) for s in samples])
        yield gauge(
            "comfyui_queue_running_age_seconds", "Age of the oldest running prompt (0 when none runs).", inst, [([s.name], s.running_age) for s in samples]
        )
        yield gauge(
            "comfyui_queue_oldest_pending_age_seconds",
            "Age of the oldest waiting prompt (0 when none waits).",
            inst,
            [([s.name], s.oldest_pending_age) for s in samples],
        )
        names = [i.name for i in self.settings.instances]
        yield counter(
            "comfyui_prompts",
            "Prompts finished, by outcome (success, error, interrupted); each counted once.",
            [*inst, "outcome"],
            [([n, o], self.counters[n].prompts[o]) for n in names for o in OUTCOMES],
        )
        histogram = HistogramMetricFamily("comfyui_prompt_duration_seconds", "Server-side duration of finished prompts.", labels=inst)
        for n in names:
            c = self.counters[n]
            # the stored buckets are cumulative already (a duration counts in every bucket it fits)
            cumulative = [(repr(bound), float(count)) for bound, count in zip(DURATION_BUCKETS, c.buckets)]
            cumulative.append(("+Inf", float(c.duration_count)))
            histogram.add_metric([n], cumulative, c.duration_sum)
        yield histogram
        yield counter(
            "comfyui_node_errors",
            "Prompts that failed, by the class of the node that raised.",
            [*inst, "node_class"],
            [([n, node], count) for n in names for node, count in sorted(self.counters[n].node_errors.items())],
        )
        yield counter("comfyui_outputs", "Output files written by finished prompts.", inst, [([n], self.counters[n].outputs) for n in names])
        yield counter(
            "comfyui_output_bytes",
            "Bytes of output files written by finished prompts (where the output directory is known).",
            inst,
            [([n], self.counters[n].output_bytes) for n in names],
        )
        yield gauge(
            "comfyui_last_prompt_finished_timestamp_seconds",
            "When the newest counted prompt finished.",
            inst,
            [([n], self.counters[n].last_finished) for n in names],
        )
        dev = [*inst, "device", "device_name"]
        yield gauge(
            "comfyui_device_vram_total_bytes",
            "VRAM of a device as the instance reports it.",
            dev,
            [([s.name, d["device"], d["name"]], d["total"]) for s in samples for d in s.devices],
        )
        yield gauge(
            "comfyui_device_vram_free_bytes",
            "Free VRAM of a device as the instance reports it.",
            dev,
            [([s.name, d["device"], d["name"]], d["free"]) for s in samples for d in s.devices],
        )
        yield gauge("comfyui_ram_total_bytes", "Host RAM as the instance reports it.", inst, [([s.name], s.ram_total) for s in samples])
        yield gauge("comfyui_ram_free_bytes", "Free host RAM as the instance reports it.", inst, [([s.name], s.ram_free) for s in samples])
        yield from self.collect_gpus(gauge, counter)
        smoke = self.smoke()
        yield gauge(
            "comfyui_smoke_success",
            "1 when the last smoke workflow of comfyui_health succeeded, else 0.",
            inst,
            [([n], v.get("success")) for n, v in smoke.items()],
        )
        yield gauge(
            "comfyui_smoke_duration_seconds", "Duration of the last smoke workflow.", inst, [([n], v.get("workflow_seconds")) for n, v in smoke.items()]
        )
        yield gauge(
            "comfyui_smoke_output_ok",
            "1 when the last smoke workflow's output file was found, else 0.",
            inst,
            [([n], v.get("workflow_output_ok")) for n, v in smoke.items()],
        )
        yield gauge(
            "comfyui_smoke_last_run_timestamp_seconds",
            "When comfyui_health last ran.",
            inst,
            [([n], v.get("last_run_timestamp_seconds")) for n, v in smoke.items()],
        )

    def collect_gpus(self, gauge: Callable[..., Any], counter: Callable[..., Any]) -> Iterator[Any]:
        facts = self.gpus
        gpus = facts.get("gpus") or [] if facts.get("nvml_available") else []
        yield gauge(
            "comfyui_nvml_up",
            "1 when NVML answered (a driver and GPUs), else 0.",
            [],
            [([], 1.0 if facts.get("nvml_available") else 0.0)] if self.settings.gpu else [],
        )
        labels = ["gpu", "uuid", "gpu_name"]

        def rows(key: str, scale: float = 1.0) -> list[tuple[list[str], float | None]]:
            return [([str(g["index"]), str(g.get("uuid") or ""), str(g.get("name") or "")], g[key] * scale if g.get(key) is not None else None) for g in gpus]

        yield gauge("comfyui_gpu_utilization_ratio", "GPU busy time over the last sample period, 0-1 (NVML).", labels, rows("utilization_gpu", 0.01))
        yield gauge("comfyui_gpu_memory_utilization_ratio", "GPU memory controller busy time, 0-1 (NVML).", labels, rows("utilization_memory", 0.01))
        yield gauge("comfyui_gpu_memory_used_bytes", "GPU memory in use (NVML).", labels, rows("memory_used"))
        yield gauge("comfyui_gpu_memory_total_bytes", "GPU memory in all (NVML).", labels, rows("memory_total"))
        yield gauge("comfyui_gpu_temperature_celsius", "GPU core temperature (NVML).", labels, rows("temperature"))
        yield gauge("comfyui_gpu_power_watts", "GPU power draw (NVML).", labels, rows("power_draw_watts"))
        yield gauge("comfyui_gpu_power_limit_watts", "GPU enforced power limit (NVML).", labels, rows("power_limit_watts"))
        from ansible_collections.comfyops.comfyui.plugins.module_utils._gpu import THROTTLE_REASONS  # pylint: disable=import-outside-toplevel

        yield gauge(
            "comfyui_gpu_throttle_reason",
            "1 for each clock throttle reason active now (NVML clock event reasons).",
            [*labels, "reason"],
            [
                ([str(g["index"]), str(g.get("uuid") or ""), str(g.get("name") or ""), reason], 1.0 if reason in (g.get("throttle_reasons") or []) else 0.0)
                for g in gpus
                if g.get("throttle_reasons") is not None
                for _bit, reason in THROTTLE_REASONS
            ],
        )
        yield counter(
            "comfyui_gpu_ecc_uncorrected_errors",
            "Uncorrected ECC memory errors (volatile: since the driver loaded; aggregate: lifetime).",
            [*labels, "scope"],
            [
                ([str(g["index"]), str(g.get("uuid") or ""), str(g.get("name") or ""), scope], float(g[key]))
                for g in gpus
                for scope, key in (("volatile", "ecc_uncorrected_volatile"), ("aggregate", "ecc_uncorrected_aggregate"))
                if g.get(key) is not None
            ],
        )
        yield gauge(
            "comfyui_gpu_retired_pages_pending",
            "1 when retired pages or remapped rows wait for a GPU reset.",
            labels,
            [
                (
                    [str(g["index"]), str(g.get("uuid") or ""), str(g.get("name") or "")],
                    1.0 if (g.get("retired_pages_pending") or g.get("remapped_rows_pending")) else 0.0,
                )
                for g in gpus
            ],
        )


# -- the command -------------------------------------------------------------------------------------------------


class _Collector:
    """prometheus_client's collector protocol over an Exporter."""

    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterator[Any]:
        return self.exporter.collect()

    def describe(self) -> list[Any]:
        return []  # unchecked collector: families are known only after a poll


def registry_for(exporter: Exporter) -> Any:
    from prometheus_client import CollectorRegistry  # pylint: disable=import-outside-toplevel

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(exporter))
    return registry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comfyops-exporter",
        description="Prometheus metrics for every ComfyUI instance of this host and its NVIDIA GPUs (comfyops.comfyui).",
        epilog='The settings file is JSON: {"instances": [{"name", "url", "pidfile" or "unit", "output_dir"}], '
        '"listen", "port", "timeout", "cache_seconds", "history_items", "state_file", "health_textfile_dir", "base", "gpu"}. '
        "Command-line options override it.",
    )
    parser.add_argument(
        "--config", default=os.environ.get("COMFYOPS_EXPORTER_CONFIG", "/etc/comfyops/exporter.json"), help="settings file (default %(default)s)"
    )
    parser.add_argument("--listen", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to serve on (default 9188)")
    parser.add_argument("--instance", action="append", default=[], metavar="NAME=URL", help="an instance to poll (repeatable; replaces the file's list)")
    parser.add_argument("--timeout", type=float, help="per-instance poll deadline in seconds (default 2)")
    parser.add_argument("--once", action="store_true", help="print one exposition to stdout and exit (no server)")
    parser.add_argument("--no-gpu", action="store_true", help="do not read NVML")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    config: dict[str, Any] = {}
    if os.path.exists(args.config) or not args.instance:
        try:
            with open(args.config, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ExporterConfigError("%s: %s" % (args.config, exc)) from None
    if args.instance:
        pairs = [item.partition("=") for item in args.instance]
        bad = [item for item, (_n, sep, _u) in zip(args.instance, pairs) if not sep]
        if bad:
            raise ExporterConfigError("--instance %s: expected NAME=URL" % bad[0])
        config["instances"] = [{"name": n, "url": u} for n, _sep, u in pairs]
    for key in ("listen", "port", "timeout"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.no_gpu:
        config["gpu"] = False
    return parse_settings(config, "%s: " % args.config if not args.instance else "")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ExporterConfigError as exc:
        sys.stderr.write("comfyops-exporter: %s\n" % exc)
        return 2
    from prometheus_client import exposition  # pylint: disable=import-outside-toplevel

    exporter = Exporter(settings)
    registry = registry_for(exporter)
    if args.once:
        sys.stdout.write(exposition.generate_latest(registry).decode("utf-8"))
        exporter.close()
        return 0
    server, thread = exposition.start_http_server(settings.port, settings.listen, registry)
    sys.stderr.write(
        "comfyops-exporter %s: serving http://%s:%d/metrics for %s\n"
        % (EXPORTER_VERSION, settings.listen, settings.port, ", ".join(i.name for i in settings.instances) or "no instances")
    )
    sys.stderr.flush()
    try:
        thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        exporter.close()
    return 0
