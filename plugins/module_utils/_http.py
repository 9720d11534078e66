# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small HTTP transport and one URL helper for every caller (ComfyUI client, model downloader, checks).

Plain Python (stdlib only), no Ansible:

- ``parse_url`` parses a URL once, at the edge, and fails with the option and the value (bad scheme, no host,
  a port outside 1-65535) instead of a traceback later;
- ``redact_url`` is the only form in which a URL is shown, stored or turned into a name: no user info, no
  query string, no fragment (tokens and presigned signatures live there);
- ``redact`` removes the secrets we sent from a text we received (a server that echoes a token in its 401 body);
- ``request`` is one HTTP exchange with one deadline for the whole call (connect, headers and body: a server
  that drips one byte a second is cut off at the deadline, not after 40 s, whether it keeps the connection or
  closes it after the answer) and a cap on the body size.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field

MAX_BODY = 16 * 1024 * 1024  # ComfyUI's /object_info is ~1 MB; nothing we read is near 16 MiB


class UrlError(ValueError):
    """A URL that cannot be used; the message names the option and shows the URL without secrets."""


class TransportError(Exception):
    """No usable HTTP answer: refused, reset, too large, or past the deadline (``timed_out``)."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Url:
    scheme: str
    host: str
    port: int | None
    target: str  # path and query, as sent in the request line
    safe: str  # the URL without user info, query or fragment: the only form shown

    @property
    def origin(self) -> tuple[str, str, int | None]:
        return (self.scheme, self.host, self.port)


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def redact_url(url: object) -> str:
    """`url` without user info, query string or fragment; a text that is no URL at all becomes '<url>'."""
    try:
        parts = urllib.parse.urlsplit(str(url))
    except ValueError:
        return "<unparsable url>"
    if not parts.scheme:
        text = str(url)
        return text if "@" not in text and "?" not in text else "<url>"  # a plain path has nothing to hide
    host = parts.netloc.rpartition("@")[2]  # user info goes, a bad port stays visible: it is what is wrong
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_url(value: object, option: str, schemes: tuple[str, ...] = ("http", "https")) -> Url:
    """A checked Url, or UrlError naming `option` (the value shown redacted)."""
    if not isinstance(value, str) or not value.strip():
        raise UrlError("%s: expected a URL such as http://127.0.0.1:8188, got %r" % (option, value))
    try:
        parts = urllib.parse.urlsplit(value.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlError("%s: %s is not a usable URL (%s): ports are 1-65535" % (option, redact_url(value), exc)) from None
    if parts.scheme not in schemes:
        raise UrlError("%s: %s: the scheme must be one of %s" % (option, redact_url(value), ", ".join(schemes)))
    if parts.scheme != "file" and not parts.hostname:
        raise UrlError("%s: %s has no host" % (option, redact_url(value)))
    if port == 0:
        raise UrlError("%s: %s: port 0 is not a port to connect to (1-65535)" % (option, redact_url(value)))
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return Url(parts.scheme, parts.hostname or "", port, target, redact_url(value))


def secrets_of(headers: dict[str, str] | None) -> list[str]:
    """The values of credential headers and their last word ('Bearer abc' -> 'Bearer abc', 'abc')."""
    found: list[str] = []
    for key, value in (headers or {}).items():
        if key.lower() in ("authorization", "proxy-authorization", "cookie", "x-api-key") and value:
            found.append(value)
            found.append(value.split()[-1])
    return found


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """`text` with every secret of at least 4 characters replaced by '***'."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def connection_for(url: Url, timeout: float) -> http.client.HTTPConnection:
    """An unopened connection (no proxy from the environment: ComfyUI and our targets are direct)."""
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    return cls(url.host, url.port, timeout=timeout)


def request(
    method: str,
    url: str | Url,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    max_bytes: int = MAX_BODY,
) -> Response:
    """One HTTP exchange finished within `timeout` seconds in total, its body at most `max_bytes`."""
    target = url if isinstance(url, Url) else parse_url(url, "url")
    if not timeout or timeout <= 0:
        raise TransportError("%s %s: the timeout must be positive, got %r" % (method, target.safe, timeout))
    connection = connection_for(target, timeout)
    expired = threading.Event()
    # The socket, held here: http.client drops its own reference once a response that closes the connection (HTTP/1.0,
    # "Connection: close") is under way, and the deadline must still reach the body's reads.
    held: list[socket.socket] = []

    def expire() -> None:
        expired.set()
        for sock in held or ([connection.sock] if connection.sock is not None else []):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    late = "%s %s: no answer within %.1f s (the timeout)" % (method, target.safe, timeout)
    try:
        connection.connect()
        held.append(connection.sock)
        if expired.is_set():
            raise TransportError(late, timed_out=True)
        connection.request(method, target.target, body=body, headers=headers or {})
        answer = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        while True:
            block = answer.read1(65536)
            if not block or expired.is_set():
                break
            size += len(block)
            if size > max_bytes:
                raise TransportError("%s %s: the answer is larger than %d bytes; refusing to read more" % (method, target.safe, max_bytes))
            chunks.append(block)
        if expired.is_set():
            raise TransportError(late, timed_out=True)
        return Response(answer.status, answer.reason, {k.lower(): v for k, v in answer.getheaders()}, b"".join(chunks))
    except (socket.timeout, TimeoutError) as exc:
        raise TransportError(late, timed_out=True) from exc
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise TransportError(late, timed_out=True) from exc
        raise TransportError("%s %s: %s" % (method, target.safe, redact(str(exc), secrets_of(headers)))) from exc
    finally:
        timer.cancel()
        connection.close()
