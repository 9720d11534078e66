# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The comfyui_deploy role's argument spec as the controller-side plugins read it (release settings, defaults)."""

from __future__ import annotations

import functools
import os

import yaml
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import release_settings

SPEC = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "comfyui_deploy", "meta", "argument_specs.yml")


@functools.lru_cache(maxsize=1)
def deploy_spec():
    with open(SPEC, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def deploy_release_settings():
    """{option: default} of the settings that make a release."""
    return release_settings(deploy_spec())


def deploy_default(option):
    return deploy_spec()["argument_specs"]["main"]["options"][option].get("default")


def host_setting(hostvars, host, key, default):
    """A host's value of `key` (templated by hostvars), or the role's default when the host does not set it."""
    values = hostvars[host]
    return values[key] if key in values else default


def release_source(hosts, hostvars):
    """The source of the run: the first host's comfyui_deploy_source, or the role's default."""
    return dict(
        host_setting(hostvars, hosts[0], "comfyui_deploy_source", deploy_default("comfyui_deploy_source")) if hosts else deploy_default("comfyui_deploy_source")
    )
