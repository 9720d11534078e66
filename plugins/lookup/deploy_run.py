# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: deploy_run
short_description: Who runs this playbook, for the host-wide deploy lock and the audit trail
version_added: 0.1.0
description:
  - "Returns one dict naming this playbook run: C(run_id) (controller host, pid of the C(ansible-playbook) process and
    its start time: the same for every task and host of one run, different for the next run), C(controller_host),
    C(controller_user), C(pid), C(pid_start) (its start time in clock ticks), C(playbook) (the playbook files given
    on the command line) and C(action) (the term)."
  - "Pass it as O(comfyops.comfyui.comfyui_release#module:run). A lock held by a run on the same machine is recovered
    as soon as that process is gone; one from another controller when its lease ends."
options:
  _terms:
    description: The action of the run, such as V(deploy), V(rollback) or V(shutdown).
    type: list
    elements: str
    required: true
author:
  - comfyops maintainers (@comfyops)
"""

EXAMPLES = r"""
- name: Take the deploy lock for this run
  comfyops.comfyui.comfyui_release:
    base: /srv/comfyui
    state: locked
    run: "{{ lookup('comfyops.comfyui.deploy_run', 'deploy') }}"
"""

RETURN = r"""
_raw:
  description: One dict (run_id, controller_host, controller_user, pid, pid_start, playbook, action).
  type: list
  elements: dict
"""

import getpass
import os
import socket

from ansible import context
from ansible.plugins.lookup import LookupBase
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import process_start


def playbook_process():
    """The pid of the ansible-playbook process: lookups run in a worker forked from it (or in it)."""
    parent = os.getppid()
    try:
        with open("/proc/%d/cmdline" % parent, "rb") as handle:
            if b"ansible-playbook" in handle.read():
                return parent
    except OSError:
        pass
    return os.getpid()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        action = str(terms[0]) if terms else "run"
        pid = playbook_process()
        host = socket.gethostname()
        started = process_start(pid) or 0
        playbooks = [os.path.basename(str(arg)) for arg in context.CLIARGS.get("args") or ()]
        return [
            {
                "run_id": "%s-%d-%s" % (host, pid, started),
                "controller_host": host,
                "controller_user": getpass.getuser(),
                "pid": pid,
                "pid_start": started,
                "playbook": ",".join(playbooks) or None,
                "action": action,
            }
        ]
