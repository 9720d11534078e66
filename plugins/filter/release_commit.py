# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: release_commit
short_description: The git commit a release id names
version_added: 0.1.0
description:
  - "A release id is C(<name>-<commit12>-<hash8>): the ref resolved once per run to a commit. The deploy checks that
    what it checked out is that commit, so that a branch that moved during a run (or between the canary job and the
    slices of an AWX workflow) fails the host before its switch instead of deploying other code under the same id."
  - An empty string when the id names no commit (V(unknown), a hand-made id).
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The release id.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The checked-out commit is the release's
  ansible.builtin.assert:
    that: git_result.after.startswith(comfyui_deploy_release_id | comfyops.comfyui.release_commit)
"""

RETURN = r"""
_value:
  description: 12 hex digits, or an empty string.
  type: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._release import release_commit as parse
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def release_commit(release_id):
    return parse(release_id)


class FilterModule:
    def filters(self):
        return {"release_commit": release_commit}
