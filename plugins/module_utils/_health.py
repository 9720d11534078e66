# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ComfyUI health checks, plain Python: one instance's checks, its overall state, history and metrics.

States: ``healthy`` (all pass), ``degraded`` (a warning), ``starting`` (the API fails while the
process lives inside its start-up budget), ``failed`` (anything else that fails).
"""

from __future__ import annotations

import datetime
import json
import os
import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._checks import read_meminfo
from ansible_collections.comfyops.comfyui.plugins.module_utils._comfyui import ComfyUIClient, ComfyUIError, SystemStats, execute_workflow, http_request
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, append_bounded_lines, atomic_write, check_name, inside
from ansible_collections.comfyops.comfyui.plugins.module_utils._gpu import collect as collect_gpus
from ansible_collections.comfyops.comfyui.plugins.module_utils._result import CheckResult
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import format_size, parse_size

CORE_CHECKS = ("api", "queue", "models", "custom_nodes", "gpu", "system", "service", "workflow")
OPTIONAL_CHECKS = ("redis", "prometheus", "alertmanager")
API_CHECKS = ("queue", "models", "custom_nodes", "workflow")

# The recorded smoke workflow: EmptyImage 64x64 into SaveImage; needs no model and no GPU.
SMOKE_WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "comfyops-health/smoke"}},
}

DEFAULTS: dict[str, Any] = {
    "timeout": 10.0,
    "max_latency": 2.0,
    "expected_version": None,
    "max_queue_pending": 20,
    "max_running_age": 900.0,
    "required_models": [],
    "required_node_classes": [],
    "require_gpu": False,
    "min_vram_free": "1GiB",
    "max_temperature": 85,
    "max_load_per_core": 4.0,
    "min_mem_available": "1GiB",
    "disk_paths": [],
    "min_disk_free": "10GiB",
    "service_manager": "none",
    "unit": None,
    "pidfile": None,
    "container": None,
    "max_restarts": 2,
    "startup_budget": 120.0,
    "workflow": None,
    "workflow_timeout": 60.0,
    "output_dir": None,
    "keep_smoke_output": False,
    "redis": None,
    "prometheus_url": None,
    "alertmanager_url": None,
}


# An instance as the health modules take it (argument spec suboptions).
INSTANCE_OPTIONS = {
    "name": {"type": "str", "required": True},
    "url": {"type": "str", "required": True},
    "unit": {"type": "str"},
    "pidfile": {"type": "path"},
    "container": {"type": "str"},
    "output_dir": {"type": "path"},
    "cuda_device": {"type": "int"},
}


class HealthInputError(ValueError):
    """A bad parameter: the message names it, the value and what is expected."""


def parse_host_port(value: Any, option: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """(host, port) from 'host:port', '[::1]:port' or ':port'; HealthInputError naming `option` otherwise."""
    text = str(value).strip()
    host, _colon, port = text.rpartition(":")
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise HealthInputError("%s: %r: expected host:port with a port 1-65535, such as 127.0.0.1:6379" % (option, value))
    return host, int(port)


def worst_state(states: list[str]) -> str:
    order = ("healthy", "degraded", "starting", "failed")
    return max(states, key=order.index) if states else "healthy"


class ProcessInfo:
    """Whether the server process lives, since when, and how often it restarted."""

    def __init__(self, alive: bool, uptime: float | None = None, restarts: int | None = None, detail: str = "") -> None:
        self.alive = alive
        self.uptime = uptime
        self.restarts = restarts
        self.detail = detail


def _systemd_process(unit: str) -> ProcessInfo:
    props = "ActiveState,SubState,NRestarts,MainPID,ExecMainStartTimestampMonotonic"
    try:
        proc = subprocess.run(["systemctl", "show", unit, "--property=" + props], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ProcessInfo(False, detail="systemctl failed: %s" % exc)
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    active, sub = values.get("ActiveState", "unknown"), values.get("SubState", "unknown")
    started = int(values.get("ExecMainStartTimestampMonotonic") or 0) / 1e6
    uptime = time.clock_gettime(time.CLOCK_MONOTONIC) - started if started else None
    alive = active in ("active", "activating", "reloading") and sub != "auto-restart" and int(values.get("MainPID") or 0) > 0
    restarts = int(values["NRestarts"]) if values.get("NRestarts", "").isdigit() else None
    return ProcessInfo(alive, uptime, restarts, "%s (%s/%s)" % (unit, active, sub))


def _pid_process(pidfile: str) -> ProcessInfo:
    try:
        with open(pidfile, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as handle:
            boot_uptime = float(handle.read().split()[0])
    except (OSError, ValueError) as exc:
        return ProcessInfo(False, detail="no live process for %s (%s)" % (pidfile, exc))
    if fields[0] == "Z":
        return ProcessInfo(False, detail="pid %d is a zombie" % pid)
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return ProcessInfo(True, boot_uptime - started, None, "pid %d" % pid)


def _container_process(name: str, factory: Any = None) -> ProcessInfo:
    try:
        if factory is None:
            import docker  # pylint: disable=import-outside-toplevel

            factory = docker.from_env
        container = factory().containers.get(name)
        state = container.attrs.get("State", {})
    except Exception as exc:
        return ProcessInfo(False, detail="container %s: %s" % (name, exc))
    # Docker reports a crash-looping container as Running while it waits to restart it (Restarting, like systemd's
    # auto-restart): that is not alive, or a loop would look like a start that never ends within its budget.
    alive = bool(state.get("Running")) and not state.get("Restarting")
    uptime = _docker_uptime(state.get("StartedAt"), time.time()) if alive else None
    return ProcessInfo(alive, uptime, container.attrs.get("RestartCount"), "container %s (%s)" % (name, state.get("Status")))


def _docker_uptime(started_at: str | None, now: float) -> float | None:
    """Seconds since Docker's State.StartedAt (RFC 3339, nanoseconds, UTC), or None where it does not parse."""
    if not started_at or started_at.startswith("0001-"):
        return None
    stamp = started_at.replace("Z", "+00:00")
    head, dot, rest = stamp.partition(".")
    if dot:  # Python parses at most microseconds: cut the fraction to six digits, keep the offset
        digits = len(rest) - len(rest.lstrip("0123456789"))
        stamp = head + "." + rest[:digits][:6].ljust(6, "0") + rest[digits:]
    try:
        started = datetime.datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None
    return max(0.0, now - started)


