#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_tree
short_description: Lay out the ComfyUI deploy tree and its ownership model in one call
version_added: 0.2.0
description:
  - Makes the directories of a deploy base exist with their owners and modes, in one pass (one module call instead
    of one per directory). The layout is defined once, in the collection's C(_fsutil) module utility, and used by
    the P(comfyops.comfyui.gpu_host#role) and P(comfyops.comfyui.comfyui_deploy#role) roles.
  - "Root owns, group O(group), mode V(0755): the base, C(releases), C(venvs), C(state), C(bin), C(run), C(shared),
    C(shared/models): what the service user only reads, so it cannot plant a link there for root to follow."
  - "The service user O(user) owns, mode O(user_mode): C(logs), C(cache) (its home and caches), C(shared/input),
    C(shared/output), C(shared/user), C(shared/temp) and O(extra_dirs)."
  - "Root owns C(pkgcache) (mode V(0700)): the package cache of the venv builds, which root installs from."
  - A symbolic link or a file where a directory belongs is refused; nothing is changed through it.
author:
  - comfyops maintainers (@comfyops)
options:
  base:
    description: The deploy base, such as C(/srv/comfyui).
    type: path
    required: true
  user:
    description: The service user (name or uid). It must exist.
    type: str
    required: true
  group:
    description: The service group (name or gid). It must exist.
    type: str
    required: true
  user_mode:
    description: Mode of the directories the service user owns (octal text).
    type: str
    default: "0750"
  extra_dirs:
    description: More directories the service user owns, absolute or relative to O(base) (and then inside it).
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - comfyops.comfyui.attributes
"""

EXAMPLES = r"""
- name: The deploy tree of /srv/comfyui, owned as the ownership model says
  comfyops.comfyui.comfyui_tree:
    base: /srv/comfyui
    user: comfyui
    group: comfyui
"""

RETURN = r"""
changed_paths:
  description: The directories changed (relative to O(base), V(.) for the base itself) and what changed in each.
  returned: always
  type: dict
  sample: {"logs": ["created"], "shared/models": ["owner 1000:1000 -> 0:998"]}
"""

import grp
import pwd

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, ensure_tree, shown
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule


def _id(value, lookup, kind):
    if value.isdigit():
        return int(value)
    try:
        return lookup(value)[2]
    except (KeyError, ValueError):  # ValueError: a name with a NUL in it
        raise PathError("%s %s does not exist on this host" % (kind, shown(value, 80))) from None


def main():
    module = ComfyOpsModule(
        argument_spec={
            "base": {"type": "path", "required": True},
            "user": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "user_mode": {"type": "str", "default": "0750"},
            "extra_dirs": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        mode = int(p["user_mode"], 8)
        if not 0 <= mode <= 0o7777:
            raise ValueError
    except ValueError:
        module.fail_json(msg="comfyui_tree: user_mode %r is not an octal mode such as '0750'" % p["user_mode"])
    try:
        uid = _id(p["user"], pwd.getpwnam, "user")
        gid = _id(p["group"], grp.getgrnam, "group")
        changed = ensure_tree(p["base"], 0, uid, gid, mode, p["extra_dirs"], module.check_mode)
    except PathError as exc:
        module.fail_json(msg="comfyui_tree: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="comfyui_tree: %s: %s" % (exc.filename, exc.strerror))
    module.exit_json(changed=bool(changed), changed_paths=changed)


if __name__ == "__main__":
    main()
