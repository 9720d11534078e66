"""comfyops.comfyui.comfyui_alert as Ansible runs it, against real receivers on loopback."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from receivers import Alertmanager, HttpReceiver, SmtpServer
from test_modules import BIN, REPO, run_module

SLACK_PATH = "/services/T0001/B0002/hUsHsEcReTwEbHoOkToKeN"
SMTP_PASSWORD = "smtp-pa55word-never-shown"


@pytest.fixture
def rx():
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path, tls="starttls", credentials=("alerts", SMTP_PASSWORD))
    yield server
    server.close()


def common_case(rx, smtp, am_url, state_dir):
    return {
        "name": "ComfyUIRolledBack",
        "severity": "critical",
        "summary": "gpu-01 rolled back to r0",
        "labels": {"host": "gpu-01", "release": "r1"},
        "state_dir": str(state_dir),
        "channels": [
            {"type": "webhook", "url": rx.url + SLACK_PATH, "format": "slack"},
            {
                "type": "email",
                "to": ["oncall@example.com"],
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "validate_certs": False,
                "username": "alerts",
                "password": SMTP_PASSWORD,
            },
            {"type": "alertmanager", "url": am_url},
        ],
    }


def test_the_common_case_reaches_every_channel_and_no_secret_shows_even_at_vvv(tmp_path, rx, smtp):
    am_rx = HttpReceiver()
    manager = Alertmanager(tmp_path, am_rx.url)
    try:
        args = common_case(rx, smtp, manager.url, tmp_path / "state")
        playbook = tmp_path / "alert.yml"
        playbook.write_text(
            json.dumps(
                [
                    {
                        "hosts": "localhost",
                        "gather_facts": False,
                        "tasks": [{"comfyops.comfyui.comfyui_alert": args, "register": "sent"}, {"ansible.builtin.debug": {"var": "sent"}}],
                    }
                ]
            )
        )
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1")
        cmd = [
            str(BIN / "ansible-playbook"),
            "-vvv",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter=%s" % (BIN / "python"),
            str(playbook),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "delivered" in proc.stdout
        [hook] = rx.wait_for(1)
        assert hook["path"] == SLACK_PATH and "gpu-01 rolled back to r0" in hook["json"]["text"]
        [mail] = smtp.wait_for(1)
        assert mail["Subject"] == "[critical] ComfyUIRolledBack firing: gpu-01 rolled back to r0"
        [held] = manager.alerts()
        assert held["labels"] == {"alertname": "ComfyUIRolledBack", "severity": "critical", "host": "gpu-01", "release": "r1"}
        written = [p.read_text() for p in (tmp_path / "state").rglob("*") if p.is_file()]
        for secret in (SLACK_PATH, "hUsHsEcReTwEbHoOkToKeN", SMTP_PASSWORD):
            assert secret not in proc.stdout and secret not in proc.stderr, secret
            assert not any(secret in text for text in written), secret
    finally:
        manager.close()
        am_rx.close()


def test_check_mode_sends_nothing_and_says_what_it_would_send(tmp_path, rx):
    args = {"name": "HostFailed", "labels": {"host": "h1"}, "state_dir": str(tmp_path / "s"), "channels": [{"type": "webhook", "url": rx.url}]}
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_alert", args, check=True)
    assert out["changed"] is True and [o["status"] for o in out["outcomes"]] == ["would_send"]
    assert rx.requests == [] and not (tmp_path / "s").exists()  # nothing written, not even the directory


def test_the_default_state_directory_works_for_a_user_that_gives_none(tmp_path, rx):
    home = tmp_path / "home"
    home.mkdir()
    args = {"name": "HostFailed", "labels": {"host": "h1"}, "channels": [{"type": "webhook", "url": rx.url}]}
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_alert", args, env_more={"HOME": str(home), "XDG_STATE_HOME": ""})
    assert not out.get("failed") and out["counts"] == {"delivered": 1}
    assert (home / ".local" / "state" / "comfyops" / "alerts" / "alerts.log").is_file()
    again = run_module(tmp_path, "comfyops.comfyui.comfyui_alert", args, env_more={"HOME": str(home), "XDG_STATE_HOME": ""})
    assert again["changed"] is False and again["counts"] == {"suppressed": 1}  # the same alert again: a duplicate


def test_a_refusal_fails_the_task_after_the_other_channels_delivered(tmp_path, rx):
    bad = HttpReceiver([400])
    try:
        args = {
            "name": "X",
            "state_dir": str(tmp_path / "s"),
            "channels": [{"type": "webhook", "url": bad.url + "/tok3nInPath123"}, {"type": "webhook", "url": rx.url}],
        }
        out = run_module(tmp_path, "comfyops.comfyui.comfyui_alert", args)
        assert out["failed"] and "1 refused the alert for good" in out["msg"] and "HTTP 400" in out["msg"]
        assert "tok3nInPath123" not in json.dumps(out)
        assert sorted(o["status"] for o in out["outcomes"]) == ["delivered", "failed"] and len(rx.requests) == 1
    finally:
        bad.close()


def test_an_undeliverable_alert_is_spooled_with_a_warning_and_sent_by_the_next_call(tmp_path, rx):
    dead = HttpReceiver()
    url = dead.url
    dead.close()  # nothing listens there now
    args = {"name": "X", "state_dir": str(tmp_path / "s"), "budget": 1, "channels": [{"type": "webhook", "url": url, "timeout": 0.3}]}
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_alert", args)
    assert not out.get("failed") and out["changed"] is True and out["pending"] == 1
    assert "kept in the spool for the next call" in " ".join(out["warnings"])
    revived = HttpReceiver(port=int(url.rsplit(":", 1)[1]))
    try:
        out = run_module(tmp_path, "comfyops.comfyui.comfyui_alert", dict(args, name="Y"))
        assert sorted((o["alert"], o["status"], o["from_spool"]) for o in out["outcomes"]) == [("X", "delivered", True), ("Y", "delivered", False)]
        assert out["pending"] == 0
    finally:
        revived.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"name": "X", "channels": [{"type": "email", "to": ["a@b"]}]},
            "channels[0].smtp_host: an email channel needs the SMTP server's host name",
        ),
        ({"name": "X", "labels": {"a-b": 1}, "channels": [{"type": "webhook", "url": "http://127.0.0.1:1"}]}, "labels key 'a-b'"),
        ({"name": "X", "channels": [{"type": "webhook", "url": "gopher://127.0.0.1/s3cr3tp4th"}]}, "the scheme must be one of http, https"),
    ],
)
def test_bad_input_says_what_and_where(tmp_path, args, message):
    out = run_module(tmp_path, "comfyops.comfyui.comfyui_alert", dict(args, state_dir=str(tmp_path / "s")))
    assert out["failed"] and message in out["msg"]
    assert "s3cr3tp4th" not in out["msg"]
