# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: secret_env
short_description: An instance's environment split into what a release may keep and the secrets it may not
version_added: 0.1.0
description:
  - A variable is a secret when its name holds C(TOKEN), C(SECRET), C(PASSWORD), C(PASSWD), C(PASS), C(KEY),
    C(CREDENTIAL), C(AUTH), C(COOKIE) or C(SESSION), or is listed in O(names).
  - V(public) is what the release's instance file keeps; V(secret) is what goes to the instance's root-only secrets
    file, written from the current inventory on every deploy and rollback; V(record) is C({names, digest}), what the
    release keeps of the secrets (the names and a sha256 of the values, never a value).
  - Fails naming the variable when a name is not an identifier or a value holds a newline or another control character.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The environment (comfyui_deploy_environment combined with the instance's own).
    type: dict
    required: true
  names:
    description: More names to treat as secrets (comfyui_deploy_secret_names).
    type: list
    elements: str
    default: []
  part:
    description: Which part to return.
    type: str
    choices: [public, secret, record]
    default: public
"""

EXAMPLES = r"""
- name: The instance's secrets, root-only, outside every release
  ansible.builtin.copy:
    dest: /srv/comfyui/secrets/default.json
    content: "{{ comfyui_deploy_environment | comfyops.comfyui.secret_env(comfyui_deploy_secret_names, 'secret') | to_json }}"
    mode: "0600"
  no_log: true
"""

RETURN = r"""
_value:
  description: The part asked for (a map of variables, or C({names, digest}) for V(record)).
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._envfile import EnvError, split_secrets
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed

PARTS = ("public", "secret", "record")


@typed(DOCUMENTATION)
@filter_errors("secret_env", EnvError)
def secret_env(env, names=None, part="public"):
    if part not in PARTS:
        raise EnvError("secret_env: part must be one of %s, got %r" % (", ".join(PARTS), part))
    return split_secrets(env, names or [], "comfyui_deploy_environment")[part]


class FilterModule:
    def filters(self):
        return {"secret_env": secret_env}
