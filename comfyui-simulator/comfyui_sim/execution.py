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
from typing import Any

from .config import SimConfig
from .nodes import NodeRegistry, RunContext, combo_options

log = logging.getLogger("comfyui_sim")
MAXIMUM_HISTORY_SIZE = 10000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _is_link(value: Any) -> bool:
    return isinstance(value, list)


def _types_match(received: str, expected: str) -> bool:
    if received == "*" or expected == "*":
        return True
    return bool(set(str(received).split(",")) & set(str(expected).split(",")))


class Validator:
    def __init__(self, registry: NodeRegistry):
        self.registry = registry

    def validate_prompt(self, prompt: Any) -> tuple[bool, dict | None, list[str], dict]:
        """Return (valid, error, outputs_to_execute, node_errors) as ComfyUI's validate_prompt."""
        if not isinstance(prompt, dict):
            return False, _error("invalid_prompt", "Invalid prompt", "The prompt must be a JSON object"), [], {}
        outputs = []
        infos: dict[str, dict] = {}
        for node_id, node in prompt.items():
            if not isinstance(node, dict) or "class_type" not in node:
                return False, _error("invalid_prompt", "Cannot execute because a node is missing the class_type property.", f"Node ID '#{node_id}'"), [], {}
            class_type = node["class_type"]
            info = self.registry.info(class_type) if isinstance(class_type, str) else None
            if info is None:
                return False, _error("invalid_prompt", f"Cannot execute because node {class_type} does not exist.", f"Node ID '#{node_id}'"), [], {}
            infos[node_id] = info
            if info.get("output_node"):
                outputs.append(node_id)
        if not outputs:
            return False, _error("prompt_no_outputs", "Prompt has no outputs", ""), [], {}

        validated: dict[str, tuple[bool, list]] = {}
        good, failed = [], []
        for output in outputs:
            ok, errors = self._validate_node(prompt, infos, output, validated)
            (good if ok else failed).append((output, errors))

        node_errors: dict[str, dict] = {}
        for node_id, (ok, errors) in validated.items():
            if not ok and errors:
                node_errors[node_id] = {"errors": errors, "dependent_outputs": [], "class_type": prompt[node_id]["class_type"]}
        for output, _errors in failed:
            for node_id in self._upstream(prompt, output):
                if node_id in node_errors:
                    node_errors[node_id]["dependent_outputs"].append(output)
        if not good:
            details = "\n".join(f"{e['message']}: {e['details']}" for _o, errs in failed for e in errs)
            return False, _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details), [], node_errors
        return True, None, [output for output, _errors in good], node_errors

    def _upstream(self, prompt: dict, node_id: str, seen: set | None = None) -> set:
        seen = set() if seen is None else seen
        if node_id in seen or node_id not in prompt:
            return seen
        seen.add(node_id)
        for value in prompt[node_id].get("inputs", {}).values():
            if _is_link(value) and len(value) == 2:
                self._upstream(prompt, str(value[0]), seen)
        return seen

    def _validate_node(self, prompt: dict, infos: dict, node_id: str, validated: dict) -> tuple[bool, list]:
        if node_id in validated:
            return validated[node_id]
        validated[node_id] = (True, [])  # guards against cycles while we recurse
        info = infos[node_id]
        inputs = prompt[node_id].get("inputs", {}) or {}
        required = info["input"].get("required", {}) or {}
        optional = info["input"].get("optional", {}) or {}
        errors: list[dict] = []
        valid = True
        for name in list(required) + [o for o in optional if o in inputs]:
            spec = required.get(name) or optional.get(name)
            if name not in inputs:
                errors.append({"type": "required_input_missing", "message": "Required input is missing", "details": name, "extra_info": {"input_name": name}})
                valid = False
                continue
            value = inputs[name]
            expected = spec[0]
            if _is_link(value):
                if len(value) != 2:
                    errors.append(
                        {
                            "type": "bad_linked_input",
                            "message": "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                            "details": name,
                            "extra_info": {"input_name": name, "input_config": spec, "received_value": value},
                        }
                    )
                    valid = False
                    continue
                source_id, slot = str(value[0]), value[1]
                if source_id not in prompt or source_id not in infos:
                    errors.append(
                        {
                            "type": "exception_during_inner_validation",
                            "message": "Exception when validating inner node",
                            "details": f"'{source_id}'",
                            "extra_info": {"input_name": name},
                        }
                    )
                    valid = False
                    continue
                outputs = infos[source_id].get("output", [])
                received = outputs[slot] if isinstance(slot, int) and 0 <= slot < len(outputs) else None
                expected_type = "COMBO" if isinstance(expected, list) else expected
                if received is None or not _types_match(received, expected_type):
                    errors.append(
                        {
                            "type": "return_type_mismatch",
                            "message": "Return type mismatch between linked nodes",
                            "details": f"{name}, received_type({received}) mismatch input_type({expected_type})",
                            "extra_info": {"input_name": name, "input_config": spec, "received_type": received, "linked_node": value},
                        }
                    )
                    valid = False
                    continue
                ok, _errs = self._validate_node(prompt, infos, source_id, validated)
                if not ok:
                    valid = False
                continue
            options = combo_options(spec)
            if options is not None:
                if value not in options:
                    list_info = f"(list of length {len(options)})" if len(options) > 20 else str(options)
                    extra = {"input_name": name, "input_config": None if len(options) > 20 else spec, "received_value": value}
                    errors.append(
                        {"type": "value_not_in_list", "message": "Value not in list", "details": f"{name}: '{value}' not in {list_info}", "extra_info": extra}
                    )
                    valid = False
                continue
            converted, error = _convert(name, value, spec)
            if error:
                errors.append(error)
                valid = False
                continue
            error = _check_range(name, converted, spec)
            if error:
                errors.append(error)
                valid = False
        validated[node_id] = (valid, errors)
        return valid, errors


