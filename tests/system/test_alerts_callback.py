"""The comfyops.comfyui.alerts callback at the end of real ansible-playbook runs: one alert per failed, unreachable
or rolled-back host, resolved when the host passes again; configured by variables or by the environment; silent
without channels; nothing sent in check mode; no secret in the output at -vvv, in the log or in the spool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import free_port
from receivers import Alertmanager, HttpReceiver

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN_PATH = "/hooks/T0/B0/callbackSecretToken99"


def write_play(path: Path, fail: bool) -> None:
    """Three hosts: `broken` fails a task (when told to), `gone` is unreachable, `canary` passes; the deploy
    summary fact says `canary` rolled back from r2 to r1 (as deploy.yml's summary sets it)."""
    plays = [
        {
            "name": "a run",
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "Reach the host", "ansible.builtin.ping": {}},
                {
                    "name": "Check the thing",
                    "ansible.builtin.fail": {"msg": "the thing is broken on http://user:pw-in-url@example.com/x"},
                    "when": "fail and inventory_hostname == 'broken'",
                },
                {
                    "name": "A rescued failure is no failure",
                    "block": [{"ansible.builtin.fail": {"msg": "gate failed"}, "when": "inventory_hostname == 'canary'"}],
                    "rescue": [{"ansible.builtin.debug": {"msg": "rolled back"}}],
                },
                {
                    "name": "Summary",
                    "ansible.builtin.set_fact": {
                        "comfyops_deploy_summary": {
                            "release": "r2",
                            "rolled_back": ["canary"] if fail else [],
                            "audit": {"canary": {"to_release": "r2", "outcome": "rolled back to r1"}},
                        }
                    },
                    "run_once": True,
                },
            ],
        }
    ]
    path.write_text(json.dumps(plays))


@pytest.fixture
def bed(tmp_path):
    rx = HttpReceiver()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "broken": {"ansible_connection": "local"},
                        "canary": {"ansible_connection": "local"},
                        "gone": {
                            "ansible_connection": "ssh",
                            "ansible_host": "127.0.0.1",
                            "ansible_port": free_port(),
                            "ansible_ssh_common_args": "-o ConnectTimeout=2",
                        },
                    },
                    "vars": {"ansible_python_interpreter": str(BIN / "python")},
                }
            }
        )
    )
    yield {"tmp": tmp_path, "rx": rx, "inventory": inventory, "state": tmp_path / "state"}
    rx.close()


def run(bed, fail=True, extra=None, env_more=None, args=()):
    book = bed["tmp"] / "deploy.yml"
    write_play(book, fail)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMFYOPS_ALERT")}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    env.update(env_more or {})
    cmd = [str(BIN / "ansible-playbook"), "-i", str(bed["inventory"]), str(book), "-e", json.dumps({"fail": fail, **(extra or {})}), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=180, cwd=str(bed["tmp"]))


def channels(bed, **more):
    return [dict({"type": "webhook", "url": bed["rx"].url + TOKEN_PATH}, **more)]


def alerts_of(requests):
    return sorted((r["json"]["alert"]["name"], r["json"]["alert"]["state"], r["json"]["alert"]["labels"]["host"]) for r in requests)


def test_one_alert_per_failed_unreachable_and_rolled_back_host_then_resolved(bed):
    settings = {"comfyui_alert_channels": channels(bed), "comfyui_alert_state_dir": str(bed["state"])}
    first = run(bed, extra=settings)
    assert first.returncode != 0
    got = bed["rx"].wait_for(3)
    assert alerts_of(got) == [
        ("ComfyOpsHostFailed", "firing", "broken"),
        ("ComfyOpsHostUnreachable", "firing", "gone"),
        ("ComfyUIRolledBack", "firing", "canary"),
    ]
    by_name = {r["json"]["alert"]["name"]: r["json"]["alert"] for r in got}
    assert by_name["ComfyUIRolledBack"]["labels"] == {"host": "canary", "playbook": "deploy.yml", "release": "r2"}
    assert by_name["ComfyUIRolledBack"]["summary"] == "canary rolled back to r1" and by_name["ComfyUIRolledBack"]["severity"] == "critical"
    assert by_name["ComfyOpsHostFailed"]["summary"] == "broken failed in deploy.yml at Check the thing"
    assert by_name["ComfyOpsHostFailed"]["description"] == "the thing is broken on http://example.com/x"  # no credentials from a URL
    assert "comfyops alerts: ComfyUIRolledBack (firing) for canary: delivered via webhook http://127.0.0.1:%d/..." % bed["rx"].port in first.stdout

    again = run(bed, extra=settings)  # the same failures again: duplicates within the repeat window
    assert len(bed["rx"].requests) == 3 and again.stdout.count(": suppressed via webhook") == 3

    resolved = run(bed, fail=False, extra=settings, args=["--limit", "broken,canary"])  # `gone` is still unreachable
    assert resolved.returncode == 0, resolved.stdout[-2000:]
    got = bed["rx"].wait_for(5)
    assert alerts_of(got[3:]) == [("ComfyOpsHostFailed", "resolved", "broken"), ("ComfyUIRolledBack", "resolved", "canary")]
    fired = json.loads((bed["state"] / "state.json").read_text())["callback_fired"]
    assert [item["labels"]["host"] for item in fired.values()] == ["gone"]  # still unreachable: still firing


