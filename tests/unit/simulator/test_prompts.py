"""Validation answers and executions, compared with the recorded ComfyUI responses."""

from __future__ import annotations

import copy
import struct
import time
import zlib

from conftest import recorded, wait_until


def smoke():
    return copy.deepcopy(recorded("smoke_workflow.json"))


def decode_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + chunk) == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        if kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_post_prompt_ok_has_recorded_shape(simulator):
    answer = simulator.post("/prompt", {"prompt": smoke(), "client_id": "x"})
    assert answer.status == 200
    body = answer.json()
    reference = recorded("prompt_post_ok.json")
    assert set(body) == set(reference)
    assert isinstance(body["prompt_id"], str) and isinstance(body["number"], int)
    assert body["node_errors"] == {}


def test_smoke_workflow_writes_a_real_png(simulator, sim_base):
    prompt_id, entry = simulator.run_prompt(smoke())
    reference = next(iter(recorded("history_ok.json").values()))
    assert set(entry) == set(reference)
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    assert [m[0] for m in entry["status"]["messages"]] == [m[0] for m in reference["status"]["messages"]]
    assert entry["outputs"] == reference["outputs"]
    assert entry["meta"] == reference["meta"]
    assert entry["prompt"][1] == prompt_id and entry["prompt"][4] == ["2"]
    assert entry["prompt"][3]["client_id"] == "pytest" and isinstance(entry["prompt"][3]["create_time"], int)
    width, height, pixels = decode_png(sim_base / "output" / "healthcheck_00001_.png")
    assert (width, height) == (64, 64)
    assert len(pixels) == 64 * (1 + 64 * 3)


def test_identical_prompt_is_cached_like_comfyui_and_free_resets(simulator, sim_base):
    simulator.run_prompt(smoke())
    _pid, second = simulator.run_prompt(smoke())
    cached = second["status"]["messages"][1]
    assert cached[0] == "execution_cached" and sorted(cached[1]["nodes"]) == ["1", "2"]
    assert sorted(p.name for p in (sim_base / "output").glob("*.png")) == ["healthcheck_00001_.png"]
    assert simulator.post("/free", {"unload_models": True, "free_memory": True}).status == 200
    simulator.run_prompt(smoke())
    assert sorted(p.name for p in (sim_base / "output").glob("*.png")) == ["healthcheck_00001_.png", "healthcheck_00002_.png"]


def test_batch_and_subfolder_naming(simulator, sim_base):
    workflow = smoke()
    workflow["1"]["inputs"]["batch_size"] = 2
    workflow["2"]["inputs"]["filename_prefix"] = "nightly/check"
    _pid, entry = simulator.run_prompt(workflow)
    assert entry["outputs"]["2"]["images"] == [
        {"filename": "check_00001_.png", "subfolder": "nightly", "type": "output"},
        {"filename": "check_00002_.png", "subfolder": "nightly", "type": "output"},
    ]
    assert (sim_base / "output/nightly/check_00002_.png").is_file()


def test_saving_outside_output_folder_is_an_execution_error(simulator, sim_base):
    workflow = smoke()
    workflow["2"]["inputs"]["filename_prefix"] = "../../escape"
    _pid, entry = simulator.run_prompt(workflow)
    assert entry["status"]["status_str"] == "error"
    error = entry["status"]["messages"][-1]
    assert error[0] == "execution_error" and "outside the output folder" in error[1]["exception_message"]


def test_missing_input_matches_recording(simulator):
    workflow = smoke()
    del workflow["2"]["inputs"]["images"]
    answer = simulator.post("/prompt", {"prompt": workflow})
    assert answer.status == 400
    assert answer.json() == recorded("prompt_post_400_missing_input.json")


def test_bad_value_matches_recording(simulator, sim_base):
    (sim_base / "models/checkpoints/tiny-test.safetensors").write_bytes(b"x")
    workflow = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny-test.safetensors"}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": "abc", "height": 64, "batch_size": 1}},
        "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    }
    answer = simulator.post("/prompt", {"prompt": workflow})
    assert answer.status == 400
    assert answer.json() == recorded("prompt_post_400_bad_value.json")


def test_missing_model_matches_recording(simulator, sim_base):
    (sim_base / "models/checkpoints/tiny-test.safetensors").write_bytes(b"x")
    workflow = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15-missing.safetensors"}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "3": {"class_type": "VAEDecode", "inputs": {"samples": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    }
    answer = simulator.post("/prompt", {"prompt": workflow})
    assert answer.status == 400
    assert answer.json() == recorded("prompt_post_400_missing_model.json")


