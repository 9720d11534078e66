"""The notification library against real receivers on loopback: an HTTP receiver with scripted replies,
aiosmtpd (plain, STARTTLS with AUTH, implicit TLS) and a real Alertmanager."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _notify
from ansible_collections.comfyops.comfyui.plugins.module_utils._notify import Alert, Notifier, NotifyError, parse_channel
from conftest import free_port
from receivers import Alertmanager, HttpReceiver, SmtpServer


class Clock:
    """A controlled clock: sleep() advances it, so retries and windows are exact and instant."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def receiver():
    made = []

    def make(script=None):
        made.append(HttpReceiver(script))
        return made[-1]

    yield make
    for item in made:
        item.close()


def alert(name="ComfyUIRolledBack", state="firing", host="gpu-01", **more):
    return Alert.make(name, more.pop("severity", "critical"), state, summary="%s rolled back" % host, labels={"host": host, "release": "r1"}, **more)


def hook(url, **more):
    return parse_channel(dict({"type": "webhook", "url": url}, **more), "channels[0]")


def log_lines(notifier):
    return [json.loads(line) for line in Path(notifier.log_path).read_text().splitlines()]


def test_500_then_200_is_one_delivery_after_a_retry(tmp_path, receiver):
    rx = receiver([500, 200])
    clock = Clock()
    notifier = Notifier(str(tmp_path), clock=clock, sleep=clock.sleep)
    [outcome] = notifier.send([alert()], [hook(rx.url + "/hook")])
    assert (outcome.status, outcome.attempts) == ("delivered", 2)
    assert [r["reply"] for r in rx.requests] == [500, 200]
    assert len(clock.slept) == 1 and 0.1 <= clock.slept[0] <= 0.2  # backoff with jitter: base 0.2 s, equal jitter
    assert rx.requests[1]["json"]["alert"]["labels"] == {"host": "gpu-01", "release": "r1"}
    assert notifier.pending() == 0
    assert [line["status"] for line in log_lines(notifier)] == ["delivered"]


def test_400_is_permanent_not_retried_and_the_other_channel_still_delivers(tmp_path, receiver):
    bad, good = receiver([400, 200, 200]), receiver()
    outcomes = Notifier(str(tmp_path)).send([alert()], [hook(bad.url), hook(good.url)])
    by_url = {o.target: o for o in outcomes}
    assert sorted(o.status for o in outcomes) == ["delivered", "failed"]
    failed = next(o for o in by_url.values() if o.status == "failed")
    assert failed.attempts == 1 and "HTTP 400" in failed.error
    assert len(bad.requests) == 1 and len(good.requests) == 1


def test_a_permanent_failure_does_not_hold_back_the_next_identical_alert(tmp_path, receiver):
    rx = receiver([400])
    notifier = Notifier(str(tmp_path))
    assert notifier.send([alert()], [hook(rx.url)])[0].status == "failed"
    assert notifier.send([alert()], [hook(rx.url)])[0].status == "delivered"


def test_a_receiver_that_never_answers_is_retried_within_the_budget_then_spooled_and_sent_next_time(tmp_path, receiver):
    rx = receiver(["hang", "hang", "hang", "hang", "hang", "hang"])
    notifier = Notifier(str(tmp_path), budget=1.5)
    channel = hook(rx.url, timeout=0.5)
    [first] = notifier.send([alert()], [channel])
    assert first.status == "spooled" and first.attempts >= 2 and "no answer within" in first.error
    assert first.seconds < 1.5 + 0.3
    assert notifier.pending() == 1
    rx.script.clear()  # the receiver answers again
    outcomes = Notifier(str(tmp_path)).send([], [channel])
    assert [(o.status, o.from_spool) for o in outcomes] == [("delivered", True)]
    assert notifier.pending() == 0
    assert rx.requests[-1]["json"]["alert"]["name"] == "ComfyUIRolledBack"


def test_a_slow_drip_is_cut_at_the_channel_timeout(tmp_path, receiver):
    rx = receiver(["drip"] * 5)
    [outcome] = Notifier(str(tmp_path), budget=0.9).send([alert()], [hook(rx.url, timeout=0.6)])
    assert outcome.status == "spooled" and outcome.seconds < 1.2


