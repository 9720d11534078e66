# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: run_dead
short_description: Whether the run holding a host's deploy lock is a dead run of this controller
version_added: 0.1.0
description:
  - "Given the holder of a deploy lock (RV(comfyops.comfyui.comfyui_release#module:deploy_lock)), true when it was
    started on this controller and its C(ansible-playbook) process is gone (or its pid now belongs to a process started
    at another time). A host cannot see the controller's processes; the controller can, and vouches for a dead run by
    passing its id as O(comfyops.comfyui.comfyui_release#module:dead_run). False for a live run, for a holder from
    another controller (its lease decides) and for no holder."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The holder, or null.
    type: dict
"""

EXAMPLES = r"""
- name: Take the deploy lock, recovering it from a dead run of this controller
  comfyops.comfyui.comfyui_release:
    base: /srv/comfyui
    state: locked
    run: "{{ lookup('comfyops.comfyui.deploy_run', 'deploy') }}"
    dead_run: "{{ before.deploy_lock.run_id if before.deploy_lock | comfyops.comfyui.run_dead else omit }}"
"""

RETURN = r"""
_value:
  description: Whether the holder is a dead run of this controller.
  type: bool
"""

import socket

from ansible_collections.comfyops.comfyui.plugins.module_utils._release import process_start
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def run_dead(holder):
    if not isinstance(holder, dict) or holder.get("controller_host") != socket.gethostname() or not holder.get("pid"):
        return False
    started = process_start(holder["pid"])
    return started is None or (holder.get("pid_start") is not None and started != holder["pid_start"])


class FilterModule:
    def filters(self):
        return {"run_dead": run_dead}
