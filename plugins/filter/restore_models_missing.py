# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: restore_models_missing
short_description: The models a backup recorded that this host lacks, or has with other digests
version_added: 0.3.0
description:
  - Compares the model manifest a snapshot recorded (C(recorded.models) of M(comfyops.comfyui.comfyui_backup_info))
    with this host's C(shared/models/manifest.json), and returns C(folder/name (sha256 ...)) for each recorded model
    that is not here with the same sha256. Empty when every recorded model is here.
author:
  - comfyops maintainers (@comfyops)
positional: current
options:
  _input:
    description: The recorded model manifest.
    type: dict
    required: true
  current:
    description: This host's model manifest.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Every recorded model is here with its digest
  ansible.builtin.assert:
    that: info.recorded.models | comfyops.comfyui.restore_models_missing(here) | length == 0
"""

RETURN = r"""
_value:
  description: The missing or different models.
  type: list
  elements: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import models_missing
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


class FilterModule:
    def filters(self):
        return {"restore_models_missing": typed(DOCUMENTATION)(models_missing)}