def test_configured_by_the_environment_as_awx_injects_it(bed):
    env = {"COMFYOPS_ALERT_CHANNELS": json.dumps(channels(bed)), "COMFYOPS_ALERT_STATE_DIR": str(bed["state"])}
    out = run(bed, env_more=env)
    assert "comfyops alerts:" in out.stdout
    assert len(bed["rx"].wait_for(3)) == 3


def test_silent_without_channels(bed):
    out = run(bed, env_more={"XDG_STATE_HOME": str(bed["tmp"] / "xdg")})
    assert out.returncode != 0 and "comfyops" not in out.stdout + out.stderr
    assert bed["rx"].requests == [] and not (bed["tmp"] / "xdg").exists()


@pytest.mark.parametrize(
    ("env_more", "extra", "said"),
    [
        ({"COMFYOPS_ALERT_CHANNELS": "[{type: webhook, url: [unclosed"}, {}, "COMFYOPS_ALERT_CHANNELS (the callback's channels option): "),
        ({}, {"comfyui_alert_channels": {"type": "webhook"}}, "comfyui_alert_channels: expected a list of channels, got dict"),
        (
            {"COMFYOPS_ALERT_CHANNELS": "[]"},
            {"comfyui_alert_channels": [{"type": "webhook", "url": "http://127.0.0.1:9/x"}], "comfyui_alert_budget": "soon"},
            "comfyui_alert_budget: ",
        ),
    ],
    ids=["unparsable-yaml", "not-a-list", "budget-not-a-number"],
)
def test_a_malformed_alerting_setting_is_said_at_the_start_and_at_the_end_and_the_run_goes_on(bed, env_more, extra, said):
    """Issue 26: before, a setting that did not parse broke the callback, and alerting went off silently for the run."""
    out = run(bed, extra=extra, env_more=env_more)
    text = " ".join((out.stdout + out.stderr).split())
    assert "alerting is OFF for this run: " + said in text, text[-3000:]
    assert "alerting was OFF for this run, no alert was sent: " + said in text
    assert "Failure using method" not in text, "the callback did not break"
    assert "PLAY RECAP" in out.stdout and out.returncode != 0, "the run itself went on to its end (the play fails on purpose)"
    assert bed["rx"].requests == []


def test_check_mode_sends_nothing_and_says_what_it_would(bed):
    out = run(bed, extra={"comfyui_alert_channels": channels(bed), "comfyui_alert_state_dir": str(bed["state"])}, args=["--check"])
    assert out.stdout.count(": would_send via webhook") == 3
    assert bed["rx"].requests == [] and not bed["state"].exists()  # nothing written, not even the directory


def test_no_secret_at_vvv_nor_in_the_log_or_spool_and_undelivered_is_spooled(bed):
    dead = "http://127.0.0.1:%d" % free_port()
    vault = bed["tmp"] / "vault.yml"
    vault.write_text(
        json.dumps({"comfyui_alert_channels": [{"type": "webhook", "url": dead + TOKEN_PATH, "headers": {"Authorization": "Bearer hdr-secret-4242"}}]})
    )
    out = run(bed, extra={"comfyui_alert_state_dir": str(bed["state"]), "comfyui_alert_budget": 1}, args=["-vvv", "-e", "@%s" % vault])
    assert out.stdout.count(": spooled via webhook") == 3
    assert "spooled alerts go out with the next run" in out.stdout + out.stderr
    written = "".join(p.read_text() for p in bed["state"].rglob("*") if p.is_file())
    ours = "\n".join(line for line in (out.stdout + out.stderr).splitlines() if "comfyops" in line)
    for secret in ("callbackSecretToken99", "hdr-secret-4242"):  # the channel's secrets: nowhere
        assert secret not in out.stdout and secret not in out.stderr, secret
        assert secret not in written, secret
    # the failed task's own message carries a URL with a password (Ansible prints it; the alert must not)
    assert "pw-in-url" not in ours and "pw-in-url" not in written
    assert len(list((bed["state"] / "spool").glob("*.json"))) == 3


