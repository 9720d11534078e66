"""The simulator answers every recorded route with the recorded shapes (real HTTP on loopback)."""

from __future__ import annotations

import copy

import pytest
from conftest import recorded


def shape(value):
    """Keys and types of a JSON value, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def test_system_stats_has_recorded_shape_and_real_memory(simulator):
    answer = simulator.get("/system_stats")
    assert answer.status == 200
    data = answer.json()
    assert shape(data) == shape(recorded("system_stats.json"))
    with open("/proc/meminfo") as handle:
        total_kib = int(handle.readline().split()[1])
    assert data["system"]["ram_total"] == total_kib * 1024
    assert 0 < data["system"]["ram_free"] <= data["system"]["ram_total"]
    assert data["system"]["comfyui_version"] == "0.8.0"
    assert data["system"]["argv"][-1] == "--cpu"
    assert data["devices"][0]["type"] == "cpu" and data["devices"][0]["index"] is None


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_idle_queue_prompt_and_models_match_recordings(simulator, prefix):
    assert simulator.get(prefix + "/queue").json() == recorded("queue_idle.json")
    assert simulator.get(prefix + "/prompt").json() == recorded("prompt_get.json")
    assert simulator.get(prefix + "/models").json() == recorded("models.json")


def test_models_folder_lists_real_files_and_404s_unknown(simulator, sim_base):
    (sim_base / "models/checkpoints/tiny-test.safetensors").write_bytes(b"x")
    (sim_base / "models/checkpoints/notes.txt").write_text("not a model")
    assert simulator.get("/models/checkpoints").json() == recorded("models_checkpoints_one.json")
    (sim_base / "models/loras/sub").mkdir()
    (sim_base / "models/loras/sub/x.safetensors").write_bytes(b"x")
    assert simulator.get("/api/models/loras").json() == ["sub/x.safetensors"]
    assert simulator.get("/models/no_such_folder").status == 404


def test_object_info_matches_recording(simulator, sim_base):
    single = simulator.get("/object_info/EmptyImage").json()
    assert single == recorded("object_info_EmptyImage.json")
    assert simulator.get("/object_info/NoSuchNode").json() == {}
    full = simulator.get("/object_info").json()
    reference = recorded("object_info.json")
    assert set(full) == set(reference) and len(full) == 545
    subset = recorded("object_info_subset.json")
    assert {name: full[name] for name in subset} == subset


def test_object_info_lists_model_files_from_disk(simulator, sim_base):
    (sim_base / "models/checkpoints/tiny-test.safetensors").write_bytes(b"x")
    info = simulator.get("/object_info/CheckpointLoaderSimple").json()["CheckpointLoaderSimple"]
    assert info["input"]["required"]["ckpt_name"][0] == ["tiny-test.safetensors"]
    (sim_base / "models/loras/style.safetensors").write_bytes(b"x")
    lora = simulator.get("/object_info/LoraLoader").json()["LoraLoader"]
    assert lora["input"]["required"]["lora_name"][0] == ["style.safetensors"]


def test_root_serves_html_and_unknown_path_404s(simulator):
    root = simulator.get("/")
    assert root.status == 200 and root.headers["Content-Type"].startswith("text/html")
    assert b"simulator" in root.body
    assert simulator.get("/no/such/route").status == 404


def test_origin_check_forbids_cross_origin_on_loopback(simulator):
    port = simulator.port
    same = simulator.post("/prompt", {"prompt": recorded("smoke_workflow.json")}, headers={"Origin": f"http://127.0.0.1:{port}"})
    assert same.status == 200
    cross = simulator.post("/prompt", {"prompt": recorded("smoke_workflow.json")}, headers={"Origin": "http://evil.example"})
    assert cross.status == 403


def test_cors_header_flag_disables_origin_check(start_simulator):
    sim = start_simulator("--cpu", "--enable-cors-header")
    answer = sim.get("/queue", headers={"Origin": "http://elsewhere.example"})
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_history_max_items_and_clear(simulator):
    workflow = copy.deepcopy(recorded("smoke_workflow.json"))
    ids = []
    for color in range(3):
        workflow["1"]["inputs"]["color"] = color
        ids.append(simulator.run_prompt(workflow)[0])
    assert list(simulator.get("/history?max_items=2").json()) == ids[1:]
    assert list(simulator.get("/history").json()) == ids
    assert simulator.post("/history", {"delete": [ids[0]]}).status == 200
    assert list(simulator.get("/history").json()) == ids[1:]
    simulator.post("/history", {"clear": True})
    assert simulator.get("/history").json() == {}


def test_invalid_json_body_is_a_server_error(simulator):
    answer = simulator.request("POST", "/prompt", body=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status == 500