def test_smtp_down_is_retried_then_spooled_and_delivered_on_the_next_call(tmp_path):
    port = free_port()
    channel = parse_channel({"type": "email", "to": ["oncall@example.com", "sre@example.com"], "smtp_host": "127.0.0.1", "smtp_port": port, "tls": "none"}, "c")
    clock = Clock()
    notifier = Notifier(str(tmp_path), budget=3, clock=clock, sleep=clock.sleep)
    [outcome] = notifier.send([alert()], [channel])
    assert outcome.status == "spooled" and outcome.attempts >= 3 and "Connection refused" in outcome.error
    server = SmtpServer(tmp_path, port=port)
    try:
        [again] = Notifier(str(tmp_path)).send([], [channel])
        assert again.status == "delivered" and again.from_spool
        [message] = server.wait_for(1)
        assert message["To"] == "oncall@example.com, sre@example.com"
        assert message["Subject"] == "[critical] ComfyUIRolledBack firing: gpu-01 rolled back"
        assert "host=gpu-01, release=r1" in message.get_content()
    finally:
        server.close()


def test_email_over_starttls_with_login_and_templates(tmp_path):
    server = SmtpServer(tmp_path, tls="starttls", credentials=("alerts", "s3cret-smtp-pass"))
    try:
        channel = parse_channel(
            {
                "type": "email",
                "to": "oncall@example.com",
                "from": "comfyops@example.com",
                "smtp_host": "127.0.0.1",
                "smtp_port": server.port,
                "tls": "starttls",
                "validate_certs": False,
                "username": "alerts",
                "password": "s3cret-smtp-pass",
                "subject": "$host: $name ($status)",
                "body": "release $release\n$summary",
            },
            "c",
        )
        [outcome] = Notifier(str(tmp_path)).send([alert()], [channel])
        assert outcome.status == "delivered"
        [message] = server.wait_for(1)
        assert server.logins == ["alerts"]
        assert message["Subject"] == "gpu-01: ComfyUIRolledBack (FIRING)"
        assert message.get_content().replace("\r\n", "\n") == "release r1\ngpu-01 rolled back\n"
    finally:
        server.close()


def test_a_wrong_smtp_password_is_permanent_and_not_shown(tmp_path):
    server = SmtpServer(tmp_path, tls="ssl", credentials=("alerts", "right-password"))
    try:
        raw = {"type": "email", "to": ["a@example.com"], "smtp_host": "127.0.0.1", "smtp_port": server.port, "tls": "ssl", "validate_certs": False}
        channel = parse_channel(dict(raw, username="alerts", password="wrong-password-123"), "c")
        [outcome] = Notifier(str(tmp_path)).send([alert()], [channel])
        assert outcome.status == "failed" and outcome.attempts == 1 and "535" in outcome.error
        assert "wrong-password-123" not in json.dumps(outcome.to_dict())
        verified = parse_channel(dict(raw, username="alerts", password="right-password"), "c")  # certificates are checked by default
        assert (
            Notifier(str(tmp_path))
            .send([alert()], [parse_channel(dict(raw, username="alerts", password="right-password", validate_certs=True), "c")])[0]
            .status
            == "failed"
        )
        assert Notifier(str(tmp_path)).send([alert(host="gpu-02")], [verified])[0].status == "delivered"
    finally:
        server.close()


def test_100_identical_alerts_are_one_message_until_the_repeat_window_then_a_count(tmp_path, receiver):
    rx = receiver()
    clock = Clock()
    notifier = Notifier(str(tmp_path), clock=clock, sleep=clock.sleep)
    channel = hook(rx.url, repeat_interval=600)
    statuses = [notifier.send([alert()], [channel])[0].status for _attempt in range(100)]
    assert statuses.count("delivered") == 1 and statuses.count("suppressed") == 99
    assert len(rx.requests) == 1
    clock.now += 601
    [later] = notifier.send([alert()], [channel])
    assert later.status == "delivered" and later.suppressed == 99
    assert rx.requests[-1]["json"]["suppressed"] == {"duplicates": 99, "rate_limited": 0}


def test_resolution_after_firing_always_goes_and_carries_ends_at(tmp_path, receiver):
    rx = receiver()
    notifier = Notifier(str(tmp_path))
    channel = hook(rx.url, format="alertmanager", repeat_interval=3600)
    notifier.send([alert()], [channel])
    [resolved] = notifier.send([alert(state="resolved")], [channel])
    assert resolved.status == "delivered"
    first, second = (r["json"] for r in rx.requests)
    assert (first["status"], second["status"]) == ("firing", "resolved")
    assert first["alerts"][0]["endsAt"].startswith("0001-") and not second["alerts"][0]["endsAt"].startswith("0001-")
    assert second["commonLabels"] == {"alertname": "ComfyUIRolledBack", "severity": "critical", "host": "gpu-01", "release": "r1"}


