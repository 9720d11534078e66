# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: loopback
short_description: Whether every address a server listens on is a loopback address
version_added: 0.1.0
description:
  - "True for C(127.0.0.0/8), C(::1) and C(localhost), alone or comma-separated as ComfyUI's C(--listen) takes them;
    false for anything else, including C(0.0.0.0), C(::), a host name or an unparsable value."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The listen address(es).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a public listen address
  ansible.builtin.assert:
    that: comfyui_deploy_listen | comfyops.comfyui.loopback
"""

RETURN = r"""
_value:
  description: Whether every address is loopback.
  type: bool
"""

import ipaddress


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


class FilterModule:
    def filters(self):
        return {"loopback": loopback}