def process_info(params: dict[str, Any]) -> ProcessInfo | None:
    manager = params["service_manager"]
    if manager == "systemd" and params.get("unit"):
        return _systemd_process(params["unit"])
    if manager == "standalone" and params.get("pidfile"):
        return _pid_process(params["pidfile"])
    if manager == "docker" and params.get("container"):
        return _container_process(params["container"])
    return None


class InstanceHealth:
    """Runs the checks of one ComfyUI instance."""

    def __init__(
        self,
        name: str,
        url: str,
        params: dict[str, Any],
        checks: list[str],
        gpu_facts: dict[str, Any] | None = None,
        client: Any = None,
        previous: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.params = params
        self.checks = checks
        self.client = client or ComfyUIClient(url, timeout=params["timeout"], retries=0)
        self.gpu_facts = gpu_facts
        self.previous = previous or {}
        self.results: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] = {}
        self.stats: SystemStats | None = None

    def add(self, name: str, status: str, observed: Any = None, expected: Any = None, message: str = "", remedy: str = "") -> None:
        check = name.split(":", maxsplit=1)[0]
        labels = {"check": check, "instance": self.name}
        self.results.append(CheckResult.of(status, name, check, observed, expected, message, remedy, labels=labels).to_dict())

    def run(self) -> str:
        process = process_info(self.params) if "service" in self.checks or "api" in self.checks else None
        if "service" in self.checks:
            self.check_service(process)
        api_ok = True
        if "api" in self.checks:
            api_ok = self.check_api(process)
        for name in API_CHECKS:
            if name in self.checks:
                if not api_ok:
                    self.add(name, "skip", message="the API does not answer")
                    continue
                try:
                    getattr(self, "check_" + name)()
                except ComfyUIError as exc:
                    self.add(name, "fail", "bad answer", "ComfyUI's answer", "%s: %s" % (name, exc), "is this ComfyUI? look at its log")
        if "gpu" in self.checks:
            self.check_gpu()
        if "system" in self.checks:
            self.check_system()
        for name in OPTIONAL_CHECKS:
            if name in self.checks:
                getattr(self, "check_" + name)()
        statuses = {item["status"] for item in self.results}
        state = "failed" if "fail" in statuses else "starting" if "starting" in statuses else "degraded" if "warn" in statuses else "healthy"
        return state

    # -- checks ---------------------------------------------------------------------------
    def check_service(self, process: ProcessInfo | None) -> None:
        if process is None:
            self.add("service", "skip", message="no service to look at (service_manager=%s)" % self.params["service_manager"])
            return
        self.metrics["restarts"] = process.restarts
        if not process.alive:
            self.add("service", "fail", process.detail, "running", "the service is not running: %s" % process.detail, "look at the service's log")
            return
        before = self.previous.get("restarts")
        if process.restarts is not None and before is not None and process.restarts - before > self.params["max_restarts"]:
            self.add(
                "service",
                "fail",
                "%d restarts since the last check" % (process.restarts - before),
                "<= %d" % self.params["max_restarts"],
                "%s is restart-looping" % process.detail,
                "look at the service's log for the crash",
            )
            return
        self.add("service", "pass", process.detail, "running", "%s runs (up %s s)" % (process.detail, "?" if process.uptime is None else int(process.uptime)))

    def check_api(self, process: ProcessInfo | None) -> bool:
        started = time.monotonic()
        try:
            self.stats = self.client.system_stats()
        except ComfyUIError as exc:
            latency = time.monotonic() - started
            budget = self.params["startup_budget"]
            if process is not None and process.alive and process.uptime is not None and process.uptime < budget:
                self.add("api", "starting", "no answer after %.1f s up" % process.uptime, "answers within %.0f s of start" % budget, "starting: %s" % exc)
            else:
                why = "" if process is None else " (%s)" % process.detail
                self.add("api", "fail", "no answer", "/system_stats answers", "%s%s" % (exc, why), "restart the service; look at its log")
            self.metrics["api_latency"] = latency
            return False
        latency = time.monotonic() - started
        self.metrics["api_latency"] = latency
        version = self.stats.comfyui_version
        wanted = self.params.get("expected_version")
        if wanted and version != wanted:
            self.add(
                "api",
                "fail",
                "version %s" % version,
                "version %s" % wanted,
                "the server reports ComfyUI %s, not %s (expected_version)" % (version, wanted),
                "deploy the expected release",
            )
        elif latency > self.params["max_latency"]:
            self.add(
                "api",
                "warn",
                "%.0f ms" % (latency * 1000),
                "<= %.0f ms" % (self.params["max_latency"] * 1000),
                "/system_stats is slow",
                "look at the host's load",
            )
        else:
            self.add("api", "pass", "%.0f ms" % (latency * 1000), "<= %.0f ms" % (self.params["max_latency"] * 1000), "ComfyUI %s answers" % version)
        return True

    def check_queue(self) -> None:
        queue = self.client.queue()
        pending = len(queue.pending)
        self.metrics["queue_pending"] = pending
        self.metrics["queue_running"] = len(queue.running)
        ages = [time.time() - item.create_time for item in queue.running if item.create_time]
        age = max(ages) if ages else 0.0
        self.metrics["running_age"] = age
        if age > self.params["max_running_age"]:
            self.add(
                "queue",
                "fail",
                "running prompt %.0f s old" % age,
                "<= %.0f s" % self.params["max_running_age"],
                "the queue is stuck: %s has run for %.0f s" % (queue.running[0].prompt_id, age),
                "interrupt it (POST /interrupt) or restart the service",
            )
        elif pending > self.params["max_queue_pending"]:
            self.add("queue", "warn", "%d pending" % pending, "<= %d" % self.params["max_queue_pending"], "the queue is deep", "add capacity")
        else:
            self.add(
                "queue", "pass", "%d pending, %d running" % (pending, len(queue.running)), "<= %d pending" % self.params["max_queue_pending"], "queue moves"
            )

    def check_models(self) -> None:
        wanted = self.params["required_models"]
        if not wanted:
            self.add("models", "skip", message="no required_models given")
            return
        missing: list[str] = []
        listed: dict[str, list[Any] | None] = {}
        for item in wanted:
            folder, _slash, name = item.partition("/")
            if folder not in listed:
                listed[folder] = self.client.models(folder)
            files = listed[folder]
            if files is None or name not in files:
                missing.append(item)
        self._presence("models", wanted, missing, "visible", "the server does not see %s", "download the models", "every required model is visible")

    def check_custom_nodes(self) -> None:
        wanted = self.params["required_node_classes"]
        if not wanted:
            self.add("custom_nodes", "skip", message="no required_node_classes given")
            return
        missing = [name for name in wanted if not self.client.object_info(name)]
        self._presence(
            "custom_nodes",
            wanted,
            missing,
            "loaded",
            "node classes not loaded (a custom node failed to import?): %s",
            "read the server log for IMPORT FAILED",
            "every required node class is loaded",
        )

    def _presence(self, check: str, wanted: list[str], missing: list[str], seen: str, fail_message: str, hint: str, pass_message: str) -> None:
        """One check that every wanted item is there: fail naming the missing ones, or pass."""
        expected = "all %d %s" % (len(wanted), seen)
        if missing:
            self.add(check, "fail", "missing: %s" % ", ".join(missing), expected, fail_message % ", ".join(missing), hint)
        else:
            self.add(check, "pass", "%d %s" % (len(wanted), seen), expected, pass_message)

    def check_workflow(self) -> None:
        workflow = self.params.get("workflow")
        if workflow is None:
            workflow = json.loads(json.dumps(SMOKE_WORKFLOW))
            # a new colour each run: an identical prompt would be served from ComfyUI's cache, not run
            workflow["1"]["inputs"]["color"] = random.randint(0, 0xFFFFFF)
            workflow["2"]["inputs"]["filename_prefix"] = "comfyops-health/%s" % self.name
        try:
            outcome = execute_workflow(self.client, workflow, self.params["workflow_timeout"], "interrupt", "comfyops-health")
        except ComfyUIError as exc:
            self.add("workflow", "fail", "no answer", "success", "smoke workflow: %s" % exc, "restart the service")
            return
        seconds = outcome["duration"] or 0.0
        self.metrics["workflow_seconds"] = seconds
        if outcome["status"] != "success":
            error = outcome["error"] or {}
            detail = "%s (%s %s): %s" % (
                outcome["status"],
                error.get("node_type") or error.get("type", ""),
                error.get("node_id") or "",
                error.get("exception_message") or error.get("message"),
            )
            self.add(
                "workflow",
                "fail",
                outcome["status"],
                "success within %.0f s" % self.params["workflow_timeout"],
                "smoke workflow %s" % detail,
                "read the server log; look for a stuck queue",
            )
            return
        files = outcome["files"]
        output_dir = self.params.get("output_dir")
        if output_dir:
            try:
                # the server names the files: each must resolve inside output_dir, or it is never read or removed
                paths = [inside(output_dir, os.path.join(str(f["subfolder"] or ""), str(f["filename"])), "output file") for f in files if f["type"] == "output"]
            except PathError as exc:
                self.add("workflow", "fail", "output outside output_dir", "files inside %s" % output_dir, "the server named %s" % exc, "is this ComfyUI?")
                return
            missing = [p for p in paths if not (os.path.isfile(p) and os.path.getsize(p) > 0)]
            self.metrics["workflow_output_ok"] = 0 if not paths or missing else 1
            if not paths or missing:
                self.add(
                    "workflow",
                    "fail",
                    "missing output",
                    "output files",
                    "the smoke workflow succeeded but wrote no file: %s" % ", ".join(missing or ["none"]),
                    "check the output directory",
                )
                return
            if not self.params["keep_smoke_output"]:
                for path in paths:
                    os.unlink(path)
        self.add(
            "workflow",
            "pass",
            "%.2f s" % seconds,
            "<= %.0f s" % self.params["workflow_timeout"],
            "smoke workflow ran in %.2f s, %d file(s)" % (seconds, len(files)),
        )

    def check_gpu(self) -> None:
        facts = self.gpu_facts
        if facts is None or not facts["nvml_available"]:
            reason = facts["reason"] if facts else "no GPU facts"
            self.add("gpu", "fail" if self.params["require_gpu"] else "skip", "no NVML", "a GPU", "no GPU facts: %s" % reason, "install the NVIDIA driver")
        else:
            index = self.params.get("cuda_device") or 0
            gpus = {g["index"]: g for g in facts["gpus"]}
            gpu = gpus.get(index)
            if gpu is None:
                self.add("gpu", "fail", "GPU %d absent" % index, "GPU %d" % index, "GPU %d is not on this host" % index, "check cuda_device")
            else:
                self._judge_gpu(gpu)
        if self.stats is not None:
            floor = parse_size(self.params["min_vram_free"], "min_vram_free")
            for device in self.stats.devices:
                if device.type == "cuda" and device.vram_free is not None and device.vram_free < floor:
                    self.add(
                        "gpu:server",
                        "warn",
                        format_size(device.vram_free),
                        ">= %s" % format_size(floor),
                        "ComfyUI sees little free VRAM on %s" % device.name,
                        "free VRAM (POST /free)",
                    )

    def _judge_gpu(self, gpu: dict[str, Any]) -> None:
        floor = parse_size(self.params["min_vram_free"], "min_vram_free")
        self.metrics["vram_free"] = gpu["memory_free"]
        self.metrics["gpu_temperature"] = gpu["temperature"]
        problems, warnings = [], []
        if (gpu["ecc_uncorrected_volatile"] or 0) > 0:
            problems.append("%d uncorrected ECC errors" % gpu["ecc_uncorrected_volatile"])
        if gpu["remapped_rows_failure"]:
            problems.append("a row remap failed")
        if gpu["temperature"] is not None and gpu["temperature"] > self.params["max_temperature"]:
            problems.append("%d C" % gpu["temperature"])
        if gpu["memory_free"] is not None and gpu["memory_free"] < floor:
            warnings.append("%s VRAM free" % format_size(gpu["memory_free"]))
        if gpu["throttle_harmful"]:
            warnings.append("throttled: %s" % ", ".join(gpu["throttle_harmful"]))
        if gpu["remapped_rows_pending"] or gpu["retired_pages_pending"]:
            warnings.append("memory repairs pending a reset")
        observed = "; ".join(problems + warnings) or "%s free, %s C" % (format_size(gpu["memory_free"]), gpu["temperature"])
        status = "fail" if problems else "warn" if warnings else "pass"
        self.add(
            "gpu",
            status,
            observed,
            "no ECC errors, <= %d C, >= %s free" % (self.params["max_temperature"], format_size(floor)),
            "GPU %d %s: %s" % (gpu["index"], gpu["name"], observed),
            "drain the host and reset or replace the GPU",
        )

    def check_system(self) -> None:
        cores = os.cpu_count() or 1
        load = os.getloadavg()[0] / cores
        available = read_meminfo().get("MemAvailable", 0)
        self.metrics["mem_available"] = available
        floor = parse_size(self.params["min_mem_available"], "min_mem_available")
        problems = []
        if load > self.params["max_load_per_core"]:
            problems.append("load %.1f per core" % load)
        if available < floor:
            problems.append("%s memory available" % format_size(available))
        disk_floor = parse_size(self.params["min_disk_free"], "min_disk_free")
        for path in self.params["disk_paths"]:
            free = shutil.disk_usage(path).free if os.path.exists(path) else 0
            if free < disk_floor:
                problems.append("%s free on %s" % (format_size(free), path))
        observed = "; ".join(problems) or "load %.2f/core, %s available" % (load, format_size(available))
        self.add(
            "system",
            "fail" if problems else "pass",
            observed,
            "load <= %.1f/core, >= %s memory, >= %s disk" % (self.params["max_load_per_core"], format_size(floor), format_size(disk_floor)),
            observed,
            "free memory or disk, or move load away",
        )

    def check_redis(self) -> None:
        target = self.params.get("redis")
        if not target:
            self.add("redis", "skip", message="no redis given")
            return
        host, port = parse_host_port(target, "redis")
        try:
            with socket.create_connection((host, port), timeout=self.params["timeout"]) as conn:
                conn.sendall(b"PING\r\n")
                answer = conn.recv(64)
        except OSError as exc:
            self.add("redis", "fail", str(exc), "+PONG", "Redis at %s does not answer: %s" % (target, exc), "start redis-server")
            return
        ok = answer.startswith(b"+PONG")
        self.add(
            "redis",
            "pass" if ok else "fail",
            answer.decode("ascii", "replace").strip(),
            "+PONG",
            "Redis at %s answers %s" % (target, answer[:20].decode("ascii", "replace").strip()),
            "check Redis (auth?)",
        )

    def _ready(self, name: str, url: str | None) -> None:
        if not url:
            self.add(name, "skip", message="no %s url given" % name)
            return
        try:
            status, _body = http_request("GET", url.rstrip("/") + "/-/ready", timeout=self.params["timeout"])
        except ComfyUIError as exc:
            self.add(name, "fail", str(exc), "200 from /-/ready", "%s does not answer: %s" % (name, exc), "start %s" % name)
            return
        self.add(name, "pass" if status == 200 else "fail", status, 200, "%s /-/ready answered %d" % (name, status), "look at %s's log" % name)

    def check_prometheus(self) -> None:
        self._ready("prometheus", self.params.get("prometheus_url"))

    def check_alertmanager(self) -> None:
        self._ready("alertmanager", self.params.get("alertmanager_url"))


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def read_history(path: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a torn line from an old crash: skip it, keep the rest
    except FileNotFoundError:
        pass
    return records


def trend(records: list[dict[str, Any]]) -> dict[str, Any]:
    streak = 0
    for record in reversed(records):
        if record.get("state") != "failed":
            break
        streak += 1
    latencies = [r["api_latency"] for r in records if isinstance(r.get("api_latency"), (int, float))]
    return {
        "runs": len(records),
        "failure_streak": streak,
        "latency_p50": percentile(latencies, 0.5),
        "latency_p95": percentile(latencies, 0.95),
        "latency_max": max(latencies) if latencies else None,
    }


def metrics_text(instance: str, state: str, results: list[dict[str, Any]], metrics: dict[str, Any], trend_info: dict[str, Any], now: float) -> str:
    labels = 'instance="%s"' % instance.replace('"', "")
    lines = [
        "# HELP comfyui_health_state Overall health state of a ComfyUI instance (1 for the current state).",
        "# TYPE comfyui_health_state gauge",
    ]
    for name in ("healthy", "degraded", "starting", "failed"):
        lines.append('comfyui_health_state{%s,state="%s"} %d' % (labels, name, 1 if name == state else 0))
    lines += ["# HELP comfyui_health_check_ok Whether a health check passed (skipped checks are absent).", "# TYPE comfyui_health_check_ok gauge"]
    for item in results:
        if item["status"] != "skip":
            lines.append('comfyui_health_check_ok{%s,check="%s"} %d' % (labels, item["name"], 1 if item["status"] == "pass" else 0))
    gauges = {
        "api_latency_seconds": metrics.get("api_latency"),
        "queue_pending": metrics.get("queue_pending"),
        "queue_running_age_seconds": metrics.get("running_age"),
        "workflow_seconds": metrics.get("workflow_seconds"),
        "workflow_output_ok": metrics.get("workflow_output_ok"),
        "failure_streak": trend_info["failure_streak"],
        "last_run_timestamp_seconds": now,
    }
    for name, value in gauges.items():
        if value is not None:
            lines += ["# TYPE comfyui_health_%s gauge" % name, "comfyui_health_%s{%s} %s" % (name, labels, repr(float(value)))]
    return "\n".join(lines) + "\n"


def _bookkeep(problems: list[tuple[str, str]], what: str, action: Callable[..., Any], *args: Any) -> Any:
    """`action(*args)`, or None with (what, why) added to `problems` when the disk or the file system refused it."""
    try:
        return action(*args)
    except (OSError, UnicodeDecodeError) as exc:
        problems.append((what, getattr(exc, "strerror", None) or str(exc)))
        return None


def _append(path: str, line: str, keep: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    append_bounded_lines(path, line, keep)


def _publish(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, text)


# what expected_version may say: ComfyUI's version strings (0.8.0, v0.3.10, 0.3.41rc1, 0.4.0-beta.2)
VERSION_RE = re.compile(r"^v?[0-9]+(\.[0-9]+)*([.+-]?[A-Za-z0-9]+)*$")


def run_health(
    instances: list[dict[str, Any]],
    params: dict[str, Any],
    checks: list[str],
    history_dir: str | None = None,
    history_max: int = 500,
    textfile_dir: str | None = None,
    gpu_facts: dict[str, Any] | None = None,
    client_factory: Any = None,
    read_only: bool = False,
) -> dict[str, Any]:
    """Check every instance; return {"state", "instances": [...]} with each instance's checks and trend.

    With `read_only` (check mode) nothing is changed anywhere: the smoke workflow (which queues a prompt and
    writes an image) is reported as skipped, and neither the history nor the textfile metrics are written.
    """
    if read_only and "workflow" in checks:
        checks = [name for name in checks if name != "workflow"]
        skipped_workflow = True
    else:
        skipped_workflow = False
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in params.items() if v is not None})
    for key in ("min_vram_free", "min_mem_available", "min_disk_free"):
        parse_size(merged[key], key)
    for key, least in (("timeout", 0.001), ("startup_budget", 0.001), ("workflow_timeout", 0.001), ("max_latency", 0), ("max_running_age", 0)):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not least <= value <= 7 * 86400:
            raise HealthInputError("%s: expected %s seconds up to a week, got %r" % (key, "a positive number of" if least else "a number of", value))
    if merged.get("redis"):
        parse_host_port(merged["redis"], "redis")
    wanted = merged.get("expected_version")
    if wanted is not None and not VERSION_RE.match(str(wanted)):
        raise HealthInputError("expected_version: %r is not a version such as 0.8.0" % (str(wanted)[:100],))
    for instance in instances:
        check_name(instance.get("name"), "instances[].name", "instance name")
    if "gpu" in checks and gpu_facts is None:
        gpu_facts = collect_gpus()
        gpu_facts.pop("import_error", None)
    reports = []
    for instance in instances:
        settings = dict(merged)
        settings.update({k: v for k, v in instance.items() if k not in ("name", "url") and v is not None})
        name = instance["name"]
        history_path = os.path.join(history_dir, "%s.jsonl" % name) if history_dir else None
        bookkeeping: list[tuple[str, str]] = []  # (what, why) of history or metrics that could not be read or written
        records = (_bookkeep(bookkeeping, "read the history %s" % history_path, read_history, history_path) or []) if history_path else []
        client = client_factory(instance["url"], settings) if client_factory else None
        health = InstanceHealth(name, instance["url"], settings, checks, gpu_facts, client, records[-1] if records else None)
        state = health.run()
        if skipped_workflow:
            health.add("workflow", "skip", message="check mode: the smoke workflow queues a prompt and writes an image, so it is not run")
        now = time.time()
        record = {"time": round(now, 3), "state": state, "api_latency": health.metrics.get("api_latency"), "restarts": health.metrics.get("restarts")}
        record["failed"] = [item["name"] for item in health.results if item["status"] == "fail"]
        kept = [*records, record]
        if history_path and history_dir and not read_only:
            line = json.dumps(record, sort_keys=True)
            _bookkeep(bookkeeping, "write the history %s" % history_path, _append, history_path, line, history_max)
            kept = kept[-history_max:]
        trend_info = trend(kept)
        if textfile_dir and not read_only:
            prom = os.path.join(textfile_dir, "comfyui_health_%s.prom" % name)
            text = metrics_text(name, state, health.results, health.metrics, trend_info, now)
            _bookkeep(bookkeeping, "write the metrics %s" % prom, _publish, prom, text)
        for what, why in bookkeeping:  # the checks ran and their report stands; only the record of it is missing
            health.add(
                "history",
                "warn",
                why,
                message="could not %s: %s; the checks above ran and this report is whole (the instance's state is theirs)" % (what, why),
                remedy="free space or fix the permissions of the health directories on this host",
            )
        reports.append(
            {
                "name": name,
                "url": instance["url"],
                "state": state,
                "checks": health.results,
                "failed": record["failed"],
                "metrics": health.metrics,
                "trend": trend_info,
                "comfyui_version": health.stats.comfyui_version if health.stats else None,
            }
        )
    result = {"state": worst_state([r["state"] for r in reports]), "instances": reports, "gpu": gpu_facts}
    if read_only:
        result["check_mode"] = "read-only checks only: no smoke workflow, no history or textfile written"
    return result
