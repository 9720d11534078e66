# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The comfyui_deploy role's argument spec as the controller-side plugins read it (release settings, defaults)."""

from __future__ import annotations

import functools
import hashlib
import json
import os

import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import release_settings

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "roles")


@functools.lru_cache(maxsize=4)
def role_spec(role):
    """The argument spec of one of the collection's roles (meta/argument_specs.yml), read once."""
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def deploy_spec():
    return role_spec("comfyui_deploy")


def deploy_release_settings():
    """{option: default} of the settings that make a release."""
    return release_settings(deploy_spec())


def deploy_default(option):
    return deploy_spec()["argument_specs"]["main"]["options"][option].get("default")


def host_setting(hostvars, host, key, default):
    """A host's value of `key` (templated by hostvars), or the role's default when the host does not set it."""
    if host not in hostvars:
        raise AnsibleFilterError("host %r is not in hostvars (not a host of the inventory)" % (str(host)[:100],))
    values = hostvars[host]
    return values[key] if key in values else default


def release_source(hosts, hostvars):
    """The source of the run: the first host's comfyui_deploy_source, or the role's default."""
    return dict(
        host_setting(hostvars, hosts[0], "comfyui_deploy_source", deploy_default("comfyui_deploy_source")) if hosts else deploy_default("comfyui_deploy_source")
    )


# Not part of the configuration digest: who deploys, the id (checked on its own), and secrets (a digest stored on
# the host must not let anyone test guesses of them; a secret alone changes nothing that runs).
NOT_CONFIG = ("comfyui_deploy_deployed_by", "comfyui_deploy_release_id", "comfyui_deploy_model_auth_header", "gpu_host_prepare")
CODE_DIRS = (("roles", "comfyui_deploy"), ("roles", "gpu_host"), ("plugins",))


@functools.lru_cache(maxsize=1)
def code_digest():
    """A digest of the code that renders a host's configuration: the role's files and the collection's plugins."""
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    digest = hashlib.sha256()
    for parts in CODE_DIRS:
        top = os.path.join(root, *parts)
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def config_digest(hostvars, host):
    """The digest of everything that decides how `host` is deployed and prepared: every option of the argument
    specs of comfyui_deploy and gpu_host (the host's value or the default) but NOT_CONFIG, and the code that
    renders them. Same digest, same host."""
    options = dict(role_spec("gpu_host")["argument_specs"]["main"]["options"], **deploy_spec()["argument_specs"]["main"]["options"])
    values = {key: host_setting(hostvars, host, key, spec.get("default")) for key, spec in options.items() if key not in NOT_CONFIG}
    document = json.dumps({"options": values, "code": code_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()[:32]


PLAYBOOK_SPECS = os.path.join(os.path.dirname(__file__), "..", "..", "playbooks", "vars", "argument_specs.yml")


@functools.lru_cache(maxsize=1)
def declared_options():
    """{variable: its argument spec option} over every entry of playbooks/vars/argument_specs.yml, then every entry
    point of every role (the first declaration of a variable wins)."""
    found = {}
    with open(PLAYBOOK_SPECS, encoding="utf-8") as handle:
        for entry in (yaml.safe_load(handle) or {}).values():
            for name, option in ((entry or {}).get("options") or {}).items():
                found.setdefault(name, option)
    for role in sorted(os.listdir(ROLES)):
        if not os.path.isfile(os.path.join(ROLES, role, "meta", "argument_specs.yml")):
            continue
        for entry in role_spec(role)["argument_specs"].values():
            for name, option in (entry.get("options") or {}).items():
                found.setdefault(name, option)
    return found
