# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: k8s_rollback_targets
short_description: The Deployments a failed apply changed, to roll back to their previous ReplicaSet
version_added: 0.5.0
description:
  - "The names of the Deployments whose revision (C(deployment.kubernetes.io/revision)) moved between O(before) and
    the input. A Deployment the failed apply did not reach keeps its revision and is left alone: rolling it back would
    take it to the release before its current one. A Deployment that did not exist before has no earlier ReplicaSet
    and is left as it is."
author:
  - comfyops maintainers (@comfyops)
positional: before
options:
  _input:
    description: The Deployments now, as C(kubernetes.core.k8s_info) returns them (C(resources)).
    type: list
    elements: dict
    required: true
  before:
    description: The same Deployments before the apply.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Roll back what the failed apply changed
  kubernetes.core.k8s_rollback:
    api_version: apps/v1
    kind: Deployment
    name: "{{ item }}"
    namespace: comfyui
  loop: "{{ after.resources | comfyops.comfyui.k8s_rollback_targets(before.resources) }}"
"""

RETURN = r"""
_value:
  description: Deployment names, sorted.
  type: list
  elements: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._k8s import revisions, rollback_targets
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def k8s_rollback_targets(after, before):
    return rollback_targets(revisions(list(before or [])), revisions(list(after or [])))


class FilterModule:
    def filters(self):
        return {"k8s_rollback_targets": k8s_rollback_targets}
