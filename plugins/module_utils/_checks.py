# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host validation checks, plain Python: each check returns results, never raises on a bad host.

Each check returns ``CheckResult`` objects (module_utils/_result.py: name, check, status pass|warn|fail|skip, observed,
expected, message, remedy, severity, labels); the module's output is their ``to_dict()``.
``run_checks()`` runs the named checks, lowers severities where asked and sums them up.
"""

from __future__ import annotations

import concurrent.futures
import grp
import json
import os
import pwd
import resource
import shutil
import socket
import stat
import subprocess
import time
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._gpu import collect as collect_gpus
from ansible_collections.comfyops.comfyui.plugins.module_utils._http import UrlError, parse_url
from ansible_collections.comfyops.comfyui.plugins.module_utils._result import CheckResult
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError, format_size, parse_size, parse_version, version_text

ALL_CHECKS = (
    "cpu_cores",
    "ram",
    "disk",
    "gpu_count",
    "vram",
    "driver_version",
    "cuda_version",
    "compute_capability",
    "vram_fit",
    "torch_cuda",
    "paths",
    "ports",
    "endpoints",
    "dns",
    "service_manager",
    "clock",
    "open_files",
)
GPU_CHECKS = ("gpu_count", "vram", "driver_version", "cuda_version", "compute_capability", "vram_fit")

DEFAULTS = {
    "min_cpu_cores": 8,
    "min_ram": "64GB",
    "disk": [{"path": "/", "min_free": "500GB"}],
    "min_gpus": 1,
    "min_vram": "24GB",
    "min_driver_version": "520.61.05",
    "min_cuda_version": "11.8",
    "min_compute_capability": "7.0",
    "min_open_files": 65536,
    "vram_headroom": "2GiB",
}


class HostContext:
    """What the checks read from the host, each read once per run."""

    def __init__(self, params: dict[str, Any], nvml: Any = None, docker_client_factory: Any = None) -> None:
        self.params = params
        self._nvml = nvml
        self._gpu: dict[str, Any] | None = None
        self._docker_client_factory = docker_client_factory

    @property
    def gpu(self) -> dict[str, Any]:
        if self._gpu is None:
            self._gpu = collect_gpus(self._nvml)
        return self._gpu

    @staticmethod
    def meminfo() -> dict[str, int]:
        return read_meminfo()


def read_meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    """The kernel's memory counters in bytes ({"MemTotal": ..., "MemAvailable": ...}); the one reader of it."""
    values = {}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            key, _colon, rest = line.partition(":")
            fields = rest.split()
            if fields and fields[0].isdigit():
                values[key] = int(fields[0]) * (1024 if fields[1:] == ["kB"] else 1)
    return values


def _size(params: dict[str, Any], key: str, where: str | None = None) -> int:
    return parse_size(params[key], where or key)


