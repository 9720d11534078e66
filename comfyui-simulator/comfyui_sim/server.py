"""The HTTP side of the simulator: ComfyUI 0.8.0's routes, shapes and start-up."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
import socket
import sqlite3
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import cli
from . import config as sim_config
from .execution import PromptServer
from .folder_paths import MODEL_FOLDERS, ExtraPathsError, FolderPaths
from .nodes import NodeRegistry
from .ws import Sockets
from .ws import serve as serve_ws

log = logging.getLogger("comfyui_sim")

FRONTEND = {"required_frontend_version": "1.35.9", "installed_templates_version": "0.7.67", "required_templates_version": "0.7.67"}
INDEX_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>ComfyUI</title></head>
<body><div id="vue-app"></div>
<p>ComfyUI API simulator (comfyops.comfyui): this server answers ComfyUI's HTTP API; it has no graph editor.</p>
</body>
</html>
"""


def memory() -> tuple[int, int]:
    """(total, available) RAM in bytes, as psutil.virtual_memory() reports them."""
    values = {}
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            key, _colon, rest = line.partition(":")
            values[key] = int(rest.split()[0]) * 1024
    return values["MemTotal"], values.get("MemAvailable", values.get("MemFree", 0))


class App:
    """Everything a request handler needs: state shared by every listening socket."""

    def __init__(self, args, checkout: str, config: sim_config.SimConfig, paths: FolderPaths, registry: NodeRegistry, prompts: PromptServer, version: str):
        self.args = args
        self.checkout = checkout
        self.config = config
        self.paths = paths
        self.registry = registry
        self.prompts = prompts
        self.version = config.version or version
        self.sockets = Sockets()
        prompts.emit = self.sockets.send

    def devices(self) -> list[dict]:
        if self.args.cpu:
            total, free = memory()
            return [{"name": "cpu", "type": "cpu", "index": None, "vram_total": total, "vram_free": free, "torch_vram_total": total, "torch_vram_free": free}]
        index = self.args.cuda_device or 0
        gpu = self.config.gpus[index]
        free = self.config.low_vram_free if self.config.low_vram_free is not None else gpu.vram_free
        free = min(free, gpu.vram_total)
        return [
            {
                "name": f"cuda:0 {gpu.name} : cudaMallocAsync",
                "type": "cuda",
                "index": 0,
                "vram_total": gpu.vram_total,
                "vram_free": free,
                "torch_vram_total": 0,
                "torch_vram_free": 0,
            }
        ]

    def system_stats(self) -> dict:
        total, free = memory()
        return {
            "system": {
                "os": sys.platform,
                "ram_total": total,
                "ram_free": free,
                "comfyui_version": self.version,
                **FRONTEND,
                "python_version": sys.version,
                "pytorch_version": self.config.pytorch_version,
                "embedded_python": False,
                "argv": list(sys.argv),
            },
            "devices": self.devices(),
        }


