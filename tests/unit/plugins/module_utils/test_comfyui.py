"""The ComfyUI client: parsers on every recording, and real HTTP against the simulator."""

from __future__ import annotations

import copy
import time

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _comfyui
from conftest import free_port, recorded


def test_parse_system_stats_recording():
    stats = _comfyui.parse_system_stats(recorded("system_stats.json"))
    assert stats.comfyui_version == "0.8.0" and stats.pytorch_version == "2.14.1+cu130"
    assert stats.ram_total == 25276059648 and stats.argv[0] == "main.py"
    assert stats.devices[0].type == "cpu" and stats.devices[0].index is None


def test_parsers_tolerate_missing_and_extra_keys():
    stats = _comfyui.parse_system_stats({"system": {"comfyui_version": "0.9.0", "new_key": 1}, "devices": [{"name": "x", "extra": True}]})
    assert stats.comfyui_version == "0.9.0" and stats.ram_total is None and stats.devices[0].vram_free is None
    assert _comfyui.parse_queue({}).running == []
    entry = _comfyui.parse_history_entry("p", {"status": {"completed": True}})
    assert entry.status == "success" and entry.duration is None and entry.files() == []


def test_parse_queue_recordings():
    idle = _comfyui.parse_queue(recorded("queue_idle.json"))
    assert idle.running == [] and idle.pending == []
    busy = _comfyui.parse_queue(recorded("queue_busy.json"))
    assert [q.prompt_id for q in busy.running] == ["29898570-844b-4bf1-8d59-52f4ddfb95d5"]
    assert len(busy.pending) == 2 and busy.pending[0].number == 6
    assert busy.running[0].create_time == pytest.approx(1795923910.138) and busy.running[0].client_id == "cap"
    assert busy.running[0].outputs == ["3"]


def test_parse_history_recordings():
    ((pid, data),) = recorded("history_ok.json").items()
    ok = _comfyui.parse_history_entry(pid, data)
    assert ok.status == "success" and ok.completed and ok.error is None
    assert ok.files() == [{"node": "2", "filename": "healthcheck_00001_.png", "subfolder": "", "type": "output"}]
    assert ok.duration == pytest.approx(0.003, abs=1e-6)
    ((pid, data),) = recorded("history_interrupted.json").items()
    interrupted = _comfyui.parse_history_entry(pid, data)
    assert interrupted.status == "interrupted" and not interrupted.completed
    assert interrupted.error["node_id"] == "3" and interrupted.error["node_type"] == "PreviewImage"
    assert interrupted.duration == pytest.approx(71.847, abs=1e-3)


def test_client_round_trip(simulator, sim_base):
    client = _comfyui.ComfyUIClient(simulator.url)
    assert client.system_stats().comfyui_version == "0.8.0"
    assert client.queue_remaining() == 0
    assert client.models() == recorded("models.json")
    assert client.models("nope") is None
    assert "EmptyImage" in client.object_info("EmptyImage")
    outcome = _comfyui.execute_workflow(client, recorded("smoke_workflow.json"), timeout=10)
    assert outcome["status"] == "success" and outcome["files"][0]["filename"] == "healthcheck_00001_.png"
    assert (sim_base / "output" / "healthcheck_00001_.png").is_file()


def test_rejected_prompt_carries_comfyui_errors(simulator):
    client = _comfyui.ComfyUIClient(simulator.url)
    workflow = copy.deepcopy(recorded("smoke_workflow.json"))
    del workflow["2"]["inputs"]["images"]
    with pytest.raises(_comfyui.PromptRejected) as caught:
        client.submit(workflow)
    assert caught.value.error == recorded("prompt_post_400_missing_input.json")["error"]
    assert caught.value.node_errors["2"]["errors"][0]["type"] == "required_input_missing"
    outcome = _comfyui.execute_workflow(client, workflow, timeout=5)
    assert outcome["status"] == "rejected" and outcome["prompt_id"] is None


