# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: alerts
type: notification
short_description: One alert per failed, unreachable or rolled-back host at the end of a run
version_added: 0.3.0
description:
  - At the end of a run, sends one alert per host that failed (V(ComfyOpsHostFailed), warning), was unreachable
    (V(ComfyOpsHostUnreachable), critical) or rolled back by itself during C(deploy.yml) (V(ComfyUIRolledBack), critical,
    read from the fact C(comfyops_deploy_summary) the deploy summary sets). A host gets one alert, the most specific.
  - Labels C(host), C(playbook) and, for a rollback, C(release) (the release that failed); annotations say what
    failed and where the host is now.
  - When a later run of the same playbook passes on a host, the alerts fired for it before are resolved.
  - Sends through the same library as M(comfyops.comfyui.comfyui_alert), with its retries, deduplication, rate
    limits and spool; the channels are the same mappings as that module's O(comfyops.comfyui.comfyui_alert#module:channels).
  - Configured by the variables C(comfyui_alert_channels), C(comfyui_alert_state_dir) and C(comfyui_alert_budget)
    (read from the first host of the first play, so put them in C(group_vars/all) or extra vars; values from Ansible
    Vault work), or by the options below in C(ansible.cfg) or the environment (what an AWX credential injects).
    The variables win. With neither, and hosts in the inventory group C(monitoring) (the monitoring stack), it sends to
    their Alertmanagers (C(http://<ansible_host>:<monitoring_stack_alertmanager_port, 9093>)); with no channels at all
    it does nothing and says nothing.
  - In check mode it sends nothing and prints what it would send.
  - Needs no TTY and no file on the controller beyond its state directory, so it works the same under AWX.
requirements:
  - Enable it with C(callbacks_enabled = comfyops.comfyui.alerts) in C(ansible.cfg) (or C(ANSIBLE_CALLBACKS_ENABLED)).
author:
  - comfyops maintainers (@comfyops)
options:
  channels:
    description: The channels, as JSON or YAML text (a list of mappings; see the comfyui_alert module).
    type: str
    default: ""
    env:
      - name: COMFYOPS_ALERT_CHANNELS
    ini:
      - section: callback_comfyops_alerts
        key: channels
  state_dir:
    description: Where the dedup state, the spool and the log live (default C($XDG_STATE_HOME/comfyops/alerts)).
    type: path
    env:
      - name: COMFYOPS_ALERT_STATE_DIR
    ini:
      - section: callback_comfyops_alerts
        key: state_dir
  budget:
    description: Seconds the end-of-run delivery may take; what is left undelivered is spooled for the next run.
    type: float
    default: 10
    env:
      - name: COMFYOPS_ALERT_BUDGET
    ini:
      - section: callback_comfyops_alerts
        key: budget
"""

import json
import os
import re

import yaml
from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.template import Templar
from ansible_collections.comfyops.comfyui.plugins.module_utils._notify import Alert, Notifier, NotifyError, parse_channels, summarize

CREDENTIALS_IN_URL = re.compile(r"(://)[^/@\s]+@")
FIRED = "callback_fired"


def _clean(text, secrets):
    text = CREDENTIALS_IN_URL.sub(r"\1", str(text or ""))
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return " ".join(text.split())[:300]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "comfyops.comfyui.alerts"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.playbook = ""
        self.settings = None  # (channels, state_dir, budget), read at the first play
        self.off = ""  # why alerting is off for this run, when a setting did not parse
        self.failed = {}
        self.unreachable = {}
        self.summary = {}

    # -- what the run says ---------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.basename(playbook._file_name)

    def v2_playbook_on_play_start(self, play):
        if self.settings is not None:
            return
        variables = {}
        try:
            manager = play.get_variable_manager()
            inventory = getattr(manager, "_inventory", None)
            hosts = inventory.get_hosts(play.hosts) if inventory is not None else []
            variables = manager.get_vars(play=play, host=hosts[0] if hosts else None, include_hostvars=False)
            templar = Templar(loader=getattr(manager, "_loader", None), variables=variables)
            wanted = {
                k: templar.template(variables[k]) for k in ("comfyui_alert_channels", "comfyui_alert_state_dir", "comfyui_alert_budget") if k in variables
            }
        except Exception as exc:  # a variable that does not template must not break the run; it is said
            self._display.warning("comfyops.comfyui.alerts: could not read the comfyui_alert_* variables: %s" % _clean(exc, []))
            wanted = {}
        self.settings = self.read_settings(play, wanted)

    def read_settings(self, play, wanted):
        """(channels, state_dir, budget); a setting that does not parse turns alerting off for the run, said now and
        again at the end of the run (never silently, never by breaking the run)."""
        channels = wanted.get("comfyui_alert_channels")
        setting = "comfyui_alert_channels"
        try:
            if channels is None:
                setting = "COMFYOPS_ALERT_CHANNELS (the callback's channels option)"
                text = self.get_option("channels") or ""
                channels = yaml.safe_load(text) if text.strip() else self.monitoring_default(play)
            parsed = parse_channels(json.loads(json.dumps(channels, default=str)), "comfyui_alert_channels")
            setting = "comfyui_alert_budget"
            budget = float(wanted.get("comfyui_alert_budget") or self.get_option("budget"))
            if not 0 < budget <= 3600:
                raise ValueError("%r is not a number of seconds from 0 to 3600" % budget)
        except (NotifyError, ValueError, TypeError, yaml.YAMLError) as exc:
            message = _clean(" ".join(str(exc).split()), [])
            self.off = message if message.startswith(setting + ":") else "%s: %s" % (setting, message)
            self._display.warning("comfyops.comfyui.alerts: alerting is OFF for this run: %s" % self.off)
            return ([], None, 0.0)
        return (parsed, wanted.get("comfyui_alert_state_dir") or self.get_option("state_dir"), budget)

    @staticmethod
    def monitoring_default(play):
        """With no channels given: the Alertmanagers of the inventory's `monitoring` group (the monitoring stack), if any."""
        manager = play.get_variable_manager()
        inventory = getattr(manager, "_inventory", None)
        if inventory is None or "monitoring" not in inventory.groups:
            return []
        urls = []
        try:
            for host in inventory.get_hosts("monitoring"):
                variables = manager.get_vars(play=play, host=host, include_hostvars=False)
                templar = Templar(loader=getattr(manager, "_loader", None), variables=variables)
                address = templar.template(variables.get("ansible_host", host.get_name()))
                port = templar.template(variables.get("monitoring_stack_alertmanager_port", 9093))
                urls.append("http://%s:%s" % ("[%s]" % address if ":" in str(address) else address, port))
        except Exception as exc:  # as above: said, never fatal
            return [{"type": "alertmanager", "url": "invalid: the monitoring group's address does not template (%s)" % _clean(exc, [])}]
        return [{"type": "alertmanager", "urls": urls}] if urls else []

    # The stats decide who failed (a failure that a block rescued is not counted there); these keep the message.
    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self.failed.setdefault(result._host.get_name(), (result._task.get_name(), result._result.get("msg", "")))

    def v2_runner_on_unreachable(self, result):
        self.unreachable.setdefault(result._host.get_name(), result._result.get("msg", ""))

    def v2_runner_on_ok(self, result):
        summary = result._result.get("ansible_facts", {}).get("comfyops_deploy_summary")
        if isinstance(summary, dict):
            self.summary = summary

    # -- the end of the run --------------------------------------------------------------------
    def alerts_for(self, stats):
        """(alerts to fire, hosts that passed) from the run's stats, failures and deploy summary."""
        channels = self.settings[0] if self.settings else []
        secrets = [s for c in channels for s in c.secrets()]
        rolled_back = set(self.summary.get("rolled_back") or [])
        release = str(self.summary.get("release") or "")
        audit = self.summary.get("audit") or {}
        firing, passed = [], []
        for host in sorted(stats.processed):
            counts = stats.summarize(host)
            labels = {"host": host, "playbook": self.playbook}
            if host in rolled_back:
                # the host's last audit record is its unlock: outcome "rolled back to <release>"
                outcome = str((audit.get(host) or {}).get("outcome") or "")
                now_on = outcome[len("rolled back to ") :] if outcome.startswith("rolled back to ") else "its previous release"
                firing.append(
                    Alert.make(
                        "ComfyUIRolledBack",
                        "critical",
                        labels=dict(labels, release=release),
                        summary="%s rolled back to %s" % (host, now_on),
                        description="%s failed its gates on %s during %s and went back to %s by itself." % (host, release, self.playbook, now_on),
                    )
                )
            elif counts["unreachable"]:
                firing.append(
                    Alert.make(
                        "ComfyOpsHostUnreachable",
                        "critical",
                        labels=labels,
                        summary="%s was unreachable during %s" % (host, self.playbook),
                        description=_clean(self.unreachable.get(host), secrets),
                    )
                )
            elif counts["failures"]:  # a failure a block rescued (a rollback) is not counted
                task, message = self.failed.get(host, ("?", ""))
                firing.append(
                    Alert.make(
                        "ComfyOpsHostFailed",
                        "warning",
                        labels=labels,
                        summary="%s failed in %s at %s" % (host, self.playbook, _clean(task, secrets)),
                        description=_clean(message, secrets),
                    )
                )
            else:
                passed.append(host)
        return firing, passed

    def v2_playbook_on_stats(self, stats):
        if self.off:  # said again at the end, where whoever reads the run looks
            self._display.warning("comfyops.comfyui.alerts: alerting was OFF for this run, no alert was sent: %s" % self.off)
        if not self.settings or not self.settings[0]:
            return
        channels, state_dir, budget = self.settings
        try:
            firing, passed = self.alerts_for(stats)
            notifier = Notifier(state_dir, budget=budget)
            check_mode = bool(context.CLIARGS.get("check"))
            with notifier.locked(readonly=check_mode) as state:
                fired = state.get(FIRED, {}) if check_mode else state.setdefault(FIRED, {})
                resolving = [
                    Alert.from_dict(dict(item, state="resolved"))
                    for key, item in sorted(fired.items())
                    if item["labels"].get("host") in passed and item["labels"].get("playbook") == self.playbook
                ]
                if not check_mode:
                    for alert in firing:
                        fired[alert.fingerprint] = alert.to_dict()
                    for alert in resolving:
                        fired.pop(alert.fingerprint, None)
            outcomes = notifier.send(firing + resolving, channels, check_mode=check_mode)
        except (NotifyError, OSError) as exc:
            self._display.warning("comfyops.comfyui.alerts: no alert could be sent: %s" % exc)
            return
        for outcome in outcomes:
            if outcome.status == "below_severity":
                continue
            line = "comfyops alerts: %s (%s) for %s: %s via %s" % (
                outcome.alert,
                outcome.state,
                self._host_of(outcome, firing + resolving),
                outcome.status,
                outcome.channel,
            )
            self._display.display(line + (" (%s)" % outcome.error if outcome.error else ""))
        counts = summarize(outcomes)
        if counts.get("spooled") or counts.get("failed"):
            self._display.warning(
                "comfyops.comfyui.alerts: %s; spooled alerts go out with the next run" % ", ".join("%d %s" % (v, k) for k, v in sorted(counts.items()))
            )

    @staticmethod
    def _host_of(outcome, alerts):
        for alert in alerts:
            if alert.fingerprint == outcome.fingerprint:
                return alert.labels.get("host", "?")
        return "?"