def test_through_a_real_alertmanager_with_the_host_and_release_labels(bed):
    manager = Alertmanager(bed["tmp"], bed["rx"].url + "/am")
    try:
        run(bed, extra={"comfyui_alert_channels": [{"type": "alertmanager", "url": manager.url}], "comfyui_alert_state_dir": str(bed["state"])})
        held = {a["labels"]["alertname"]: a["labels"] for a in manager.alerts()}
        assert held["ComfyUIRolledBack"] == {
            "alertname": "ComfyUIRolledBack",
            "severity": "critical",
            "host": "canary",
            "playbook": "deploy.yml",
            "release": "r2",
        }
        assert sorted(held) == ["ComfyOpsHostFailed", "ComfyOpsHostUnreachable", "ComfyUIRolledBack"]
    finally:
        manager.close()


def test_the_monitoring_groups_alertmanager_is_the_default(bed):
    manager = Alertmanager(bed["tmp"], bed["rx"].url + "/am")
    try:
        inventory = json.loads(bed["inventory"].read_text())
        inventory["all"]["children"] = {
            "monitoring": {"hosts": {"mon": {"ansible_connection": "local", "ansible_host": "127.0.0.1", "monitoring_stack_alertmanager_port": manager.port}}}
        }
        bed["inventory"].write_text(json.dumps(inventory))
        out = run(bed, extra={"comfyui_alert_state_dir": str(bed["state"])})
        assert "delivered via alertmanager http://127.0.0.1:%d" % manager.port in out.stdout
        assert sorted(a["labels"]["alertname"] for a in manager.alerts()) == ["ComfyOpsHostFailed", "ComfyOpsHostUnreachable", "ComfyUIRolledBack"]
    finally:
        manager.close()


def validate(bed, env_more=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMFYOPS_ALERT")}
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1", **(env_more or {}))
    settings = {"comfyui_alert_channels": channels(bed), "comfyui_alert_state_dir": str(bed["state"]), "comfyui_validate_report_dir": str(bed["tmp"] / "r")}
    cmd = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(REPO / "inventories" / "demo"),
        str(REPO / "playbooks" / "validate.yml"),
        "-e",
        json.dumps({**settings, **extra}),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=300, cwd=str(bed["tmp"]))


def test_validate_yml_sends_a_failed_host_through_the_callback(bed):
    out = validate(bed, gpu_host_min_cpu_cores=4096)
    assert out.returncode != 0
    [got] = bed["rx"].wait_for(1)
    assert (got["json"]["alert"]["name"], got["json"]["alert"]["labels"]) == ("ComfyOpsHostFailed", {"host": "localhost", "playbook": "validate.yml"})
    assert "cpu" in got["json"]["alert"]["description"].lower()


def test_alerting_asked_for_without_the_callback_enabled_stops_the_run_first(bed):
    out = validate(bed, env_more={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.timer"})  # another callback, not ours
    assert out.returncode != 0 and "callbacks_enabled = comfyops.comfyui.alerts" in out.stdout
    assert "Run the gpu_host role's preflight" not in out.stdout  # it stopped before the work


def test_configured_in_ansible_cfg(bed):
    config = bed["tmp"] / "ansible.cfg"
    config.write_text(
        (REPO / "ansible.cfg").read_text().replace("./build/collections", str(REPO / "build" / "collections"))
        + "\n[callback_comfyops_alerts]\nchannels = %s\nstate_dir = %s\n" % (json.dumps(channels(bed)), bed["state"])
    )
    out = run(bed, env_more={"ANSIBLE_CONFIG": str(config)})
    assert out.stdout.count(": delivered via webhook") == 3
    assert len(bed["rx"].wait_for(3)) == 3 and (bed["state"] / "alerts.log").is_file()
