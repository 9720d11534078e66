"""Every misbehaviour knob demonstrably changes what a client sees."""

from __future__ import annotations

import json
import socket
import time

import pytest
from conftest import free_port, recorded
from test_prompts import busy_workflow, smoke


def test_start_delay_keeps_the_port_closed_then_serves(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_START_DELAY": "1.5"}, wait=False)
    sim.wait_log("simulated slow start")  # it is up and delaying: the port must still be closed
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()
    assert sim.proc.poll() is None, "a slow start is not a crash"
    sim.wait_ready()
    assert sim.get("/system_stats").status == 200


def test_crash_at_start_exits_non_zero_without_serving(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_CRASH_AT_START": "1"}, wait=False)
    assert sim.proc.wait(10) == 1
    assert "Simulated crash at start" in sim.log
    assert "To see the GUI go to" not in sim.log


def test_crash_after_prompts_kills_the_process(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_CRASH_AFTER_PROMPTS": "1"})
    _pid, entry = sim.run_prompt(smoke())
    assert entry["status"]["status_str"] == "success"
    second = smoke()
    second["1"]["inputs"]["color"] = 5
    sim.post("/prompt", {"prompt": second})
    assert sim.proc.wait(10) == 134
    assert "Simulated crash" in sim.log


def test_fail_executions_gives_comfyui_execution_error(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_FAIL_EXECUTIONS": "SaveImage"})
    _pid, entry = sim.run_prompt(smoke())
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    event, data = entry["status"]["messages"][-1]
    assert event == "execution_error"
    for key in ("node_id", "node_type", "exception_message", "exception_type", "traceback"):
        assert key in data
    assert data["node_id"] == "2" and data["node_type"] == "SaveImage"
    assert data["executed"] == ["1"]
    assert entry["outputs"] == {}
    assert sim.get("/system_stats").status == 200, "a failed execution does not stop the server"


def test_fail_executions_all(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_FAIL_EXECUTIONS": "all"})
    _pid, entry = sim.run_prompt(smoke())
    assert entry["status"]["messages"][-1][1]["node_id"] == "1"


def test_hang_accepts_connections_and_never_answers(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_HANG": "true"}, wait=False)
    sim.wait_log("To see the GUI go to")
    with socket.create_connection(("127.0.0.1", sim.port), timeout=2) as conn:
        conn.sendall(b"GET /system_stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        conn.settimeout(1.0)
        with pytest.raises(socket.timeout):
            conn.recv(1)
    assert sim.proc.poll() is None


def test_reported_version(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_VERSION": "0.7.9"})
    assert sim.get("/system_stats").json()["system"]["comfyui_version"] == "0.7.9"


GPUS = json.dumps([{"name": "NVIDIA H200", "vram_total": "141GiB", "vram_free": "140GiB"}, {"name": "NVIDIA A10", "vram_total": "24GiB"}])


def test_gpu_devices_and_cuda_device(start_simulator):
    first = start_simulator(env={"COMFYUI_SIM_GPUS": GPUS})
    device = first.get("/system_stats").json()["devices"][0]
    assert device["name"] == "cuda:0 NVIDIA H200 : cudaMallocAsync"
    assert (device["type"], device["index"], device["vram_total"]) == ("cuda", 0, 141 * 2**30)
    assert device["vram_free"] == 140 * 2**30
    assert set(device) == set(recorded("system_stats.json")["devices"][0])
    second = start_simulator("--cuda-device", "1", env={"COMFYUI_SIM_GPUS": GPUS})
    device = second.get("/system_stats").json()["devices"][0]
    assert device["name"] == "cuda:0 NVIDIA A10 : cudaMallocAsync" and device["vram_total"] == 24 * 2**30


def test_low_vram(start_simulator):
    sim = start_simulator(env={"COMFYUI_SIM_GPUS": GPUS, "COMFYUI_SIM_LOW_VRAM_FREE": "512MiB"})
    assert sim.get("/system_stats").json()["devices"][0]["vram_free"] == 512 * 2**20


def test_no_gpu_without_cpu_flag_fails_like_comfyui(start_simulator):
    sim = start_simulator(wait=False)
    assert sim.proc.wait(10) == 1
    assert "Found no NVIDIA driver" in sim.log


def test_missing_cuda_device_fails(start_simulator):
    sim = start_simulator("--cuda-device", "3", env={"COMFYUI_SIM_GPUS": GPUS}, wait=False)
    assert sim.proc.wait(10) == 1
    assert "No CUDA GPUs are available" in sim.log


def test_node_seconds_slow_down_execution(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_DEFAULT_NODE_SECONDS": "0.4"})
    started = time.monotonic()
    sim.run_prompt(smoke())
    assert time.monotonic() - started >= 0.8  # two nodes


def test_config_file_and_environment_precedence(start_simulator, tmp_path):
    config = tmp_path / "sim.json"
    config.write_text(json.dumps({"version": "9.9.9", "node_seconds": {"ImageBlur": 0.1}}))
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_CONFIG": str(config)})
    assert sim.get("/system_stats").json()["system"]["comfyui_version"] == "9.9.9"
    assert str(config) in sim.log
    both = start_simulator("--cpu", env={"COMFYUI_SIM_CONFIG": str(config), "COMFYUI_SIM_VERSION": "1.0.0"})
    assert both.get("/system_stats").json()["system"]["comfyui_version"] == "1.0.0"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"no_such_knob": 1}, "unknown knob(s) no_such_knob"),
        ({"start_delay": "soon"}, "start_delay: expected a number"),
        ({"gpus": [{"name": "x"}]}, "each GPU needs 'name' and 'vram_total'"),
        ({"low_vram_free": "lots"}, "expected a size such as '24GiB'"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(start_simulator, tmp_path, content, message):
    config = tmp_path / "sim.json"
    config.write_text(json.dumps(content))
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_CONFIG": str(config)}, wait=False)
    assert sim.proc.wait(10) == 1
    assert message in sim.log and str(config) in sim.log


def test_port_in_use_is_reported(start_simulator):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        sim = start_simulator("--cpu", "--port", str(port), wait=False)
        assert sim.proc.wait(10) == 1
    assert "error while attempting to bind" in sim.log


def test_busy_helper_is_valid(simulator):
    assert simulator.post("/prompt", {"prompt": busy_workflow(1)}).status == 200
