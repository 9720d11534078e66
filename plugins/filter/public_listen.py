# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: public_listen
short_description: The listen addresses that are not loopback
version_added: 0.1.0
description:
  - "Of a list of listen values (each one address, or several comma-separated as ComfyUI's C(--listen) takes them),
    those that are not loopback. Loopback is C(127.0.0.0/8), C(::1) and C(localhost); anything else counts as public,
    including C(0.0.0.0), C(::), a host name, an empty or an unparsable value."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The listen values.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a public listen address
  ansible.builtin.assert:
    that: "([comfyui_deploy_listen] | comfyops.comfyui.public_listen | length) == 0"
"""

RETURN = r"""
_value:
  description: The values that are not loopback, in their order.
  type: list
  elements: str
"""

import ipaddress

from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


def loopback(value):
    parts = [part.strip().strip("[]") for part in str(value or "").split(",")]
    if not parts or not all(parts):
        return False
    for part in parts:
        if part == "localhost":
            continue
        try:
            if not ipaddress.ip_address(part).is_loopback:
                return False
        except ValueError:
            return False
    return True


@typed(DOCUMENTATION)
def public_listen(values):
    if isinstance(values, str):
        values = [values]
    return [value for value in values or [] if not loopback(value)]


class FilterModule:
    def filters(self):
        return {"public_listen": public_listen}