# -- checks -------------------------------------------------------------------------------
def check_cpu_cores(ctx: HostContext) -> list[CheckResult]:
    wanted = int(ctx.params["min_cpu_cores"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ok = cores >= wanted
    return [
        CheckResult.of(
            "pass" if ok else "fail",
            "cpu_cores",
            "cpu_cores",
            cores,
            ">= %d" % wanted,
            "%d CPU cores usable" % cores,
            "use a host with at least %d cores" % wanted,
        )
    ]


def check_ram(ctx: HostContext) -> list[CheckResult]:
    wanted = _size(ctx.params, "min_ram")
    total = ctx.meminfo()["MemTotal"]
    ok = total >= wanted * 0.97  # firmware and the kernel keep a little of the installed RAM
    return [
        CheckResult.of(
            "pass" if ok else "fail",
            "ram",
            "ram",
            format_size(total),
            ">= %s" % format_size(wanted),
            "%s of RAM" % format_size(total),
            "add RAM or lower min_ram",
        )
    ]


def check_disk(ctx: HostContext) -> list[CheckResult]:
    results = []
    for index, item in enumerate(ctx.params["disk"] or []):
        path = item["path"]
        wanted = parse_size(item.get("min_free", 0), "disk[%d].min_free" % index)
        probe = path
        while not os.path.exists(probe) and probe not in ("", "/"):
            probe = os.path.dirname(probe)  # a path not made yet lands on the file system of its parent
        usage = shutil.disk_usage(probe or "/")
        ok = usage.free >= wanted
        results.append(
            CheckResult.of(
                "pass" if ok else "fail",
                "disk:%s" % path,
                "disk",
                format_size(usage.free),
                ">= %s free" % format_size(wanted),
                "%s free on the file system of %s" % (format_size(usage.free), path),
                "free space or grow the file system of %s" % path,
            )
        )
    return results


def _gpu_unavailable(ctx: HostContext, name: str, check: str) -> CheckResult | None:
    gpu = ctx.gpu
    if gpu["nvml_available"]:
        return None
    return CheckResult.failed(
        name, check, None, "an NVIDIA GPU with a driver", "no GPU facts: %s" % gpu["reason"], "install the NVIDIA driver and nvidia-ml-py"
    )


def check_gpu_count(ctx: HostContext) -> list[CheckResult]:
    wanted = int(ctx.params["min_gpus"])
    gpu = ctx.gpu
    count = len(gpu["gpus"]) if gpu["nvml_available"] else 0
    message = "%d GPU(s)" % count if gpu["nvml_available"] else "no GPU visible: %s" % gpu["reason"]
    return [
        CheckResult.of("pass" if count >= wanted else "fail", "gpu_count", "gpu_count", count, ">= %d" % wanted, message, "install GPUs and the NVIDIA driver")
    ]


def check_vram(ctx: HostContext) -> list[CheckResult]:
    missing = _gpu_unavailable(ctx, "vram", "vram")
    if missing:
        return [missing]
    wanted = _size(ctx.params, "min_vram")
    results = []
    for gpu in ctx.gpu["gpus"]:
        total = gpu["memory_total"] or 0
        ok = total >= wanted * 0.97  # drivers reserve a little: a "24 GB" card reports ~23.6 GiB usable
        results.append(
            CheckResult.of(
                "pass" if ok else "fail",
                "vram:gpu%d" % gpu["index"],
                "vram",
                format_size(total),
                ">= %s" % format_size(wanted),
                "GPU %d (%s) has %s" % (gpu["index"], gpu["name"], format_size(total)),
                "run on a GPU with at least %s, or lower min_vram" % format_size(wanted),
            )
        )
    return results


def check_driver_version(ctx: HostContext) -> list[CheckResult]:
    missing = _gpu_unavailable(ctx, "driver_version", "driver_version")
    if missing:
        return [missing]
    wanted = parse_version(ctx.params["min_driver_version"], "min_driver_version")
    have = ctx.gpu["driver_version"]
    ok = parse_version(have, "driver_version") >= wanted
    return [
        CheckResult.of(
            "pass" if ok else "fail",
            "driver_version",
            "driver_version",
            have,
            ">= %s" % version_text(wanted),
            "NVIDIA driver %s" % have,
            "upgrade the NVIDIA driver",
        )
    ]


def check_cuda_version(ctx: HostContext) -> list[CheckResult]:
    missing = _gpu_unavailable(ctx, "cuda_version", "cuda_version")
    if missing:
        return [missing]
    wanted = parse_version(ctx.params["min_cuda_version"], "min_cuda_version")
    have = ctx.gpu["cuda_driver_version"]
    ok = have is not None and parse_version(have, "cuda_driver_version") >= wanted
    return [
        CheckResult.of(
            "pass" if ok else "fail",
            "cuda_version",
            "cuda_version",
            have,
            ">= %s" % version_text(wanted),
            "the driver supports CUDA %s" % have,
            "upgrade the NVIDIA driver to one that supports CUDA %s" % version_text(wanted),
        )
    ]


def check_compute_capability(ctx: HostContext) -> list[CheckResult]:
    missing = _gpu_unavailable(ctx, "compute_capability", "compute_capability")
    if missing:
        return [missing]
    wanted = parse_version(ctx.params["min_compute_capability"], "min_compute_capability")
    results = []
    for gpu in ctx.gpu["gpus"]:
        have = gpu["compute_capability"]
        ok = have is not None and parse_version(have, "compute_capability") >= wanted
        results.append(
            CheckResult.of(
                "pass" if ok else "fail",
                "compute_capability:gpu%d" % gpu["index"],
                "compute_capability",
                have,
                ">= %s" % version_text(wanted),
                "GPU %d (%s) has compute capability %s" % (gpu["index"], gpu["name"], have),
                "use a newer GPU",
            )
        )
    return results


def load_model_sizes(params: dict[str, Any]) -> list[tuple[str, int]]:
    """(name, bytes) of the models a workflow set needs, from `models` and/or a JSON or YAML manifest."""
    models = list(params.get("models") or [])
    manifest = params.get("models_manifest")
    if manifest:
        with open(manifest, encoding="utf-8") as handle:
            text = handle.read()
        try:
            data = json.loads(text)
        except ValueError:
            import yaml  # pylint: disable=import-outside-toplevel

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                where = getattr(exc, "problem_mark", None)
                line = " at line %d" % (where.line + 1) if where is not None else ""
                raise UnitError("models_manifest %s: neither JSON nor YAML%s: %s" % (manifest, line, getattr(exc, "problem", exc))) from None
        if isinstance(data, dict):
            data = data.get("models", [])
        if not isinstance(data, list):
            raise UnitError("models_manifest %s: expected a list of models with name and size" % manifest)
        models.extend(data)
    sizes = []
    for index, model in enumerate(models):
        if not isinstance(model, dict) or "size" not in model:
            raise UnitError("models[%d]: each model needs a size (and a name), got %r" % (index, model))
        sizes.append((str(model.get("name", "model %d" % index)), parse_size(model["size"], "models[%d].size" % index)))
    return sizes


def check_vram_fit(ctx: HostContext) -> list[CheckResult]:
    sizes = load_model_sizes(ctx.params)
    if not sizes:
        return [CheckResult.skipped("vram_fit", "vram_fit", "no models given (models or models_manifest)")]
    missing = _gpu_unavailable(ctx, "vram_fit", "vram_fit")
    if missing:
        return [missing]
    index = int(ctx.params.get("vram_fit_gpu") or 0)
    gpus = {gpu["index"]: gpu for gpu in ctx.gpu["gpus"]}
    if index not in gpus:
        return [
            CheckResult.failed(
                "vram_fit",
                "vram_fit",
                None,
                "GPU %d" % index,
                "GPU %d does not exist on this host" % index,
                "set vram_fit_gpu to a GPU index of this host",
            )
        ]
    headroom = parse_size(ctx.params.get("vram_headroom") or 0, "vram_headroom")
    need = sum(size for _name, size in sizes) + headroom
    free = gpus[index]["memory_free"] or 0
    biggest = max(sizes, key=lambda item: item[1])
    return [
        CheckResult.of(
            "pass" if need <= free else "fail",
            "vram_fit",
            "vram_fit",
            "%s free on GPU %d" % (format_size(free), index),
            "%s (%d models + %s headroom)" % (format_size(need), len(sizes), format_size(headroom)),
            "models need %s, GPU %d has %s free; largest: %s (%s)" % (format_size(need), index, format_size(free), biggest[0], format_size(biggest[1])),
            "use a GPU with more free VRAM, free it from other processes, or run the models with --lowvram",
        )
    ]


TORCH_PROBE = "import json, torch; print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda}))"


def check_torch_cuda(ctx: HostContext) -> list[CheckResult]:
    python = ctx.params.get("torch_python")
    if not python:
        return [CheckResult.skipped("torch_cuda", "torch_cuda", "no torch_python given")]
    try:
        proc = subprocess.run([python, "-c", TORCH_PROBE], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [CheckResult.failed("torch_cuda", "torch_cuda", None, "PyTorch importable", "cannot run %s: %s" % (python, exc), "check torch_python")]
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [
            CheckResult.failed(
                "torch_cuda",
                "torch_cuda",
                None,
                "PyTorch importable",
                "%s cannot import torch: %s" % (python, last),
                "install PyTorch into that environment",
            )
        ]
    try:
        info = json.loads((proc.stdout.strip().splitlines() or [""])[-1])
        if not isinstance(info, dict) or not isinstance(info.get("torch"), str):
            raise ValueError("not an object with torch")
    except ValueError:
        out = (proc.stdout.strip().splitlines() or ["nothing"])[-1][:120]
        return [
            CheckResult.failed(
                "torch_cuda",
                "torch_cuda",
                out,
                "PyTorch's version as JSON",
                "%s printed %r, not the probe's JSON" % (python, out),
                "check torch_python",
            )
        ]
    torch_cuda = info.get("cuda")
    if not torch_cuda:
        return [
            CheckResult.failed(
                "torch_cuda",
                "torch_cuda",
                "torch %s (CPU build)" % info["torch"],
                "a CUDA build of PyTorch",
                "PyTorch %s in %s is a CPU-only build" % (info["torch"], python),
                "install PyTorch from the index that matches the driver's CUDA",
            )
        ]
    if not ctx.gpu["nvml_available"]:
        return [_gpu_unavailable(ctx, "torch_cuda", "torch_cuda") or CheckResult.skipped("torch_cuda", "torch_cuda", "no GPU facts")]
    driver_cuda = ctx.gpu["cuda_driver_version"]
    have = parse_version(driver_cuda, "cuda_driver_version")
    need = parse_version(torch_cuda, "torch.version.cuda")
    observed = "torch %s built for CUDA %s; driver supports CUDA %s" % (info["torch"], torch_cuda, driver_cuda)
    if have[0] < need[0]:
        status, message = "fail", "the driver's CUDA %s is older than the CUDA major version PyTorch needs (%s)" % (driver_cuda, torch_cuda)
    elif have[:2] < need[:2]:
        status, message = "warn", "CUDA minor-version compatibility only: driver %s, PyTorch %s (PTX JIT kernels may fail)" % (driver_cuda, torch_cuda)
    else:
        status, message = "pass", observed
    return [
        CheckResult.of(
            status,
            "torch_cuda",
            "torch_cuda",
            observed,
            "driver CUDA >= %s" % torch_cuda,
            message,
            "upgrade the driver or install a PyTorch built for CUDA <= %s" % driver_cuda,
        )
    ]


def writable_by(path: str, user: str) -> tuple[bool, str]:
    """Whether `user` may create files in directory `path` by the mode bits (and traverse its parents)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return False, "user %s does not exist" % user
    if entry.pw_uid == 0:
        return True, "root"
    groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}

    def allowed(info: os.stat_result, owner_bit: int, group_bit: int, other_bit: int) -> bool:
        if info.st_uid == entry.pw_uid:
            return info.st_mode & owner_bit == owner_bit
        if info.st_gid in groups:
            return info.st_mode & group_bit == group_bit
        return info.st_mode & other_bit == other_bit

    parent = os.path.dirname(os.path.abspath(path))
    while True:
        if not allowed(os.stat(parent), stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
            return False, "%s cannot traverse %s" % (user, parent)
        if parent == "/":
            break
        parent = os.path.dirname(parent)
    info = os.stat(path)
    if not allowed(info, stat.S_IWUSR | stat.S_IXUSR, stat.S_IWGRP | stat.S_IXGRP, stat.S_IWOTH | stat.S_IXOTH):
        return False, "%s is %s owned by %s:%s" % (path, stat.filemode(info.st_mode), info.st_uid, info.st_gid)
    return True, "writable"


def check_paths(ctx: HostContext) -> list[CheckResult]:
    results = []
    user = ctx.params.get("service_user") or "root"
    for path in ctx.params.get("paths") or []:
        name = "path:%s" % path
        if not os.path.isdir(path):
            results.append(
                CheckResult.failed(
                    name,
                    "paths",
                    "missing",
                    "a directory writable by %s" % user,
                    "%s does not exist" % path,
                    "create %s (the gpu_host role does)" % path,
                )
            )
            continue
        ok, why = writable_by(path, user)
        results.append(
            CheckResult.of(
                "pass" if ok else "fail",
                name,
                "paths",
                why,
                "writable by %s" % user,
                "%s is %swritable by %s" % (path, "" if ok else "not ", user),
                "chown or chmod %s for %s" % (path, user),
            )
        )
    return results


def _listener(port: int) -> Any:
    """(pid, process name, command line) of whoever listens on TCP `port`, through psutil; None when unknown."""
    try:
        import psutil  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                proc = psutil.Process(conn.pid)
                return conn.pid, proc.name(), " ".join(proc.cmdline())
            except psutil.Error:
                return conn.pid, "?", ""
    return None


def _port_in_use(port: int) -> bool:
    """Whether a socket listens on TCP `port`: read from /proc/net/tcp and tcp6 (state LISTEN), where there is a /proc.
    A bind test (the fallback) also failed for a minute after every stop, on the connections the stopped server left in
    TIME_WAIT, and shutdown.yml then reported "another process" where nothing listened."""
    tables = [path for path in ("/proc/net/tcp", "/proc/net/tcp6") if os.path.exists(path)]
    if tables:
        for path in tables:
            with open(path, encoding="ascii") as handle:
                for row in handle.readlines()[1:]:
                    fields = row.split()
                    if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        return False
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((address, port))
        except OSError as exc:
            if exc.errno in (98, 13):  # EADDRINUSE, EACCES
                return True
        finally:
            sock.close()
    return False


def check_ports(ctx: HostContext) -> list[CheckResult]:
    results = []
    ours = ctx.params.get("own_service_markers") or []
    for port in ctx.params.get("ports") or []:
        name = "port:%d" % port
        if not _port_in_use(port):
            results.append(CheckResult.passed(name, "ports", "free", "free or held by our service", "TCP port %d is free" % port))
            continue
        holder = _listener(port)
        if holder and any(marker in holder[2] or marker == holder[1] for marker in ours):
            results.append(
                CheckResult.passed(
                    name,
                    "ports",
                    "held by %s (pid %d)" % (holder[1], holder[0]),
                    "free or held by our service",
                    "TCP port %d is held by our own service" % port,
                )
            )
            continue
        who = "%s (pid %d)" % (holder[1], holder[0]) if holder else "another process"
        results.append(
            CheckResult.failed(
                name,
                "ports",
                "held by %s" % who,
                "free or held by our service",
                "TCP port %d is taken by %s" % (port, who),
                "stop that process or choose another port",
            )
        )
    return results


def _split_endpoint(text: str) -> tuple[str, int]:
    """(host, port) of 'host:port' or a URL, parsed by the one URL helper; UnitError naming the option otherwise."""
    text = str(text)
    if "://" in text:
        try:
            url = parse_url(text, "endpoints", schemes=("http", "https", "tcp"))
        except UrlError as exc:
            raise UnitError(str(exc)) from None
        return url.host, url.port or (443 if url.scheme == "https" else 80)
    host, _colon, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UnitError("endpoints: %r is not host:port (a port 1-65535) or a URL" % text)
    return host.strip("[]"), int(port)


def _probe_tcp(host: str, port: int, timeout: float) -> tuple[bool, float, str]:
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, time.monotonic() - started, ""
    except OSError as exc:
        return False, time.monotonic() - started, str(exc) or type(exc).__name__


def check_endpoints(ctx: HostContext) -> list[CheckResult]:
    endpoints = ctx.params.get("endpoints") or []
    if not endpoints:
        return []
    timeout = float(ctx.params.get("endpoint_timeout") or 5)
    targets = [(str(item), *_split_endpoint(item)) for item in endpoints]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(targets))) as pool:
        outcomes = list(pool.map(lambda t: _probe_tcp(t[1], t[2], timeout), targets))
    results = []
    for (label, _host, _port), (ok, seconds, error) in zip(targets, outcomes):
        results.append(
            CheckResult.of(
                "pass" if ok else "fail",
                "endpoint:%s" % label,
                "endpoints",
                "connected in %.0f ms" % (seconds * 1000) if ok else "unreachable after %.1f s: %s" % (seconds, error),
                "TCP connect within %.1f s" % timeout,
                "%s %s" % (label, "is reachable" if ok else "is unreachable (%s)" % error),
                "open the firewall or proxy to %s, or use a mirror" % label,
            )
        )
    return results


def check_dns(ctx: HostContext) -> list[CheckResult]:
    names = ctx.params.get("dns_names") or []
    if not names:
        return []

    def resolve(name: str) -> Any:
        try:
            infos = socket.getaddrinfo(name, None)
            return sorted({info[4][0] for info in infos}), ""
        except OSError as exc:
            return None, str(exc)

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
        answers = list(pool.map(resolve, names))
    return [
        CheckResult.of(
            "pass" if addresses else "fail",
            "dns:%s" % name,
            "dns",
            ", ".join(addresses) if addresses else error,
            "resolves",
            "%s resolves to %s" % (name, ", ".join(addresses)) if addresses else "%s does not resolve: %s" % (name, error),
            "fix /etc/resolv.conf or the DNS record",
        )
        for name, (addresses, error) in zip(names, answers)
    ]


def check_service_manager(ctx: HostContext) -> list[CheckResult]:
    mode = ctx.params.get("deployment_mode") or "systemd"
    if mode == "systemd":
        running = os.path.isdir("/run/systemd/system")
        return [
            CheckResult.of(
                "pass" if running else "fail",
                "service_manager",
                "service_manager",
                "systemd" if running else "no systemd",
                "systemd as the init system",
                "systemd manages this host" if running else "/run/systemd/system is missing: systemd is not PID 1",
                "boot the host with systemd, or use deployment_mode standalone",
            )
        ]
    if mode == "standalone":
        return [CheckResult.passed("service_manager", "service_manager", "standalone", "standalone", "no service manager needed (pidfile mode)")]
    factory = ctx._docker_client_factory
    if factory is None:
        try:
            import docker  # pylint: disable=import-outside-toplevel
        except ImportError:
            return [
                CheckResult.failed(
                    "service_manager",
                    "service_manager",
                    "no Docker SDK",
                    "Docker daemon with the nvidia runtime",
                    "the Python Docker SDK is not installed",
                    "install python3-docker or the docker package",
                )
            ]
        factory = docker.from_env
    try:
        info = factory().info()
    except Exception as exc:
        return [
            CheckResult.failed(
                "service_manager",
                "service_manager",
                "unreachable",
                "Docker daemon with the nvidia runtime",
                "the Docker daemon does not answer: %s" % exc,
                "start docker",
            )
        ]
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    ok = "nvidia" in runtimes
    return [
        CheckResult.of(
            "pass" if ok else "fail",
            "service_manager",
            "service_manager",
            "runtimes: %s" % ", ".join(runtimes),
            "nvidia runtime registered",
            "Docker %s answers; runtimes: %s" % (info.get("ServerVersion"), ", ".join(runtimes)),
            "install nvidia-container-toolkit and register its runtime (the gpu_host role does)",
        )
    ]


TIMESYNC_MARKER = "/run/systemd/timesync/synchronized"  # systemd-timesyncd touches it once synchronised


def check_clock(ctx: HostContext) -> list[CheckResult]:
    try:
        proc = subprocess.run(["timedatectl", "show", "--property=NTPSynchronized", "--value"], capture_output=True, text=True, timeout=10, check=False)
        answer = proc.stdout.strip() if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        answer = None
    if answer is None:
        if os.path.exists(TIMESYNC_MARKER):
            answer = "yes"
        else:
            return [
                CheckResult.warned(
                    "clock",
                    "clock",
                    "unknown",
                    "synchronised",
                    "cannot tell whether the clock is synchronised (no timedatectl answer)",
                    "run systemd-timesyncd or chrony",
                )
            ]
    ok = answer == "yes"
    return [
        CheckResult.of(
            "pass" if ok else "fail",
            "clock",
            "clock",
            "NTPSynchronized=%s" % answer,
            "NTPSynchronized=yes",
            "the clock is %ssynchronised" % ("" if ok else "not "),
            "enable systemd-timesyncd or chrony",
        )
    ]


def check_open_files(ctx: HostContext) -> list[CheckResult]:
    wanted = int(ctx.params["min_open_files"])
    unit = ctx.params.get("service_unit")
    source = "this process"
    soft = None
    if unit:
        try:
            proc = subprocess.run(["systemctl", "show", "--property=LimitNOFILESoft", "--value", unit], capture_output=True, text=True, timeout=10, check=False)
            value = proc.stdout.strip()
            if proc.returncode == 0 and value:
                soft = 2**63 if value == "infinity" else int(value)
                source = "unit %s" % unit
        except (OSError, subprocess.TimeoutExpired, ValueError):
            soft = None
    if soft is None:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        soft = 2**63 if soft == resource.RLIM_INFINITY else soft
    ok = soft >= wanted
    return [
        CheckResult.of(
            "pass" if ok else "fail",
            "open_files",
            "open_files",
            soft,
            ">= %d" % wanted,
            "open-files limit of %s is %d" % (source, soft),
            "raise LimitNOFILE for the service (the gpu_host role sets it)",
        )
    ]


CHECKS = {name: globals()["check_" + name] for name in ALL_CHECKS}


def run_checks(
    params: dict[str, Any], checks: list[str] | None = None, severity: dict[str, str] | None = None, nvml: Any = None, docker_client_factory: Any = None
) -> dict[str, Any]:
    """Run the named checks (all by default) and return {"checks": [...], "summary": {...}}.

    A threshold that is garbage raises UnitError before any check runs, so that nothing is half-reported.
    """
    merged = dict(DEFAULTS)
    merged.update({key: value for key, value in params.items() if value is not None})
    names = list(checks or ALL_CHECKS)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise UnitError("checks: unknown check(s) %s; known: %s" % (", ".join(unknown), ", ".join(ALL_CHECKS)))
    severity = severity or {}
    for name, level in severity.items():
        if name not in CHECKS:
            raise UnitError("severity: unknown check %r; known: %s" % (name, ", ".join(ALL_CHECKS)))
        if level not in ("fail", "warn", "skip"):
            raise UnitError("severity.%s: expected fail, warn or skip, got %r" % (name, level))
    _validate_thresholds(merged)
    ctx = HostContext(merged, nvml=nvml, docker_client_factory=docker_client_factory)
    results = []
    for name in names:
        level = severity.get(name, "fail")
        if level == "skip":
            results.append(CheckResult.skipped(name, name, "skipped by severity").to_dict())
            continue
        for item in CHECKS[name](ctx):
            lowered = item.lowered("warn", " (severity lowered to warn)") if item.status == "fail" and level == "warn" else item
            results.append(lowered.to_dict())
    return {"checks": results, "summary": summarize(results), "gpu": ctx._gpu}


def _validate_thresholds(params: dict[str, Any]) -> None:
    for key in ("min_ram", "min_vram", "vram_headroom"):
        if params.get(key) is not None:
            parse_size(params[key], key)
    for key in ("min_driver_version", "min_cuda_version", "min_compute_capability"):
        parse_version(params[key], key)
    for index, item in enumerate(params.get("disk") or []):
        if not isinstance(item, dict) or "path" not in item:
            raise UnitError("disk[%d]: each entry needs a path (and min_free), got %r" % (index, item))
        parse_size(item.get("min_free", 0), "disk[%d].min_free" % index)
    for item in params.get("endpoints") or []:
        _split_endpoint(item)
    for port in params.get("ports") or []:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise UnitError("ports: %r is not a TCP port (1-65535)" % (port,))
    for key in ("endpoint_timeout",):
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600):
            raise UnitError("%s: seconds, more than 0 and at most 3600, got %r" % (key, value))
    for key in ("min_cpu_cores", "min_gpus", "min_open_files"):
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63):
            raise UnitError("%s: a count from 0, got %r" % (key, value))
    load_model_sizes(params)


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {status: sum(1 for item in results if item["status"] == status) for status in ("pass", "warn", "fail", "skip")}
    overall = "fail" if counts["fail"] else "warn" if counts["warn"] else "pass"
    return dict(
        counts,
        status=overall,
        failed=[item["name"] for item in results if item["status"] == "fail"],
        warned=[item["name"] for item in results if item["status"] == "warn"],
    )
