# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate an API-format ComfyUI workflow against node definitions, as ComfyUI 0.8.0 does.

Stdlib only and free of Ansible: the comfyui_prompt module checks workflows with it
against a server's ``/object_info`` without running them, and the ComfyUI API simulator
(``comfyui-simulator/comfyui_sim/workflow.py`` is a link to this file) validates every
POST /prompt with it. The error types and shapes are ComfyUI's, as recorded in
``tests/fixtures/comfyui-api/prompt_post_400_*.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def combo_options(spec: list[Any]) -> list[Any] | None:
    """The allowed values of a list input, in either of ComfyUI's two spellings."""
    if spec and isinstance(spec[0], list):
        return list(spec[0])
    if spec and spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        return list(spec[1].get("options", []))
    return None


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_link(value: Any) -> bool:
    return isinstance(value, list)


def _types_match(received: str, expected: str) -> bool:
    if received == "*" or expected == "*":
        return True
    return bool(set(str(received).split(",")) & set(str(expected).split(",")))


class Validator:
    """``info(class_type)`` returns a node's definition (an /object_info entry) or None."""

    def __init__(self, info: Callable[[str], Any]) -> None:
        self.info = info

    def validate_prompt(self, prompt: Any) -> tuple[bool, dict[str, Any] | None, list[str], dict[str, Any]]:
        """Return (valid, error, outputs_to_execute, node_errors) as ComfyUI's validate_prompt."""
        if not isinstance(prompt, dict):
            return False, make_error("invalid_prompt", "Invalid prompt", "The prompt must be a JSON object"), [], {}
        outputs = []
        infos: dict[str, dict[str, Any]] = {}
        for node_id, node in prompt.items():
            info, error = self._node_info(node_id, node)
            if error is not None:
                return False, error, [], {}
            infos[node_id] = info
            if info.get("output_node"):
                outputs.append(node_id)
        if not outputs:
            return False, make_error("prompt_no_outputs", "Prompt has no outputs", ""), [], {}

        validated: dict[str, tuple[bool, list[Any]]] = {}
        good: list[tuple[str, list[Any]]] = []
        failed: list[tuple[str, list[Any]]] = []
        for output in outputs:
            # dependencies first, without recursion: a chain of thousands of nodes is validated like a short one
            for node_id in self._post_order(prompt, output):
                if node_id not in validated:
                    self._validate_node(prompt, infos, node_id, validated)
            ok, errors = validated[output]
            (good if ok else failed).append((output, errors))

        node_errors: dict[str, dict[str, Any]] = {}
        for node_id, (ok, errors) in validated.items():
            if not ok and errors:
                node_errors[node_id] = {"errors": errors, "dependent_outputs": [], "class_type": prompt[node_id]["class_type"]}
        for output, _errors in failed:
            for node_id in self._upstream(prompt, output):
                if node_id in node_errors:
                    node_errors[node_id]["dependent_outputs"].append(output)
        if not good:
            details = "\n".join(f"{e['message']}: {e['details']}" for _o, errs in failed for e in errs)
            return False, make_error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details), [], node_errors
        return True, None, [output for output, _errors in good], node_errors

    def _node_info(self, node_id: str, node: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The node class's info, or ComfyUI's invalid_prompt error for a node it cannot even look at."""
        where = f"Node ID '#{node_id}'"
        if not isinstance(node, dict) or "class_type" not in node:
            return {}, make_error("invalid_prompt", "Cannot execute because a node is missing the class_type property.", where)
        class_type = node["class_type"]
        info = self.info(class_type) if isinstance(class_type, str) else None
        if not isinstance(info, dict):
            return {}, make_error("invalid_prompt", f"Cannot execute because node {class_type} does not exist.", where)
        if not isinstance(node.get("inputs", {}), dict):
            return {}, make_error("invalid_prompt", "Cannot execute because a node's inputs are not an object.", where)
        return info, None

    @staticmethod
    def _links(prompt: dict[str, Any], node_id: str) -> list[str]:
        inputs = prompt[node_id].get("inputs") or {}
        return [str(value[0]) for value in inputs.values() if is_link(value) and len(value) == 2 and str(value[0]) in prompt]

    def _upstream(self, prompt: dict[str, Any], node_id: str) -> set[Any]:
        seen: set[Any] = set()
        stack = [node_id] if node_id in prompt else []
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self._links(prompt, current))
        return seen

    def _post_order(self, prompt: dict[str, Any], root: str) -> list[str]:
        """The nodes `root` depends on, each after its own inputs (a cycle is cut where it closes)."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1: on the path, 2: done
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            node_id, expanded = stack.pop()
            if expanded:
                state[node_id] = 2
                order.append(node_id)
                continue
            if state.get(node_id):
                continue
            state[node_id] = 1
            stack.append((node_id, True))
            stack.extend((source, False) for source in reversed(self._links(prompt, node_id)) if not state.get(source))
        return order

    def _validate_node(self, prompt: dict[str, Any], infos: dict[str, Any], node_id: str, validated: dict[str, Any]) -> tuple[bool, list[Any]]:
        """One node, its linked inputs already validated (see _post_order); the result is kept in `validated`."""
        if node_id in validated:
            known: tuple[bool, list[Any]] = validated[node_id]
            return known
        validated[node_id] = (True, [])  # a node on a cycle sees itself as valid, as ComfyUI does
        info = infos[node_id]
        inputs = prompt[node_id].get("inputs", {}) or {}
        declared = _as_dict(info.get("input"))
        required = _as_dict(declared.get("required"))
        optional = _as_dict(declared.get("optional"))
        errors: list[dict[str, Any]] = []
        valid = True
        for name in list(required) + [o for o in optional if o in inputs]:
            spec = required.get(name) or optional.get(name)
            if name not in inputs:
                errors.append({"type": "required_input_missing", "message": "Required input is missing", "details": name, "extra_info": {"input_name": name}})
                valid = False
                continue
            value = inputs[name]
            if not isinstance(spec, list) or not spec:
                spec = ["*"]
            expected = spec[0]
            if is_link(value):
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
                received = outputs[slot] if isinstance(outputs, list) and isinstance(slot, int) and 0 <= slot < len(outputs) else None
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
                if not validated.get(source_id, (True, []))[0]:
                    valid = False
                continue
            options = combo_options(spec)
            if options is not None:
                if not isinstance(options, list) or not isinstance(value, (str, int, float, bool, type(None))) or value not in options:
                    options = options if isinstance(options, list) else []
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


def _convert(name: str, value: Any, spec: list[Any]) -> tuple[Any, dict[str, Any] | None]:
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


def _check_range(name: str, value: Any, spec: list[Any]) -> dict[str, Any] | None:
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    options = {k: options[k] for k in ("min", "max") if isinstance(options.get(k), (int, float)) and not isinstance(options.get(k), bool)}
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


def make_error(kind: str, message: str, details: str) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}
