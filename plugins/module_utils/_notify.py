# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One notification path for every caller: the comfyui_alert module and the comfyops.comfyui.alerts callback.

Plain Python (stdlib only), no Ansible. HTTP goes through ``_http.request`` (the one transport).

Channels:

- ``alertmanager``: POST ``/api/v2/alerts`` to every URL given (an HA pair gets each alert on both, as Prometheus
  does); Alertmanager groups, inhibits, silences and repeats, so nothing is deduplicated here;
  a resolution is sent with ``endsAt``;
- ``webhook``: JSON in one of three shapes: ``generic`` (ours), ``slack`` (``{"text": ...}``, what Slack's and
  Mattermost's incoming webhooks take) or ``alertmanager`` (the payload Alertmanager's own webhook receiver sends);
- ``email``: SMTP with STARTTLS, implicit TLS or none (loopback relays), optional login, several recipients,
  subject and body from ``string.Template`` templates (``$name``, ``$summary``, ...).

Delivery: within a time budget per call, with retries, exponential backoff and jitter. HTTP 2xx is delivered,
5xx, 429, refusals and timeouts are retried, any other 4xx (and 3xx) is permanent and reported. For SMTP a 4xx
reply or a lost connection is retried, a 5xx (a refused login, a refused recipient) is permanent.

For the direct channels (webhook, email): an alert whose fingerprint (name and labels) was sent in the same state
within ``repeat_interval`` is suppressed and counted; a change of state (firing to resolved) always goes. Each
channel sends at most ``rate_limit`` messages per ``rate_window``; what the limit holds back is counted. The next
message of that channel says how many were suppressed. That state is one JSON file, read and written under an
flock(2) lock and replaced atomically, so concurrent senders lose no update.

Nothing is lost: an alert that could not be delivered within the budget goes to a spool directory (one JSON file
each, mode 0600, no channel settings in it: only the channel's id) and is sent first on the next call that has
that channel. Every alert and its outcome is one line of a JSON-lines log (``alerts.log``, appended; past
``max_log_bytes`` it becomes ``alerts.log.1`` and a new one starts, so at most twice that is kept).

Secrets (SMTP password, header values, the whole URL of a webhook) never appear in an outcome, an error, the log or
the spool: channels are shown by ``describe()`` and stored by ``id``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime
import email.message
import email.utils
import fcntl
import hashlib
import json
import os
import random
import re
import smtplib
import socket
import ssl
import string
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, atomic_write, open_nofollow, pid_alive
from ansible_collections.comfyops.comfyui.plugins.module_utils._http import TransportError, UrlError, parse_url, redact, redact_url, request

SEVERITIES = ("info", "warning", "critical")
STATES = ("firing", "resolved")
CHANNEL_TYPES = ("alertmanager", "webhook", "email")
WEBHOOK_FORMATS = ("generic", "slack", "alertmanager")
TLS_MODES = ("starttls", "ssl", "none")
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
LOG_FILE = "alerts.log"
SPOOL_DIR = "spool"
MAX_ERROR = 300
# An alert's texts are bounded (a task's whole stderr must not become a 2 MB e-mail): longer ones are cut with a marker.
TEXT_LIMITS = {"summary": 512, "description": 4096, "runbook": 2048}
# The spool is bounded in files and bytes: past either bound the oldest messages are dropped first, counted and logged.
MAX_SPOOL_FILES = 1000
MAX_SPOOL_BYTES = 16 * 1024 * 1024
ADDRESS_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)

DEFAULT_SUBJECT = "[$severity] $name $state: $summary"
DEFAULT_BODY = "$name is $state ($severity)\n\n$summary\n$description\n\nlabels: $labels\nrunbook: $runbook\n$suppressed"


class NotifyError(ValueError):
    """Settings that cannot be used; the message says which option and why (never a secret)."""