def test_validate_workflow_without_running(simulator, sim_base):
    (sim_base / "models/checkpoints/tiny-test.safetensors").write_bytes(b"x")
    client = _comfyui.ComfyUIClient(simulator.url)
    workflow = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15-missing.safetensors"}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    }
    valid, error, node_errors = _comfyui.validate_workflow(client, workflow)
    expected = recorded("prompt_post_400_missing_model.json")
    assert not valid and error == expected["error"] and node_errors == expected["node_errors"]
    assert simulator.get("/history").json() == {}, "nothing was run"
    workflow["1"]["inputs"]["ckpt_name"] = "tiny-test.safetensors"
    assert _comfyui.validate_workflow(client, workflow)[0] is True


def test_timeout_interrupts_a_running_prompt_and_unqueues_a_waiting_one(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_NODE_SECONDS": '{"ImageBlur": 1.5}'})
    client = _comfyui.ComfyUIClient(sim.url)
    blur = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 1}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 1, "sigma": 1.0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    first = _comfyui.execute_workflow(client, blur, timeout=0.3)
    assert first["status"] == "timeout" and first["error"]["action"] == "interrupted"
    entry = client.wait(first["prompt_id"], 10)
    assert entry.status == "interrupted"
    blocker = copy.deepcopy(blur)
    blocker["1"]["inputs"]["color"] = 2
    client.submit(blocker)
    waiting = copy.deepcopy(blur)
    waiting["1"]["inputs"]["color"] = 3
    second = _comfyui.execute_workflow(client, waiting, timeout=0.3)
    assert second["error"]["action"] == "removed from the queue"
    assert second["prompt_id"] not in [q.prompt_id for q in client.queue().pending]


def test_apply_overrides():
    workflow = recorded("smoke_workflow.json")
    changed = _comfyui.apply_overrides(workflow, {"1": {"color": 9}, 2: {"filename_prefix": "p"}})
    assert changed["1"]["inputs"]["color"] == 9 and changed["2"]["inputs"]["filename_prefix"] == "p"
    assert workflow["1"]["inputs"]["color"] == 0, "the original is untouched"
    with pytest.raises(_comfyui.ComfyUIError, match="node '7' is not in the workflow"):
        _comfyui.apply_overrides(workflow, {"7": {"x": 1}})


@pytest.mark.parametrize(
    ("workflow", "overrides", "message"),
    [
        ({}, {}, "workflow: the workflow has no nodes ({})"),  # before issue 26: "expected a map ..., got dict"
        ({"1": "EmptyImage"}, {"1": {"width": 8}}, 'workflow.1: a node is a map with a class_type (and inputs), got "EmptyImage"'),  # crashed
        ({"1": {"class_type": "EmptyImage", "inputs": ["w"]}}, {}, "workflow.1.inputs: expected a map of input names to values, got list"),
        (["EmptyImage"], {}, "workflow: expected a map of node ids to nodes (ComfyUI's API format), got list"),
        ({"1": {"class_type": "EmptyImage"}}, ["1"], "overrides: expected a map of node ids to {input: value}, got list"),
    ],
)
def test_a_workflow_that_is_not_the_api_format_is_refused_naming_the_node(workflow, overrides, message):
    with pytest.raises(_comfyui.ComfyUIError) as caught:
        _comfyui.apply_overrides(workflow, overrides)
    assert str(caught.value) == message or message in str(caught.value), str(caught.value)


def test_unavailable_server_and_retries():
    port = free_port()
    client = _comfyui.ComfyUIClient(f"http://127.0.0.1:{port}", timeout=1, retries=2, retry_delay=0.1)
    started = time.monotonic()
    with pytest.raises(_comfyui.ComfyUIUnavailable, match="Connection refused"):
        client.system_stats()
    assert time.monotonic() - started >= 0.3, "GET was retried twice (0.1 s + 0.2 s)"
    with pytest.raises(_comfyui.ComfyUIUnavailable):
        client.submit({})


def test_hang_is_a_timeout(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_HANG": "1"}, wait=False)
    sim.wait_log("To see the GUI")
    client = _comfyui.ComfyUIClient(sim.url, timeout=0.5, retries=0)
    with pytest.raises(_comfyui.ComfyUIUnavailable) as caught:
        client.system_stats()
    assert caught.value.timed_out


def test_bad_url():
    with pytest.raises(_comfyui.ComfyUIError, match="scheme must be one of http, https"):
        _comfyui.ComfyUIClient("ftp://x")
