# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_env
short_description: An environment map as systemd EnvironmentFile= text that no value can break out of
version_added: 0.1.0
description:
  - "One C(NAME=\"value\") line per variable; C(\\), C(\"), C($) and the backquote are escaped the way systemd reads
    them back, so C(pa$$w0rd) stays C(pa$$w0rd) and C($(touch proof)) stays text."
  - Fails naming the variable when a name is not an identifier or a value holds a newline or another control character.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The variables.
    type: dict
    required: true
  where:
    description: The option to name in errors.
    type: str
    default: environment
"""

EXAMPLES = r"""
- name: An instance's environment file
  ansible.builtin.copy:
    dest: /srv/comfyui/releases/r1/instances/default.env
    content: "{{ {'HF_TOKEN': vault_hf_token} | comfyops.comfyui.systemd_env('comfyui_deploy_environment') }}"
    mode: "0640"
  no_log: true
"""

RETURN = r"""
_value:
  description: The file's text.
  type: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._envfile import EnvError, render
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors("systemd_env", EnvError)
def systemd_env(env, where="environment"):
    return render(env, where)


class FilterModule:
    def filters(self):
        return {"systemd_env": systemd_env}
