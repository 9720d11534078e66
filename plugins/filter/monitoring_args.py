# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: monitoring_args
short_description: The command line of one service of the monitoring stack
version_added: 0.1.0
description:
  - "The arguments of Debian's C(prometheus), C(prometheus-alertmanager), C(prometheus-node-exporter) or
    C(prometheus-redis-exporter), as a list, for a systemd drop-in's C(ExecStart) or the standalone manager. Every value is
    checked: no blanks, quotes, C($) or C(%) (a user value never becomes shell or a systemd specifier)."
  - The logic is C(_monitoring.service_args) in the collection's module_utils.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: C(prometheus), C(alertmanager), C(node_exporter) or C(redis_exporter).
    type: str
    required: true
  settings:
    description: Paths, listen addresses and retention (see the role C(monitoring_stack)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: node_exporter's arguments
  ansible.builtin.debug:
    msg: "{{ 'node_exporter' | comfyops.comfyui.monitoring_args({'node_exporter_listen': ':9100', 'textfile_dir': '/var/lib/prometheus/node-exporter'}) }}"
"""

RETURN = r"""
_value:
  description: The arguments, without the program.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import MonitoringConfigError, service_args
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def monitoring_args(service, settings):
    try:
        return service_args(str(service), dict(settings or {}))
    except (MonitoringConfigError, KeyError) as exc:
        raise AnsibleFilterError("monitoring_args(%s): %s" % (service, exc)) from None


class FilterModule:
    def filters(self):
        return {"monitoring_args": monitoring_args}