def test_the_rate_limit_holds_back_and_the_next_message_says_how_many(tmp_path, receiver):
    rx = receiver()
    clock = Clock()
    notifier = Notifier(str(tmp_path), clock=clock, sleep=clock.sleep)
    channel = hook(rx.url, format="slack", rate_limit=3, rate_window=60)
    statuses = [notifier.send([alert(host="gpu-%02d" % i)], [channel])[0].status for i in range(5)]
    assert statuses == ["delivered"] * 3 + ["rate_limited"] * 2
    clock.now += 61
    notifier.send([alert(host="gpu-09")], [channel])
    assert "2 alert(s) held back by this channel's rate limit" in rx.requests[-1]["json"]["text"]
    assert rx.requests[-1]["json"]["text"].startswith("*[CRITICAL] ComfyUIRolledBack* FIRING: gpu-09 rolled back")


def test_a_channel_minimum_severity_filters(tmp_path, receiver):
    rx = receiver()
    outcomes = Notifier(str(tmp_path)).send([alert(severity="warning"), alert(severity="critical", host="b")], [hook(rx.url, min_severity="critical")])
    assert sorted(o.status for o in outcomes) == ["below_severity", "delivered"]
    assert len(rx.requests) == 1


def _send_many(state_dir, url, start):
    notifier = Notifier(state_dir)
    channel = hook(url, rate_limit=1000)
    for i in range(start, start + 20):
        notifier.send([alert(host="h%03d" % i)], [channel])


