# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: k8s_rollout_status
short_description: Where a Deployment's rollout stands, by the rules of kubectl rollout status
version_added: 0.5.0
description:
  - "V(done) when the controller has seen the new spec (C(status.observedGeneration)) and every replica is updated and
    available with no old replica left; V(failed) when the controller reports C(ProgressDeadlineExceeded) (the
    Deployment's C(progressDeadlineSeconds): the start-up budget plus time to pull the image) or the Deployment is
    not there; V(progressing) otherwise."
  - "A Deployment's C(Available) condition alone is not enough: right after an apply it still describes the old pods."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The Deployment as C(kubernetes.core.k8s_info) returns it (one of its C(resources)), or nothing.
    type: dict
"""

EXAMPLES = r"""
- name: Wait for the rollout
  kubernetes.core.k8s_info:
    kind: Deployment
    name: comfyui-gpu0
    namespace: comfyui
  register: deployment
  until: (deployment.resources | first | default(none) | comfyops.comfyui.k8s_rollout_status).state != 'progressing'
  retries: 180
  delay: 5
"""

RETURN = r"""
_value:
  description: C(state) (V(done), V(progressing) or V(failed)) and C(message), which names the Deployment.
  type: dict
  sample: {"state": "progressing", "message": "comfyui-gpu0: 0 of 1 updated replicas available"}
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._k8s import rollout_status
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def k8s_rollout_status(deployment):
    return rollout_status(deployment)


class FilterModule:
    def filters(self):
        return {"k8s_rollout_status": k8s_rollout_status}