def _convert(name: str, value: Any, spec: list) -> tuple[Any, dict | None]:
    kind = spec[0]
    converters = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}
    if kind not in converters:
        return value, None
    try:
        if kind == "INT" and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"invalid literal for int() with base 10: '{value}'")
        return converters[kind](value), None
    except (TypeError, ValueError) as exc:
        return value, {
            "type": "invalid_input_type",
            "message": f"Failed to convert an input value to a {kind} value",
            "details": f"{name}, {value}, {exc}",
            "extra_info": {"input_name": name, "input_config": spec, "received_value": value, "exception_message": str(exc)},
        }


def _check_range(name: str, value: Any, spec: list) -> dict | None:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if "min" in options and value < options["min"]:
        return {
            "type": "value_smaller_than_min",
            "message": f"Value {value} smaller than min of {options['min']}",
            "details": name,
            "extra_info": {"input_name": name, "input_config": spec, "received_value": value},
        }
    if "max" in options and value > options["max"]:
        return {
            "type": "value_bigger_than_max",
            "message": f"Value {value} bigger than max of {options['max']}",
            "details": name,
            "extra_info": {"input_name": name, "input_config": spec, "received_value": value},
        }
    return None


def _error(kind: str, message: str, details: str) -> dict:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


class PromptServer:
    """The queue, the worker and the history of one simulated ComfyUI."""

    def __init__(self, registry: NodeRegistry, config: SimConfig, disable_metadata: bool = False):
        self.registry = registry
        self.config = config
        self.validator = Validator(registry)
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

    def start(self) -> None:
        self.worker.start()

    # -- queue API ---------------------------------------------------------------------------
    def submit(self, body: dict) -> tuple[int, dict]:
        if "prompt" not in body:
            return 400, {"error": _error("no_prompt", "No prompt provided", "No prompt provided"), "node_errors": {}}
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
            log.info("Prompt executed in %.2f seconds", time.perf_counter() - started)

    def _order(self, prompt: dict, outputs: list[str]) -> list[str]:
        order: list[str] = []

        def visit(node_id: str) -> None:
            if node_id in order:
                return
            for value in prompt[node_id].get("inputs", {}).values():
                if _is_link(value):
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
                if _is_link(value):
                    parts.append((name, self._signature(prompt, str(value[0]), memo), value[1]))
                else:
                    parts.append((name, repr(value)))
            memo[node_id] = (node["class_type"], tuple(parts))
        return memo[node_id]

    def _execute(self, item: list) -> dict:
        _number, prompt_id, prompt, extra_data, outputs = item
        messages: list = [["execution_start", {"prompt_id": prompt_id, "timestamp": _now_ms()}]]
        order = self._order(prompt, outputs)
        memo: dict = {}
        signatures = {node_id: self._signature(prompt, node_id, memo) for node_id in order}
        with self.lock:
            old_cache = self.cache
        cached = [node_id for node_id in order if signatures[node_id] in old_cache]
        messages.append(["execution_cached", {"nodes": cached, "prompt_id": prompt_id, "timestamp": _now_ms()}])
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
                messages.append(
                    [
                        "execution_interrupted",
                        {"prompt_id": prompt_id, "node_id": node_id, "node_type": class_type, "executed": list(reversed(executed)), "timestamp": _now_ms()},
                    ]
                )
                status = "interrupted"
                break
            inputs = {}
            for name, value in node.get("inputs", {}).items():
                inputs[name] = values[str(value[0])][value[1]] if _is_link(value) else value
            try:
                delay = self.config.node_seconds.get(class_type, self.config.default_node_seconds)
                if delay:
                    time.sleep(delay)
                if self.config.fails(class_type):
                    raise RuntimeError(f"Simulated execution failure in {class_type} (fail_executions)")
                result, ui = self.registry.run(class_type, inputs, context)
            except Exception as exc:
                log.error("!!! Exception during processing !!! %s", exc)
                messages.append(
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
            executed.append(node_id)
        with self.lock:
            self.cache = new_cache if status == "success" else {**old_cache, **new_cache}
        if status == "success":
            messages.append(["execution_success", {"prompt_id": prompt_id, "timestamp": _now_ms()}])
        else:
            ui_outputs = {}
        meta = {node_id: {"node_id": node_id, "display_node": node_id, "parent_node": None, "real_node_id": node_id} for node_id in ui_outputs}
        return {
            "prompt": item,
            "outputs": ui_outputs,
            "status": {"status_str": "success" if status == "success" else "error", "completed": status == "success", "messages": messages},
            "meta": meta,
        }
