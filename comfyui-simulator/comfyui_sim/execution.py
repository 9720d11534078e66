"""Prompt validation and execution, following ComfyUI 0.8.0's ``execution.py``.

Validation answers with ComfyUI's error types and shapes (see the recordings in
``tests/fixtures/comfyui-api/prompt_post_400_*.json``).  Execution runs one prompt
at a time on a worker thread, node by node; an interrupt is seen only between
nodes, as in ComfyUI.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable

from .config import SimConfig
from .nodes import NodeRegistry, RunContext
from .workflow import Validator, is_link, make_error

log = logging.getLogger("comfyui_sim")
MAXIMUM_HISTORY_SIZE = 10000


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Events:
    """A prompt's execution messages: history keeps some (status.messages); each also goes to the client's socket."""

    def __init__(self, emit: Callable[[str, dict, str | None], None], client: str | None, prompt_id: str):
        self.emit, self.client, self.prompt_id = emit, client, prompt_id
        self.messages: list = []

    def to_client(self, event: str, data: dict) -> None:
        if self.client:
            self.emit(event, data, self.client)

    def record(self, message: list) -> None:
        self.messages.append(message)
        self.to_client(message[0], message[1])

    def progress(self, executed: list[str], running: str | None) -> None:
        """progress_state: every node met so far, finished or running (sent, not kept in history)."""
        nodes = {
            node_id: {
                "value": 0.0 if node_id == running else 1.0,
                "max": 1.0,
                "state": "running" if node_id == running else "finished",
                "node_id": node_id,
                "prompt_id": self.prompt_id,
                "display_node_id": node_id,
                "parent_node_id": None,
                "real_node_id": node_id,
            }
            for node_id in [*executed, *([running] if running else [])]
        }
        self.to_client("progress_state", {"prompt_id": self.prompt_id, "nodes": nodes})

    def executing(self, executed: list[str], node_id: str) -> None:
        self.progress(executed, node_id)
        self.to_client("executing", {"node": node_id, "display_node": node_id, "prompt_id": self.prompt_id})


class PromptServer:
    """The queue, the worker and the history of one simulated ComfyUI."""

    def __init__(self, registry: NodeRegistry, config: SimConfig, disable_metadata: bool = False):
        self.registry = registry
        self.config = config
        self.validator = Validator(registry.info)
        self.disable_metadata = disable_metadata
        self.lock = threading.Condition()
        self.pending: list[list] = []
        self.running: list | None = None
        self.history: dict[str, dict] = {}
        self.number = 0
        self.interrupt_flag = False
        self.cache: dict[tuple, tuple] = {}
        self.prompts_started = 0
        self.worker = threading.Thread(target=self._work, name="prompt-worker", daemon=True)
        # ComfyUI's send_sync(event, data, sid): the /ws sockets (server.py sets it); sid None is every socket
        self.emit: Callable[[str, dict, str | None], None] = lambda _event, _data, _sid: None

    def _status(self) -> None:
        self.emit("status", {"status": {"exec_info": {"queue_remaining": self.queue_remaining()}}}, None)

    def start(self) -> None:
        self.worker.start()

    # -- queue API ---------------------------------------------------------------------------
    def submit(self, body: dict) -> tuple[int, dict]:
        if "prompt" not in body:
            return 400, {"error": make_error("no_prompt", "No prompt provided", "No prompt provided"), "node_errors": {}}
        prompt = body["prompt"]
        valid, error, outputs, node_errors = self.validator.validate_prompt(prompt)
        if not valid:
            log.warning("invalid prompt: %s", error["message"])
            return 400, {"error": error, "node_errors": node_errors}
        extra_data = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra_data["client_id"] = body["client_id"]
        extra_data["create_time"] = _now_ms()
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        with self.lock:
            number = self.number
            if body.get("front"):
                number = -number
            elif isinstance(body.get("number"), (int, float)):
                number = float(body["number"])
            self.number += 1
            self.pending.append([number, prompt_id, prompt, extra_data, outputs])
            self.pending.sort(key=lambda item: item[0])
            self.lock.notify_all()
        self._status()
        return 200, {"prompt_id": prompt_id, "number": number, "node_errors": node_errors}

    def queue_state(self) -> dict:
        with self.lock:
            return {"queue_running": [self.running] if self.running else [], "queue_pending": [list(item) for item in self.pending]}

    def queue_remaining(self) -> int:
        with self.lock:
            return len(self.pending) + (1 if self.running else 0)

    def queue_edit(self, body: dict) -> None:
        with self.lock:
            if body.get("clear"):
                self.pending = []
            for prompt_id in body.get("delete", []) or []:
                self.pending = [item for item in self.pending if item[1] != prompt_id]

    def interrupt(self, body: dict | None) -> None:
        with self.lock:
            wanted = (body or {}).get("prompt_id")
            if self.running and (wanted is None or wanted == self.running[1]):
                self.interrupt_flag = True

    def free(self, body: dict) -> None:
        if body.get("free_memory") or body.get("unload_models"):
            with self.lock:
                self.cache = {}

    def get_history(self, prompt_id: str | None = None, max_items: int | None = None) -> dict:
        with self.lock:
            if prompt_id is not None:
                return {prompt_id: self.history[prompt_id]} if prompt_id in self.history else {}
            items = list(self.history.items())
            if max_items is not None:
                items = items[-max_items:] if max_items > 0 else []
            return dict(items)

    def edit_history(self, body: dict) -> None:
        with self.lock:
            if body.get("clear"):
                self.history = {}
            for prompt_id in body.get("delete", []) or []:
                self.history.pop(prompt_id, None)

    # -- worker ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self.lock:
                while not self.pending:
                    self.lock.wait()
                item = self.pending.pop(0)
                self.running = item
                self.interrupt_flag = False
            self._status()
            self.prompts_started += 1
            limit = self.config.crash_after_prompts
            if limit and self.prompts_started > limit:
                log.error("!!! Simulated crash: the process dies while starting prompt %d (crash_after_prompts=%d)", self.prompts_started, limit)
                time.sleep(0.2)  # mid-run, after the client has its prompt id
                logging.shutdown()
                os._exit(134)
            started = time.perf_counter()
            entry = self._execute(item)
            with self.lock:
                self.history[item[1]] = entry
                while len(self.history) > MAXIMUM_HISTORY_SIZE:
                    self.history.pop(next(iter(self.history)))
                self.running = None
                self.lock.notify_all()
            self._status()
            log.info("Prompt executed in %.2f seconds", time.perf_counter() - started)

    def _order(self, prompt: dict, outputs: list[str]) -> list[str]:
        order: list[str] = []

        def visit(node_id: str) -> None:
            if node_id in order:
                return
            for value in prompt[node_id].get("inputs", {}).values():
                if is_link(value):
                    visit(str(value[0]))
            order.append(node_id)

        for output in outputs:
            visit(output)
        return order

    def _signature(self, prompt: dict, node_id: str, memo: dict) -> tuple:
        if node_id not in memo:
            node = prompt[node_id]
            parts = []
            for name, value in sorted(node.get("inputs", {}).items()):
                if is_link(value):
                    parts.append((name, self._signature(prompt, str(value[0]), memo), value[1]))
                else:
                    parts.append((name, repr(value)))
            memo[node_id] = (node["class_type"], tuple(parts))
        return memo[node_id]

    def _execute(self, item: list) -> dict:
        _number, prompt_id, prompt, extra_data, outputs = item
        client = extra_data.get("client_id")

        events = _Events(self.emit, client, prompt_id)
        messages, record = events.messages, events.record
        record(["execution_start", {"prompt_id": prompt_id, "timestamp": _now_ms()}])
        order = self._order(prompt, outputs)
        memo: dict = {}
        signatures = {node_id: self._signature(prompt, node_id, memo) for node_id in order}
        with self.lock:
            old_cache = self.cache
        cached = [node_id for node_id in order if signatures[node_id] in old_cache]
        record(["execution_cached", {"nodes": cached, "prompt_id": prompt_id, "timestamp": _now_ms()}])
        context = RunContext(self.registry.paths, prompt, extra_data, self.disable_metadata)
        values: dict[str, tuple] = {}
        ui_outputs: dict[str, dict] = {}
        new_cache: dict[tuple, tuple] = {}
        executed: list[str] = []
        status = "success"
        for node_id in order:
            node = prompt[node_id]
            class_type = node["class_type"]
            signature = signatures[node_id]
            if signature in old_cache:
                values[node_id], ui = old_cache[signature]
                new_cache[signature] = old_cache[signature]
                if ui:
                    ui_outputs[node_id] = ui
                continue
            if self.interrupt_flag:
                record(
                    [
                        "execution_interrupted",
                        {"prompt_id": prompt_id, "node_id": node_id, "node_type": class_type, "executed": list(reversed(executed)), "timestamp": _now_ms()},
                    ]
                )
                status = "interrupted"
                break
            events.executing(executed, node_id)
            inputs = {}
            for name, value in node.get("inputs", {}).items():
                inputs[name] = values[str(value[0])][value[1]] if is_link(value) else value
            try:
                delay = self.config.node_seconds.get(class_type, self.config.default_node_seconds)
                if delay:
                    time.sleep(delay)
                if self.config.fails(class_type):
                    raise RuntimeError(f"Simulated execution failure in {class_type} (fail_executions)")
                result, ui = self.registry.run(class_type, inputs, context)
            except Exception as exc:
                log.error("!!! Exception during processing !!! %s", exc)
                record(
                    [
                        "execution_error",
                        {
                            "prompt_id": prompt_id,
                            "node_id": node_id,
                            "node_type": class_type,
                            "executed": list(reversed(executed)),
                            "exception_message": str(exc),
                            "exception_type": f"{type(exc).__module__}.{type(exc).__name__}".replace("builtins.", ""),
                            "traceback": traceback.format_tb(exc.__traceback__),
                            "current_inputs": {k: [repr(v)] for k, v in inputs.items()},
                            "current_outputs": {},
                            "timestamp": _now_ms(),
                        },
                    ]
                )
                status = "error"
                break
            values[node_id] = result
            new_cache[signature] = (result, ui)
            if ui:
                ui_outputs[node_id] = ui
                events.to_client("executed", {"node": node_id, "display_node": node_id, "output": ui, "prompt_id": prompt_id})
            executed.append(node_id)
        with self.lock:
            self.cache = new_cache if status == "success" else {**old_cache, **new_cache}
        if status == "success":
            events.progress(executed, None)
            record(["execution_success", {"prompt_id": prompt_id, "timestamp": _now_ms()}])
        else:
            ui_outputs = {}
        meta = {node_id: {"node_id": node_id, "display_node": node_id, "parent_node": None, "real_node_id": node_id} for node_id in ui_outputs}
        return {
            "prompt": item,
            "outputs": ui_outputs,
            "status": {"status_str": "success" if status == "success" else "error", "completed": status == "success", "messages": messages},
            "meta": meta,
        }
