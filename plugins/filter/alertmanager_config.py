# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: alertmanager_config
short_description: Alertmanager's routes, receivers and inhibitions for the ComfyUI fleet
version_added: 0.1.0
description:
  - "C(alertmanager.yml) as data: critical alerts to email and the webhooks, warnings to the webhooks, grouped by alert
    name and host; a C(HostDown) alert inhibits that host's other alerts, and a critical alert the warning of the same
    name on the same host."
  - The result holds the SMTP password when one is given; write it with C(no_log) and C(diff) off.
  - The logic is C(_monitoring.alertmanager_config) in the collection's module_utils.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: "C(webhook_urls), C(email_to), C(smtp) (C(smarthost), C(from), C(auth_username), C(auth_password),
      C(require_tls), C(hello)), C(group_wait), C(group_interval), C(repeat_interval)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Alertmanager's configuration
  ansible.builtin.copy:
    dest: /etc/prometheus/alertmanager.yml
    content: "{{ {'webhook_urls': ['http://127.0.0.1:9099/hook']} | comfyops.comfyui.alertmanager_config | to_nice_yaml }}"
    mode: "0640"
  no_log: true
"""

RETURN = r"""
_value:
  description: The configuration, to be written with C(to_nice_yaml).
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import MonitoringConfigError
from ansible_collections.comfyops.comfyui.plugins.module_utils._monitoring import alertmanager_config as build
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors(None, MonitoringConfigError)
def alertmanager_config(settings):
    return build(dict(settings or {}))


class FilterModule:
    def filters(self):
        return {"alertmanager_config": alertmanager_config}
