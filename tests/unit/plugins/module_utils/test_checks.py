"""host_validate's checks, each with its pass and fail path, on this real host and fake GPUs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _checks
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError
from conftest import blackhole
from nvml_profiles import fake_nvml

ONLY_HOST = {"min_cpu_cores": 1, "min_ram": "1GB", "disk": [{"path": "/", "min_free": "1MB"}]}


def run(checks, nvml=None, severity=None, **params):
    return _checks.run_checks(params, checks=checks, severity=severity, nvml=nvml)


def by_name(report):
    return {item["name"]: item for item in report["checks"]}


def test_host_checks_pass_and_fail_on_thresholds():
    ok = run(["cpu_cores", "ram", "disk"], **ONLY_HOST)
    assert ok["summary"]["status"] == "pass"
    bad = run(["cpu_cores", "ram", "disk"], min_cpu_cores=4096, min_ram="64TB", disk=[{"path": "/", "min_free": "1PB"}])
    results = by_name(bad)
    assert {results[n]["status"] for n in ("cpu_cores", "ram", "disk:/")} == {"fail"}
    assert bad["summary"]["failed"] == ["cpu_cores", "ram", "disk:/"]
    assert results["ram"]["remedy"] and results["ram"]["observed"].endswith("GiB")


def test_disk_path_not_made_yet_is_measured_on_parent(tmp_path):
    report = run(["disk"], disk=[{"path": str(tmp_path / "later" / "deeper"), "min_free": "1MB"}])
    assert report["checks"][0]["status"] == "pass"


def test_h200_passes_every_gpu_check_and_a_t4_fails_vram():
    h200 = run(["gpu_count", "vram", "driver_version", "cuda_version", "compute_capability"], nvml=fake_nvml("h200"))
    assert h200["summary"]["status"] == "pass", h200["checks"]
    a10 = run(["vram"], nvml=fake_nvml("a10"))
    assert a10["summary"]["status"] == "pass", "a 24 GB card reports ~22.5 GiB and still counts as 24 GB"
    t4 = run(["vram", "compute_capability"], nvml=fake_nvml("t4"))
    vram = by_name(t4)["vram:gpu0"]
    assert vram["status"] == "fail" and vram["observed"] == "15.0 GiB" and "Tesla T4" in vram["message"]
    assert by_name(t4)["compute_capability:gpu0"]["status"] == "pass"


def test_old_driver_and_cuda_fail():
    report = run(["driver_version", "cuda_version"], nvml=fake_nvml("t4", driver="470.82.01", cuda=11040))
    assert report["summary"]["failed"] == ["driver_version", "cuda_version"]
    assert by_name(report)["cuda_version"]["observed"] == "11.4"


def test_no_driver_fails_gpu_checks_unless_lowered(no_driver_nvml):
    report = run(list(_checks.GPU_CHECKS), nvml=no_driver_nvml, models=[{"name": "m", "size": "1GB"}])
    assert report["summary"]["status"] == "fail"
    assert "NVMLError_LibraryNotFound" in by_name(report)["gpu_count"]["message"]
    lowered = run(list(_checks.GPU_CHECKS), nvml=no_driver_nvml, severity={name: "warn" for name in _checks.GPU_CHECKS}, models=[{"name": "m", "size": "1GB"}])
    assert lowered["summary"]["fail"] == 0 and lowered["summary"]["warn"] == len(_checks.GPU_CHECKS)
    skipped = run(["gpu_count"], severity={"gpu_count": "skip"})
    assert skipped["checks"][0]["status"] == "skip"


def test_vram_fit_from_list_and_manifest(tmp_path):
    fits = run(["vram_fit"], nvml=fake_nvml("h200"), models=[{"name": "flux1-dev", "size": "23.8GB"}, {"name": "t5xxl", "size": "9.8GB"}])
    assert fits["checks"][0]["status"] == "pass"
    manifest = tmp_path / "models.json"
    manifest.write_text(json.dumps({"models": [{"name": "flux1-dev", "size": "23.8GB"}]}))
    too_big = run(["vram_fit"], nvml=fake_nvml("a10"), models_manifest=str(manifest), vram_headroom="2GiB")
    item = too_big["checks"][0]
    assert item["status"] == "fail" and "flux1-dev" in item["message"]
    yaml_manifest = tmp_path / "models.yml"
    yaml_manifest.write_text("- name: sd15\n  size: 2GB\n")
    assert run(["vram_fit"], nvml=fake_nvml("t4"), models_manifest=str(yaml_manifest))["checks"][0]["status"] == "pass"
    missing_gpu = run(["vram_fit"], nvml=fake_nvml("t4"), models=[{"size": "1GB"}], vram_fit_gpu=3)
    assert "GPU 3 does not exist" in missing_gpu["checks"][0]["message"]
    assert run(["vram_fit"])["checks"][0]["status"] == "skip"


def fake_torch(tmp_path, cuda):
    script = tmp_path / "python"
    script.write_text(f"#!{sys.executable}\nimport json\nprint(json.dumps({{'torch': '2.5.1', 'cuda': {cuda!r}}}))\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    ("torch_cuda", "driver_cuda", "status"), [("12.4", 12080, "pass"), ("12.8", 12040, "warn"), ("12.4", 11080, "fail"), (None, 12080, "fail")]
)
def test_torch_cuda_against_driver(tmp_path, torch_cuda, driver_cuda, status):
    report = run(["torch_cuda"], nvml=fake_nvml("h200", cuda=driver_cuda), torch_python=fake_torch(tmp_path, torch_cuda))
    assert report["checks"][0]["status"] == status, report["checks"][0]


def test_torch_cuda_interpreter_without_torch():
    report = run(["torch_cuda"], nvml=fake_nvml("h200"), torch_python=sys.executable)
    assert report["checks"][0]["status"] == "fail" and "cannot import torch" in report["checks"][0]["message"]


@pytest.fixture
def open_tree():
    base = tempfile.mkdtemp(dir="/var/tmp")
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base)


def test_paths_exist_and_are_writable_by_the_service_user(open_tree, tmp_path):
    open_dir = os.path.join(open_tree, "open")
    closed = os.path.join(open_tree, "closed")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    os.mkdir(closed)
    os.chmod(closed, 0o755)
    missing = os.path.join(open_tree, "missing")
    report = by_name(run(["paths"], paths=[open_dir, closed, missing], service_user="nobody"))
    assert report[f"path:{open_dir}"]["status"] == "pass"
    assert report[f"path:{closed}"]["status"] == "fail" and "drwxr-xr-x" in report[f"path:{closed}"]["observed"]
    assert report[f"path:{missing}"]["observed"] == "missing"
    hidden = tmp_path / "hidden"  # under pytest's 0700 directory: writable, but not reachable for nobody
    hidden.mkdir()
    hidden.chmod(0o777)
    blocked = run(["paths"], paths=[str(hidden)], service_user="nobody")["checks"][0]
    assert blocked["status"] == "fail" and "cannot traverse" in blocked["observed"]
    assert run(["paths"], paths=[str(hidden)], service_user="root")["checks"][0]["status"] == "pass"
    unknown_user = run(["paths"], paths=[open_dir], service_user="no-such-user-xyz")
    assert "does not exist" in unknown_user["checks"][0]["observed"]


def test_ports_free_taken_and_ours():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        report = by_name(run(["ports"], ports=[taken, free]))
        assert report[f"port:{taken}"]["status"] == "fail" and "pid %d" % os.getpid() in report[f"port:{taken}"]["observed"]
        assert report[f"port:{free}"]["status"] == "pass"
        # this process's own command line marks the listener as ours (under pytest-xdist a worker's has no "pytest")
        marker = open("/proc/self/cmdline", "rb").read().split(b"\0")[0].decode()
        ours = by_name(run(["ports"], ports=[taken], own_service_markers=[marker]))
        assert ours[f"port:{taken}"]["status"] == "pass"


def test_endpoints_concurrent_with_per_endpoint_timeouts():
    server, fillers, port = blackhole()
    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            good = listener.getsockname()[1]
            started = time.monotonic()
            report = run(["endpoints"], endpoints=[f"127.0.0.1:{port}"] * 5 + [f"http://127.0.0.1:{good}/simple"], endpoint_timeout=1.0)
            elapsed = time.monotonic() - started
    finally:
        for sock in fillers:
            sock.close()
        server.close()
    statuses = [item["status"] for item in report["checks"]]
    assert statuses == ["fail"] * 5 + ["pass"]
    assert "timed out" in report["checks"][0]["observed"]
    assert elapsed < 2.5, "five 1 s timeouts ran concurrently"


def test_dns():
    report = by_name(run(["dns"], dns_names=["localhost", "no-such-host.invalid"]))
    assert report["dns:localhost"]["status"] == "pass"
    assert report["dns:no-such-host.invalid"]["status"] == "fail"


class FakeDocker:
    def __init__(self, runtimes=None, error=None):
        self.runtimes, self.error = runtimes, error

    def info(self):
        if self.error:
            raise self.error
        return {"ServerVersion": "28.2.2", "Runtimes": self.runtimes}


def test_service_manager_modes():
    systemd = run(["service_manager"])["checks"][0]
    assert systemd["status"] == ("pass" if os.path.isdir("/run/systemd/system") else "fail")
    assert run(["service_manager"], deployment_mode="standalone")["checks"][0]["status"] == "pass"
    with_nvidia = _checks.run_checks({"deployment_mode": "docker"}, ["service_manager"], docker_client_factory=lambda: FakeDocker({"runc": {}, "nvidia": {}}))
    assert with_nvidia["checks"][0]["status"] == "pass"
    without = _checks.run_checks({"deployment_mode": "docker"}, ["service_manager"], docker_client_factory=lambda: FakeDocker({"runc": {}}))
    assert without["checks"][0]["status"] == "fail" and "runc" in without["checks"][0]["observed"]
    down = _checks.run_checks(
        {"deployment_mode": "docker"}, ["service_manager"], docker_client_factory=lambda: FakeDocker(error=ConnectionError("socket missing"))
    )
    assert "does not answer" in down["checks"][0]["message"]


@pytest.mark.parametrize(
    ("timedatectl", "marker", "status", "observed"),
    [
        ("echo yes", False, "pass", "NTPSynchronized=yes"),
        ("echo no", False, "fail", "NTPSynchronized=no"),
        ("exit 1", True, "pass", "NTPSynchronized=yes"),  # no answer, but timesyncd's marker says synchronised
        ("exit 1", False, "warn", "unknown"),
        (None, False, "warn", "unknown"),  # no timedatectl at all
    ],
)
def test_clock_verdict_from_a_controlled_clock(tmp_path, monkeypatch, timedatectl, marker, status, observed):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if timedatectl:
        tool = bin_dir / "timedatectl"
        tool.write_text("#!/bin/sh\n%s\n" % timedatectl)
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(_checks, "TIMESYNC_MARKER", str(tmp_path / ("synchronized" if marker else "absent")))
    (tmp_path / "synchronized").touch()
    clock = run(["clock"])["checks"][0]
    assert (clock["status"], clock["observed"]) == (status, observed)


def test_open_files():
    assert run(["open_files"], min_open_files=1)["checks"][0]["status"] == "pass"
    assert run(["open_files"], min_open_files=2**62)["checks"][0]["status"] == "fail"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_ram": "lots"}, "min_ram: expected a size"),
        ({"min_cuda_version": "twelve"}, "min_cuda_version: expected a dotted version"),
        ({"disk": [{"path": "/", "min_free": "big"}]}, r"disk\[0\].min_free"),
        ({"endpoints": ["no-port"]}, "endpoints: 'no-port' is not host:port"),
        ({"models": [{"name": "x"}]}, r"models\[0\]: each model needs a size"),
    ],
)
def test_garbage_thresholds_are_refused_before_any_check(params, message):
    with pytest.raises(UnitError, match=message):
        _checks.run_checks(params, ["cpu_cores"])


def test_unknown_check_and_severity():
    with pytest.raises(UnitError, match="unknown check"):
        _checks.run_checks({}, ["nope"])
    with pytest.raises(UnitError, match=r"severity\.ram: expected fail, warn or skip"):
        _checks.run_checks({}, ["ram"], severity={"ram": "ignore"})


def test_a_port_whose_server_just_stopped_is_free_and_a_listening_one_is_not():
    """shutdown.yml's last check: connections left in TIME_WAIT by a server just stopped are not a listener (the bind
    test without SO_REUSEADDR called the port "taken by another process" for a minute after every stop)."""
    from ansible_collections.comfyops.comfyui.plugins.module_utils._checks import _port_in_use

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert _port_in_use(port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _peer = server.accept()
    accepted.close()  # the server side closes first: its end of the connection waits in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    with open("/proc/net/tcp", encoding="ascii") as table:
        states = [row.split()[3] for row in table.readlines()[1:] if int(row.split()[1].rsplit(":", 1)[1], 16) == port]
    assert "06" in states, "a TIME_WAIT on the port, as after a server stops (%s)" % states
    assert not _port_in_use(port)
