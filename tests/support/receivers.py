"""Real receivers on loopback for the alerting tests and benchmarks: an HTTP receiver with programmable replies,
an SMTP server (aiosmtpd, optionally with STARTTLS, implicit TLS and AUTH) and a real Alertmanager process
(Debian's prometheus-alertmanager) routing to an HTTP receiver.

    python tests/support/receivers.py http --port 9099 --log /tmp/received.jsonl   # a receiver a playbook can hit
"""

from __future__ import annotations

import argparse
import datetime
import http.server
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or "/usr/bin/prometheus-alertmanager"


class HttpReceiver:
    """A threaded HTTP server on 127.0.0.1. `script` holds the replies to the next requests, in order: an HTTP
    status (int), "hang" (no answer until close()), or "drip" (200 headers, then one byte every 0.5 s).
    When the script is empty the reply is 200. Every request is kept in `requests` (path, headers, body, json, at)."""

    def __init__(self, script: list[Any] | None = None, log: str | None = None, port: int | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.arrived = threading.Condition(self.lock)
        self.log = log
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    reply = receiver.script.pop(0) if receiver.script else 200
                    try:
                        parsed = json.loads(body)
                    except ValueError:
                        parsed = None
                    record = {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body.decode("utf-8", "replace"),
                        "json": parsed,
                        "at": time.time(),
                        "reply": reply,
                    }
                    receiver.requests.append(record)
                    if receiver.log:
                        with open(receiver.log, "a", encoding="utf-8") as handle:
                            handle.write(json.dumps(record) + "\n")
                    receiver.arrived.notify_all()
                if reply == "hang":
                    receiver.closing.wait(60)
                    return
                if reply == "drip":
                    self.send_response(200)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    for _byte in range(100):
                        if receiver.closing.wait(0.5):
                            return
                        self.wfile.write(b".")
                        self.wfile.flush()
                    return
                payload = b'{"status": "ok"}' if reply < 300 else b'{"error": "scripted %d"}' % reply
                self.send_response(reply)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_PUT = do_POST  # noqa: N815

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", port or 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` requests arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the receiver got %d request(s), expected %d within %.1f s" % (len(self.requests), count, timeout))
                self.arrived.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def self_signed(directory: Path) -> tuple[str, str]:
    """A certificate and key for 127.0.0.1/localhost, made with `cryptography`."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class SmtpServer:
    """aiosmtpd on 127.0.0.1: plain, with STARTTLS (`tls="starttls"`) or implicit TLS (`tls="ssl"`), and AUTH
    when `credentials` (user, password) are given. Received messages are in `messages` (email.message objects)."""

    def __init__(self, directory: Path, tls: str = "none", credentials: tuple[str, str] | None = None, port: int | None = None) -> None:
        import email
        import email.policy

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[Any] = []
        self.logins: list[str] = []
        self.arrived = threading.Condition()
        server = self

        class Handler:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                with server.arrived:
                    server.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
                    server.arrived.notify_all()
                return "250 OK"

        def authenticator(smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
            ok = credentials is not None and (auth_data.login.decode(), auth_data.password.decode()) == credentials
            if ok:
                server.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)

        context = None
        if tls != "none":
            cert, key = self_signed(directory)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        self.port = port or free_port()
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port, "ready_timeout": 10}
        if credentials:
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls == "starttls")
        if tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif tls == "ssl":
            kwargs.update(ssl_context=context)
        self.controller = Controller(Handler(), **kwargs)
        self.controller.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the SMTP server got %d message(s), expected %d within %.1f s" % (len(self.messages), count, timeout))
                self.arrived.wait(left)
            return list(self.messages)

    def close(self) -> None:
        self.controller.stop()


ALERTMANAGER_CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, host]
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


class Alertmanager:
    """A real Alertmanager (Debian's package) on 127.0.0.1, clustering off, routing every alert to `webhook_url`."""

    def __init__(self, directory: Path, webhook_url: str, group_wait: str = "1s", port: int | None = None, group_interval: str = "1s") -> None:
        self.directory = directory
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        config = directory / "alertmanager.yml"
        config.write_text(ALERTMANAGER_CONFIG.format(group_wait=group_wait, group_interval=group_interval, url=webhook_url))
        (directory / "data").mkdir(exist_ok=True)
        self.log_path = directory / "alertmanager.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                ALERTMANAGER,
                "--config.file=%s" % config,
                "--storage.path=%s" % (directory / "data"),
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--cluster.listen-address=",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("alertmanager exited %s:\n%s" % (self.proc.returncode, self.log_path.read_text(errors="replace")))
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("alertmanager not ready within %.0f s:\n%s" % (timeout, self.log_path.read_text(errors="replace")))
            time.sleep(0.05)  # poll for readiness

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=5) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    http_cmd = sub.add_parser("http", help="an HTTP receiver that answers 200 and logs each request as a JSON line")
    http_cmd.add_argument("--port", type=int, required=True)
    http_cmd.add_argument("--log", required=True)
    smtp_cmd = sub.add_parser("smtp", help="an SMTP server (aiosmtpd) that logs each message (to, subject, body) as a JSON line")
    smtp_cmd.add_argument("--port", type=int, required=True)
    smtp_cmd.add_argument("--log", required=True)
    am_cmd = sub.add_parser("alertmanager", help="a real Alertmanager routing to a webhook URL")
    am_cmd.add_argument("--port", type=int, required=True)
    am_cmd.add_argument("--webhook", required=True)
    am_cmd.add_argument("--dir", default="")
    args = parser.parse_args()
    if args.what == "http":
        receiver = HttpReceiver(log=args.log, port=args.port)
        receiver.thread.join()
    elif args.what == "smtp":
        smtp = SmtpServer(Path(tempfile.mkdtemp(prefix="smtp-")), port=args.port)
        seen = 0
        while True:
            messages = smtp.wait_for(seen + 1, timeout=3600)
            with open(args.log, "a", encoding="utf-8") as handle:
                for message in messages[seen:]:
                    body = message.get_body(("plain", "html"))
                    record = {"to": message["To"], "subject": message["Subject"], "body": body.get_content() if body else "", "at": time.time()}
                    handle.write(json.dumps(record) + "\n")
            seen = len(messages)
    else:
        directory = Path(args.dir or tempfile.mkdtemp(prefix="alertmanager-"))
        directory.mkdir(parents=True, exist_ok=True)
        manager = Alertmanager(directory, args.webhook, port=args.port)
        try:
            manager.proc.wait()
        finally:
            manager.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
