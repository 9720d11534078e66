# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: prometheus_config
short_description: Prometheus's configuration for the ComfyUI fleet
version_added: 0.1.0
description:
  - "C(prometheus.yml) as data: a scrape job per exporter kind (from C(monitoring_targets)), Prometheus and Alertmanager
    of every monitoring host, a C(host) label on every target (the alerts and Alertmanager's inhibition use it), the
    rule files and the Alertmanagers."
  - The logic is C(_monitoring.prometheus_config) in the collection's module_utils.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The output of C(comfyops.comfyui.monitoring_targets).
    type: dict
    required: true
  monitors:
    description: "Each monitoring host: C({host, prometheus, alertmanager}), the last two as C(address:port)."
    type: list
    elements: dict
    required: true
  scrape_interval:
    description: Seconds between scrapes.
    type: int
    required: true
  evaluation_interval:
    description: Seconds between rule evaluations.
    type: int
    required: true
  rule_files:
    description: Paths of the rule files.
    type: list
    elements: str
    required: true
  external_labels:
    description: Labels added to every series and alert leaving this Prometheus.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Prometheus's configuration
  ansible.builtin.copy:
    dest: /etc/prometheus/prometheus.yml
    content: "{{ targets | comfyops.comfyui.prometheus_config(monitors, 15, 15, ['/etc/prometheus/rules/comfyui.rules.yml']) | to_nice_yaml }}"
    mode: "0644"
  vars:
    targets: "{{ groups['comfyui_hosts'] | comfyops.comfyui.monitoring_targets(hostvars, {}) }}"
    monitors: [{host: mon-01, prometheus: "127.0.0.1:9090", alertmanager: "127.0.0.1:9093"}]
"""

RETURN = r"""
_value:
  description: The configuration, to be written with C(to_nice_yaml).
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import MonitoringConfigError
from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import prometheus_config as build
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors(None, MonitoringConfigError)
def prometheus_config(targets, monitors, scrape_interval, evaluation_interval, rule_files, external_labels=None):
    return build(dict(targets), list(monitors), int(scrape_interval), int(evaluation_interval), list(rule_files), dict(external_labels or {}))


class FilterModule:
    def filters(self):
        return {"prometheus_config": prometheus_config}
