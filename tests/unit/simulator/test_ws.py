"""GET /ws as ComfyUI 0.8.0 serves it, compared with the recorded messages (a real WebSocket client)."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import recorded
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def messages_until(socket, last_types: set[str], timeout: float = 15.0) -> list[dict]:
    got = []
    while True:
        message = json.loads(socket.recv(timeout=timeout))
        got.append(message)
        if message["type"] in last_types:
            return got


def without_repeats(types: list[str]) -> list[str]:
    return [kind for index, kind in enumerate(types) if index == 0 or types[index - 1] != kind]


def test_first_message_is_status_with_the_client_id(simulator):
    with connect(simulator.url.replace("http", "ws") + "/ws?clientId=comfyops-recorder") as socket:
        first = json.loads(socket.recv(timeout=5))
    assert first == recorded("ws_smoke_messages.json")[0]


def test_without_client_id_the_server_names_the_socket(simulator):
    with connect(simulator.url.replace("http", "ws") + "/ws") as socket:
        first = json.loads(socket.recv(timeout=5))
    assert first["type"] == "status" and len(first["data"]["sid"]) == 32 and int(first["data"]["sid"], 16) >= 0


def test_smoke_prompt_events_follow_the_recording(simulator):
    expected = recorded("ws_smoke_messages.json")
    with connect(simulator.url.replace("http", "ws") + "/ws?clientId=me") as socket:
        socket.recv(timeout=5)
        answer = simulator.post("/prompt", {"prompt": copy.deepcopy(recorded("smoke_workflow.json")), "client_id": "me"})
        assert answer.status == 200
        got = messages_until(socket, {"execution_success", "execution_error"})
    prompt_id = answer.json()["prompt_id"]
    assert without_repeats([m["type"] for m in got]) == without_repeats([m["type"] for m in expected[1:]])
    for message in got:
        if message["type"] != "status":
            assert message["data"]["prompt_id"] == prompt_id
    executed = next(m for m in got if m["type"] == "executed")
    assert executed["data"]["output"]["images"][0]["filename"].endswith(".png")
    assert executed["data"].keys() == next(m for m in expected if m["type"] == "executed")["data"].keys()
    assert got[0]["data"] == {"status": {"exec_info": {"queue_remaining": 1}}}


def test_error_prompt_ends_in_execution_error_as_recorded(simulator, sim_base):
    (sim_base / "input" / "broken.png").write_bytes(b"not an image")
    expected = recorded("ws_error_messages.json")
    with connect(simulator.url.replace("http", "ws") + "/ws?clientId=me") as socket:
        socket.recv(timeout=5)
        answer = simulator.post("/prompt", {"prompt": recorded("error_workflow.json"), "client_id": "me"})
        assert answer.status == 200, answer.body
        got = messages_until(socket, {"execution_success", "execution_error"})
    assert without_repeats([m["type"] for m in got]) == without_repeats([m["type"] for m in expected[1:]])
    assert set(got[-1]["data"]) >= set(expected[-1]["data"]) - {"current_inputs", "current_outputs"}


def test_events_go_to_their_client_and_status_to_all(simulator):
    base = simulator.url.replace("http", "ws")
    with connect(base + "/ws?clientId=a") as mine, connect(base + "/ws?clientId=b") as other:
        mine.recv(timeout=5), other.recv(timeout=5)
        simulator.post("/prompt", {"prompt": copy.deepcopy(recorded("smoke_workflow.json")), "client_id": "a"})
        messages_until(mine, {"execution_success"})
        seen = messages_until(other, {"status"})
        assert seen[0]["type"] == "status"
        # the other socket gets status messages only, up to the queue being empty again
        rest = []
        while not rest or rest[-1]["data"]["status"]["exec_info"]["queue_remaining"] != 0:
            rest.append(json.loads(other.recv(timeout=5)))
        assert {m["type"] for m in seen + rest} == {"status"}


def test_origin_check_applies_to_the_socket(simulator):
    with pytest.raises(InvalidStatus) as caught:
        connect(simulator.url.replace("http", "ws") + "/ws", origin="http://evil.example")
    assert caught.value.response.status_code == 403


def test_plain_get_is_refused(simulator):
    assert simulator.get("/ws").status == 400