def default_state_dir() -> str:
    """Where state, spool and log live when the caller names no directory: $XDG_STATE_HOME/comfyops/alerts."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "comfyops", "alerts")


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


# -- alerts ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Alert:
    name: str
    severity: str = "warning"
    state: str = "firing"
    summary: str = ""
    description: str = ""
    runbook: str = ""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float | None = None

    @classmethod
    def make(cls, name: Any, severity: Any = "warning", state: Any = "firing", where: str = "alert", **more: Any) -> Alert:
        """A checked Alert, or NotifyError naming `where` and the field."""
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise NotifyError("%s: name must be a non-empty text of at most 200 characters, got %r" % (where, name))
        if severity not in SEVERITIES:
            raise NotifyError("%s: severity must be one of %s, got %r" % (where, ", ".join(SEVERITIES), severity))
        if state not in STATES:
            raise NotifyError("%s: state must be one of %s, got %r" % (where, ", ".join(STATES), state))
        for field in ("labels", "annotations"):
            values = more.get(field) or {}
            if not isinstance(values, dict):
                raise NotifyError("%s: %s must be a mapping, got %s" % (where, field, type(values).__name__))
            for key in values:
                if not isinstance(key, str) or not LABEL_RE.match(key) or key in ("alertname", "severity"):
                    raise NotifyError("%s: %s key %r must match [A-Za-z_][A-Za-z0-9_]* and not be alertname or severity" % (where, field, key))
            more[field] = {k: "" if v is None else str(v) for k, v in values.items()}
        for field, limit in TEXT_LIMITS.items():
            more[field] = bounded_text(more.get(field), limit)
        return cls(name.strip(), severity, state, **more)

    @property
    def fingerprint(self) -> str:
        """Name and labels: the same alert for the same host is the same fingerprint, whatever its text."""
        return digest(self.name, sorted(self.labels.items()))

    def all_labels(self) -> dict[str, str]:
        return dict(self.labels, alertname=self.name, severity=self.severity)

    def all_annotations(self) -> dict[str, str]:
        found = dict(self.annotations)
        for key, value in (("summary", self.summary), ("description", self.description), ("runbook_url", self.runbook)):
            if value:
                found[key] = value
        return found

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


def bounded_text(value: Any, limit: int) -> str:
    """`value` as text that encodes as UTF-8 (bytes decoded, undecodable parts replaced), cut past `limit` characters
    with a marker that says how much went."""
    if value is None:
        return ""
    text = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates (undecodable input) become '?'
    if len(text) > limit:
        text = "%s ... [cut: %d more characters]" % (text[:limit], len(text) - limit)
    return text


def severity_at_least(severity: str, minimum: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(minimum)


# -- channels ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Channel:
    type: str
    urls: tuple[str, ...] = ()
    format: str = "generic"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    min_severity: str = "info"
    timeout: float = 5.0
    validate_certs: bool = True
    to: tuple[str, ...] = ()
    sender: str = ""
    smtp_host: str = ""
    smtp_port: int = 0
    tls: str = "starttls"
    username: str = ""
    password: str = ""
    subject: str = DEFAULT_SUBJECT
    body: str = DEFAULT_BODY
    repeat_interval: float = 3600.0
    rate_limit: int = 20
    rate_window: float = 300.0

    @property
    def direct(self) -> bool:
        return self.type != "alertmanager"

    @property
    def id(self) -> str:
        """What the spool and the state file know a channel by: its type and address, hashed (no secret in clear)."""
        if self.type == "email":
            return "email-" + digest(self.smtp_host, self.smtp_port, sorted(self.to))
        return "%s-%s" % (self.type, digest(sorted(self.urls)))

    def describe(self) -> str:
        """The channel as shown: a webhook's path and query are hidden (Slack puts its token there)."""
        if self.type == "email":
            return "email via %s:%d to %d recipient(s)" % (self.smtp_host, self.smtp_port, len(self.to))
        if self.type == "webhook":
            parts = urllib.parse.urlsplit(self.urls[0])
            return "webhook %s://%s/..." % (parts.scheme, parts.netloc.rpartition("@")[2])
        return "alertmanager " + ", ".join(redact_url(u) for u in self.urls)

    def secrets(self) -> list[str]:
        found = [self.password] + list(self.headers.values()) + [v.split()[-1] for v in self.headers.values() if v.split()]
        if self.type == "webhook":
            parts = urllib.parse.urlsplit(self.urls[0])
            found += [self.urls[0], parts.path, parts.query] + [p for p in parts.path.split("/") if len(p) >= 8]
        for url in self.urls:
            parts = urllib.parse.urlsplit(url)
            found += [parts.password or "", parts.query]
        return [s for s in found if s and s != "/"]