def test_two_concurrent_senders_share_the_state_without_losing_an_update(tmp_path, receiver):
    rx = receiver()
    context = multiprocessing.get_context("fork")
    senders = [context.Process(target=_send_many, args=(str(tmp_path), rx.url, start)) for start in (0, 100)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(60)
        assert sender.exitcode == 0
    state = json.loads((tmp_path / "state.json").read_text())
    [seen] = state["dedup"].values()
    assert len(seen) == 40 and len(rx.requests) == 40
    assert len(state["rate"][hook(rx.url).id]["sent"]) == 40
    assert len(log_lines(Notifier(str(tmp_path)))) == 40


def test_no_secret_in_outcomes_log_spool_or_state(tmp_path, receiver):
    rx = receiver([503] * 20)
    secret_path = "/services/T000/B000/XyZsecretTokenValue42"
    channels = [
        hook(rx.url + secret_path + "?token=querysecret99", headers={"Authorization": "Bearer header-secret-777"}, timeout=0.5),
        parse_channel(
            {
                "type": "email",
                "to": ["a@example.com"],
                "smtp_host": "127.0.0.1",
                "smtp_port": free_port(),
                "tls": "none",
                "username": "u",
                "password": "smtp-secret-555",
            },
            "c",
        ),
    ]
    notifier = Notifier(str(tmp_path), budget=0.8)
    outcomes = notifier.send([alert()], channels)
    assert sorted(o.status for o in outcomes) == ["spooled", "spooled"]
    texts = [json.dumps([o.to_dict() for o in outcomes])] + [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    for secret in ("XyZsecretTokenValue42", "querysecret99", "header-secret-777", "smtp-secret-555"):
        assert not any(secret in text for text in texts), secret
    assert rx.requests[0]["headers"]["Authorization"] == "Bearer header-secret-777"  # it was sent, just never shown
    assert all(oct(os.stat(p).st_mode & 0o777) == "0o600" for p in (tmp_path / "spool").iterdir())


def test_a_spooled_message_claimed_by_a_dead_sender_is_sent_again(tmp_path, receiver):
    rx = receiver([503] * 10)
    notifier = Notifier(str(tmp_path), budget=0.3)
    channel = hook(rx.url)
    notifier.send([alert()], [channel])
    [spooled] = list((tmp_path / "spool").iterdir())
    dead = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    dead.start()
    dead.join()
    spooled.rename(str(spooled) + ".%d.claimed" % dead.pid)
    rx.script.clear()
    assert [o.status for o in Notifier(str(tmp_path)).send([], [channel])] == ["delivered"]
    assert notifier.pending() == 0


def test_check_mode_sends_nothing_and_keeps_no_state(tmp_path, receiver):
    rx = receiver()
    [outcome] = Notifier(str(tmp_path)).send([alert()], [hook(rx.url)], check_mode=True)
    assert outcome.status == "would_send"
    assert rx.requests == [] and not (tmp_path / "state.json").exists()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "pager"}, "channels[0].type: must be one of alertmanager, webhook, email, got 'pager'"),
        ({"type": "webhook"}, "channels[0]: a webhook channel needs url (one)"),
        ({"type": "webhook", "url": "ftp://x/secretpath"}, "the scheme must be one of http, https"),
        ({"type": "alertmanager", "url": "http://127.0.0.1:99999"}, "ports are 1-65535"),
        ({"type": "email", "to": [], "smtp_host": "h"}, "channels[0].to: one or more addresses"),
        ({"type": "email", "to": ["a@b"], "smtp_host": "h", "subject": "$nope"}, "channels[0].subject: the template uses 'nope'"),
        ({"type": "email", "to": ["a@b"], "smtp_host": "h", "username": "u"}, "username and password go together"),
        ({"type": "webhook", "url": "http://h", "min_severity": "page"}, "channels[0].min_severity: must be one of info, warning, critical"),
        ({"type": "webhook", "url": "http://h", "timeout": 0}, "channels[0].timeout: must be at least 0.1"),
    ],
)
def test_bad_channel_settings_say_what_and_where(raw, message):
    with pytest.raises(NotifyError, match=None) as caught:
        parse_channel(raw, "channels[0]")
    assert message in str(caught.value)
    assert "secretpath" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"to": ["ops@example.org\r\nBcc: everyone@example.org"]}, "channels[0].to: one or more addresses (plain user@domain"),
        ({"to": "ops@example.org\nX-Injected: 1"}, "channels[0].to: one or more addresses"),
        ({"to": ["ops@example.org"], "from": "alerts@example.org\r\nBcc: x@example.org"}, "channels[0].from: a plain address"),
        ({"to": ["Ops <ops@example.org>"]}, "channels[0].to: "),
    ],
)
def test_a_line_break_in_an_address_is_refused_not_a_crash(raw, message):
    """Issue 26: before, CR/LF in `to` or `from` passed the check and crashed the send (a 'Module failed' naming no option)."""
    with pytest.raises(NotifyError) as caught:
        parse_channel(dict({"type": "email", "smtp_host": "127.0.0.1"}, **raw), "channels[0]")
    assert message in str(caught.value)


def test_texts_are_bounded_and_any_input_encodes(tmp_path, receiver):
    """Issue 26: a summary that was not UTF-8 crashed the send; a task's whole stderr became the message."""
    rx = receiver()
    undecodable = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # what Ansible hands over for bytes that are not UTF-8
    made = Alert.make("X", summary=undecodable, description="d" * 10000, runbook=b"\xffhttp://runbook")
    assert made.summary == "caf? ?" and made.runbook == "\ufffdhttp://runbook"
    assert made.description == "d" * 4096 + " ... [cut: 5904 more characters]"
    assert Alert.make("X", summary="s" * 512).summary == "s" * 512, "at the bound nothing is cut"
    [outcome] = Notifier(str(tmp_path)).send([made], [hook(rx.url)])
    assert outcome.status == "delivered" and rx.requests[0]["json"]["alert"]["summary"] == "caf? ?"


def test_the_spool_is_bounded_the_oldest_dropped_first_counted_and_logged(tmp_path):
    """Issue 26: before, the spool grew without a bound while a receiver was down."""
    channel = hook("http://127.0.0.1:%d/down" % free_port(), timeout=0.1)  # nothing listens: every message is spooled
    notifier = Notifier(str(tmp_path), budget=0.01, max_spool_files=3, max_spool_bytes=10**6)
    clock = Clock()
    notifier.clock = clock
    for index in range(5):
        clock.now += 1
        notifier.send([alert(host="gpu-%02d" % index)], [channel])
    waiting = sorted(json.loads(p.read_text())["alert"]["labels"]["host"] for p in Path(notifier.spool_dir).iterdir())
    assert waiting == ["gpu-02", "gpu-03", "gpu-04"], "the two oldest went"
    assert notifier.spool_dropped == 2 and json.loads((tmp_path / "state.json").read_text())["spool_dropped"] == 2
    assert [line["status"] for line in log_lines(notifier)].count("spool_dropped") == 2
    small = Notifier(str(tmp_path), budget=0.01, max_spool_files=100, max_spool_bytes=1)
    small.send([alert(host="gpu-09")], [channel])
    assert small.pending() == 0 and small.spool_dropped == 4, "past the byte bound everything older goes, then the newest too"


