"""A stand-in for the AWX controller's REST API (/api/v2), on loopback, for running playbooks/awx_setup.yml with the
real awx.awx modules: objects are created (POST), read back (GET with AWX's field filters, ``or__`` filters and
list shapes), updated (PATCH), associated (credentials, workflow node edges) and surveys stored, as AWX does it.
Secret credential inputs read back as ``$encrypted$``, as AWX returns them. Every request is recorded.

It implements the protocol the modules speak, not AWX's validation: what the tests check is what was created."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ASSOCIATIONS = {"credentials", "success_nodes", "failure_nodes", "always_nodes", "labels", "instance_groups"}
UNIFIED = {"job_templates": "job_template", "workflow_job_templates": "workflow_job_template", "projects": "project", "inventory_sources": "inventory_source"}


class Controller:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, dict[int, dict[str, Any]]] = {}
        self.associations: dict[tuple[str, int, str], list[int]] = {}
        self.surveys: dict[tuple[str, int], dict[str, Any]] = {}
        self.secrets: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.next_id = 1
        self.create("organizations", {"name": "Default"})

    def create(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        obj_id = self.next_id
        self.next_id += 1
        url = "/api/v2/%s/%d/" % (kind, obj_id)
        obj = dict(data, id=obj_id, url=url, type=UNIFIED.get(kind, kind.rstrip("s")))
        obj["related"] = {name: url + name + "/" for name in ASSOCIATIONS | {"survey_spec"}}
        if kind == "workflow_job_template_nodes" and data.get("unified_job_template"):
            ujt = self.find_unified(int(data["unified_job_template"]))
            obj["related"]["unified_job_template"] = ujt["url"] if ujt else None
        if kind == "credentials":
            self.secrets[obj_id] = dict(data.get("inputs") or {})
        self.objects.setdefault(kind, {})[obj_id] = obj
        return obj

    def find_unified(self, obj_id: int) -> dict[str, Any] | None:
        for kind in UNIFIED:
            if obj_id in self.objects.get(kind, {}):
                return self.objects[kind][obj_id]
        return None

    def shown(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        if kind == "credentials":
            return dict(obj, inputs={k: "$encrypted$" for k in obj.get("inputs") or {}})
        return obj

    def listing(self, kind: str, query: dict[str, str]) -> list[dict[str, Any]]:
        if kind == "unified_job_templates":
            pool = [o for k in UNIFIED for o in self.objects.get(k, {}).values()]
        else:
            pool = list(self.objects.get(kind, {}).values())
        either = {k[4:]: v for k, v in query.items() if k.startswith("or__")}
        every = {k: v for k, v in query.items() if not k.startswith("or__") and k not in ("page_size", "page")}

        def matches(obj: dict[str, Any]) -> bool:
            if either and not any(str(obj.get(k)) == v for k, v in either.items()):
                return False
            return all(str(obj.get(k)) == v for k, v in every.items())

        return [self.shown(kind, o) for o in pool if matches(o)]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        [found] = [o for o in self.objects.get(kind, {}).values() if o.get("name") == name]
        return found


class Server(ThreadingHTTPServer):
    controller: Controller
    token: str


class Handler(BaseHTTPRequestHandler):
    server: Server

    @property
    def controller(self) -> Controller:
        return self.server.controller

    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-API-Product-Name", "AWX")
        self.send_header("X-API-Product-Version", "24.6.1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method: str) -> None:
        if self.headers.get("Authorization") != "Bearer " + self.server.token:
            self.answer(401, {"detail": "Authentication credentials were not provided."})
            return
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        parts = [p for p in url.path.split("/") if p][2:]  # after api/v2
        with self.controller.lock:
            self.controller.requests.append((method, url.path, body))
            self.dispatch(method, parts, query, body)

    def dispatch(self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]) -> None:
        if not parts:
            self.answer(200, {"current_version": "/api/v2/"})
            return
        kind = parts[0]
        if len(parts) == 1:
            self.collection(method, kind, query, body)
            return
        obj = self.controller.objects.get(kind, {}).get(int(parts[1])) if parts[1].isdigit() else None
        if obj is None:
            self.answer(404, {"detail": "Not found."})
        elif len(parts) == 2:
            self.item(method, kind, obj, body)
        elif parts[2] == "survey_spec":
            self.survey(method, (kind, obj["id"]), body)
        elif parts[2] in ASSOCIATIONS:
            self.association(method, self.controller.associations.setdefault((kind, obj["id"], parts[2]), []), body)
        else:
            self.answer(404, {"detail": "no such endpoint in the stand-in: %s" % "/".join(parts)})

    def collection(self, method: str, kind: str, query: dict[str, str], body: dict[str, Any]) -> None:
        if method == "GET":
            results = self.controller.listing(kind, query)
            self.answer(200, {"count": len(results), "next": None, "previous": None, "results": results})
        elif method == "POST":
            self.answer(201, self.controller.shown(kind, self.controller.create(kind, body)))
        else:
            self.answer(405, {"detail": "method not allowed"})

    def item(self, method: str, kind: str, obj: dict[str, Any], body: dict[str, Any]) -> None:
        if method in ("PATCH", "PUT"):
            if kind == "credentials" and "inputs" in body:
                self.controller.secrets[obj["id"]] = dict(body["inputs"])
            obj.update(body)
        elif method == "DELETE":
            del self.controller.objects[kind][obj["id"]]
            self.answer(204)
            return
        self.answer(200, self.controller.shown(kind, obj))

    def survey(self, method: str, key: tuple[str, int], body: dict[str, Any]) -> None:
        if method == "POST":
            self.controller.surveys[key] = body
        elif method == "DELETE":
            self.controller.surveys.pop(key, None)
        self.answer(200, self.controller.surveys.get(key, {}))

    def association(self, method: str, ids: list[int], body: dict[str, Any]) -> None:
        if method == "GET":
            self.answer(200, {"count": len(ids), "next": None, "previous": None, "results": [{"id": i} for i in ids]})
            return
        if body.get("disassociate"):
            ids.remove(int(body["id"]))
        else:
            ids.append(int(body["id"]))
        self.answer(204)

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PATCH(self) -> None:
        self.route("PATCH")

    def do_PUT(self) -> None:
        self.route("PUT")

    def do_DELETE(self) -> None:
        self.route("DELETE")


def serve(token: str) -> tuple[Server, Controller]:
    controller = Controller()
    server = Server(("127.0.0.1", 0), Handler)
    server.controller, server.token = controller, token
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, controller
