"""comfyui_health's checks, each pass and fail path driven by the simulator's knobs, over real HTTP."""

from __future__ import annotations

import datetime
import errno
import functools
import http.server
import json
import os
import subprocess
import threading
import time

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _gpu, _health
from ansible_collections.comfyops.comfyui.plugins.module_utils._gpu import collect
from conftest import free_port, wait_until
from nvml_profiles import fake_nvml

CORE = list(_health.CORE_CHECKS)


def health(sim, checks=None, gpu_facts=None, **params):
    instance = {"name": "main", "url": sim.url if hasattr(sim, "url") else sim}
    params.setdefault("output_dir", str(sim.base / "output") if hasattr(sim, "base") else None)
    return _health.run_health([instance], params, checks or CORE, gpu_facts=gpu_facts)


def by_name(report):
    return {item["name"]: item for item in report["instances"][0]["checks"]}


def test_healthy_simulator(simulator, sim_base):
    report = health(simulator)
    checks = by_name(report)
    assert report["state"] == "healthy", checks
    assert checks["api"]["status"] == checks["queue"]["status"] == checks["workflow"]["status"] == "pass"
    assert checks["service"]["status"] == "skip" and checks["gpu"]["status"] == "skip"
    assert list((sim_base / "output").rglob("*.png")) == [], "the smoke output is removed after it was checked"
    again = health(simulator, keep_smoke_output=True)
    assert again["state"] == "healthy"
    assert len(list((sim_base / "output" / "comfyops-health").glob("main_*.png"))) == 1, "a second run really ran (no cache hit)"


def write_pidfile(sim, tmp_path):
    pidfile = tmp_path / "comfyui.pid"
    pidfile.write_text(str(sim.proc.pid))
    return str(pidfile)