def test_bad_alerts_say_what_and_where():
    with pytest.raises(NotifyError, match="alert: severity must be one of info, warning, critical, got 'page'"):
        Alert.make("X", "page")
    with pytest.raises(NotifyError, match="labels key 'bad-key'"):
        Alert.make("X", labels={"bad-key": "v"})


def test_the_fingerprint_is_the_name_and_labels_not_the_text():
    assert alert().fingerprint == Alert.make("ComfyUIRolledBack", "critical", summary="other", labels={"release": "r1", "host": "gpu-01"}).fingerprint
    assert alert().fingerprint != alert(host="gpu-02").fingerprint


@pytest.fixture
def alertmanager(tmp_path, receiver):
    rx = receiver()
    manager = Alertmanager(tmp_path, rx.url + "/am", group_wait="1s")
    yield manager, rx
    manager.close()


def test_a_real_alertmanager_takes_the_alert_routes_it_and_resolves_it(tmp_path, alertmanager):
    manager, rx = alertmanager
    down = "http://127.0.0.1:%d" % free_port()  # the HA peer that is down
    channel = parse_channel({"type": "alertmanager", "urls": [manager.url, down], "timeout": 1}, "c")
    notifier = Notifier(str(tmp_path / "state"), budget=1.5)
    outcomes = notifier.send([alert()], [channel])
    assert sorted(o.status for o in outcomes) == ["delivered", "spooled"]
    [held] = manager.alerts()
    assert held["labels"] == {"alertname": "ComfyUIRolledBack", "severity": "critical", "host": "gpu-01", "release": "r1"}
    assert held["annotations"]["summary"] == "gpu-01 rolled back" and held["status"]["state"] == "active"
    [routed] = rx.wait_for(1, timeout=15)
    assert routed["json"]["status"] == "firing" and routed["json"]["alerts"][0]["labels"]["host"] == "gpu-01"
    notifier.send([alert(state="resolved")], [channel])
    resolved = rx.wait_for(2, timeout=15)[-1]["json"]  # Alertmanager sends the resolution at its group_interval (1 s here)
    assert resolved["status"] == "resolved"
    assert manager.alerts() == []


def test_state_that_is_not_json_is_set_aside_not_fatal(tmp_path, receiver):
    rx = receiver()
    (tmp_path / "state.json").write_text("{torn")
    assert Notifier(str(tmp_path)).send([alert()], [hook(rx.url)])[0].status == "delivered"
    assert (tmp_path / "state.json.corrupt").read_text() == "{torn"


def test_the_default_state_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert _notify.default_state_dir() == str(tmp_path / "comfyops" / "alerts")


def test_the_log_is_bounded_by_one_rotation(tmp_path, receiver):
    rx = receiver()
    notifier = Notifier(str(tmp_path), max_log_bytes=2000)
    for i in range(40):
        notifier.send([alert(host="h%02d" % i)], [hook(rx.url, rate_limit=100)])
    sizes = [p.stat().st_size for p in tmp_path.glob("alerts.log*")]
    assert len(sizes) == 2 and sum(sizes) <= 2 * 2000 + 600  # one line past the bound at most
    assert json.loads(Path(notifier.log_path).read_text().splitlines()[-1])["alert"] == "ComfyUIRolledBack"


def test_dedup_entries_not_seen_for_30_days_are_forgotten(tmp_path, receiver):
    rx = receiver()
    clock = Clock()
    notifier = Notifier(str(tmp_path), clock=clock, sleep=clock.sleep)
    notifier.send([alert(host="old")], [hook(rx.url, repeat_interval=60)])
    clock.now += 31 * 86400
    notifier.send([alert(host="new")], [hook(rx.url, repeat_interval=60)])
    [seen] = json.loads((tmp_path / "state.json").read_text())["dedup"].values()
    assert [entry["name"] for entry in seen.values()] == ["ComfyUIRolledBack"] and len(seen) == 1