# The channel settings as an Ansible argument spec: the module's `channels` suboptions. No defaults here: the
# callback takes the same mappings, and parse_channel applies one set of rules and defaults to both.
CHANNEL_OPTIONS: dict[str, dict[str, Any]] = {
    "type": {"type": "str", "required": True, "choices": list(CHANNEL_TYPES)},
    "url": {"type": "str"},
    "urls": {"type": "list", "elements": "str"},
    "format": {"type": "str", "choices": list(WEBHOOK_FORMATS)},
    "headers": {"type": "dict", "no_log": True},
    "min_severity": {"type": "str", "choices": list(SEVERITIES)},
    "timeout": {"type": "float"},
    "validate_certs": {"type": "bool"},
    "repeat_interval": {"type": "float"},
    "rate_limit": {"type": "int"},
    "rate_window": {"type": "float"},
    "to": {"type": "list", "elements": "str"},
    "from": {"type": "str"},
    "smtp_host": {"type": "str"},
    "smtp_port": {"type": "int"},
    "tls": {"type": "str", "choices": list(TLS_MODES)},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "subject": {"type": "str"},
    "body": {"type": "str"},
}


def _text(value: Any, where: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, (str, int, float)):
        raise NotifyError("%s: expected a text, got %s" % (where, type(value).__name__))
    return str(value)


