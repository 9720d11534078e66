# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: exporter_instances
short_description: The ComfyUI exporter's instances from the deploy's
version_added: 0.1.0
description:
  - "From C(comfyui_deploy_instances) (C(name), C(port)): each instance's URL on loopback, the systemd unit
    (C(comfyui-NAME.service)) or standalone pidfile (C(BASE/run/NAME.pid)) the deploy gives it, and the shared output
    directory, as the exporter's settings take them."
  - The logic is C(_monitoring.exporter_instances) in the collection's module_utils.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The deploy's instances.
    type: list
    elements: dict
    required: true
  base:
    description: The deploy's base directory (C(comfyui_deploy_base)).
    type: str
    required: true
  service_manager:
    description: C(systemd), C(standalone) or C(docker) (neither unit nor pidfile).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The exporter's instances
  ansible.builtin.debug:
    msg: "{{ [{'name': 'default', 'port': 8188}] | comfyops.comfyui.exporter_instances('/srv/comfyui', 'systemd') }}"
"""

RETURN = r"""
_value:
  description: "C({name, url, unit or pidfile, output_dir}) per instance."
  type: list
  elements: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import MonitoringConfigError
from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import exporter_instances as build
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors(None, MonitoringConfigError)
def exporter_instances(instances, base, service_manager):
    return build(list(instances or []), str(base), str(service_manager))


class FilterModule:
    def filters(self):
        return {"exporter_instances": exporter_instances}
