"""Every variable a playbook reads is declared in an argument spec: the roles' (roles/*/meta/argument_specs.yml) or
the playbooks' own (playbooks/vars/argument_specs.yml, checked by each playbook with validate_argument_spec)."""

from __future__ import annotations

import re

import yaml
from conftest import REPO

# Names that look like variables but are not inputs, each with its reason.
NOT_INPUT = {
    "comfyui_hosts": "the inventory group",
    "comfyui_proxy": "the role comfyops.comfyui.comfyui_proxy, named by deploy.yml",
    "comfyui_canary": "the group deploy.yml makes",
    "comfyui_release_id": "the fact deploy.yml sets once per run",
    "comfyui_health_result": "registered by health.yml",
    "gpu_host_validation": "registered by the gpu_host role",
    "comfyui_deploy": "the role's name",
    "comfyui_health": "the module's name",
    "comfyui_release": "the module's name",
    "comfyui_backup": "the module's name",
    "comfyui_backup_info": "the module's name",
    "comfyui_backup_result": "registered by backup.yml",
    "comfyui_deploy_restored": "registered by the comfyui_deploy role's restore entry point",
    "comfyui_restore_hosts_not_named": "a host pattern that matches nothing, for the syntax check",
}
BOOKS = ["deploy", "validate", "health", "rollback", "shutdown", "backup", "restore", "monitoring", "awx_setup", "kubernetes", "proxy"]


def declared():
    names = set()
    for spec in REPO.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names |= set(entry.get("options") or {})
    own = yaml.safe_load((REPO / "playbooks/vars/argument_specs.yml").read_text())
    return names, own


def test_every_variable_a_playbook_reads_is_declared():
    roles, own = declared()
    assert sorted(own) == sorted(BOOKS)
    for book in BOOKS:
        text = (REPO / "playbooks" / ("%s.yml" % book)).read_text()
        used = set(re.findall(r"\b((?:comfyui|gpu_host|backup|monitoring_stack|awx_setup)_[a-z_]*[a-z])\b", text)) - set(NOT_INPUT)
        # awx_setup.yml names the other playbooks' variables as survey questions (the awx_survey filter checks those)
        others = {name for entry in own.values() for name in entry["options"]} if book == "awx_setup" else set()
        missing = sorted(used - roles - set(own[book]["options"]) - others)
        assert missing == [], "%s.yml reads %s: declare them in playbooks/vars/argument_specs.yml (%s) or a role's spec" % (book, missing, book)
        assert "vars/argument_specs.yml') | from_yaml).%s.options" % book in text, "%s.yml must validate its own variables" % book


def test_the_playbook_specs_are_well_formed():
    _roles, own = declared()
    for book, entry in own.items():
        for name, option in entry["options"].items():
            assert option.get("type") and option.get("description"), "%s: %s needs a type and a description" % (book, name)