def _number(value: Any, where: str, default: float, low: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NotifyError("%s: expected a number, got %r" % (where, value)) from None
    if number < low:
        raise NotifyError("%s: must be at least %s, got %s" % (where, low, number))
    return number


def check_template(text: str, where: str) -> str:
    try:
        string.Template(text).substitute(dict.fromkeys(TEMPLATE_FIELDS, ""))
    except (KeyError, ValueError) as exc:
        raise NotifyError("%s: the template uses %s; the fields are $%s" % (where, exc, ", $".join(TEMPLATE_FIELDS))) from None
    return text


TEMPLATE_FIELDS = (
    "name",
    "severity",
    "state",
    "status",
    "summary",
    "description",
    "runbook",
    "labels",
    "suppressed",
    "host",
    "instance",
    "release",
    "playbook",
)


def parse_channel(raw: Any, where: str) -> Channel:
    """A checked Channel from one mapping of the module's or the callback's `channels` list."""
    if not isinstance(raw, dict):
        raise NotifyError("%s: a channel is a mapping with a type (%s), got %s" % (where, ", ".join(CHANNEL_TYPES), type(raw).__name__))
    kind = raw.get("type")
    if kind not in CHANNEL_TYPES:
        raise NotifyError("%s.type: must be one of %s, got %r" % (where, ", ".join(CHANNEL_TYPES), kind))
    minimum = raw.get("min_severity") or "info"
    if minimum not in SEVERITIES:
        raise NotifyError("%s.min_severity: must be one of %s, got %r" % (where, ", ".join(SEVERITIES), minimum))
    common: dict[str, Any] = {
        "type": kind,
        "min_severity": minimum,
        "timeout": _number(raw.get("timeout"), where + ".timeout", 5.0, 0.1),
        "validate_certs": raw.get("validate_certs") is not False,
        "repeat_interval": _number(raw.get("repeat_interval"), where + ".repeat_interval", 3600.0, 0),
        "rate_limit": int(_number(raw.get("rate_limit"), where + ".rate_limit", 20, 1)),
        "rate_window": _number(raw.get("rate_window"), where + ".rate_window", 300.0, 1),
    }
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise NotifyError("%s.headers: must be a mapping of header names to texts" % where)
    common["headers"] = dict(headers)
    if kind == "email":
        return _email_channel(raw, where, common)
    urls = raw.get("urls") or ([raw["url"]] if raw.get("url") else [])
    if isinstance(urls, str) or not urls or (kind == "webhook" and len(urls) != 1):
        raise NotifyError("%s: a %s channel needs %s" % (where, kind, "url (one)" if kind == "webhook" else "url or urls (a list)"))
    for index, url in enumerate(urls):
        try:
            parse_url(url, "%s.url[%d]" % (where, index))
        except UrlError as exc:
            raise NotifyError(_hide(str(exc), [str(url)]) if kind == "webhook" else str(exc)) from None
    fmt = raw.get("format") or "generic"
    if fmt not in WEBHOOK_FORMATS:
        raise NotifyError("%s.format: must be one of %s, got %r" % (where, ", ".join(WEBHOOK_FORMATS), fmt))
    return Channel(urls=tuple(str(u).rstrip("/") if kind == "alertmanager" else str(u) for u in urls), format=fmt, **common)


def parse_channels(raw: Any, where: str = "channels") -> list[Channel]:
    if not isinstance(raw, list):
        raise NotifyError("%s: expected a list of channels, got %s" % (where, type(raw).__name__))
    return [parse_channel(item, "%s[%d]" % (where, index)) for index, item in enumerate(raw)]


def _email_channel(raw: dict[str, Any], where: str, common: dict[str, Any]) -> Channel:
    to = raw.get("to")
    if isinstance(to, str):
        to = [to]
    if not to or not isinstance(to, (list, tuple)) or not all(isinstance(a, str) and ADDRESS_RE.match(a) for a in to):
        raise NotifyError("%s.to: one or more addresses (plain user@domain: no name, space or line break) are needed, got %r" % (where, to))
    host = _text(raw.get("smtp_host"), where + ".smtp_host")
    if not host:
        raise NotifyError("%s.smtp_host: an email channel needs the SMTP server's host name" % where)
    tls = raw.get("tls") or "starttls"
    if tls not in TLS_MODES:
        raise NotifyError("%s.tls: must be one of %s, got %r" % (where, ", ".join(TLS_MODES), tls))
    port = int(_number(raw.get("smtp_port"), where + ".smtp_port", SMTP_PORTS[tls], 1))
    if port > 65535:
        raise NotifyError("%s.smtp_port: ports are 1-65535, got %d" % (where, port))
    username = _text(raw.get("username"), where + ".username")
    password = _text(raw.get("password"), where + ".password")
    if bool(username) != bool(password):
        raise NotifyError("%s: username and password go together (one of them is missing)" % where)
    sender = _text(raw.get("from"), where + ".from")
    if not sender:
        sender = "comfyops@%s" % socket.getfqdn()
        sender = sender if ADDRESS_RE.match(sender) else "comfyops@localhost"  # a host name mail cannot carry
    elif not ADDRESS_RE.match(sender):
        raise NotifyError("%s.from: a plain address (user@domain, no name, space or line break) is needed, got %r" % (where, sender))
    return Channel(
        to=tuple(to),
        smtp_host=host,
        smtp_port=port,
        tls=tls,
        username=username,
        password=password,
        sender=sender,
        subject=check_template(_text(raw.get("subject"), where + ".subject", DEFAULT_SUBJECT), where + ".subject"),
        body=check_template(_text(raw.get("body"), where + ".body", DEFAULT_BODY), where + ".body"),
        **common,
    )


def _hide(text: str, secrets: list[str]) -> str:
    return redact(text, secrets)[:MAX_ERROR]


# -- what one message says ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Suppressed:
    duplicates: int = 0
    rate_limited: int = 0

    def text(self) -> str:
        parts = []
        if self.duplicates:
            parts.append("%d identical alert(s) suppressed since the last message" % self.duplicates)
        if self.rate_limited:
            parts.append("%d alert(s) held back by this channel's rate limit" % self.rate_limited)
        return "; ".join(parts)


def fields_of(alert: Alert, suppressed: Suppressed) -> dict[str, str]:
    return {
        "name": alert.name,
        "severity": alert.severity,
        "state": alert.state,
        "status": alert.state.upper(),
        "summary": alert.summary,
        "description": alert.description,
        "runbook": alert.runbook or "-",
        "labels": ", ".join("%s=%s" % kv for kv in sorted(alert.labels.items())),
        "suppressed": suppressed.text(),
        "host": alert.labels.get("host", ""),
        "instance": alert.labels.get("instance", ""),
        "release": alert.labels.get("release", ""),
        "playbook": alert.labels.get("playbook", ""),
    }


def alertmanager_alert(alert: Alert, now: float) -> dict[str, Any]:
    """One element of Alertmanager's POST /api/v2/alerts body."""
    item: dict[str, Any] = {"labels": alert.all_labels(), "annotations": alert.all_annotations(), "startsAt": iso(alert.starts_at or now)}
    if alert.state == "resolved":
        item["endsAt"] = iso(now)
    elif alert.ends_at:
        item["endsAt"] = iso(alert.ends_at)
    return item


def webhook_payload(alert: Alert, fmt: str, suppressed: Suppressed, now: float) -> dict[str, Any]:
    annotations = alert.all_annotations()
    if suppressed.text():
        annotations["suppressed"] = suppressed.text()
    if fmt == "slack":
        f = fields_of(alert, suppressed)
        lines = ["*[%s] %s* %s: %s" % (alert.severity.upper(), alert.name, f["status"], alert.summary)]
        lines += [x for x in (alert.description, f["labels"], alert.runbook and "runbook: " + alert.runbook, f["suppressed"]) if x]
        return {"text": "\n".join(lines)}
    if fmt == "alertmanager":
        item = dict(alertmanager_alert(alert, now), status=alert.state, annotations=annotations, fingerprint=alert.fingerprint, generatorURL="")
        item.setdefault("endsAt", "0001-01-01T00:00:00Z")
        return {
            "version": "4",
            "groupKey": '{}:{alertname="%s"}' % alert.name,
            "truncatedAlerts": 0,
            "status": alert.state,
            "receiver": "comfyops",
            "groupLabels": {"alertname": alert.name},
            "commonLabels": alert.all_labels(),
            "commonAnnotations": annotations,
            "externalURL": "",
            "alerts": [item],
        }
    return {
        "version": 1,
        "sender": "comfyops.comfyui",
        "alert": dict(alert.to_dict(), fingerprint=alert.fingerprint, startsAt=iso(alert.starts_at or now)),
        "suppressed": dataclasses.asdict(suppressed),
    }


def email_message(channel: Channel, alert: Alert, suppressed: Suppressed) -> email.message.EmailMessage:
    fields = fields_of(alert, suppressed)
    message = email.message.EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Subject"] = " ".join(string.Template(channel.subject).substitute(fields).split())[:250]
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain="comfyops")
    message["X-Comfyops-Fingerprint"] = alert.fingerprint
    message.set_content(string.Template(channel.body).substitute(fields).rstrip() + "\n")
    return message


