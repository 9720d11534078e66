"""Model files: resumable download from a real loopback HTTP server, digest, size, quarantine, cache, manifest."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
import typing

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _model

DATA = os.urandom(3 * 1024 * 1024 + 123)
DIGEST = hashlib.sha256(DATA).hexdigest()


class ModelServer(http.server.BaseHTTPRequestHandler):
    """Serves DATA at /m.safetensors with Range support; /redirect sends there; records Authorization."""

    seen: typing.ClassVar[list] = []
    cut_after = None  # bytes to send before dropping the connection
    location = "/m.safetensors"  # where /redirect sends

    def do_GET(self):
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "range": self.headers.get("Range")})
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", type(self).location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not self.path.startswith("/m.safetensors"):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            if start >= len(DATA):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(DATA) - 1, len(DATA)))
        else:
            self.send_response(200)
        body = DATA[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut_after is not None:
            self.wfile.write(body[: type(self).cut_after])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("Handler", (ModelServer,), {"seen": [], "cut_after": None})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield handler, "http://127.0.0.1:%d" % httpd.server_port
    httpd.shutdown()


def test_download_verify_then_cached(server, tmp_path):
    handler, base = server
    first = _model.ensure_model(str(tmp_path), "checkpoints", "m.safetensors", base + "/m.safetensors?token=SECRET", sha256=DIGEST, size=len(DATA))
    assert first["changed"] and first["action"] == "downloaded" and first["downloaded_bytes"] == len(DATA)
    assert (tmp_path / "checkpoints" / "m.safetensors").read_bytes() == DATA
    assert not (tmp_path / "checkpoints" / "m.safetensors.partial").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["models"] == [{"folder": "checkpoints", "name": "m.safetensors", "size": len(DATA), "sha256": DIGEST, "source": base + "/m.safetensors"}]
    assert "SECRET" not in (tmp_path / "manifest.json").read_text()
    second = _model.ensure_model(str(tmp_path), "checkpoints", "m.safetensors", base + "/m.safetensors", sha256=DIGEST)
    assert not second["changed"] and second["action"] == "verified" and second["digest_cached"] is True
    assert len(handler.seen) == 1, "an unchanged model is not fetched again"


def test_touched_file_is_rehashed_not_trusted(server, tmp_path):
    _handler, base = server
    _model.ensure_model(str(tmp_path), "vae", "m.safetensors", base + "/m.safetensors", sha256=DIGEST)
    path = tmp_path / "vae" / "m.safetensors"
    os.utime(path, (1e9, 1e9))
    again = _model.ensure_model(str(tmp_path), "vae", "m.safetensors", base + "/m.safetensors", sha256=DIGEST)
    assert again["digest_cached"] is False and again["action"] == "verified"


def test_resume_after_a_broken_download(server, tmp_path):
    handler, base = server
    handler.cut_after = 1024 * 1024
    with pytest.raises(_model.ModelError, match="broke off after 1048576 bytes"):
        _model.ensure_model(str(tmp_path), "loras", "m.safetensors", base + "/m.safetensors", sha256=DIGEST)
    assert not (tmp_path / ".quarantine").exists(), "a short download is kept for resuming, not quarantined"
    partial = tmp_path / "loras" / "m.safetensors.partial"
    assert 0 < partial.stat().st_size < len(DATA)
    handler.cut_after = None
    result = _model.ensure_model(str(tmp_path), "loras", "m.safetensors", base + "/m.safetensors", sha256=DIGEST)
    assert result["resumed"] and result["downloaded_bytes"] == len(DATA) - 1024 * 1024
    assert handler.seen[-1]["range"] == "bytes=%d-" % (1024 * 1024)
    assert (tmp_path / "loras" / "m.safetensors").read_bytes() == DATA


def test_wrong_digest_is_quarantined_and_fails(server, tmp_path):
    _handler, base = server
    with pytest.raises(_model.ModelError, match="does not match the expected"):
        _model.ensure_model(str(tmp_path), "checkpoints", "m.safetensors", base + "/m.safetensors", sha256="0" * 64)
    assert not (tmp_path / "checkpoints" / "m.safetensors").exists()
    quarantined = [p.name for p in (tmp_path / ".quarantine").iterdir()]
    assert any(name.startswith("m.safetensors.partial.") and not name.endswith(".why") for name in quarantined)
    assert any(name.endswith(".why") for name in quarantined)


def test_present_file_with_wrong_digest_is_replaced(server, tmp_path):
    _handler, base = server
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "m.safetensors").write_bytes(b"corrupt")
    plan = _model.ensure_model(str(tmp_path), "checkpoints", "m.safetensors", base + "/m.safetensors", sha256=DIGEST, check_mode=True)
    assert plan["changed"] and plan["action"] == "would quarantine and download"
    assert (tmp_path / "checkpoints" / "m.safetensors").read_bytes() == b"corrupt", "check mode changed nothing"
    done = _model.ensure_model(str(tmp_path), "checkpoints", "m.safetensors", base + "/m.safetensors", sha256=DIGEST)
    assert done["action"] == "downloaded" and (tmp_path / "checkpoints" / "m.safetensors").read_bytes() == DATA
    assert any(p.name.startswith("m.safetensors.") for p in (tmp_path / ".quarantine").iterdir())


def test_wrong_size_fails_before_the_download(server, tmp_path):
    _handler, base = server
    with pytest.raises(_model.ModelError, match="announces %d bytes, the declared size is 5; nothing was downloaded" % len(DATA)):
        _model.ensure_model(str(tmp_path), "checkpoints", "m.safetensors", base + "/m.safetensors", sha256=DIGEST, size=5)
    assert not (tmp_path / "checkpoints" / "m.safetensors.partial").exists(), "not a byte was written"


def test_redirect_drops_auth_for_another_host_only(server, tmp_path):
    handler, base = server
    _model.ensure_model(str(tmp_path), "checkpoints", "m.safetensors", base + "/redirect", sha256=DIGEST, headers={"Authorization": "Bearer t0ken"})
    assert [s["auth"] for s in handler.seen] == ["Bearer t0ken", "Bearer t0ken"], "same host keeps the header"


def test_redirect_to_another_loopback_host_drops_auth(server, tmp_path):
    """127.0.0.1 redirects to the same file on 127.0.0.2 (another host): the token is not sent there."""
    first, base = server
    other = type("Other", (ModelServer,), {"seen": [], "cut_after": None})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.2", 0), other)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        first.location = "http://127.0.0.2:%d/m.safetensors" % httpd.server_port
        result = _model.ensure_model(
            str(tmp_path), "checkpoints", "m.safetensors", base + "/redirect", sha256=DIGEST, headers={"Authorization": "Bearer t0ken"}
        )
    finally:
        httpd.shutdown()
    assert result["action"] == "downloaded" and result["sha256"] == DIGEST
    assert [s["auth"] for s in first.seen] == ["Bearer t0ken"] and [s["auth"] for s in other.seen] == [None]


def test_file_url_and_errors(server, tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(DATA)
    result = _model.ensure_model(str(tmp_path / "models"), "vae", "sub/x.safetensors", source.as_uri(), sha256=DIGEST)
    assert result["action"] == "downloaded" and (tmp_path / "models" / "vae" / "sub" / "x.safetensors").is_file()
    _handler, base = server
    with pytest.raises(_model.ModelError, match="answered 404"):
        _model.ensure_model(str(tmp_path), "vae", "y.safetensors", base + "/missing?token=SECRET", sha256=DIGEST)
    with pytest.raises(_model.ModelError) as caught:
        _model.ensure_model(str(tmp_path), "vae", "y.safetensors", base + "/missing?token=SECRET", sha256=DIGEST)
    assert "SECRET" not in str(caught.value)
    with pytest.raises(_model.ModelError, match="a sha256 is required"):
        _model.ensure_model(str(tmp_path), "vae", "y.safetensors", base + "/m.safetensors")
    with pytest.raises(_model.ModelError, match="64 hex digits"):
        _model.ensure_model(str(tmp_path), "vae", "y.safetensors", base + "/m.safetensors", sha256="abc")
    with pytest.raises(_model.ModelError, match="is not allowed"):
        _model.ensure_model(str(tmp_path), "vae", "../escape", base + "/m.safetensors", sha256=DIGEST)
    # issue 26: a relative models_dir was accepted; a file:// URL to a directory said "does not exist"
    with pytest.raises(_model.ModelError, match="models_dir: 'models' is not an absolute path"):
        _model.ensure_model("models", "vae", "y.safetensors", source.as_uri(), sha256=DIGEST)
    with pytest.raises(_model.ModelError, match="is a directory; a file:// source names one model file"):
        _model.ensure_model(str(tmp_path / "models"), "vae", "d.safetensors", tmp_path.as_uri(), sha256=DIGEST)
    unchecked = _model.ensure_model(str(tmp_path), "vae", "z.safetensors", base + "/m.safetensors", require_sha256=False)
    assert unchecked["sha256"] == DIGEST
