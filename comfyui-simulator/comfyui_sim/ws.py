"""ComfyUI's ``GET /ws`` WebSocket, on the standard library (RFC 6455, text frames only).

As in ComfyUI 0.8.0's ``server.py``: the client names itself with ``?clientId=`` (else the
server makes a hex id), gets ``{"type": "status", "data": {"status": {"exec_info":
{"queue_remaining": N}}, "sid": ID}}`` first, then every ``status`` change (to all sockets)
and the execution events of the prompts submitted with its ``client_id`` (to that socket
alone). What a client sends is read and ignored, except close and ping.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import struct
import threading
import uuid
from typing import BinaryIO

log = logging.getLogger("comfyui_sim")
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_CLIENT_FRAME = 1 << 20


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (servers never mask)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def read_frame(stream: BinaryIO) -> tuple[int, bytes] | None:
    """(opcode, payload) of the next client frame, or None when the peer is gone or breaks the protocol."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", stream.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", stream.read(8))[0]
    if size > MAX_CLIENT_FRAME:
        return None
    mask = stream.read(4) if head[1] & 0x80 else b""
    payload = stream.read(size)
    if len(payload) < size:
        return None
    if mask:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return opcode, payload


class Sockets:
    """The open sockets by client id; sending is serialised per socket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[str, tuple[BinaryIO, threading.Lock]] = {}

    def add(self, sid: str, stream: BinaryIO) -> None:
        with self._lock:
            self._sockets[sid] = (stream, threading.Lock())

    def remove(self, sid: str, stream: BinaryIO) -> None:
        with self._lock:
            if self._sockets.get(sid, (None,))[0] is stream:
                del self._sockets[sid]

    def count(self) -> int:
        with self._lock:
            return len(self._sockets)

    def send(self, event: str, data: dict, sid: str | None = None) -> None:
        """A JSON text message to one client (sid) or to all (None)."""
        self.send_frame(frame(0x1, json.dumps({"type": event, "data": data}).encode("utf-8")), sid)

    def send_frame(self, payload: bytes, sid: str | None = None) -> None:
        """A frame to one client (sid) or to all (None); a socket that cannot take it is dropped."""
        with self._lock:
            targets = [(key, value) for key, value in self._sockets.items() if sid is None or key == sid]
        for key, (stream, lock) in targets:
            try:
                with lock:
                    stream.write(payload)
                    stream.flush()
            except OSError:
                self.remove(key, stream)


def serve(handler, sockets: Sockets, queue_remaining: int, client_id: str) -> None:
    """Upgrade the request (a BaseHTTPRequestHandler in GET) and serve the socket until it closes."""
    key = handler.headers.get("Sec-WebSocket-Key", "")
    if handler.headers.get("Upgrade", "").lower() != "websocket" or not key:
        handler._text(400, "Expected WebSocket upgrade")  # aiohttp answers a plain GET /ws with 400
        return
    sid = client_id or uuid.uuid4().hex
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(key))
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True
    sockets.add(sid, handler.wfile)
    log.debug("websocket %s connected", sid)
    sockets.send("status", {"status": {"exec_info": {"queue_remaining": queue_remaining}}, "sid": sid}, sid)
    try:
        while True:
            message = read_frame(handler.rfile)
            if message is None or message[0] == 0x8:
                break
            if message[0] == 0x9:
                sockets.send_frame(frame(0xA, message[1]), sid)
    except OSError:
        pass
    finally:
        sockets.remove(sid, handler.wfile)
        try:
            handler.wfile.write(frame(0x8, b""))
            handler.wfile.flush()
        except OSError:
            pass
        log.debug("websocket %s closed", sid)
