# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: monitoring_targets
short_description: What Prometheus scrapes on each ComfyUI host, from the inventory
version_added: 0.1.0
description:
  - "For each host of the list: its ComfyUI exporter, node_exporter, redis_exporter (where C(monitoring_stack_redis_enabled))
    and dcgm-exporter (where C(monitoring_stack_dcgm_exporter_enabled)) as C(address:port), with the host's inventory name.
    Each value is the host's own variable when it sets one, else the default given."
  - The logic is C(_monitoring.scrape_targets) in the collection's module_utils.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: Inventory names of the ComfyUI hosts.
    type: list
    elements: str
    required: true
  hostvars:
    description: Ansible's C(hostvars).
    type: dict
    required: true
  defaults:
    description: The role's values of C(monitoring_stack_target_address), the ports and the enabled flags.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The scrape targets
  ansible.builtin.debug:
    msg: "{{ groups['comfyui_hosts'] | comfyops.comfyui.monitoring_targets(hostvars, {'monitoring_stack_exporter_port': 9188}) }}"
"""

RETURN = r"""
_value:
  description: "Per kind (C(comfyui), C(node), C(redis), C(dcgm)) a list of C({target, host})."
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import MonitoringConfigError, scrape_targets
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors(None, MonitoringConfigError)
def monitoring_targets(hosts, hostvars, defaults):
    return scrape_targets(list(hosts or []), hostvars, dict(defaults or {}))


class FilterModule:
    def filters(self):
        return {"monitoring_targets": monitoring_targets}
