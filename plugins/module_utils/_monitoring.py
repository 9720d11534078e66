# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring stack's decisions, plain Python: which targets Prometheus scrapes, its configuration,
Alertmanager's routes and receivers, the command lines of the services, and the queries of a dashboard.

The role renders these with ``to_nice_yaml`` through the filters of ``plugins/filter/monitoring.py``; the tests
check them with ``promtool`` and ``amtool`` and run every dashboard query against a real Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._http import UrlError, parse_url

# What may stand in a systemd ExecStart argument or a standalone argv without quoting: no blanks, quotes,
# '$' (systemd expands it) or '%' (specifiers).
SAFE_ARG = re.compile(r"^[A-Za-z0-9_./:@,=+\-\[\]]*$")

TARGET_KINDS = {
    # kind: (port variable, enabled variable or None, job name)
    "comfyui": ("monitoring_stack_exporter_port", "monitoring_stack_exporter_enabled", "comfyui"),
    "node": ("monitoring_stack_node_exporter_port", "monitoring_stack_node_exporter_enabled", "node"),
    "redis": ("monitoring_stack_redis_exporter_port", "monitoring_stack_redis_enabled", "redis"),
    "dcgm": ("monitoring_stack_dcgm_exporter_port", "monitoring_stack_dcgm_exporter_enabled", "dcgm"),
}


class MonitoringConfigError(ValueError):
    """A bad setting: the message names it, the value and what is expected."""


def check_arg(value: Any, option: str) -> str:
    text = str(value)
    if not SAFE_ARG.match(text):
        raise MonitoringConfigError("%s: %r: only letters, digits and _ . / : @ , = + - [ ] may appear in a service's arguments" % (option, text))
    return text