class Handler(BaseHTTPRequestHandler):
    server_version = "Python/3.11 aiohttp/3.13.2"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    app: App  # set on the subclass made for each server

    def setup(self):
        super().setup()
        # aiohttp (ComfyUI's server) sets TCP_NODELAY on every connection; without it a kept-alive client such as a
        # proxy waits ~40 ms for each answer (headers and body are two writes: Nagle meets delayed ACK)
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    # -- plumbing ----------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        if body or content_type != "application/json":
            self.send_header("Content-Type", content_type + ("; charset=utf-8" if content_type.startswith("text/") or content_type.endswith("json") else ""))
        self.send_header("Content-Length", str(len(body)))
        if self.app.args.enable_cors_header:
            self.send_header("Access-Control-Allow-Origin", self.app.args.enable_cors_header)
            self.send_header("Access-Control-Allow-Methods", "POST, GET, DELETE, PUT, OPTIONS, PATCH")
            self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
            self.send_header("Access-Control-Allow-Credentials", "true")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status: int = 200) -> None:
        self._send(status, json.dumps(data).encode("utf-8"))

    def _text(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/plain")

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw.decode("utf-8")) if raw else None

    def _origin_forbidden(self) -> bool:
        """ComfyUI's origin-only middleware: a loopback Host with a different Origin gets 403."""
        if self.app.args.enable_cors_header:
            return False
        host, origin = self.headers.get("Host"), self.headers.get("Origin")
        if not host or not origin:
            return False
        host_domain = host.lower()
        origin_domain = urllib.parse.urlparse(origin).netloc.lower()
        hostname = urllib.parse.urlparse("http://" + host_domain).hostname or ""
        try:
            loopback = hostname == "localhost" or ipaddress.ip_address(hostname).is_loopback
        except ValueError:
            loopback = False
        return loopback and host_domain != origin_domain

    def _route(self) -> tuple[str, dict]:
        parsed = urllib.parse.urlparse(self.path)
        path = parsed.path
        if path.startswith("/api/"):
            path = path[4:]
        return path, urllib.parse.parse_qs(parsed.query)

    def _dispatch(self, method: str) -> None:
        if self._origin_forbidden():
            self._text(403, "403: Forbidden")
            return
        path, query = self._route()
        try:
            handled = (self._get if method in ("GET", "HEAD") else self._post)(path, query)
        except json.JSONDecodeError:
            self._text(500, "500 Internal Server Error\n\nServer got itself in trouble")
            return
        if not handled:
            self._text(404, "404: Not Found")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_OPTIONS(self):
        self._send(200, b"", "text/plain")

    # -- routes --------------------------------------------------------------------------
    def _get(self, path: str, query: dict) -> bool:
        app = self.app
        if path == "/":
            self._send(200, INDEX_HTML.encode("utf-8"), "text/html")
        elif path == "/ws" and self.command == "GET":
            serve_ws(self, app.sockets, app.prompts.queue_remaining(), query.get("clientId", [""])[0])
        elif path == "/system_stats":
            self._json(app.system_stats())
        elif path == "/queue":
            self._json(app.prompts.queue_state())
        elif path == "/prompt":
            self._json({"exec_info": {"queue_remaining": app.prompts.queue_remaining()}})
        elif path == "/history":
            max_items = query.get("max_items", [None])[0]
            self._json(app.prompts.get_history(max_items=int(max_items) if max_items and max_items.lstrip("-").isdigit() else None))
        elif path.startswith("/history/"):
            self._json(app.prompts.get_history(prompt_id=urllib.parse.unquote(path[len("/history/") :])))
        elif path == "/models":
            self._json(list(MODEL_FOLDERS))
        elif path.startswith("/models/"):
            files = app.paths.list_models(urllib.parse.unquote(path[len("/models/") :]))
            if files is None:
                self._send(404)
            else:
                self._json(files)
        elif path == "/object_info":
            self._json(app.registry.all_info())
        elif path.startswith("/object_info/"):
            name = urllib.parse.unquote(path[len("/object_info/") :])
            info = app.registry.info(name)
            self._json({name: info} if info is not None else {})
        elif path == "/embeddings":
            self._json([os.path.splitext(f)[0] for f in app.paths.list_models("embeddings") or []])
        elif path == "/extensions":
            self._json([])
        else:
            return False
        return True

    def _post(self, path: str, _query: dict) -> bool:
        app = self.app
        if path == "/prompt":
            body = self._body()
            status, answer = app.prompts.submit(body if isinstance(body, dict) else {})
            self._json(answer, status)
        elif path == "/interrupt":
            body = self._body()
            app.prompts.interrupt(body if isinstance(body, dict) else None)
            self._send(200)
        elif path == "/free":
            body = self._body()
            app.prompts.free(body if isinstance(body, dict) else {})
            self._send(200)
        elif path == "/queue":
            body = self._body()
            app.prompts.queue_edit(body if isinstance(body, dict) else {})
            self._send(200)
        elif path == "/history":
            body = self._body()
            app.prompts.edit_history(body if isinstance(body, dict) else {})
            self._send(200)
        else:
            return False
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _make_server(host: str, port: int, handler: type) -> _Server:
    server_class = _Server
    if ":" in host:
        server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
    return server_class((host, port), handler)


