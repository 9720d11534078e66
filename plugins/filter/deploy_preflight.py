# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: deploy_preflight
short_description: Every problem with a deploy's input, as sentences
version_added: 0.2.0
description:
  - "The role P(comfyops.comfyui.comfyui_deploy#role)'s input checks in one place, before anything on the host
    changes: the release id and the source; unique, safe instance names and unique ports; listen addresses on
    loopback unless allowed; an environment that can be written safely (values never shown); model digests, which
    the V(production) tier cannot turn off; extra packages, each a PEP 508 requirement or the absolute path of an
    archive, never a pip option."
  - Returns an empty list when the input is usable; the role's preflight fails with all of them at once otherwise.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description:
      - "The settings: C(release_id), C(source), C(instances), C(listen), C(allow_public_listen), C(proxy), C(environment),
        C(require_sha256), C(tier), C(models), C(extra_packages), and in container mode C(container) (the settings of
        the comfyui_container filter) and C(images) (C(repository), C(base), C(cpu_image), C(cuda_images),
        C(build_network)) (the role's C(comfyui_deploy_*) values)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The deploy's input is usable
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ {'release_id': comfyui_deploy_release_id, 'source': comfyui_deploy_source} | comfyops.comfyui.deploy_preflight }}"
"""

RETURN = r"""
_value:
  description: The problems, each a sentence naming the variable; empty when there are none.
  type: list
  elements: str
"""

import json
import re

from ansible_collections.comfyops.comfyui.plugins.filter.public_listen import public_listen
from ansible_collections.comfyops.comfyui.plugins.module_utils._container import settings_problems
from ansible_collections.comfyops.comfyui.plugins.module_utils._envfile import EnvError, render
from ansible_collections.comfyops.comfyui.plugins.module_utils._http import redact_url
from ansible_collections.comfyops.comfyui.plugins.module_utils._requirement import RequirementError, package
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed

RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _source_problems(release_id, source):
    kind = source.get("type") if isinstance(source, dict) else None
    ok = isinstance(release_id, str) and bool(RELEASE_ID.match(release_id)) and kind in ("git", "archive", "local")
    needs = {"git": ("url", "ref"), "archive": ("url", "checksum"), "local": ("path",)}.get(kind, ())
    if ok and all(key in source for key in needs):
        return []
    shown = dict(source, url=redact_url(str(source["url"]))) if isinstance(source, dict) and "url" in source else source  # no credentials
    return [
        "comfyui_deploy: bad release id %s or source %s (git needs url and ref, archive url and checksum, local path)"
        % (json.dumps(release_id), json.dumps(shown, default=str))
    ]


def _instance_problems(instances):
    names = [str(item.get("name")) for item in instances]
    ports = [item.get("port") for item in instances]
    problems = []
    if len(set(names)) != len(names) or len(set(map(str, ports))) != len(ports):
        shown = [{"name": item.get("name"), "port": item.get("port")} for item in instances]  # never an environment value
        problems.append("comfyui_deploy_instances need unique lower-case names and unique ports: %s" % json.dumps(shown, default=str))
    if not all(INSTANCE_NAME.match(name) for name in names):
        problems.append("comfyui_deploy_instances: names are 1-64 of a-z, 0-9, '_' and '-' (no '/', '..', spaces or quotes)")
    return problems


@typed(DOCUMENTATION, problems=True)
def deploy_preflight(values):
    instances = [item for item in values.get("instances") or [] if isinstance(item, dict)]
    problems = _source_problems(values.get("release_id"), values.get("source"))
    problems += _instance_problems(instances)
    listen = [values.get("listen")] + [item["listen"] for item in instances if "listen" in item]
    public = public_listen(listen)
    if public and values.get("proxy"):
        problems.append(
            "comfyui_deploy_listen / instance listen %s is not loopback, and comfyui_deploy_proxy puts ComfyUI behind the comfyui_proxy "
            "role: ComfyUI listens on loopback only whenever the proxy is on (comfyui_deploy_allow_public_listen does not change that)"
            % ", ".join(map(str, public))
        )
    elif public and not values.get("allow_public_listen"):
        problems.append(
            "comfyui_deploy_listen / instance listen %s is not loopback. ComfyUI has no authentication, TLS or rate limits and its /prompt "
            "runs any graph on your GPUs: keep it on 127.0.0.1 behind an authenticating TLS proxy (the comfyops.comfyui.comfyui_proxy role), "
            "or set comfyui_deploy_allow_public_listen: true if such a proxy or firewall is already in place." % ", ".join(map(str, public))
        )
    for item in instances:
        try:
            render(dict(values.get("environment") or {}, **(item.get("environment") or {})), "comfyui_deploy_environment")
        except EnvError as exc:
            problems.append("instance %s: %s" % (item.get("name"), exc))
    require = bool(values.get("require_sha256", True))
    if not require and values.get("tier") == "production":
        problems.append(
            "comfyui_deploy_require_sha256 is false, which comfyui_deploy_tier 'production' refuses: give every model its sha256 "
            "(set comfyui_deploy_tier to another tier only for a test site)"
        )
    for index, entry in enumerate(values.get("extra_packages") or []):
        try:
            package(entry, "comfyui_deploy_extra_packages[%d]" % index)
        except RequirementError as exc:
            problems.append(str(exc))
    if values.get("container") is not None:  # container mode: what reaches Docker, before anything is built
        problems += settings_problems(instances, values["container"], values.get("images") or {})
    undigested = [str(model.get("name")) for model in values.get("models") or [] if isinstance(model, dict) and not model.get("sha256")]
    if require and undigested:
        problems.append("models without sha256: %s" % ", ".join(undigested))
    return problems


class FilterModule:
    def filters(self):
        return {"deploy_preflight": deploy_preflight}