def _port(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise MonitoringConfigError("%s: expected a port 1-65535, got %r" % (option, value))
    return value


def _host_address(address: Any, option: str) -> str:
    text = check_arg(address, option)
    if not text:
        raise MonitoringConfigError("%s: an address is required" % option)
    return "[%s]" % text if ":" in text and not text.startswith("[") else text


def scrape_targets(hosts: list[str], hostvars: Mapping[str, Any], defaults: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Per kind (comfyui, node, redis, dcgm), the targets of every host in `hosts`: [{target, host}].

    Each value is the host's own variable when it sets one, else the role's default (`defaults`).
    """
    found: dict[str, list[dict[str, str]]] = {kind: [] for kind in TARGET_KINDS}
    for host in hosts:
        own = hostvars.get(host) or {}

        def var(key: str, host: str = host, own: Any = own) -> Any:
            try:
                value = own.get(key) if hasattr(own, "get") else None
            except Exception:  # pylint: disable=broad-except  # an undefined variable of another host: the default
                value = None
            return defaults.get(key) if value is None else value

        address = _host_address(var("monitoring_stack_target_address") or host, "%s: monitoring_stack_target_address" % host)
        for kind, (port_key, enabled_key, _job) in TARGET_KINDS.items():
            if enabled_key and not var(enabled_key):
                continue
            port = _port(var(port_key), "%s: %s" % (host, port_key))
            found[kind].append({"target": "%s:%d" % (address, port), "host": host})
    return found


def prometheus_config(
    targets: dict[str, list[dict[str, str]]],
    monitors: list[dict[str, str]],
    scrape_interval: int,
    evaluation_interval: int,
    rule_files: list[str],
    external_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """prometheus.yml: every exporter of `targets`, and each monitoring host's Prometheus and Alertmanager
    (`monitors`: [{host, prometheus, alertmanager}] as host:port), with a `host` label on every target."""
    if not 1 <= int(scrape_interval) <= 3600:
        raise MonitoringConfigError("monitoring_stack_scrape_interval: expected 1-3600 seconds, got %r" % scrape_interval)
    for index, monitor in enumerate(monitors):
        missing = [key for key in ("host", "prometheus") if not isinstance(monitor.get(key), str) or not monitor.get(key)]
        if missing:
            raise MonitoringConfigError("monitors[%d]: needs %s (the monitoring host and its Prometheus as host:port)" % (index, " and ".join(missing)))

    def static(entries: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{"targets": [e["target"]], "labels": {"host": e["host"]}} for e in entries]

    jobs: list[dict[str, Any]] = []
    for kind, (_port_key, _enabled, job) in TARGET_KINDS.items():
        if targets.get(kind):
            jobs.append({"job_name": job, "static_configs": static(targets[kind])})
    jobs.append({"job_name": "prometheus", "static_configs": static([{"target": m["prometheus"], "host": m["host"]} for m in monitors])})
    alertmanagers = [{"target": m["alertmanager"], "host": m["host"]} for m in monitors if m.get("alertmanager")]
    if alertmanagers:
        jobs.append({"job_name": "alertmanager", "static_configs": static(alertmanagers)})
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": "%ds" % int(scrape_interval),
            "scrape_timeout": "%ds" % max(1, min(10, int(scrape_interval) - 1)),
            "evaluation_interval": "%ds" % int(evaluation_interval),
        },
        "rule_files": list(rule_files),
        "scrape_configs": jobs,
    }
    if external_labels:
        config["global"]["external_labels"] = dict(external_labels)
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [a["target"] for a in alertmanagers]}]}]}
    return config


def _webhook(url: Any, option: str, send_resolved: bool = True) -> dict[str, Any]:
    try:
        parse_url(url, option)
    except UrlError as exc:
        raise MonitoringConfigError(str(exc)) from None
    return {"url": url, "send_resolved": send_resolved, "max_alerts": 0}


def alertmanager_config(settings: dict[str, Any]) -> dict[str, Any]:
    """alertmanager.yml: critical alerts to email and the webhooks, warnings to the webhooks, grouped by alert
    and host; a host that is down silences that host's other alerts.

    `settings`: webhook_urls (list), email_to (list), smtp (dict: smarthost, from, auth_username,
    auth_password, require_tls), group_wait, group_interval, repeat_interval (Prometheus durations).
    """
    webhooks = [_webhook(url, "monitoring_stack_alertmanager_webhook_urls[%d]" % i) for i, url in enumerate(settings.get("webhook_urls") or [])]
    email_to = list(settings.get("email_to") or [])
    smtp = dict(settings.get("smtp") or {})
    config: dict[str, Any] = {"global": {"resolve_timeout": "5m"}}
    if email_to:
        if not smtp.get("smarthost") or not smtp.get("from"):
            raise MonitoringConfigError(
                "monitoring_stack_alertmanager_smtp: smarthost and from are required when monitoring_stack_alertmanager_email_to is set"
            )
        config["global"].update(
            {
                "smtp_smarthost": check_arg(smtp["smarthost"], "monitoring_stack_alertmanager_smtp.smarthost"),
                "smtp_from": smtp["from"],
                "smtp_require_tls": bool(smtp.get("require_tls", True)),
            }
        )
        if smtp.get("hello"):
            config["global"]["smtp_hello"] = smtp["hello"]
        if smtp.get("auth_username"):
            config["global"]["smtp_auth_username"] = smtp["auth_username"]
            config["global"]["smtp_auth_password"] = smtp.get("auth_password") or ""
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    critical: dict[str, Any] = {"name": "critical"}
    if email_to:
        critical["email_configs"] = [{"to": ", ".join(email_to), "send_resolved": True}]
    if webhooks:
        critical["webhook_configs"] = webhooks
    warning: dict[str, Any] = {"name": "warning"}
    if webhooks:
        warning["webhook_configs"] = webhooks
    receivers += [critical, warning]
    timing = {
        "group_wait": settings.get("group_wait", "30s"),
        "group_interval": settings.get("group_interval", "5m"),
        "repeat_interval": settings.get("repeat_interval", "4h"),
    }
    config["route"] = {
        "receiver": "null",
        "group_by": ["alertname", "host"],
        **timing,
        "routes": [
            {"receiver": "critical", "matchers": ['severity="critical"']},
            {"receiver": "warning", "matchers": ['severity="warning"']},
        ],
    }
    config["receivers"] = receivers
    config["inhibit_rules"] = [
        # a host that is down: its ComfyUI, exporter and GPU alerts say nothing new
        {"source_matchers": ['alertname="HostDown"'], "target_matchers": ['alertname!="HostDown"'], "equal": ["host"]},
        # a critical alert silences the warning of the same name on the same host
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'], "equal": ["alertname", "host"]},
    ]
    return config


def service_args(service: str, settings: dict[str, Any]) -> list[str]:
    """The command line of one service of the stack (Debian's binaries), each argument checked."""
    s = {key: check_arg(value, "monitoring_stack_%s" % key) for key, value in settings.items() if isinstance(value, (str, int)) and not isinstance(value, bool)}
    if service == "prometheus":
        args = [
            "--config.file=%s" % s["prometheus_config"],
            "--storage.tsdb.path=%s" % s["prometheus_data_dir"],
            "--storage.tsdb.retention.time=%s" % s["prometheus_retention"],
            "--web.listen-address=%s" % s["prometheus_listen"],
            "--web.enable-lifecycle",
        ]
        if s.get("prometheus_retention_size"):
            args.append("--storage.tsdb.retention.size=%s" % s["prometheus_retention_size"])
        if s.get("prometheus_external_url"):
            args.append("--web.external-url=%s" % s["prometheus_external_url"])
        return args
    if service == "alertmanager":
        return [
            "--config.file=%s" % s["alertmanager_config"],
            "--storage.path=%s" % s["alertmanager_data_dir"],
            "--web.listen-address=%s" % s["alertmanager_listen"],
            "--cluster.listen-address=",  # one Alertmanager per monitoring host: no gossip port
        ]
    if service == "node_exporter":
        return [
            "--web.listen-address=%s" % s["node_exporter_listen"],
            "--collector.textfile.directory=%s" % s["textfile_dir"],
        ]
    if service == "redis_exporter":
        return ["-web.listen-address=%s" % s["redis_exporter_listen"], "-redis.addr=%s" % s["redis_addr"]]
    raise MonitoringConfigError("unknown service %r (prometheus, alertmanager, node_exporter, redis_exporter)" % service)


def dashboard_queries(dashboard: dict[str, Any]) -> list[dict[str, str]]:
    """Every query of a Grafana dashboard: [{panel, expr}], from panels and rows' nested panels."""
    found: list[dict[str, str]] = []

    def walk(panels: list[Any]) -> None:
        for panel in panels or []:
            if not isinstance(panel, dict):
                continue
            for target in panel.get("targets") or []:
                if isinstance(target, dict) and target.get("expr"):
                    found.append({"panel": str(panel.get("title", "")), "expr": str(target["expr"])})
            walk(panel.get("panels") or [])

    walk(dashboard.get("panels") or [])
    return found


def exporter_instances(instances: list[dict[str, Any]], base: str, service_manager: str) -> list[dict[str, Any]]:
    """The exporter's instances from the deploy's (`comfyui_deploy_instances`: name, port): the URL on loopback,
    the systemd unit or the standalone pidfile the deploy gives each, and the shared output directory."""
    found: list[dict[str, Any]] = []
    for index, item in enumerate(instances or []):
        if not isinstance(item, dict) or "name" not in item:
            raise MonitoringConfigError("instances[%d]: expected {name, port}, got %r" % (index, item))
        name = check_arg(item["name"], "instances[%d].name" % index)
        port = _port(item.get("port", 8188), "instances[%d].port" % index)
        entry: dict[str, Any] = {"name": name, "url": "http://127.0.0.1:%d" % port, "output_dir": "%s/shared/output" % base.rstrip("/")}
        if service_manager == "systemd":
            entry["unit"] = "comfyui-%s.service" % name
        elif service_manager == "standalone":
            entry["pidfile"] = "%s/run/%s.pid" % (base.rstrip("/"), name)
        found.append(entry)
    return found