def test_unknown_node_and_no_prompt_match_recordings(simulator):
    unknown = simulator.post("/prompt", {"prompt": {"1": {"class_type": "NoSuchNode", "inputs": {}}}})
    assert (unknown.status, unknown.json()) == (400, recorded("prompt_post_400_unknown_node.json"))
    empty = simulator.post("/prompt", {"client_id": "x"})
    assert (empty.status, empty.json()) == (400, recorded("prompt_post_400_no_prompt.json"))


def test_type_mismatch_range_and_no_outputs(simulator):
    mismatch = {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    body = simulator.post("/prompt", {"prompt": mismatch}).json()
    assert body["node_errors"]["2"]["errors"][0]["type"] == "return_type_mismatch"
    assert body["node_errors"]["2"]["errors"][0]["details"] == "images, received_type(LATENT) mismatch input_type(IMAGE)"
    too_small = smoke()
    too_small["1"]["inputs"]["width"] = 0
    body = simulator.post("/prompt", {"prompt": too_small}).json()
    assert body["node_errors"]["1"]["errors"][0]["type"] == "value_smaller_than_min"
    assert body["node_errors"]["1"]["dependent_outputs"] == ["2"]
    no_outputs = {"1": smoke()["1"]}
    answer = simulator.post("/prompt", {"prompt": no_outputs})
    assert answer.status == 400 and answer.json()["error"]["type"] == "prompt_no_outputs"


def busy_workflow(color):
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 4096, "height": 4096, "batch_size": 4, "color": color}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 5.0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


def test_queue_runs_in_order_and_can_be_edited(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_NODE_SECONDS": '{"ImageBlur": 1.0}'})
    ids = [sim.post("/prompt", {"prompt": busy_workflow(c), "client_id": "cap"}).json()["prompt_id"] for c in range(4)]

    def running():
        queue = sim.get("/queue").json()
        return queue if queue["queue_running"] else None

    queue = wait_until(running, 5, "the first prompt to run")
    reference = recorded("queue_busy.json")
    assert len(queue["queue_running"]) == 1 and len(queue["queue_pending"]) == 3
    assert [len(item) for item in queue["queue_running"] + queue["queue_pending"]] == [5] * 4
    assert {k: len(v[0]) for k, v in queue.items()} == {k: len(v[0]) for k, v in reference.items()}
    assert queue["queue_running"][0][1] == ids[0]
    assert [item[1] for item in queue["queue_pending"]] == ids[1:]
    assert sim.get("/prompt").json() == {"exec_info": {"queue_remaining": 4}}
    sim.post("/queue", {"delete": [ids[3]]})
    assert [item[1] for item in sim.get("/queue").json()["queue_pending"]] == ids[1:3]
    sim.post("/queue", {"clear": True})
    assert sim.get("/queue").json()["queue_pending"] == []
    entry = sim.wait_history(ids[0])
    assert entry["status"]["status_str"] == "success"
    assert entry["outputs"]["3"]["images"][0]["type"] == "temp"


def test_interrupt_is_seen_between_nodes(start_simulator):
    sim = start_simulator("--cpu", env={"COMFYUI_SIM_NODE_SECONDS": '{"ImageBlur": 1.5}'})
    prompt_id = sim.post("/prompt", {"prompt": busy_workflow(7)}).json()["prompt_id"]
    wait_until(lambda: sim.get("/queue").json()["queue_running"], 5, "the prompt to run")
    started = time.monotonic()
    assert sim.post("/interrupt").status == 200
    entry = sim.wait_history(prompt_id)
    # the blur node ran to its end before the interrupt was seen, as in ComfyUI
    assert time.monotonic() - started > 0.8
    reference = next(iter(recorded("history_interrupted.json").values()))
    assert entry["outputs"] == reference["outputs"] == {}
    assert {k: entry["status"][k] for k in ("status_str", "completed")} == {"status_str": "error", "completed": False}
    last = entry["status"]["messages"][-1]
    ref_last = reference["status"]["messages"][-1]
    assert last[0] == ref_last[0] == "execution_interrupted"
    assert set(last[1]) == set(ref_last[1])
    assert last[1]["node_id"] == "3" and last[1]["node_type"] == "PreviewImage"
    assert sorted(last[1]["executed"]) == ["1", "2"]