def init_database(url: str) -> None:
    """Open (create) the SQLite database as ComfyUI 0.8.0 does at start; a failure is a warning, not fatal.

    Without --database-url ComfyUI writes user/comfyui.db inside its checkout: read-only under
    ProtectSystem=strict, so the real server logs this warning on every start. The simulator does the same.
    """
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else None
    try:
        if path is None:
            raise ValueError("only sqlite:/// URLs are simulated, got %s" % url.split("://", maxsplit=1)[0])
        connection = sqlite3.connect(path)
        try:
            connection.execute("CREATE TABLE IF NOT EXISTS comfyops_simulator (started REAL)")
            connection.execute("INSERT INTO comfyops_simulator VALUES (?)", (time.time(),))
            connection.commit()
        finally:
            connection.close()
    except (sqlite3.Error, OSError, ValueError) as exc:
        log.warning(
            "Failed to initialize database. Please ensure you have installed the latest requirements. If the error persists, "
            "please report this as in future the database will be required: %s",
            exc,
        )


def _die(message: str, code: int = 1) -> None:
    log.error('Traceback (most recent call last):\n  File "main.py", line 1, in <module>\n%s', message)
    logging.shutdown()
    sys.exit(code)


def _log_device(args: Any, config: sim_config.SimConfig, total: int) -> None:
    """ComfyUI's device lines; the errors real ComfyUI dies with when it finds no usable GPU."""
    if args.cpu:
        log.info("Total VRAM %d MB, total RAM %d MB", total // 2**20, total // 2**20)
        log.info("pytorch version: %s", config.pytorch_version)
        log.info("Set vram state to: DISABLED")
        log.info("Device: cpu")
        return
    if not config.gpus:
        _die(
            "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU "
            "and installed a driver from http://www.nvidia.com/Download/index.aspx"
        )
    if (args.cuda_device or 0) >= len(config.gpus):
        _die("RuntimeError: No CUDA GPUs are available")
    gpu = config.gpus[args.cuda_device or 0]
    log.info("Total VRAM %d MB, total RAM %d MB", gpu.vram_total // 2**20, total // 2**20)
    log.info("pytorch version: %s", config.pytorch_version)
    log.info("Set vram state to: %s", "LOW_VRAM" if args.lowvram else "HIGH_VRAM" if args.highvram or args.gpu_only else "NORMAL_VRAM")
    log.info("Device: cuda:0 %s : cudaMallocAsync", gpu.name)


def _folder_paths(args: Any, base: str, checkout: str) -> FolderPaths:
    """The folders, extra model paths included; ComfyUI's own failures for a bad YAML or no custom_nodes/."""
    paths = FolderPaths(base, args.output_directory, args.input_directory, args.temp_directory, args.user_directory)
    extra_configs = []
    default_extra = os.path.join(checkout, "extra_model_paths.yaml")
    if os.path.isfile(default_extra):
        extra_configs.append(default_extra)
    extra_configs += args.extra_model_paths_config or []
    try:
        for path in extra_configs:
            log.info("Adding extra search path(s) from %s", path)
            paths.load_extra_model_paths(path)
    except ExtraPathsError as exc:
        _die(f"yaml.YAMLError: {exc}")
    for directory in (paths.output, paths.input, paths.temp, paths.user):
        os.makedirs(directory, exist_ok=True)
    init_database(args.database_url or "sqlite:///" + os.path.join(checkout, "user", "comfyui.db"))
    if not os.path.isdir(paths.custom_nodes):
        # ComfyUI 0.8.0 lists custom_nodes/ at start and dies when it is not there
        _die(f"FileNotFoundError: [Errno 2] No such file or directory: '{paths.custom_nodes}'")
    return paths


def _bind(args: Any, handler: type) -> tuple[list[ThreadingHTTPServer], str]:
    """One server per --listen address (TLS when a key and certificate are given), and the scheme."""
    hosts = [h.strip() for h in args.listen.split(",") if h.strip()]
    servers = []
    try:
        for host in hosts:
            servers.append(_make_server(host, args.port, handler))
    except OSError as exc:
        _die(f"OSError: [Errno {exc.errno}] error while attempting to bind on address ({args.listen!r}, {args.port}): {exc.strerror}")
    scheme = "http"
    if args.tls_keyfile and args.tls_certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_certfile, args.tls_keyfile)
        for server in servers:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    log.info("Starting server\n")
    for host in hosts:
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else f"[{host}]" if ":" in host else host
        log.info("To see the GUI go to: %s://%s:%d", scheme, shown, args.port)
    return servers, scheme


def _hang(servers: list[ThreadingHTTPServer], stop: threading.Event) -> int:
    """The simulated hang: connections are accepted and never answered, until stopped."""
    log.warning("(simulated hang: connections are accepted and never answered)")
    held = []
    for server in servers:
        server.socket.settimeout(0.2)
    while not stop.is_set():
        for server in servers:
            try:
                connection, _addr = server.socket.accept()
                held.append(connection)
            except (TimeoutError, OSError):
                pass
    return 0


def main(argv: list[str], checkout: str) -> int:
    args = cli.parse_args(argv)
    logging.basicConfig(stream=sys.stdout if args.log_stdout else sys.stderr, level=getattr(logging, args.verbose), format="%(message)s")
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    base = os.path.abspath(args.base_directory or checkout)
    try:
        config = sim_config.load(checkout)
    except sim_config.ConfigError as exc:
        log.error("ComfyUI API simulator: bad configuration: %s", exc)
        return 1
    sys.path.insert(0, checkout)
    import comfyui_version  # noqa: PLC0415 - the checkout's own version file, as ComfyUI reads it

    version = config.version or comfyui_version.__version__
    log.info("[ComfyUI API simulator] comfyops.comfyui's simulator of the ComfyUI HTTP API, not ComfyUI. Knobs from: %s", config.source)
    log.info("Checkpoint files will always be loaded safely.")
    total, _free = memory()
    if args.cpu:
        _log_device(args, config, total)
    log.info("Python version: %s", sys.version)
    log.info("ComfyUI version: %s", version)
    if config.start_delay:
        log.info("(simulated slow start: %.1f s before serving)", config.start_delay)
        time.sleep(config.start_delay)
    if config.crash_at_start:
        _die("RuntimeError: Simulated crash at start (crash_at_start)")
    if not args.cpu:
        _log_device(args, config, total)

    paths = _folder_paths(args, base, checkout)
    registry = NodeRegistry(paths, disable_api_nodes=args.disable_api_nodes)
    times = registry.load_custom_nodes(args.disable_all_custom_nodes, args.whitelist_custom_nodes)
    if times:
        log.info("\nImport times for custom nodes:")
        for seconds, path, ok in sorted(times):
            log.info("%6.1f seconds%s: %s", seconds, "" if ok else " (IMPORT FAILED)", path)
        log.info("")
    prompts = PromptServer(registry, config, disable_metadata=args.disable_metadata)
    app = App(args, checkout, config, paths, registry, prompts, version)
    handler = type("BoundHandler", (Handler,), {"app": app})
    servers, _scheme = _bind(args, handler)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if config.hang:
        return _hang(servers, stop)

    prompts.start()
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    while not stop.is_set():
        stop.wait(0.5)
    log.info("Stopped server")
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0
