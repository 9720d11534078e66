# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: deploy_config_digest
short_description: The digest of how a host is deployed, for the no-op deploy
version_added: 0.2.0
description:
  - "A digest over every option of the role P(comfyops.comfyui.comfyui_deploy#role)'s argument spec as the host sets it
    (or the spec's default), and over the code that renders them (the role's files and the collection's plugins).
    Not in it: C(comfyui_deploy_deployed_by), C(comfyui_deploy_release_id) (checked on its own) and the secret
    C(comfyui_deploy_model_auth_header)."
  - "The deploy records it on the host when it ends deployed or unchanged; the next deploy of the same release with
    the same digest, on a healthy host, does nothing more (M(comfyops.comfyui.comfyui_deploy_state))."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The play's C(hostvars).
    type: dict
    required: true
  host:
    description: The host.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The configuration digest of this host
  ansible.builtin.set_fact:
    config_digest: "{{ hostvars | comfyops.comfyui.deploy_config_digest(inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: 32 hex digits.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.role_spec import config_digest


@typed(DOCUMENTATION)
def deploy_config_digest(hostvars, host):
    if host not in hostvars:
        raise AnsibleFilterError("deploy_config_digest: host %r is not in hostvars" % (str(host)[:100],))
    return config_digest(hostvars, host)


class FilterModule:
    def filters(self):
        return {"deploy_config_digest": deploy_config_digest}