# -- delivery ----------------------------------------------------------------------------------
class Permanent(Exception):
    """The receiver refused: retrying cannot help."""


class Transient(Exception):
    """No answer, or a temporary refusal: worth another try within the budget."""


@dataclasses.dataclass(frozen=True)
class Target:
    """Where one message goes: a channel, and for Alertmanager one of its URLs."""

    channel: Channel
    url: str = ""

    @property
    def id(self) -> str:
        return self.channel.id + ("@" + digest(self.url) if self.channel.type == "alertmanager" else "")

    def describe(self) -> str:
        return "alertmanager " + redact_url(self.url) if self.url else self.channel.describe()


def targets_of(channels: list[Channel]) -> list[Target]:
    found: list[Target] = []
    for channel in channels:
        found += [Target(channel, url) for url in channel.urls] if channel.type == "alertmanager" else [Target(channel)]
    return found


def post_json(url: str, payload: Any, headers: dict[str, str], timeout: float) -> None:
    body = json.dumps(payload).encode("utf-8")
    try:
        answer = request("POST", url, body=body, headers=dict(headers, **{"Content-Type": "application/json"}), timeout=timeout, max_bytes=65536)
    except TransportError as exc:
        raise Transient(str(exc)) from None
    if 200 <= answer.status < 300:
        return
    reply = "HTTP %d %s: %s" % (answer.status, answer.reason, answer.body[:200].decode("utf-8", "replace").strip())
    if answer.status >= 500 or answer.status in (408, 429):
        raise Transient(reply)
    raise Permanent(reply)


def login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """One AUTH attempt: PLAIN where offered (over TLS), else smtplib's choice. smtplib's login() tries every
    mechanism in turn after a refusal, which a server's lock-out policy counts as several failures."""
    smtp.ehlo_or_helo_if_needed()
    if "PLAIN" in smtp.esmtp_features.get("auth", "").upper().split():
        smtp.user, smtp.password = username, password
        smtp.auth("PLAIN", smtp.auth_plain)
    else:
        smtp.login(username, password)


