"""The monitoring_stack role's parts that can be checked without hosts: the alert rules with promtool's own unit
tests, the runbook each alert links to, Prometheus's and Alertmanager's configuration as the role builds them (checked
by promtool and amtool, and routed by amtool), the services' command lines, the dashboards, and the standalone
manager with real processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest
import yaml
from ansible_collections.comfyops.comfyui.plugins.module_utils import _monitoring, _standalone
from conftest import REPO, wait_until

ROLE = REPO / "roles" / "monitoring_stack"
RULES = ROLE / "files" / "rules" / "comfyui.rules.yml"
RULE_TESTS = REPO / "tests" / "unit" / "roles" / "monitoring_stack" / "rules.test.yml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool comes with Debian's prometheus (make unit installs it)")
needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool comes with Debian's prometheus-alertmanager (make unit installs it)")
REQUIRED = {
    "HostDown", "ComfyUIDown", "ComfyUIRestartLoop", "ComfyUIQueueBacklog", "ComfyUIPromptStuck", "ComfyUIWorkflowErrorRate",
    "ComfyUISmokeWorkflowFailing", "ComfyUISmokeLatencyHigh", "GPUTemperatureHigh", "GPUMemoryNearFull", "GPUECCErrors",
    "GPUIdleWhilePromptsWait", "HostMemoryLow", "DiskFillingUp", "ExporterScrapeFailing", "BackupStale",
}  # fmt: skip


def alerts():
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"] if "alert" in rule]


@needs_promtool
def test_every_rule_passes_its_promtool_cases():
    out = subprocess.run(["promtool", "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent, capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_on_failure_and_stays_silent_when_healthy_in_the_cases():
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    for rule in alerts():
        runs = [t for case in cases for t in case["alert_rule_test"] if t["alertname"] == rule["alert"]]
        assert any(t["exp_alerts"] == [] for t in runs), "%s: no case where it stays silent" % rule["alert"]
        firing = [t for t in runs if t["exp_alerts"]]
        assert firing, "%s: no case where it fires" % rule["alert"]
        # the healthy host (gpu-02) of each case never fires
        assert all(a["exp_labels"]["host"] == "gpu-01" for t in firing for a in t["exp_alerts"]), rule["alert"]
        if rule.get("for"):
            silent_first = [t for t in runs if t["exp_alerts"] == []]
            assert silent_first, "%s: nothing shows it waits for its for: %s" % (rule["alert"], rule["for"])


def test_the_rules_cover_the_issue_and_each_has_severity_text_and_a_runbook_section():
    rules = alerts()
    names = {r["alert"] for r in rules}
    assert len(rules) >= 14 and REQUIRED <= names, REQUIRED - names
    anchors = {re.sub(r"[^a-z0-9-]", "", line[3:].strip().lower().replace(" ", "-")) for line in RUNBOOKS.read_text().splitlines() if line.startswith("## ")}
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 40, rule["alert"]
        url = rule["annotations"]["runbook_url"]
        assert url.endswith("docs/runbooks.md#" + rule["alert"].lower()), url
        assert rule["alert"].lower() in anchors, "docs/runbooks.md has no section for %s" % rule["alert"]


def targets():
    hostvars = {
        "gpu-01": {"ansible_host": "10.0.0.1", "monitoring_stack_target_address": "10.0.0.1", "monitoring_stack_redis_enabled": True},
        "gpu-02": {"monitoring_stack_target_address": "fd00::2", "monitoring_stack_exporter_port": 9999},
    }
    defaults = {
        "monitoring_stack_exporter_port": 9188, "monitoring_stack_exporter_enabled": True, "monitoring_stack_node_exporter_port": 9100,
        "monitoring_stack_node_exporter_enabled": True, "monitoring_stack_redis_exporter_port": 9121, "monitoring_stack_redis_enabled": False,
        "monitoring_stack_dcgm_exporter_port": 9400, "monitoring_stack_dcgm_exporter_enabled": False,
    }  # fmt: skip
    return _monitoring.scrape_targets(["gpu-01", "gpu-02"], hostvars, defaults)


def test_targets_come_from_each_hosts_own_values_else_the_defaults():
    found = targets()
    assert found["comfyui"] == [{"target": "10.0.0.1:9188", "host": "gpu-01"}, {"target": "[fd00::2]:9999", "host": "gpu-02"}]
    assert found["redis"] == [{"target": "10.0.0.1:9121", "host": "gpu-01"}], "Redis only where the host enables it"
    assert found["dcgm"] == []
    with pytest.raises(_monitoring.MonitoringConfigError, match="gpu-01: monitoring_stack_exporter_port"):
        _monitoring.scrape_targets(["gpu-01"], {"gpu-01": {"monitoring_stack_exporter_port": 70000}}, {"monitoring_stack_exporter_enabled": True})
    with pytest.raises(_monitoring.MonitoringConfigError, match="monitoring_stack_target_address"):
        _monitoring.scrape_targets(["x"], {"x": {"monitoring_stack_target_address": "a b"}}, {})


@needs_promtool
def test_prometheus_config_passes_promtool(tmp_path):
    rules = tmp_path / "comfyui.rules.yml"
    shutil.copy(RULES, rules)
    config = _monitoring.prometheus_config(
        targets(), [{"host": "mon-01", "prometheus": "10.0.0.9:9090", "alertmanager": "10.0.0.9:9093"}], 15, 15, [str(rules)], {"fleet": "prod"}
    )
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"comfyui", "node", "redis", "prometheus", "alertmanager"}
    assert jobs["node"]["static_configs"][1] == {"targets": ["[fd00::2]:9100"], "labels": {"host": "gpu-02"}}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["10.0.0.9:9093"]


def alertmanager(tmp_path, settings):
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(_monitoring.alertmanager_config(settings)))
    return path


SMTP = {"smarthost": "127.0.0.1:2525", "from": "alerts@example.org", "auth_username": "am", "auth_password": "s3cret-pw", "require_tls": False}


@needs_amtool
def test_alertmanager_config_passes_amtool_and_routes_by_severity(tmp_path):
    path = alertmanager(tmp_path, {"webhook_urls": ["http://127.0.0.1:9099/hook"], "email_to": ["oncall@example.org"], "smtp": SMTP})
    out = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr

    def route(*labels):
        answer = subprocess.run(["amtool", "config", "routes", "test", "--config.file", str(path), *labels], capture_output=True, text=True, check=False)
        return answer.stdout.strip()

    assert route("severity=critical", "alertname=ComfyUIDown", "host=gpu-01") == "critical"
    assert route("severity=warning", "alertname=ComfyUIQueueBacklog", "host=gpu-01") == "warning"
    assert route("severity=info") == "null"
    config = yaml.safe_load(path.read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["critical"]["email_configs"][0]["to"] == "oncall@example.org" and receivers["critical"]["webhook_configs"]
    assert "email_configs" not in receivers["warning"] and receivers["warning"]["webhook_configs"]
    assert {"source_matchers": ['alertname="HostDown"'], "target_matchers": ['alertname!="HostDown"'], "equal": ["host"]} in config["inhibit_rules"]
    assert config["route"]["group_by"] == ["alertname", "host"]


def test_alertmanager_settings_errors_name_the_variable(tmp_path):
    with pytest.raises(_monitoring.MonitoringConfigError, match="smarthost and from are required"):
        _monitoring.alertmanager_config({"email_to": ["a@example.org"]})
    with pytest.raises(_monitoring.MonitoringConfigError, match=r"monitoring_stack_alertmanager_webhook_urls\[1\]") as caught:
        _monitoring.alertmanager_config({"webhook_urls": ["http://127.0.0.1:1/ok", "ftp://user:tok3n@host/x"]})
    assert "tok3n" not in str(caught.value), "the URL is shown without its credentials"


def test_service_arguments_are_checked_and_never_shell():
    settings = {"node_exporter_listen": "127.0.0.1:9100", "textfile_dir": "/var/lib/prometheus/node-exporter"}
    assert _monitoring.service_args("node_exporter", settings) == [
        "--web.listen-address=127.0.0.1:9100",
        "--collector.textfile.directory=/var/lib/prometheus/node-exporter",
    ]
    for bad in ("/x; rm -rf /", "/x $(id)", "/x%h", "/x'y"):
        with pytest.raises(_monitoring.MonitoringConfigError, match="monitoring_stack_textfile_dir"):
            _monitoring.service_args("node_exporter", dict(settings, textfile_dir=bad))


def test_exporter_instances_follow_the_deploy():
    systemd = _monitoring.exporter_instances([{"name": "a", "port": 8188}, {"name": "b", "port": 8189}], "/srv/comfyui/", "systemd")
    assert systemd[1] == {"name": "b", "url": "http://127.0.0.1:8189", "output_dir": "/srv/comfyui/shared/output", "unit": "comfyui-b.service"}
    standalone = _monitoring.exporter_instances([{"name": "a", "port": 8188}], "/srv/c", "standalone")
    assert standalone[0]["pidfile"] == "/srv/c/run/a.pid" and "unit" not in standalone[0]
    with pytest.raises(_monitoring.MonitoringConfigError, match=r"instances\[0\].port"):
        _monitoring.exporter_instances([{"name": "a", "port": "x"}], "/srv/c", "systemd")


def test_dashboards_are_provisionable_and_every_panel_has_a_query():
    uids = set()
    datasource = yaml.safe_load(
        (ROLE / "templates" / "grafana-datasources.yml.j2").read_text().replace("{{ monitoring_stack_grafana_prometheus_url | to_json }}", '"x"')
    )
    ds_uid = datasource["datasources"][0]["uid"]
    names = set()
    for path in sorted((ROLE / "files" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        assert board["uid"] not in uids
        uids.add(board["uid"])
        names.add(board["title"])
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == ds_uid and panel["targets"], (path.name, panel["title"])
        assert len(_monitoring.dashboard_queries(board)) == sum(len(p["targets"]) for p in board["panels"])
    assert names == {"ComfyUI overview", "ComfyUI GPUs", "ComfyUI hosts"}


# -- the standalone manager ------------------------------------------------------------------------------------------


def manager(tmp_path, argv):
    services = tmp_path / "services.json"
    services.write_text(json.dumps({"sleeper": {"argv": argv}}))
    return _standalone.Manager(_standalone.load_services(str(services)), str(tmp_path / "run")), services


def test_standalone_start_status_stop(tmp_path):
    mgr, _services = manager(tmp_path, ["/bin/sleep", "300"])
    assert mgr.start("sleeper") == "started"
    pid = mgr.running("sleeper")
    assert pid and mgr.start("sleeper") == "running"
    assert mgr.stop("sleeper") == "stopped"
    wait_until(lambda: not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split(")")[1].split()[0] == "Z", 10, "the sleeper gone")
    assert mgr.running("sleeper") is None and mgr.stop("sleeper") == "stopped already"


def test_standalone_a_changed_command_line_restarts_the_old_process(tmp_path):
    mgr, _services = manager(tmp_path, ["/bin/sleep", "300"])
    mgr.start("sleeper")
    old = mgr.running("sleeper")
    newer, _services = manager(tmp_path, ["/bin/sleep", "301"])
    assert newer.running("sleeper") is None and newer.ours("sleeper") == old
    assert newer.start("sleeper") == "restarted"
    assert newer.running("sleeper") not in (None, old)
    newer.stop("sleeper")


def test_standalone_never_signals_a_pid_that_is_not_its_service(tmp_path):
    mgr, _services = manager(tmp_path, ["/bin/sleep", "300"])
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "sleeper.pid").write_text("%d\n" % stranger.pid)
        assert mgr.running("sleeper") is None and mgr.ours("sleeper") is None
        assert mgr.stop("sleeper") == "stopped already"
        assert stranger.poll() is None, "a process that is not the service was signalled"
        assert not (tmp_path / "run" / "sleeper.pid").exists(), "the stale pidfile is removed"
        os.symlink("/etc/passwd", tmp_path / "run" / "sleeper.pid")
        with pytest.raises(_standalone.PathError, match="symbolic link"):
            mgr.running("sleeper")
    finally:
        stranger.send_signal(signal.SIGKILL)
        stranger.wait()


def test_standalone_bad_services_and_programs_are_named(tmp_path):
    services = tmp_path / "services.json"
    services.write_text(json.dumps({"x": {"argv": ["sleep", "1"]}}))
    with pytest.raises(_standalone.ServiceError, match=r"x\.argv: expected a list of strings starting with an absolute program path"):
        _standalone.load_services(str(services))
    services.write_text(json.dumps({"../x": {"argv": ["/bin/true"]}}))
    with pytest.raises(_standalone.ServiceError, match="service"):
        _standalone.load_services(str(services))
    mgr, _services = manager(tmp_path, ["/bin/false"])
    with pytest.raises(_standalone.ServiceError, match="sleeper exited at once with status 1"):
        mgr.start("sleeper")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ansible_collections.comfyops.comfyui.plugins.module_utils import _standalone; sys.exit(_standalone.main())",
            "fly",
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO / "build" / "collections")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and "usage: comfyops-monctl" in out.stderr


def test_every_variable_of_the_role_is_in_its_argument_spec_with_the_same_default():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), set(defaults) ^ set(options)
    for name, value in defaults.items():
        assert options[name].get("default") == value, "%s: defaults/main.yml says %r, the spec %r" % (name, value, options[name].get("default"))
        assert options[name].get("description"), name
