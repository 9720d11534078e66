"""playbooks/awx_setup.yml with the real awx.awx modules against a stand-in of the AWX REST API on loopback
(tests/support/fake_awx.py; no AWX can be installed here): what it creates, that surveys are the argument specs'
options, that secrets go only where they belong, and that a second run changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_awx import serve

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "awx-token-7c1e0d"
SECRETS = {"awx_setup_smtp_password": "smtp-pw-5a8f", "awx_setup_restic_password": "restic-pw-93b2", "awx_setup_webhook_token": "hook-tok-d41c"}


def run(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    extra = {
        "awx_setup_controller_host": "http://127.0.0.1:%d" % port,
        "awx_setup_controller_token": TOKEN,
        "awx_setup_project_url": "https://git.example.invalid/fleet.git",
        "awx_setup_machine_credential": "GPU hosts ssh",
        **SECRETS,
    }
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_PROXY="*", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "collections")
    env.pop("http_proxy", None)
    env.pop("https_proxy", None)
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(REPO / "playbooks" / "awx_setup.yml"), "-e", json.dumps(extra), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def awx():
    server, controller = serve(TOKEN)
    controller.create("credentials", {"name": "GPU hosts ssh", "inputs": {}})  # the machine credential the user has
    first = run(server.server_address[1])
    second = run(server.server_address[1], "-vvv")  # verbose: still no secret in the output
    yield controller, first, second
    server.shutdown()


def recap(result) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith("localhost"))


def test_it_runs_and_a_second_run_changes_nothing(awx):
    controller, first, second = awx
    assert first.returncode == 0, first.stdout[-3000:]
    assert "failed=0" in recap(first) and "changed=0" not in recap(first)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "changed=0" in recap(second), recap(second)
    writes = [r for r in controller.requests if r[0] != "GET"]
    assert writes, "the first run created objects"


def test_a_job_template_per_playbook_on_the_project_inventory_and_ee(awx):
    controller, _first, _second = awx
    templates = {t["name"]: t for t in controller.objects["job_templates"].values()}
    playbooks = {name: t["playbook"] for name, t in templates.items()}
    assert playbooks == {
        "ComfyUI validate": "playbooks/validate.yml",
        "ComfyUI deploy": "playbooks/deploy.yml",
        "ComfyUI deploy: canary": "playbooks/deploy.yml",
        "ComfyUI deploy: rollout": "playbooks/deploy.yml",
        "ComfyUI rollback": "playbooks/rollback.yml",
        "ComfyUI health": "playbooks/health.yml",
        "ComfyUI backup": "playbooks/backup.yml",
        "ComfyUI restore": "playbooks/restore.yml",
    }
    assert all((REPO / p).is_file() for p in playbooks.values())
    project = controller.named("projects", "ComfyUI")
    inventory = controller.named("inventories", "ComfyUI fleet")
    ee = controller.named("execution_environments", "ComfyUI execution environment")
    assert ee["image"] == "comfyops-ee:latest" and project["default_environment"] == ee["id"]
    assert {(t["project"], t["inventory"], t["execution_environment"]) for t in templates.values()} == {(project["id"], inventory["id"], ee["id"])}
    source = controller.named("inventory_sources", "ComfyUI fleet from ComfyUI")
    assert (source["source"], source["source_project"], source["source_path"]) == ("scm", project["id"], "inventories/production/hosts.yml")
    rollout = templates["ComfyUI deploy: rollout"]
    assert rollout["job_slice_count"] == 2 and json.loads(rollout["extra_vars"]) == {"comfyui_deploy_phase": "rollout", "comfyui_deploy_slices": 2}
    assert json.loads(templates["ComfyUI deploy: canary"]["extra_vars"]) == {"comfyui_deploy_phase": "canary"}


def test_surveys_are_the_argument_specs_options(awx):
    controller, _first, _second = awx
    deploy = controller.named("job_templates", "ComfyUI deploy")
    survey = controller.surveys[("job_templates", deploy["id"])]
    questions = {q["variable"]: q for q in survey["spec"]}
    assert list(questions) == ["comfyui_deploy_ref", "comfyui_deploy_canary", "comfyui_deploy_batch", "comfyui_deploy_max_fail_percentage"]
    playbook_spec = yaml.safe_load((REPO / "playbooks/vars/argument_specs.yml").read_text())
    rollout_spec = yaml.safe_load((REPO / "roles/comfyui_deploy/meta/argument_specs.yml").read_text())["argument_specs"]["rollout"]["options"]
    assert questions["comfyui_deploy_batch"]["default"] == rollout_spec["comfyui_deploy_batch"]["default"] == "30%"
    assert questions["comfyui_deploy_max_fail_percentage"]["type"] == "float"
    assert questions["comfyui_deploy_ref"]["question_description"].startswith("The ComfyUI git ref")
    assert "comfyui_deploy_ref" in playbook_spec["deploy"]["options"]
    restore = controller.surveys[("job_templates", controller.named("job_templates", "ComfyUI restore")["id"])]
    assert (restore["spec"][0]["variable"], restore["spec"][0]["required"]) == ("comfyui_restore_hosts", True)
    workflow = controller.named("workflow_job_templates", "ComfyUI deploy: canary, then sliced rollout")
    assert controller.surveys[("workflow_job_templates", workflow["id"])]["spec"] == survey["spec"]


def test_the_workflow_runs_the_canary_then_the_sliced_rollout(awx):
    controller, _first, _second = awx
    workflow = controller.named("workflow_job_templates", "ComfyUI deploy: canary, then sliced rollout")
    nodes = {n["identifier"]: n for n in controller.objects["workflow_job_template_nodes"].values() if n["workflow_job_template"] == workflow["id"]}
    assert set(nodes) == {"canary", "rollout"}
    assert nodes["canary"]["unified_job_template"] == controller.named("job_templates", "ComfyUI deploy: canary")["id"]
    assert nodes["rollout"]["unified_job_template"] == controller.named("job_templates", "ComfyUI deploy: rollout")["id"]
    assert controller.associations[("workflow_job_template_nodes", nodes["canary"]["id"], "success_nodes")] == [nodes["rollout"]["id"]]
    assert not controller.associations.get(("workflow_job_template_nodes", nodes["rollout"]["id"], "success_nodes"))


def test_credentials_inject_the_secrets_the_playbooks_take_and_only_where_needed(awx):
    controller, first, second = awx
    types = {t["name"]: t for t in controller.objects["credential_types"].values()}
    assert {name: t["injectors"] for name, t in types.items()} == {
        "ComfyUI SMTP": {"extra_vars": {"comfyops_smtp_password": "{{ password }}"}},
        "ComfyUI restic": {"extra_vars": {"backup_password": "{{ password }}"}},
        "ComfyUI webhook token": {"extra_vars": {"comfyops_webhook_token": "{{ token }}"}},
    }
    creds = {c["name"]: c for c in controller.objects["credentials"].values()}
    assert controller.secrets[creds["ComfyUI restic"]["id"]] == {"password": SECRETS["awx_setup_restic_password"]}
    assert controller.secrets[creds["ComfyUI webhook token"]["id"]] == {"token": SECRETS["awx_setup_webhook_token"]}

    def attached(template: str) -> set[str]:
        ids = controller.associations.get(("job_templates", controller.named("job_templates", template)["id"], "credentials"), [])
        return {controller.objects["credentials"][i]["name"] for i in ids}

    assert attached("ComfyUI backup") == {"GPU hosts ssh", "ComfyUI SMTP", "ComfyUI webhook token", "ComfyUI restic"}
    assert attached("ComfyUI deploy") == {"GPU hosts ssh", "ComfyUI SMTP", "ComfyUI webhook token"}, "no restic password in a deploy"
    for result in (first, second):
        for secret in [TOKEN, *SECRETS.values()]:
            assert secret not in result.stdout + result.stderr


def test_health_and_backup_are_scheduled(awx):
    controller, _first, _second = awx
    schedules = {s["name"]: s for s in controller.objects["schedules"].values()}
    health, backup = schedules["ComfyUI health schedule"], schedules["ComfyUI backup schedule"]
    assert health["unified_job_template"] == controller.named("job_templates", "ComfyUI health")["id"] and "FREQ=HOURLY" in health["rrule"]
    assert backup["unified_job_template"] == controller.named("job_templates", "ComfyUI backup")["id"] and "FREQ=DAILY" in backup["rrule"]


def test_a_variable_no_spec_declares_cannot_become_a_question():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.comfyops.comfyui.plugins.filter.awx_survey import awx_survey

    with pytest.raises(AnsibleFilterError, match="no argument spec declares comfyui_deploy_colour"):
        awx_survey(["comfyui_deploy_ref", "comfyui_deploy_colour"], "Deploy")
    with pytest.raises(AnsibleFilterError, match="comfyui_deploy_instances: a survey cannot ask for a list of dict"):
        awx_survey(["comfyui_deploy_instances"], "Deploy")
