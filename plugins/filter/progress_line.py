# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: progress_line
short_description: One line of progress of a long job, from the progress file it writes
version_added: 0.1.0
description:
  - "M(comfyops.comfyui.comfyui_model) and M(comfyops.comfyui.comfyui_venv) write their progress to
    O(comfyops.comfyui.comfyui_model#module:progress_file) while they run with C(async); a playbook reads it
    (C(ansible.builtin.slurp)) and prints this line: what, the bytes done (of the total, with the share), the rate,
    and the time left when the total is known, such as C(checkpoints/sd15.safetensors: 1.2 GiB of 4.0 GiB (30 %),
    85.3 MiB/s, about 34 s left (downloading))."
  - "A file that is not there yet or not readable gives C(<what>: starting)."
author:
  - comfyops maintainers (@comfyops)
positional: what
options:
  _input:
    description: The progress file's content (text; empty when there is none yet).
    type: str
    required: true
  what:
    description: What the job does, used when the file does not say.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Read the progress
  ansible.builtin.slurp:
    src: /srv/comfyui/state/progress-venv.json
  register: _read

- name: Say it
  ansible.builtin.debug:
    msg: "{{ _read.content | b64decode | comfyops.comfyui.progress_line('venv') }}"
"""

RETURN = r"""
_value:
  description: The line.
  type: str
"""

import json

from ansible_collections.comfyops.comfyui.plugins.module_utils._progress import describe
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def progress_line(text, what=""):
    try:
        record = json.loads(text) if text else None
    except ValueError:
        record = None
    return describe(record if isinstance(record, dict) else None, what)


class FilterModule:
    def filters(self):
        return {"progress_line": progress_line}