def test_slow_start_is_starting_then_healthy(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_START_DELAY": "2"}, wait=False)
    params = {"service_manager": "standalone", "pidfile": write_pidfile(sim, tmp_path), "startup_budget": 30}
    early = health(sim, **params)
    assert early["state"] == "starting", by_name(early)
    assert by_name(early)["api"]["status"] == "starting"
    assert by_name(early)["workflow"]["status"] == "skip"
    sim.wait_ready()
    assert health(sim, **params)["state"] == "healthy"


def test_outside_the_budget_a_silent_api_has_failed(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_START_DELAY": "30"}, wait=False)
    sim.wait_log("simulated slow start")
    pidfile = write_pidfile(sim, tmp_path)
    # the process has lived past its budget: wait for that (uptime from /proc), do not guess it with a sleep
    wait_until(lambda: _health.process_info({"service_manager": "standalone", "pidfile": pidfile}).uptime > 0.5, 10, "0.5 s of uptime")
    report = health(sim, service_manager="standalone", pidfile=pidfile, startup_budget=0.5)
    assert report["state"] == "failed" and by_name(report)["api"]["status"] == "fail"


class _FakeContainers:
    """docker.from_env().containers with one container whose attrs have the shape Docker's inspect gives."""

    def __init__(self, started_at, running=True, restarting=False):
        status = "restarting" if restarting else "running" if running else "exited"
        state = {"Running": running, "Restarting": restarting, "Status": status, "StartedAt": started_at}
        self.attrs = {"State": state, "RestartCount": 3 if restarting else 0}

    def get(self, name):
        assert name == "comfyui-main"
        return self


def _docker_stamp(seconds_ago):
    # Docker writes nanoseconds: 2026-12-05T23:10:01.123456789Z
    when = datetime.datetime.fromtimestamp(time.time() - seconds_ago, datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "789Z"


def test_docker_start_time_parses_nanoseconds_and_offsets():
    now = datetime.datetime(2026, 12, 5, 23, 10, 11, tzinfo=datetime.UTC).timestamp()
    assert _health._docker_uptime("2026-12-05T23:10:01.123456789Z", now) == pytest.approx(9.876543, abs=1e-5)
    assert _health._docker_uptime("2026-12-05T23:10:01Z", now) == 10
    assert _health._docker_uptime("2026-12-06T00:10:01.5+01:00", now) == pytest.approx(9.5)
    assert _health._docker_uptime("0001-01-01T00:00:00Z", now) is None  # never started
    assert _health._docker_uptime("yesterday", now) is None


@pytest.mark.parametrize(
    ("seconds_ago", "running", "restarting", "state"),
    [(1, True, False, "starting"), (100, True, False, "failed"), (1, False, False, "failed"), (1, True, True, "failed")],
    ids=["up-1s", "up-past-budget", "exited", "crash-looping"],
)
def test_a_container_within_its_budget_is_starting(monkeypatch, seconds_ago, running, restarting, state):
    """A container that runs but does not answer yet is starting inside the start-up budget; past it, stopped, or
    waiting to be restarted after a crash (Docker says Running and Restarting), it has failed."""
    fake = _FakeContainers(_docker_stamp(seconds_ago), running, restarting)
    monkeypatch.setattr(_health, "_container_process", functools.partial(_health._container_process, factory=type("C", (), {"containers": fake})))
    url = "http://127.0.0.1:%d" % free_port()  # nothing listens: connection refused
    report = health(url, service_manager="docker", container="comfyui-main", startup_budget=30)
    assert report["state"] == state, by_name(report)
    assert by_name(report)["api"]["status"] == ("starting" if state == "starting" else "fail")


def test_crash_is_failed(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_CRASH_AT_START": "1"}, wait=False)
    sim.proc.wait(10)
    report = health(sim, service_manager="standalone", pidfile=write_pidfile(sim, tmp_path), startup_budget=300)
    checks = by_name(report)
    assert report["state"] == "failed"
    assert checks["service"]["status"] == "fail" and checks["api"]["status"] == "fail"


def test_failing_executions(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_FAIL_EXECUTIONS": "SaveImage"})
    report = health(sim)
    workflow = by_name(report)["workflow"]
    assert report["state"] == "failed" and workflow["status"] == "fail"
    assert "SaveImage" in workflow["message"] and "Simulated execution failure" in workflow["message"]


def test_missing_model(simulator, sim_base):
    (sim_base / "models/checkpoints/present.safetensors").write_bytes(b"x")
    ok = health(simulator, ["api", "models"], required_models=["checkpoints/present.safetensors"])
    assert ok["state"] == "healthy"
    bad = health(simulator, ["api", "models"], required_models=["checkpoints/present.safetensors", "loras/gone.safetensors", "nofolder/x"])
    assert by_name(bad)["models"]["observed"] == "missing: loras/gone.safetensors, nofolder/x"


def test_missing_custom_node(start_simulator, sim_base):
    broken = sim_base / "custom_nodes" / "broken_pack"
    broken.mkdir()
    (broken / "__init__.py").write_text("import no_such_dependency_xyz\n")
    sim = start_simulator("--cpu")
    report = health(sim, ["api", "custom_nodes"], required_node_classes=["EmptyImage", "BrokenNode"])
    assert report["state"] == "failed" and by_name(report)["custom_nodes"]["observed"] == "missing: BrokenNode"


def test_stuck_queue(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_NODE_SECONDS": '{"ImageBlur": 4}'})
    sim.post(
        "/prompt",
        {
            "prompt": {
                "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 1}},
                "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 1, "sigma": 1.0}},
                "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
            }
        },
    )
    # the prompt runs (4 s of blur): wait until the queue says so and it is older than the limit
    wait_until(lambda: sim.get("/queue").json()["queue_running"], 10, "the prompt to run")

    def stuck():
        report = health(sim, ["api", "queue"], max_running_age=0.5)
        return report if by_name(report)["queue"]["status"] == "fail" else None

    report = wait_until(stuck, 3, "a stuck queue")
    assert "stuck" in by_name(report)["queue"]["message"]
    deep = health(sim, ["api", "queue"], max_queue_pending=-1)
    assert by_name(deep)["queue"]["status"] == "warn" and deep["state"] == "degraded"


def test_hang_caught_by_the_timeout(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_HANG": "1"}, wait=False)
    sim.wait_log("simulated hang")
    started = time.monotonic()
    report = health(sim, timeout=1)
    assert time.monotonic() - started < 5
    assert report["state"] == "failed" and "no answer within" in by_name(report)["api"]["message"]


def test_wrong_version_and_slow_api(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_VERSION": "0.7.0"})
    report = health(sim, ["api"], expected_version="0.8.0")
    assert by_name(report)["api"]["observed"] == "version 0.7.0" and report["state"] == "failed"
    slow = health(sim, ["api"], max_latency=0.0)
    assert slow["state"] == "degraded"


def test_workflow_timeout(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_DEFAULT_NODE_SECONDS": "1"})
    report = health(sim, ["api", "workflow"], workflow_timeout=0.5)
    workflow = by_name(report)["workflow"]
    assert workflow["status"] == "fail" and workflow["observed"] == "timeout"


@pytest.mark.parametrize(
    ("profile", "status"),
    [("h200", "pass"), ("a100_ecc", "fail"), ("t4", "pass")],
)
def test_gpu_from_nvml(simulator, profile, status):
    facts = collect(fake_nvml(profile))
    report = _health.run_health([{"name": "main", "url": simulator.url}], {}, ["gpu"], gpu_facts=facts)
    assert by_name(report)["gpu"]["status"] == status, by_name(report)["gpu"]


def test_gpu_throttling_and_low_vram_warn(simulator):
    facts = collect(fake_nvml("a10"))
    facts["gpus"][0]["throttle_harmful"] = ["sw_thermal_slowdown"]
    report = _health.run_health([{"name": "main", "url": simulator.url}], {"min_vram_free": "40GiB"}, ["gpu"], gpu_facts=facts)
    gpu = by_name(report)["gpu"]
    assert gpu["status"] == "warn" and "throttled" in gpu["observed"] and "VRAM free" in gpu["observed"]


def test_server_device_figures(start_simulator):
    gpus = json.dumps([{"name": "NVIDIA A10", "vram_total": "24GiB"}])
    sim = start_simulator(env={"COMFYUI_SIM_GPUS": gpus, "COMFYUI_SIM_LOW_VRAM_FREE": "100MiB"})
    report = health(sim, ["api", "gpu"])
    assert by_name(report)["gpu:server"]["status"] == "warn"


def test_no_gpu_required_fails(simulator, no_driver_nvml):
    report = health(simulator, ["gpu"], gpu_facts=_gpu.collect(no_driver_nvml), require_gpu=True)
    assert by_name(report)["gpu"]["status"] == "fail" and "NVMLError_LibraryNotFound" in by_name(report)["gpu"]["message"]


def test_system_thresholds(simulator, tmp_path):
    assert health(simulator, ["system"], disk_paths=[str(tmp_path)], min_disk_free="1MB")["state"] == "healthy"
    bad = health(simulator, ["system"], min_mem_available="100TB", disk_paths=[str(tmp_path)], min_disk_free="1PB")
    observed = by_name(bad)["system"]["observed"]
    assert "memory available" in observed and f"free on {tmp_path}" in observed


def test_restart_loop_seen_against_history(simulator, monkeypatch, tmp_path):
    counts = iter([3, 9, 9])
    monkeypatch.setattr(_health, "process_info", lambda params: _health.ProcessInfo(True, 50.0, next(counts), "comfyui.service (active/running)"))
    params = {"service_manager": "systemd", "unit": "comfyui.service"}

    def run():
        return _health.run_health([{"name": "main", "url": simulator.url}], params, ["service"], history_dir=str(tmp_path))

    assert by_name(run())["service"]["status"] == "pass"
    looping = by_name(run())["service"]
    assert looping["status"] == "fail" and looping["observed"] == "6 restarts since the last check"
    assert by_name(run())["service"]["status"] == "pass", "no new restarts since"


def test_history_trend_and_bounds(start_simulator, tmp_path):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_VERSION": "0.1.0"})
    history = tmp_path / "history"
    for _index in range(3):
        report = _health.run_health([{"name": "main", "url": sim.url}], {"expected_version": "0.8.0"}, ["api"], history_dir=str(history), history_max=2)
    trend = report["instances"][0]["trend"]
    assert trend["failure_streak"] == 2, "the history keeps 2 records, both failed"
    lines = (history / "main.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["state"] == "failed" for line in lines)
    assert trend["latency_p50"] is not None and trend["latency_p95"] >= trend["latency_p50"]
    with open(history / "main.jsonl", "a") as handle:
        handle.write('{"torn": ')
    healthy = _health.run_health([{"name": "main", "url": sim.url}], {}, ["api"], history_dir=str(history), history_max=2)
    assert healthy["instances"][0]["trend"]["failure_streak"] == 0


def test_a_history_that_cannot_be_written_is_a_warning_in_a_whole_report(simulator, tmp_path, monkeypatch):
    """Issue 26: before, a full disk under the history directory lost the whole report ("No space left on device")."""
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the history directory should be\n")
    report = _health.run_health([{"name": "main", "url": simulator.url}], {}, ["api", "queue"], history_dir=str(blocked), textfile_dir=str(blocked))
    (instance,) = report["instances"]
    assert report["state"] == "healthy" and instance["state"] == "healthy", "the instance's state is its checks'"
    checks = {item["name"]: item for item in instance["checks"]}
    assert checks["api"]["status"] == "pass" and checks["queue"]["status"] == "pass", "the checks that ran are all there"
    history = [item for item in instance["checks"] if item["name"] == "history"]
    assert [item["status"] for item in history] == ["warn", "warn", "warn"]
    assert "could not read the history %s/main.jsonl: Not a directory" % blocked in history[0]["message"]
    assert "could not write the history %s/main.jsonl" % blocked in history[1]["message"]
    assert "could not write the metrics %s/comfyui_health_main.prom" % blocked in history[2]["message"]

    def full_disk(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_health, "append_bounded_lines", full_disk)
    report = _health.run_health([{"name": "main", "url": simulator.url}], {}, ["api"], history_dir=str(tmp_path / "history"))
    (warning,) = [item for item in report["instances"][0]["checks"] if item["name"] == "history"]
    assert warning["status"] == "warn" and "No space left on device" in warning["message"]
    assert report["instances"][0]["trend"]["runs"] == 1, "the trend still counts this run"


def test_textfile_metrics_written_atomically(simulator, tmp_path):
    textfiles = tmp_path / "textfile"
    health_report = _health.run_health([{"name": "main", "url": simulator.url}], {}, ["api", "queue"], textfile_dir=str(textfiles))
    assert health_report["state"] == "healthy"
    files = sorted(p.name for p in textfiles.iterdir())
    assert files == ["comfyui_health_main.prom"], "no temporary file is left behind"
    text = (textfiles / files[0]).read_text()
    assert 'comfyui_health_state{instance="main",state="healthy"} 1' in text
    assert 'comfyui_health_check_ok{instance="main",check="api"} 1' in text
    assert "comfyui_health_api_latency_seconds{" in text


def test_several_instances_worst_state_wins(start_simulator, sim_base, tmp_path):
    good = start_simulator("--cpu")
    bad_base = tmp_path / "second"
    (bad_base / "output").mkdir(parents=True)
    (bad_base / "custom_nodes").mkdir()  # ComfyUI will not start without it
    bad = start_simulator("--cpu", env={"COMFYUI_SIM_FAIL_EXECUTIONS": "all"}, base=bad_base)
    report = _health.run_health(
        [{"name": "gpu0", "url": good.url, "output_dir": str(sim_base / "output")}, {"name": "gpu1", "url": bad.url}],
        {},
        ["api", "workflow"],
    )
    assert [i["state"] for i in report["instances"]] == ["healthy", "failed"] and report["state"] == "failed"


def test_redis_check_against_a_real_redis(simulator, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        report = None
        while time.monotonic() < deadline:
            report = _health.run_health([{"name": "main", "url": simulator.url}], {"redis": f"127.0.0.1:{port}", "timeout": 1}, ["redis"])
            if by_name(report)["redis"]["status"] == "pass":
                break
            time.sleep(0.1)  # poll
        assert by_name(report)["redis"]["observed"] == "+PONG"
    finally:
        server.terminate()
        server.wait(10)
    down = _health.run_health([{"name": "main", "url": simulator.url}], {"redis": f"127.0.0.1:{port}", "timeout": 1}, ["redis"])
    assert by_name(down)["redis"]["status"] == "fail"


class _Ready(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/-/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_prometheus_and_alertmanager_readiness(simulator):
    """The /-/ready contract of Prometheus and Alertmanager, served on loopback; the real servers are
    exercised by the monitoring stack's scenario."""
    ready = http.server.HTTPServer(("127.0.0.1", 0), type("Ready", (_Ready,), {"status": 200}))
    unready = http.server.HTTPServer(("127.0.0.1", 0), type("Unready", (_Ready,), {"status": 503}))
    for server in (ready, unready):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        params = {"prometheus_url": f"http://127.0.0.1:{ready.server_port}", "alertmanager_url": f"http://127.0.0.1:{unready.server_port}"}
        report = _health.run_health([{"name": "main", "url": simulator.url}], params, ["prometheus", "alertmanager"])
        assert by_name(report)["prometheus"]["status"] == "pass"
        assert by_name(report)["alertmanager"]["status"] == "fail" and by_name(report)["alertmanager"]["observed"] == 503
    finally:
        ready.shutdown()
        unready.shutdown()


def test_check_mode_runs_read_only_checks_and_writes_nothing(simulator, sim_base, tmp_path):
    before = simulator.get("/history").json()
    report = _health.run_health(
        [{"name": "main", "url": simulator.url, "output_dir": str(sim_base / "output")}],
        {},
        ["api", "queue", "workflow"],
        history_dir=str(tmp_path / "history"),
        textfile_dir=str(tmp_path / "metrics"),
        read_only=True,
    )
    assert by_name(report)["workflow"]["status"] == "skip" and "check mode" in by_name(report)["workflow"]["message"]
    assert by_name(report)["api"]["status"] == "pass" and report["check_mode"].startswith("read-only checks only")
    assert simulator.get("/history").json() == before, "no prompt was queued"
    assert not (tmp_path / "history").exists() and not (tmp_path / "metrics").exists()