def send_email(channel: Channel, message: email.message.EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    if not channel.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        smtp: smtplib.SMTP
        if channel.tls == "ssl":
            smtp = smtplib.SMTP_SSL(channel.smtp_host, channel.smtp_port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=timeout)
        with smtp:
            if channel.tls == "starttls":
                smtp.starttls(context=context)
            if channel.username:
                login(smtp, channel.username, channel.password)
            refused = smtp.send_message(message)
        if refused:
            raise Permanent("recipients refused: %s" % ", ".join(sorted(refused)))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [answer[0] for answer in exc.recipients.values()]
        raise (Transient if all(400 <= c < 500 for c in codes) else Permanent)("recipients refused: %s" % exc.recipients) from None
    except smtplib.SMTPResponseException as exc:
        reply = "SMTP %d %s" % (exc.smtp_code, exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error)
        raise (Transient if 400 <= exc.smtp_code < 500 else Permanent)(reply) from None
    except ssl.SSLCertVerificationError as exc:
        raise Permanent("TLS: %s" % exc.verify_message) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise Transient("SMTP %s:%d: %s" % (channel.smtp_host, channel.smtp_port, exc or type(exc).__name__)) from None


@dataclasses.dataclass
class Outcome:
    """What became of one alert on one target."""

    alert: str
    fingerprint: str
    state: str
    severity: str
    channel: str
    target: str
    status: str  # delivered, spooled, failed, suppressed, rate_limited, below_severity, would_send
    attempts: int = 0
    error: str = ""
    suppressed: int = 0
    seconds: float = 0.0
    from_spool: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Job:
    target: Target
    alert: Alert
    suppressed: Suppressed = Suppressed()
    spool_file: str = ""
    attempts: int = 0
    spooled_at: int = 0  # when it was first spooled (microseconds): its age in the spool, kept across retries


class Notifier:
    """Sends alerts to channels; `state_dir` holds state.json, state.lock, alerts.log and spool/."""

    def __init__(
        self,
        state_dir: str | None = None,
        budget: float = 10.0,
        max_log_bytes: int = 4 * 1024 * 1024,
        max_spool_files: int = MAX_SPOOL_FILES,
        max_spool_bytes: int = MAX_SPOOL_BYTES,
        retry_base: float = 0.2,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 8,
    ) -> None:
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir or default_state_dir()))
        self.spool_dir = os.path.join(self.state_dir, SPOOL_DIR)
        self.log_path = os.path.join(self.state_dir, LOG_FILE)
        self.budget = budget
        self.max_log_bytes = max_log_bytes
        self.max_spool_files = max_spool_files
        self.max_spool_bytes = max_spool_bytes
        self.spool_dropped = 0  # messages this notifier dropped from the full spool
        self.retry_base = retry_base
        self.clock = clock
        self.sleep = sleep
        self.workers = workers

    # -- state, under one lock ---------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, readonly: bool = False) -> Iterator[dict[str, Any]]:
        """The state, read under an exclusive flock; written back atomically when the block ends. `readonly`
        (check mode) creates nothing and writes nothing: a state not there yet reads as empty."""
        if readonly:
            path = os.path.join(self.state_dir, STATE_FILE)
            try:
                with open(path, encoding="utf-8") as source:
                    state = json.load(source)
            except (OSError, ValueError):
                state = {}
            yield state if isinstance(state, dict) else {}
            return
        for path in (self.state_dir, self.spool_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
        try:
            fd = open_nofollow(os.path.join(self.state_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
        except PathError as exc:
            raise NotifyError(str(exc)) from None
        with os.fdopen(fd, "r+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # held for milliseconds: never across a delivery
            path = os.path.join(self.state_dir, STATE_FILE)
            try:
                with open(path, encoding="utf-8") as source:
                    state = json.load(source)
                if not isinstance(state, dict):
                    state = {}
            except FileNotFoundError:
                state = {}
            except ValueError:  # torn or empty (a crash before the data reached the disk)
                os.replace(path, path + ".corrupt")  # kept for a person to read; a fresh state starts
                state = {}
            before = json.dumps(state, sort_keys=True)
            yield state
            after = json.dumps(state, sort_keys=True)
            if after != before:
                atomic_write(path, after + "\n", 0o600, sync=False)  # dedup counters: cheap to lose, written every call

    def log(self, outcomes: list[Outcome]) -> None:
        """Append outcomes to the JSON-lines log in one write (called under the lock); rotate it past its bound."""
        self.log_lines([o.to_dict() for o in outcomes])

    def log_lines(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        now = iso(self.clock())
        text = "".join(json.dumps(dict(record, time=now), sort_keys=True) + "\n" for record in records)
        try:
            fd = open_nofollow(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except PathError as exc:
            raise NotifyError(str(exc)) from None
        try:
            os.write(fd, text.encode("utf-8"))
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > self.max_log_bytes:
            os.replace(self.log_path, self.log_path + ".1")

    @staticmethod
    def prune(state: dict[str, Any], now: float, keep: float = 30 * 86400) -> None:
        """Forget dedup entries not seen for `keep` seconds (longer than any sane repeat interval)."""
        for seen in state.get("dedup", {}).values():
            for fingerprint in [f for f, e in seen.items() if now - float(e.get("sent", 0)) > keep]:
                del seen[fingerprint]

    # -- deciding ------------------------------------------------------------------------------
    def decide(self, state: dict[str, Any], target: Target, alert: Alert, now: float) -> tuple[str, Suppressed]:
        """delivered (go), suppressed, rate_limited or below_severity; `state` is updated as if it went."""
        channel = target.channel
        if not severity_at_least(alert.severity, channel.min_severity):
            return "below_severity", Suppressed()
        if not channel.direct:
            return "go", Suppressed()
        seen = state.setdefault("dedup", {}).setdefault(target.id, {})
        entry = seen.get(alert.fingerprint)
        if entry and entry.get("state") == alert.state and now - float(entry.get("sent", 0)) < channel.repeat_interval:
            entry["suppressed"] = int(entry.get("suppressed", 0)) + 1
            return "suppressed", Suppressed()
        rate = state.setdefault("rate", {}).setdefault(target.id, {"sent": [], "suppressed": 0})
        rate["sent"] = [t for t in rate.get("sent", []) if now - float(t) < channel.rate_window]
        if len(rate["sent"]) >= channel.rate_limit:
            rate["suppressed"] = int(rate.get("suppressed", 0)) + 1
            if entry is not None:
                entry["suppressed"] = int(entry.get("suppressed", 0)) + 1
            return "rate_limited", Suppressed()
        duplicates = int(entry.get("suppressed", 0)) if entry else 0
        suppressed = Suppressed(duplicates, int(rate.get("suppressed", 0)))
        rate["sent"].append(now)
        rate["suppressed"] = 0
        seen[alert.fingerprint] = {"state": alert.state, "sent": now, "suppressed": 0, "name": alert.name}
        return "go", suppressed

    def claim_spool(self, targets: dict[str, Target]) -> list[Job]:
        """Spooled messages for the targets we have now, claimed (renamed) so a concurrent sender skips them."""
        jobs: list[Job] = []
        for entry_name in sorted(os.listdir(self.spool_dir)):
            path = os.path.join(self.spool_dir, entry_name)
            if entry_name.endswith(".claimed"):
                free, holder = path.rsplit(".", 2)[0], entry_name.rsplit(".", 2)[-2]
                if not holder.isdigit() or pid_alive(int(holder)):
                    continue
                os.replace(path, free)  # its sender died: free again
                path = free
            if not path.endswith(".json"):
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    entry = json.load(handle)
                target = targets.get(entry["target"])
                alert = Alert.from_dict(entry["alert"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if target is None:
                continue
            claimed = "%s.%d.claimed" % (path, os.getpid())
            os.replace(path, claimed)
            first = int(entry.get("spooled_at") or 0)
            jobs.append(Job(target, alert, Suppressed(**entry.get("suppressed", {})), claimed, int(entry.get("attempts", 0)), first))
        return jobs

    def spool(self, job: Job, state: dict[str, Any] | None = None) -> None:
        """Keep a message for a later call (under the lock), then hold the spool to its bounds."""
        job.spooled_at = job.spooled_at or int(self.clock() * 1e6)
        entry = {
            "target": job.target.id,
            "alert": job.alert.to_dict(),
            "suppressed": dataclasses.asdict(job.suppressed),
            "attempts": job.attempts,
            "spooled_at": job.spooled_at,
        }
        name = "%s-%s-%d.json" % (job.target.id, job.alert.fingerprint, job.spooled_at)
        atomic_write(os.path.join(self.spool_dir, name), json.dumps(entry, sort_keys=True) + "\n", 0o600)
        self.bound_spool(state)

    def bound_spool(self, state: dict[str, Any] | None = None) -> list[str]:
        """Drop the oldest waiting messages (by when they were first spooled, the number that ends their name) while
        the spool holds more than max_spool_files files or max_spool_bytes bytes; each drop is counted (state's
        spool_dropped, this notifier's spool_dropped) and logged. Returns their names."""
        entries = []
        for entry_name in os.listdir(self.spool_dir):
            if entry_name.endswith(".json"):
                age = entry_name[: -len(".json")].rpartition("-")[2]
                with contextlib.suppress(FileNotFoundError):
                    size = os.stat(os.path.join(self.spool_dir, entry_name)).st_size
                    entries.append((int(age) if age.isdigit() else 0, entry_name, size))
        entries.sort()
        count, size = len(entries), sum(item[2] for item in entries)
        dropped = []
        for _mtime, entry_name, entry_size in entries:
            if count <= self.max_spool_files and size <= self.max_spool_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.spool_dir, entry_name))
            dropped.append(entry_name)
            count, size = count - 1, size - entry_size
        if dropped:
            self.spool_dropped += len(dropped)
            if state is not None:
                state["spool_dropped"] = int(state.get("spool_dropped", 0)) + len(dropped)
            self.log_lines(
                [
                    {
                        "status": "spool_dropped",
                        "file": entry_name,
                        "reason": "the spool is full (%d files, %d bytes at most)" % (self.max_spool_files, self.max_spool_bytes),
                    }
                    for entry_name in dropped
                ]
            )
        return dropped

    # -- sending ---------------------------------------------------------------------------------
    def deliver(self, job: Job, deadline: float) -> tuple[str, str]:
        """delivered, spooled (out of budget) or failed (permanent), with the last error."""
        channel = job.target.channel
        secrets = channel.secrets()
        error = ""
        attempt = 0
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0.05:
                return "spooled", error or "no time left in the budget"
            job.attempts += 1
            attempt += 1
            now = self.clock()
            try:
                if channel.type == "email":
                    send_email(channel, email_message(channel, job.alert, job.suppressed), min(channel.timeout, remaining))
                elif channel.type == "webhook":
                    post_json(
                        channel.urls[0], webhook_payload(job.alert, channel.format, job.suppressed, now), channel.headers, min(channel.timeout, remaining)
                    )
                else:
                    post_json(job.target.url + "/api/v2/alerts", [alertmanager_alert(job.alert, now)], channel.headers, min(channel.timeout, remaining))
                return "delivered", ""
            except Permanent as exc:
                return "failed", _hide(str(exc), secrets)
            except Transient as exc:
                error = _hide(str(exc), secrets)
            pause = self.retry_base * (2 ** (attempt - 1))
            pause = pause / 2 + random.uniform(0, pause / 2)
            if self.clock() + pause >= deadline:
                return "spooled", error
            self.sleep(pause)

    def send(self, alerts: list[Alert], channels: list[Channel], check_mode: bool = False) -> list[Outcome]:
        """Spooled messages of these channels first, then each alert on each channel; one Outcome for each."""
        targets = targets_of(channels)
        by_id = {t.id: t for t in targets}
        started = self.clock()
        deadline = started + self.budget
        outcomes: list[Outcome] = []
        jobs: list[Job] = []
        with self.locked(readonly=check_mode) as state:
            scratch = json.loads(json.dumps(state)) if check_mode else state
            if not check_mode:
                self.prune(state, started)
                jobs += self.claim_spool(by_id)
            for alert in alerts:
                for target in targets:
                    verdict, suppressed = self.decide(scratch, target, alert, started)
                    if verdict == "go" and not check_mode:
                        jobs.append(Job(target, alert, suppressed))
                    else:
                        status = "would_send" if verdict == "go" else verdict
                        outcomes.append(self.outcome(Job(target, alert, suppressed), status, ""))
            if not check_mode:
                self.log([o for o in outcomes if o.status != "below_severity"])
        if not jobs:
            return outcomes
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(jobs)))) as pool:
            results = list(pool.map(lambda job: (job, self.clock(), *self.deliver(job, deadline)), jobs))
        done: list[Outcome] = []
        with self.locked() as state:
            for job, began, status, error in results:
                if status == "spooled":
                    self.spool(job, state)
                elif status == "failed":  # refused for good: the next identical alert must not be held back for it
                    state.get("dedup", {}).get(job.target.id, {}).pop(job.alert.fingerprint, None)
                if job.spool_file:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(job.spool_file)
                done.append(self.outcome(job, status, error, self.clock() - began))
            self.log(done)
        return outcomes + done

    @staticmethod
    def outcome(job: Job, status: str, error: str, seconds: float = 0.0) -> Outcome:
        return Outcome(
            alert=job.alert.name,
            fingerprint=job.alert.fingerprint,
            state=job.alert.state,
            severity=job.alert.severity,
            channel=job.target.describe(),
            target=job.target.id,
            status=status,
            attempts=job.attempts,
            error=error,
            suppressed=job.suppressed.duplicates + job.suppressed.rate_limited,
            seconds=round(seconds, 3),
            from_spool=bool(job.spool_file),
        )

    def pending(self) -> int:
        """How many messages wait in the spool."""
        try:
            return sum(1 for n in os.listdir(self.spool_dir) if n.endswith(".json") or n.endswith(".claimed"))
        except FileNotFoundError:
            return 0


def summarize(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts
