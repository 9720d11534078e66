#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_deploy_state
short_description: Where a host stands against a deploy, and whether the deploy is a no-op there
version_added: 0.2.0
description:
  - Returns what M(comfyops.comfyui.comfyui_release) returns with O(comfyops.comfyui.comfyui_release#module:state=query)
    for the release O(id) (releases, current, previous, deploy lock, audit tail, the release, its rollback target and
    whether it needs a switch), in the same call.
  - "Decides whether the deploy has anything to do: V(noop=true) when O(id) is current and V(active) (its gates
    passed), the last successful deploy recorded the configuration digest O(config_digest) in C(state/deployed.json),
    and every instance in O(instances) serves now (service, api and queue checks, read-only). Anything else says
    why in RV(noop_reason); a release still V(activating) is never a no-op (its gates must run)."
  - Changes nothing.
author:
  - comfyops maintainers (@comfyops)
options:
  base:
    description: The deploy base, such as C(/srv/comfyui).
    type: path
    required: true
  id:
    description: The release the deploy targets.
    type: str
    required: true
  config_digest:
    description: The digest of the deploy's configuration (filter P(comfyops.comfyui.deploy_config_digest#filter)).
    type: str
    required: true
  instances:
    description: The instances, as M(comfyops.comfyui.comfyui_health) takes them.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: The instance's name., type: str, required: true}
      url: {description: Its base URL., type: str, required: true}
      unit: {description: Its systemd unit., type: str}
      pidfile: {description: Its pid file (standalone manager)., type: path}
      container: {description: Its container., type: str}
      output_dir: {description: Its output directory (not used here)., type: path}
      cuda_device: {description: Its GPU (not used here)., type: int}
  service_manager:
    description: How the instances run.
    type: str
    choices: [none, systemd, standalone, docker]
    default: none
  timeout:
    description: Seconds per HTTP request to an instance.
    type: float
    default: 5
extends_documentation_fragment:
  - comfyops.comfyui.attributes
attributes:
  check_mode:
    support: full
    details: It only reads.
"""

EXAMPLES = r"""
- name: Is there anything to do?
  comfyops.comfyui.comfyui_deploy_state:
    base: /srv/comfyui
    id: v0.8.0-5b0d8d4a1f2c-1c9e4f2a
    config_digest: "{{ hostvars | comfyops.comfyui.deploy_config_digest(inventory_hostname) }}"
    instances: [{name: gpu0, url: "http://127.0.0.1:8188", unit: comfyui-gpu0.service}]
    service_manager: systemd
  register: before
"""

RETURN = r"""
noop: {description: "Whether the deploy has nothing to do on this host.", returned: always, type: bool}
noop_reason: {description: "Why it has (or that it has not).", returned: always, type: str}
health: {description: "The instances' worst state when they were checked (only when all else matched).", returned: always, type: str}
current: {description: "The current release.", returned: always, type: str}
previous: {description: "The previous release.", returned: always, type: str}
releases: {description: "Every release with its metadata.", returned: always, type: list, elements: dict}
release: {description: "The metadata of O(id).", returned: always, type: dict}
rollback_target: {description: "Where a failure of O(id) would go back to.", returned: always, type: str}
needs_switch: {description: "Whether O(id) still has to be switched to and gated.", returned: always, type: bool}
deploy_lock: {description: "The deploy lock's holder, if any.", returned: always, type: dict}
audit: {description: "The newest lines of the audit trail.", returned: always, type: list, elements: dict}
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._health import INSTANCE_OPTIONS
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule
from ansible_collections.comfyops.comfyui.plugins.module_utils._noop import deploy_state
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import ReleaseError, check_id


def main():
    module = ComfyOpsModule(
        argument_spec={
            "base": {"type": "path", "required": True},
            "id": {"type": "str", "required": True},
            "config_digest": {"type": "str", "required": True},
            "instances": {"type": "list", "elements": "dict", "default": [], "options": INSTANCE_OPTIONS},
            "service_manager": {"type": "str", "choices": ["none", "systemd", "standalone", "docker"], "default": "none"},
            "timeout": {"type": "float", "default": 5},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        check_id(p["id"], "id")
        result = deploy_state(p["base"], p["id"], p["config_digest"], p["instances"], {"service_manager": p["service_manager"], "timeout": p["timeout"]})
    except (ReleaseError, ValueError) as exc:
        module.fail_json(msg="comfyui_deploy_state: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="comfyui_deploy_state: %s: %s" % (exc.filename, exc.strerror))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
