#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_alert
short_description: Send or resolve an alert through Alertmanager, a webhook or email, without losing it
version_added: 0.3.0
description:
  - Sends one alert (O(state=firing)) or its resolution (O(state=resolved)) to every channel in O(channels), through the
    same library as the P(comfyops.comfyui.alerts#callback) callback.
  - "V(alertmanager): POST C(/api/v2/alerts) to every URL (an HA pair gets it on both); Alertmanager's grouping,
    inhibition, silences and repeat intervals apply. A resolution carries C(endsAt)."
  - "V(webhook): JSON in the shape O(channels[].format) names. V(email): SMTP with STARTTLS, implicit TLS or none,
    optional login, several recipients, templated subject and body."
  - Delivery is retried with exponential backoff and jitter within O(budget) seconds. HTTP 2xx is delivered; 5xx, 429 and
    timeouts are retried; any other 4xx is permanent, reported, and fails the task after the other channels were tried.
  - "For webhook and email: an alert with the same name and labels sent in the same state within
    O(channels[].repeat_interval) is suppressed and counted, a change of state always goes; at most
    O(channels[].rate_limit) messages per O(channels[].rate_window). The next message says how many were held back."
  - What could not be delivered within the budget goes to a spool under O(state_dir) and is sent first by the next call
    that has the same channel. Every alert and its outcome is a line of C(alerts.log) there (JSON lines, bounded).
  - The SMTP password, header values and the whole URL of a webhook (Slack and others keep a token in its path) never
    appear in the result, the log or the spool.
author:
  - comfyops maintainers (@comfyops)
options:
  name:
    description: The alert's name (Alertmanager's C(alertname)), such as C(ComfyUIRolledBack).
    type: str
    required: true
  state:
    description: V(firing) sends the alert, V(resolved) its resolution.
    type: str
    choices: [firing, resolved]
    default: firing
  severity:
    description: Its severity; a channel below whose O(channels[].min_severity) it is skips it.
    type: str
    choices: [info, warning, critical]
    default: warning
  summary:
    description:
      - One line that says what happened (annotation C(summary)).
      - Longer than 512 characters, it is cut with a marker that says how much went; text that is not UTF-8 is kept
        with its undecodable parts replaced.
    type: str
    default: ""
  description:
    description: More about it (annotation C(description)); cut past 4096 characters, with a marker.
    type: str
    default: ""
  runbook:
    description: A link to what to do (annotation C(runbook_url)).
    type: str
    default: ""
  labels:
    description: Labels such as C(host), C(instance), C(release), C(playbook); with O(name) they make its fingerprint.
    type: dict
    default: {}
  annotations:
    description: More annotations.
    type: dict
    default: {}
  channels:
    description: Where it goes.
    type: list
    elements: dict
    required: true
    suboptions:
      type:
        description: The channel.
        type: str
        required: true
        choices: [alertmanager, webhook, email]
      url:
        description:
          - V(alertmanager) the base URL of one Alertmanager, such as C(http://alertmanager:9093).
          - V(webhook) the URL to POST to; it is treated as a secret.
        type: str
      urls:
        description: V(alertmanager) the base URLs of every Alertmanager of an HA set.
        type: list
        elements: str
      format:
        description: V(webhook) the payload shape (V(generic) when not given).
        type: str
        choices: [generic, slack, alertmanager]
      headers:
        description: HTTP headers, such as C(Authorization) (secret).
        type: dict
      min_severity:
        description: The lowest severity this channel gets (V(info) when not given).
        type: str
        choices: [info, warning, critical]
      timeout:
        description: Seconds per attempt (5 when not given).
        type: float
      validate_certs:
        description: Whether TLS certificates are checked (they are when not given).
        type: bool
      repeat_interval:
        description: V(webhook) and V(email) seconds within which the same alert in the same state is not sent again (3600 when not given).
        type: float
      rate_limit:
        description: V(webhook) and V(email) messages per O(channels[].rate_window) at most (20 when not given).
        type: int
      rate_window:
        description: V(webhook) and V(email) the rate limit's window in seconds (300 when not given).
        type: float
      to:
        description: V(email) the recipients.
        type: list
        elements: str
      from:
        description: V(email) the sender (C(comfyops@<this host's name>) when not given).
        type: str
      smtp_host:
        description: V(email) the SMTP server.
        type: str
      smtp_port:
        description: V(email) its port (587 for V(starttls), 465 for V(ssl), 25 for V(none) when not given).
        type: int
      tls:
        description: V(email) STARTTLS, implicit TLS, or none (a relay on loopback); V(starttls) when not given.
        type: str
        choices: [starttls, ssl, none]
      username:
        description: V(email) the SMTP login.
        type: str
      password:
        description: V(email) the SMTP password.
        type: str
      subject:
        description:
          - V(email) the subject, a Python C(string.Template) over C($name), C($severity), C($state), C($status), C($summary),
            C($description), C($runbook), C($labels), C($suppressed), C($host), C($instance), C($release), C($playbook).
          - "C([$severity] $name $state: $summary) when not given."
        type: str
      body:
        description: V(email) the body, a template over the same fields as O(channels[].subject).
        type: str
  state_dir:
    description: Where the dedup state, the spool and the log live. C($XDG_STATE_HOME/comfyops/alerts) (or C(~/.local/state/comfyops/alerts)) when not given.
    type: path
  budget:
    description: Seconds the whole call may take to deliver, retries included; what is left undelivered is spooled.
    type: float
    default: 10
extends_documentation_fragment:
  - comfyops.comfyui.attributes
attributes:
  check_mode:
    support: full
    details: Sends nothing, writes nothing, and says in RV(outcomes) what it would send (V(would_send)) or suppress.
notes:
  - Run it where the channels can be reached, usually the controller (C(delegate_to=localhost), C(run_once)).
"""

EXAMPLES = r"""
- name: Tell on-call that a host rolled back
  comfyops.comfyui.comfyui_alert:
    name: ComfyUIRolledBack
    severity: critical
    summary: "{{ inventory_hostname }} rolled back to {{ previous }}"
    labels: {host: "{{ inventory_hostname }}", release: "{{ release }}"}
    channels:
      - {type: webhook, url: "{{ vault_slack_webhook }}", format: slack}
      - {type: email, to: [oncall@example.com], smtp_host: smtp.example.com, username: alerts, password: "{{ vault_smtp_password }}"}
      - {type: alertmanager, urls: ["http://am-1:9093", "http://am-2:9093"]}
  delegate_to: localhost

- name: It serves again
  comfyops.comfyui.comfyui_alert:
    name: ComfyUIRolledBack
    state: resolved
    labels: {host: "{{ inventory_hostname }}", release: "{{ release }}"}
    channels: [{type: alertmanager, url: "http://alertmanager:9093"}]
  delegate_to: localhost
"""

RETURN = r"""
alert:
  description: The alert as sent (name, state, severity, labels, fingerprint).
  returned: always
  type: dict
outcomes:
  description:
    - One entry per alert and channel (and per Alertmanager of a set), spooled messages sent now included (RV(outcomes[].from_spool)).
    - "RV(outcomes[].status): V(delivered), V(spooled) (kept for the next call), V(failed) (refused for good),
      V(suppressed) (a duplicate), V(rate_limited), V(below_severity), V(would_send) (check mode)."
  returned: always
  type: list
  elements: dict
  contains:
    alert: {description: "The alert's name.", type: str}
    fingerprint: {description: "Its fingerprint.", type: str}
    state: {description: "V(firing) or V(resolved).", type: str}
    severity: {description: "Its severity.", type: str}
    channel: {description: "The channel, shown without secrets.", type: str}
    target: {description: "The channel's id (what the spool and state know it by).", type: str}
    status: {description: "What became of it.", type: str}
    attempts: {description: "Attempts made.", type: int}
    error: {description: "The last error, without secrets.", type: str}
    suppressed: {description: "How many suppressed alerts this message reported.", type: int}
    seconds: {description: "How long its delivery took.", type: float}
    from_spool: {description: "Whether it came from the spool.", type: bool}
counts:
  description: How many outcomes of each status.
  returned: always
  type: dict
pending:
  description: Messages still waiting in the spool after this call.
  returned: always
  type: int
spool_dropped:
  description:
    - Waiting messages this call dropped, oldest first, because the spool held more than 1000 files or 16 MiB; each is
      also a line of C(alerts.log) in O(state_dir) and a warning.
  returned: when a message was dropped
  type: int
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule
from ansible_collections.comfyops.comfyui.plugins.module_utils._notify import CHANNEL_OPTIONS, Alert, Notifier, NotifyError, parse_channels, summarize


def main():
    module = ComfyOpsModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["firing", "resolved"], "default": "firing"},
            "severity": {"type": "str", "choices": ["info", "warning", "critical"], "default": "warning"},
            "summary": {"type": "str", "default": ""},
            "description": {"type": "str", "default": ""},
            "runbook": {"type": "str", "default": ""},
            "labels": {"type": "dict", "default": {}},
            "annotations": {"type": "dict", "default": {}},
            "channels": {"type": "list", "elements": "dict", "required": True, "options": CHANNEL_OPTIONS},
            "state_dir": {"type": "path"},
            "budget": {"type": "float", "default": 10},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        channels = parse_channels(p["channels"])
        for channel in channels:
            module.no_log_values.update(channel.secrets())  # a webhook's URL is masked in everything Ansible prints
        fields = ("summary", "description", "runbook", "labels", "annotations")
        alert = Alert.make(p["name"], p["severity"], p["state"], where="comfyui_alert", **{k: p[k] for k in fields})
        notifier = Notifier(p["state_dir"], budget=p["budget"])
        outcomes = notifier.send([alert], channels, check_mode=module.check_mode)
    except NotifyError as exc:
        module.fail_json(msg="comfyui_alert: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="comfyui_alert: %s: %s" % (exc.filename or p["state_dir"], exc.strerror))
    counts = summarize(outcomes)
    result = {
        "alert": {"name": alert.name, "state": alert.state, "severity": alert.severity, "labels": alert.labels, "fingerprint": alert.fingerprint},
        "outcomes": [o.to_dict() for o in outcomes],
        "counts": counts,
        "pending": notifier.pending(),
        **({"spool_dropped": notifier.spool_dropped} if notifier.spool_dropped else {}),
        "changed": bool(counts.get("delivered") or counts.get("spooled") or counts.get("would_send")),
    }
    for outcome in outcomes:
        if outcome.status == "spooled":
            module.warn(
                "comfyui_alert: %s: not delivered within %.0f s (%s); kept in the spool for the next call" % (outcome.channel, p["budget"], outcome.error)
            )
    if notifier.spool_dropped:
        module.warn("comfyui_alert: the spool was full: the %d oldest waiting messages were dropped (logged in alerts.log)" % notifier.spool_dropped)
    refused = ["%s: %s" % (o.channel, o.error) for o in outcomes if o.status == "failed"]
    if refused:
        module.fail_json(msg="comfyui_alert: %s refused the alert for good: %s" % (len(refused), "; ".join(refused)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
