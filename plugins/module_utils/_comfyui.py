# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One client for ComfyUI's HTTP API, used by every module (and later the exporter).

Plain Python (stdlib only): timeouts on every call, retries for safe (GET) requests,
typed results parsed from the shapes recorded from ComfyUI 0.8.0, tolerant of extra
keys and of missing optional ones.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils import _http as transport
from ansible_collections.comfyops.comfyui.plugins.module_utils._http import MAX_BODY


class ComfyUIError(Exception):
    """Base class: the message says which instance and what went wrong."""


class ComfyUIUnavailable(ComfyUIError):
    """No HTTP answer: connection refused, reset, or a timeout."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class ComfyUIHTTPError(ComfyUIError):
    """An HTTP answer other than the one expected."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class NotComfyUI(ComfyUIError):
    """Something answers, but not as ComfyUI does (an HTML page, a list, a JSON object without its keys)."""


class PromptRejected(ComfyUIError):
    """POST /prompt answered 400: ComfyUI's error and node errors."""

    def __init__(self, error: dict[str, Any], node_errors: dict[str, Any]) -> None:
        super().__init__("%s: %s" % (error.get("type", "error"), error.get("message", "")))
        self.error = error
        self.node_errors = node_errors


@dataclass
class Device:
    name: str
    type: str
    index: int | None
    vram_total: int | None
    vram_free: int | None


@dataclass
class SystemStats:
    comfyui_version: str | None
    python_version: str | None
    pytorch_version: str | None
    ram_total: int | None
    ram_free: int | None
    argv: list[Any]
    devices: list[Any]
    raw: dict[str, Any] = field(repr=False)


@dataclass
class QueueItem:
    number: float
    prompt_id: str
    create_time: float | None  # seconds since the epoch
    client_id: str | None
    outputs: list[Any]


@dataclass
class QueueState:
    running: list[Any]
    pending: list[Any]


@dataclass
class HistoryEntry:
    prompt_id: str
    status: str  # success, error, interrupted
    completed: bool
    outputs: dict[str, Any]
    messages: list[Any]
    error: dict[str, Any] | None
    started: float | None  # seconds since the epoch
    finished: float | None

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)

    def files(self) -> list[dict[str, Any]]:
        """Every file the prompt's output nodes wrote: dicts with node, filename, subfolder, type."""
        found: list[dict[str, Any]] = []
        for node_id, output in self.outputs.items():
            if not isinstance(output, dict):
                continue
            for kind in ("images", "gifs", "videos", "audio"):
                items = output.get(kind)
                for item in items if isinstance(items, list) else []:
                    if isinstance(item, dict) and "filename" in item:
                        found.append(
                            {"node": node_id, "filename": item["filename"], "subfolder": item.get("subfolder", ""), "type": item.get("type", "output")}
                        )
        return found


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_system_stats(data: Any) -> SystemStats:
    """SystemStats from /system_stats; NotComfyUI unless it is an object with system.comfyui_version."""
    system = data.get("system") if isinstance(data, dict) else None
    if not isinstance(system, dict) or not isinstance(system.get("comfyui_version"), str):
        shape = type(data).__name__ if not isinstance(data, dict) else "an object with keys %s" % ", ".join(sorted(map(str, data))[:8])
        raise NotComfyUI("/system_stats answered %s, not ComfyUI's {system: {comfyui_version, ...}, devices: [...]}" % shape)
    devices = [
        Device(
            name=str(item.get("name", "")),
            type=str(item.get("type", "")),
            index=_int_or_none(item.get("index")),
            vram_total=_int_or_none(item.get("vram_total")),
            vram_free=_int_or_none(item.get("vram_free")),
        )
        for item in (data["devices"] if isinstance(data.get("devices"), list) else [])
        if isinstance(item, dict)
    ]
    return SystemStats(
        comfyui_version=system.get("comfyui_version"),
        python_version=system.get("python_version"),
        pytorch_version=system.get("pytorch_version"),
        ram_total=_int_or_none(system.get("ram_total")),
        ram_free=_int_or_none(system.get("ram_free")),
        argv=[str(a) for a in system.get("argv") or [] if isinstance(a, (str, int, float))] if isinstance(system.get("argv"), list) else [],
        devices=devices,
        raw=data,
    )


def _queue_item(item: Any) -> QueueItem | None:
    if not isinstance(item, list) or len(item) < 2:
        return None
    extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
    created = extra.get("create_time")
    return QueueItem(
        number=item[0],
        prompt_id=str(item[1]),
        create_time=created / 1000.0 if isinstance(created, (int, float)) else None,
        client_id=extra.get("client_id"),
        outputs=list(item[4]) if len(item) > 4 and isinstance(item[4], list) else [],
    )


def parse_queue(data: Any) -> QueueState:
    if not isinstance(data, dict):
        raise NotComfyUI("/queue answered %s, not ComfyUI's {queue_running: [...], queue_pending: [...]}" % type(data).__name__)
    running = [q for q in (_queue_item(i) for i in data.get("queue_running") or []) if q]
    pending = [q for q in (_queue_item(i) for i in data.get("queue_pending") or []) if q]
    return QueueState(running=running, pending=pending)


def parse_history_entry(prompt_id: str, entry: dict[str, Any]) -> HistoryEntry:
    status: dict[str, Any] = entry["status"] if isinstance(entry.get("status"), dict) else {}
    messages: list[Any] = status["messages"] if isinstance(status.get("messages"), list) else []
    messages = [m for m in messages if isinstance(m, list) and len(m) == 2 and isinstance(m[0], str) and isinstance(m[1], dict)]
    kinds = {m[0]: m[1] for m in messages}
    stamps = [m[1].get("timestamp") for m in messages]
    stamps = [s / 1000.0 for s in stamps if isinstance(s, (int, float))]
    error: dict[str, Any] | None = None
    state = status["status_str"] if isinstance(status.get("status_str"), str) else ("success" if status.get("completed") else "error")
    if "execution_error" in kinds:
        data = kinds["execution_error"]
        error = {k: data.get(k) for k in ("node_id", "node_type", "exception_type", "exception_message", "traceback")}
    elif "execution_interrupted" in kinds:
        state = "interrupted"
        data = kinds["execution_interrupted"]
        error = {"node_id": data.get("node_id"), "node_type": data.get("node_type"), "exception_type": "interrupted", "exception_message": "interrupted"}
    return HistoryEntry(
        prompt_id=prompt_id,
        status=state,
        completed=bool(status.get("completed")),
        outputs=entry["outputs"] if isinstance(entry.get("outputs"), dict) else {},
        messages=messages,
        error=error,
        started=min(stamps) if stamps else None,
        finished=max(stamps) if stamps else None,
    )


def http_request(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10.0, max_bytes: int = MAX_BODY
) -> tuple[int, bytes]:
    """(status, body bytes) of one HTTP request over the shared transport (one deadline for the whole call,
    a capped body, no proxy); failures raise ComfyUIUnavailable with the URL shown without secrets."""
    try:
        answer = transport.request(method, url, data, headers, timeout, max_bytes)
    except transport.UrlError as exc:
        raise ComfyUIError(str(exc)) from None
    except transport.TransportError as exc:
        raise ComfyUIUnavailable(str(exc), timed_out=exc.timed_out) from None
    return answer.status, answer.body


class ComfyUIClient:
    """A client for one ComfyUI instance, such as ``http://127.0.0.1:8188``."""

    def __init__(self, url: str, timeout: float = 10.0, retries: int = 2, retry_delay: float = 0.5, headers: dict[str, str] | None = None) -> None:
        try:
            transport.parse_url(url, "url")
        except transport.UrlError as exc:
            raise ComfyUIError("%s (the http(s) URL of a ComfyUI instance)" % exc) from None
        self.url = url.rstrip("/")
        self.safe_url = transport.redact_url(self.url)
        self.timeout = float(timeout)
        if self.timeout <= 0:
            raise ComfyUIError("timeout: must be positive, got %r" % timeout)
        self.retries = int(retries)
        self.retry_delay = float(retry_delay)
        self.headers = dict(headers or {})

    # -- transport --------------------------------------------------------------------
    def _once(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return http_request(method, self.url + path, data, headers, timeout or self.timeout)

    def request(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,), timeout: float | None = None) -> tuple[int, Any]:
        """(status, parsed JSON or None); GETs are retried on connection errors, POSTs never. One deadline, `timeout`
        (or the client's), covers the whole call with its retries: an attempt that ran out of time is not retried,
        and a retry gets only what is left."""
        attempts = 1 + (self.retries if method == "GET" else 0)
        deadline = time.monotonic() + (timeout or self.timeout)
        for attempt in range(attempts):
            try:
                status, raw = self._once(method, path, body, max(deadline - time.monotonic(), 0.001))
                break
            except ComfyUIUnavailable as exc:
                pause = self.retry_delay * (attempt + 1)
                if attempt + 1 >= attempts or exc.timed_out or time.monotonic() + pause >= deadline:
                    raise
                time.sleep(pause)
        text = transport.redact(raw.decode("utf-8", "replace"), transport.secrets_of(self.headers))
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        if status not in expect:
            raise ComfyUIHTTPError(
                "%s %s%s answered %d: %s" % (method, self.safe_url, path, status, text[:200]), status, parsed if parsed is not None else text
            )
        return status, parsed

    def get_json(self, path: str, timeout: float | None = None) -> Any:
        return self.request("GET", path, timeout=timeout)[1]

    # -- API --------------------------------------------------------------------------
    def system_stats(self, timeout: float | None = None) -> SystemStats:
        return parse_system_stats(self.get_json("/system_stats", timeout))

    def queue(self) -> QueueState:
        return parse_queue(self.get_json("/queue"))

    def queue_remaining(self) -> int:
        data = self.get_json("/prompt")
        remaining = (data.get("exec_info") or {}).get("queue_remaining") if isinstance(data, dict) else None
        if not isinstance(remaining, int) or isinstance(remaining, bool):
            raise NotComfyUI("GET /prompt answered without exec_info.queue_remaining: %s" % str(data)[:120])
        return remaining

    def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        path = "/object_info" if node_class is None else "/object_info/" + urllib.parse.quote(node_class, safe="")
        data = self.get_json(path)
        if data is not None and not isinstance(data, dict):
            raise NotComfyUI("%s answered %s, not an object of node classes" % (path, type(data).__name__))
        return data or {}

    def models(self, folder: str | None = None) -> list[Any] | None:
        """Model folder names, or the files of one folder (None for an unknown folder)."""
        if folder is None:
            return self.get_json("/models") or []
        try:
            return self.get_json("/models/" + urllib.parse.quote(folder, safe="")) or []
        except ComfyUIHTTPError as exc:
            if exc.status == 404:
                return None
            raise

    def submit(self, prompt: Any, client_id: str = "comfyops", extra_data: dict[str, Any] | None = None) -> tuple[str, Any, dict[str, Any]]:
        """Queue a prompt; return (prompt_id, number, node_errors) or raise PromptRejected."""
        body: dict[str, Any] = {"prompt": prompt, "client_id": client_id}
        if extra_data:
            body["extra_data"] = extra_data
        status, answer = self.request("POST", "/prompt", body, expect=(200, 400))
        answer = answer if isinstance(answer, dict) else {}
        if status == 400:
            error = answer["error"] if isinstance(answer.get("error"), dict) else {"type": "rejected", "message": str(answer)[:200]}
            raise PromptRejected(error, answer["node_errors"] if isinstance(answer.get("node_errors"), dict) else {})
        prompt_id = answer.get("prompt_id")
        if not isinstance(prompt_id, str) or not prompt_id:
            raise NotComfyUI("POST /prompt answered 200 without a prompt_id: %s" % str(answer)[:120])
        node_errors = answer.get("node_errors")
        return prompt_id, answer.get("number"), node_errors if isinstance(node_errors, dict) else {}

    def history(self, prompt_id: str) -> HistoryEntry | None:
        """The finished prompt's entry, or None while it is unknown or still running."""
        data = self.get_json("/history/" + urllib.parse.quote(prompt_id, safe=""))
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return parse_history_entry(prompt_id, entry) if isinstance(entry, dict) else None

    def interrupt(self, prompt_id: str | None = None) -> None:
        self.request("POST", "/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    def delete_queued(self, prompt_ids: Any) -> None:
        self.request("POST", "/queue", {"delete": list(prompt_ids)})

    def free(self, unload_models: bool = True, free_memory: bool = True) -> None:
        self.request("POST", "/free", {"unload_models": unload_models, "free_memory": free_memory})

    def wait(self, prompt_id: str, timeout: float, poll: float = 0.5, clock: Callable[[], float] = time.monotonic) -> HistoryEntry | None:
        """Poll history until the prompt finished; None when `timeout` seconds passed first.

        Polls start at 20 ms and double up to `poll` seconds: a quick prompt is seen quickly,
        a long one is not polled hard.
        """
        deadline = clock() + timeout
        delay = 0.02
        while True:
            entry = self.history(prompt_id)
            if entry is not None:
                return entry
            if clock() >= deadline:
                return None
            time.sleep(min(delay, max(0.0, deadline - clock())))
            delay = min(poll, delay * 2)


def parse_workflow(value: Any, option: str = "workflow") -> dict[str, Any]:
    """An API-format workflow: a non-empty map of node ids to nodes, each a map with a class_type text (and inputs,
    a map, when given); ComfyUIError naming `option` and the node otherwise."""
    if not isinstance(value, dict):
        raise ComfyUIError("%s: expected a map of node ids to nodes (ComfyUI's API format), got %s" % (option, type(value).__name__))
    if not value:
        raise ComfyUIError("%s: the workflow has no nodes ({}); give ComfyUI's API format, a map of node ids to nodes" % option)
    for key, node in value.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise ComfyUIError("%s.%s: a node is a map with a class_type (and inputs), got %s" % (option, key, json.dumps(node, default=str)[:120]))
        if not isinstance(node.get("inputs", {}), dict):
            raise ComfyUIError("%s.%s.inputs: expected a map of input names to values, got %s" % (option, key, type(node["inputs"]).__name__))
    return value


def apply_overrides(workflow: Any, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of `workflow` with `overrides` ({node_id: {input: value}}) set; unknown nodes raise ComfyUIError."""
    result: dict[str, Any] = json.loads(json.dumps(parse_workflow(workflow)))
    if not isinstance(overrides or {}, dict):
        raise ComfyUIError("overrides: expected a map of node ids to {input: value}, got %s" % type(overrides).__name__)
    for key, inputs in (overrides or {}).items():
        node_id = str(key)
        if node_id not in result:
            raise ComfyUIError("overrides: node %r is not in the workflow (nodes: %s)" % (node_id, ", ".join(sorted(result))))
        if not isinstance(inputs, dict):
            raise ComfyUIError("overrides.%s: expected a map of input names to values, got %r" % (node_id, inputs))
        result[node_id].setdefault("inputs", {}).update(inputs)
    return result


def validate_workflow(client: ComfyUIClient, workflow: Any) -> tuple[bool, dict[str, Any] | None, dict[str, Any]]:
    """Check a workflow against the server's node definitions without running it.

    Returns (valid, error, node_errors) in ComfyUI's shapes (see _workflow.Validator).
    """
    from ansible_collections.comfyops.comfyui.plugins.module_utils._workflow import Validator  # pylint: disable=import-outside-toplevel

    cache: dict[str, Any] = {}

    def info(class_type: str) -> Any:
        if class_type not in cache:
            cache[class_type] = client.object_info(class_type).get(class_type)
        return cache[class_type]

    valid, error, _outputs, node_errors = Validator(info).validate_prompt(workflow)
    return valid, error, node_errors


def execute_workflow(client: ComfyUIClient, workflow: Any, timeout: float, on_timeout: str = "interrupt", client_id: str = "comfyops") -> dict[str, Any]:
    """Submit a workflow and wait for it.

    Returns a dict: prompt_id, status (success, error, interrupted, rejected or timeout), duration,
    error, node_errors, files. On timeout with on_timeout='interrupt', the prompt is interrupted
    if it runs, or removed from the queue if it waits.
    """
    started = time.monotonic()
    outcome: dict[str, Any] = {"prompt_id": None, "status": None, "duration": None, "error": None, "node_errors": {}, "files": []}
    try:
        prompt_id, _number, node_errors = client.submit(workflow, client_id=client_id)
    except PromptRejected as exc:
        outcome.update(status="rejected", error=exc.error, node_errors=exc.node_errors, duration=time.monotonic() - started)
        return outcome
    outcome.update(prompt_id=prompt_id, node_errors=node_errors)
    entry = client.wait(prompt_id, timeout)
    outcome["duration"] = time.monotonic() - started
    if entry is None:
        outcome["status"] = "timeout"
        outcome["error"] = {"exception_type": "timeout", "exception_message": "not finished after %.1f s" % timeout}
        if on_timeout == "interrupt":
            running = [item.prompt_id for item in client.queue().running]
            if prompt_id in running:
                client.interrupt(prompt_id)
            else:
                client.delete_queued([prompt_id])
            outcome["error"]["action"] = "interrupted" if prompt_id in running else "removed from the queue"
        return outcome
    outcome.update(status=entry.status, error=entry.error, files=entry.files())
    if entry.duration is not None:
        outcome["server_seconds"] = entry.duration
    return outcome
