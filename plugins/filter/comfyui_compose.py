# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: comfyui_compose
short_description: A compose file for ComfyUI's containers, with Redis, Prometheus and the exporter
version_added: 0.5.0
description:
  - A compose file (the Compose Specification) from the container specs of the
    P(comfyops.comfyui.comfyui_container#filter) filter, so that it runs exactly what container mode runs; with Redis,
    Prometheus and the comfyops exporter when their images are given.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The container specs, one per instance.
    type: list
    elements: dict
    required: true
  settings:
    description: C(redis_image), C(prometheus_image), C(prometheus_config) (a path on the host), C(exporter_image), C(exporter_command).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The compose file
  ansible.builtin.copy:
    content: "{{ _specs | comfyops.comfyui.comfyui_compose({'project': 'comfyui', 'redis_image': 'redis:7'}) | to_nice_yaml(indent=2) }}"
    dest: /srv/comfyui/compose.yaml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The compose file as a dict (C(services)).
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._container import ContainerError, compose_file
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors("comfyui_compose", ContainerError, KeyError)
def comfyui_compose(specs, settings):
    return compose_file(specs, settings)


class FilterModule:
    def filters(self):
        return {"comfyui_compose": comfyui_compose}
