"""Issue 9: bad input and misbehaving servers get clear errors, never a traceback, a hang or a leaked secret."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest
from ansible_collections.comfyops.comfyui.plugins.filter.public_listen import loopback, public_listen
from ansible_collections.comfyops.comfyui.plugins.module_utils import _comfyui, _envfile, _health, _http, _units, _workflow
from conftest import recorded


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """What a server that is not ComfyUI, or a broken one, answers; `mode` picks the behaviour."""

    mode = "html"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        mode = self.server.mode
        if mode == "html":
            self._send(200, b"<html><body>Welcome to nginx</body></html>", "text/html")
        elif mode == "list":
            self._send(200, b"[1, 2, 3]")
        elif mode == "nokeys":
            self._send(200, b'{"devices": []}')
        elif mode in ("drip", "drip-close"):
            self.send_response(200)
            self.send_header("Content-Length", "100")
            if mode == "drip-close":  # http.client lets go of the socket once such an answer is under way
                self.send_header("Connection", "close")
            self.end_headers()
            for _byte in range(100):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)  # the server's drip itself (one byte per 0.2 s), not a wait for readiness
        elif mode == "endless":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return
        elif mode == "echo401":
            self._send(401, ("bad token %s" % self.headers.get("Authorization", "")).encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._send(200, b'{"number": 1, "node_errors": {}}')


@pytest.fixture
def bad_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    server.daemon_threads = True
    server.handle_error = lambda *_args: None  # the client cutting a drip or an endless body short is the point
    server.mode = "html"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["html", "list", "nokeys"])
def test_not_comfyui_is_never_healthy(bad_server, mode):
    server, url = bad_server
    server.mode = mode
    with pytest.raises(_comfyui.NotComfyUI, match="not ComfyUI"):
        _comfyui.ComfyUIClient(url, retries=0).system_stats()
    report = _health.run_health([{"name": "default", "url": url}], {}, ["api"])
    assert report["state"] == "failed"


def test_post_prompt_without_prompt_id(bad_server):
    _server, url = bad_server
    with pytest.raises(_comfyui.NotComfyUI, match="without a prompt_id"):
        _comfyui.ComfyUIClient(url, retries=0).submit(recorded("smoke_workflow.json"))


def test_one_deadline_for_the_whole_call(bad_server):
    server, url = bad_server
    server.mode = "drip"  # one byte every 0.2 s: a per-read timeout of 1 s would wait 20 s
    started = time.monotonic()
    with pytest.raises(_http.TransportError, match=r"no answer within 1\.0 s") as caught:
        _http.request("GET", url + "/system_stats", timeout=1.0)
    assert caught.value.timed_out and time.monotonic() - started < 3


def test_one_deadline_also_when_the_server_closes_the_connection_after_the_answer(bad_server):
    server, url = bad_server
    server.mode = "drip-close"  # before issue 26 the deadline missed this body: 20 s with timeout 1
    started = time.monotonic()
    with pytest.raises(_http.TransportError, match=r"no answer within 1\.0 s") as caught:
        _http.request("GET", url + "/system_stats", timeout=1.0)
    assert caught.value.timed_out and time.monotonic() - started < 3


@pytest.mark.parametrize("mode", ["drip", "drip-close"])
def test_one_deadline_across_the_retries_of_a_get(bad_server, mode):
    server, url = bad_server
    server.mode = mode  # before issue 26 a timed-out GET was retried twice more, each with the whole timeout
    client = _comfyui.ComfyUIClient(url, timeout=1.0, retries=2, retry_delay=0.1)
    started = time.monotonic()
    with pytest.raises(_comfyui.ComfyUIUnavailable) as caught:
        client.get_json("/system_stats")
    assert caught.value.timed_out and time.monotonic() - started < 2.5


def test_a_refused_get_is_still_retried_within_the_deadline(monkeypatch):
    calls = []
    real = _comfyui.http_request
    monkeypatch.setattr(_comfyui, "http_request", lambda *args: calls.append(args) or real(*args))
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        client = _comfyui.ComfyUIClient("http://127.0.0.1:%d" % probe.getsockname()[1], timeout=5.0, retries=2, retry_delay=0.05)
        with pytest.raises(_comfyui.ComfyUIUnavailable):
            client.get_json("/system_stats")
    assert len(calls) == 3, "connection refused: the first try and two retries"


def test_bodies_are_capped(bad_server):
    server, url = bad_server
    server.mode = "endless"
    with pytest.raises(_http.TransportError, match="larger than 1048576 bytes"):
        _http.request("GET", url + "/object_info", timeout=10.0, max_bytes=1024 * 1024)


def test_a_token_echoed_in_an_error_body_is_redacted(bad_server):
    server, url = bad_server
    server.mode = "echo401"
    client = _comfyui.ComfyUIClient(url, retries=0, headers={"Authorization": "Bearer hf_SECRETTOKEN123"})
    with pytest.raises(_comfyui.ComfyUIHTTPError) as caught:
        client.system_stats()
    assert "hf_SECRETTOKEN123" not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:99999", "http://127.0.0.1:abc", "http://127.0.0.1:0", "ftp://x", "http://", "", None, "http://[::1"],
)
def test_bad_urls_are_refused_clearly(url):
    with pytest.raises(_http.UrlError, match=r"^comfyui_url: "):
        _http.parse_url(url, "comfyui_url")


def test_urls_are_shown_without_secrets():
    assert _http.redact_url("https://user:pass@host:8443/a/f.tar.gz?X-Amz-Signature=abc#frag") == "https://host:8443/a/f.tar.gz"
    assert _http.redact_url("/srv/models/x.bin") == "/srv/models/x.bin"
    assert "tok" not in _http.redact_url("git@github.com:org/repo.git?tok")


def test_health_never_removes_a_file_the_server_names_outside_output_dir(tmp_path, monkeypatch):
    output = tmp_path / "output"
    output.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")

    def outcome(*_args, **_kwargs):
        return {"status": "success", "duration": 0.1, "error": None, "files": [{"node": "2", "filename": "victim.txt", "subfolder": "..", "type": "output"}]}

    monkeypatch.setattr(_health, "execute_workflow", outcome)
    health = _health.InstanceHealth("default", "http://127.0.0.1:1", dict(_health.DEFAULTS, output_dir=str(output)), ["workflow"])
    health.check_workflow()
    assert victim.read_text() == "keep me"
    assert health.results[0]["status"] == "fail" and health.results[0]["observed"] == "output outside output_dir"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"redis": "host:abc"}, "redis: 'host:abc': expected host:port"),
        ({"redis": "host:70000"}, "port 1-65535"),
        ({"timeout": -1}, "timeout: expected a positive number"),
        ({"workflow_timeout": 0}, "workflow_timeout"),
        ({"min_vram_free": "9" * 400 + "GiB"}, "min_vram_free: expected a size"),
    ],
)
def test_health_parameters_fail_with_the_option_named(params, message):
    with pytest.raises(ValueError, match=message):
        _health.run_health([{"name": "default", "url": "http://127.0.0.1:1"}], params, ["api"])


def test_instance_names_cannot_reach_file_names():
    with pytest.raises(ValueError, match=r"instance name '\.\./x'"):
        _health.run_health([{"name": "../x", "url": "http://127.0.0.1:1"}], {}, ["api"])


@pytest.mark.parametrize(("text", "message"), [("64", "has no unit"), ("1" * 19 + "TB", "beyond 2"), ("1" * 400, "expected a size"), (-1, "0 to 2")])
def test_sizes_need_units_and_ranges(text, message):
    with pytest.raises(_units.UnitError, match=message):
        _units.parse_size(text, "min_ram")


def test_env_file_values_stay_text():
    env = {"HF_TOKEN": "pa$$w0rd", "INJECT": "$(touch proof)`id`", "QUOTE": 'a"b\\c'}
    text = _envfile.render(env)
    assert _envfile.parse(text) == env
    assert "$(" not in text.replace("\\$(", "")
    for bad, message in ({"A": "x\ny"}, "newline"), ({"1A": "x"}, "not a variable name"), ({"A": {"b": 1}}, "expected a string"):
        with pytest.raises(_envfile.EnvError, match=message):
            _envfile.render(bad, "comfyui_deploy_environment")


def test_loopback_filter():
    assert loopback("127.0.0.1") and loopback("::1") and loopback("localhost") and loopback("127.0.0.2,::1")
    for public in ("0.0.0.0", "::", "10.0.0.5", "comfy.example", "", "127.0.0.1,0.0.0.0"):
        assert not loopback(public), public
    assert public_listen(["127.0.0.1", "0.0.0.0", "::1", "10.1.2.3"]) == ["0.0.0.0", "10.1.2.3"]


def _info(class_type):
    return json.loads(json.dumps(recorded("object_info_EmptyImage.json")))["EmptyImage"] if class_type == "EmptyImage" else None


@pytest.mark.parametrize(
    "prompt",
    [
        {"1": "EmptyImage"},
        {"1": {"class_type": ["EmptyImage"], "inputs": {}}},
        {"1": {"class_type": "EmptyImage", "inputs": ["width", 64]}},
        [1, 2],
        "prompt",
    ],
)
def test_workflow_validator_types(prompt):
    valid, error, _outputs, _node_errors = _workflow.Validator(_info).validate_prompt(prompt)
    assert not valid and error["type"] == "invalid_prompt"


def test_a_long_chain_does_not_recurse():
    info = {
        "Pass": {"input": {"required": {"x": ["INT", {"min": 0}]}}, "output": ["INT"], "output_node": False},
        "Sink": {"input": {"required": {"x": ["INT", {}]}}, "output": [], "output_node": True},
    }
    prompt = {"0": {"class_type": "Pass", "inputs": {"x": 1}}}
    for i in range(1, 1200):
        prompt[str(i)] = {"class_type": "Pass", "inputs": {"x": [str(i - 1), 0]}}
    prompt["sink"] = {"class_type": "Sink", "inputs": {"x": ["1199", 0]}}
    valid, error, outputs, _node_errors = _workflow.Validator(info.get).validate_prompt(prompt)
    assert valid and error is None and outputs == ["sink"]
    prompt["0"]["inputs"]["x"] = -5  # the error at the far end of the chain still reaches the output
    valid, error, _outputs, node_errors = _workflow.Validator(info.get).validate_prompt(prompt)
    assert not valid and node_errors["0"]["errors"][0]["type"] == "value_smaller_than_min"
    assert node_errors["0"]["dependent_outputs"] == ["sink"]


@pytest.mark.parametrize(
    "prompt",
    [{"1": "EmptyImage"}, {"1": {"class_type": "EmptyImage", "inputs": ["width", 64]}}, {"1": {"class_type": {"x": 1}}}],
)
def test_the_simulator_answers_400_where_comfyui_does(simulator, prompt):
    answer = simulator.post("/prompt", {"prompt": prompt})
    assert answer.status == 400 and answer.json()["error"]["type"] == "invalid_prompt"
    assert simulator.get("/system_stats").status == 200, "the handler survived"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ports": [70000]}, "ports: 70000 is not a TCP port"),
        ({"ports": [-1]}, "ports: -1"),
        ({"endpoint_timeout": -2}, "endpoint_timeout: seconds"),
        ({"endpoints": ["http://pypi.org:99999"]}, "endpoints: http://pypi.org:99999 is not a usable URL"),
        ({"endpoints": ["example.org:abc"]}, "is not host:port"),
        ({"min_ram": "64"}, "min_ram: '64' has no unit"),
        ({"min_ram": "9" * 400 + "GB"}, "min_ram: expected a size"),
    ],
)
def test_host_validate_parameters_fail_with_the_option_named(params, message):
    from ansible_collections.comfyops.comfyui.plugins.module_utils import _checks

    with pytest.raises(_units.UnitError, match=message.replace("(", r"\(")):
        _checks.run_checks(params, checks=["cpu_cores"])


def test_an_unparsable_manifest_names_the_file_and_line(tmp_path):
    from ansible_collections.comfyops.comfyui.plugins.module_utils import _checks

    manifest = tmp_path / "models.yml"
    manifest.write_text("models:\n  - name: a\n    size: [unclosed\n")
    with pytest.raises(_units.UnitError, match=r"models_manifest .*models.yml: neither JSON nor YAML at line \d"):
        _checks.run_checks({"models_manifest": str(manifest)}, checks=["cpu_cores"])


def test_a_torch_probe_that_prints_garbage_is_a_clear_failure(tmp_path):
    from ansible_collections.comfyops.comfyui.plugins.module_utils import _checks

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'Welcome to torch!'\n")
    fake.chmod(0o755)
    ctx = _checks.HostContext(dict(_checks.DEFAULTS, torch_python=str(fake)))
    (item,) = _checks.check_torch_cuda(ctx)
    assert item.status == "fail" and "not the probe's JSON" in item.message


def test_deploy_preflight_reports_every_problem_at_once_and_never_an_environment_value():
    from ansible_collections.comfyops.comfyui.plugins.filter.deploy_preflight import deploy_preflight

    good = {
        "release_id": "v0.8.0-abc-123",
        "source": {"type": "git", "url": "https://x/ComfyUI.git", "ref": "v0.8.0"},
        "instances": [{"name": "gpu0", "port": 8188}, {"name": "gpu1", "port": 8189}],
        "listen": "127.0.0.1",
        "allow_public_listen": False,
        "environment": {"HF_TOKEN": "s3cr3t-env"},
        "require_sha256": True,
        "tier": "production",
        "models": [{"name": "m", "sha256": "a" * 64}],
    }
    assert deploy_preflight(good) == []
    bad = dict(
        good,
        release_id="../x",
        source={"type": "archive", "url": "https://deployer:s3cr3t-url@x/a.tgz"},
        instances=[{"name": "GPU 0", "port": 8188, "listen": "0.0.0.0"}, {"name": "GPU 0", "port": 8188, "environment": {"BAD\nNAME": "s3cr3t-env"}}],
        require_sha256=False,
        models=[{"name": "m"}],
    )
    problems = deploy_preflight(bad)
    text = "; ".join(problems)
    assert "bad release id" in text and "archive url and checksum" in text
    assert "need unique lower-case names and unique ports" in text and "names are 1-64 of a-z" in text
    assert "0.0.0.0 is not loopback" in text and "comfyui_deploy_allow_public_listen" in text
    assert "instance GPU 0: " in text and "which comfyui_deploy_tier 'production' refuses" in text
    assert "s3cr3t-env" not in text and "s3cr3t-url" not in text  # the old asserts printed both
    assert deploy_preflight(dict(good, models=[{"name": "nodigest"}])) == ["models without sha256: nodigest"]
    assert deploy_preflight(dict(good, require_sha256=False, tier="staging", models=[{"name": "nodigest"}])) == []
    assert deploy_preflight(dict(good, listen="0.0.0.0", allow_public_listen=True)) == []
