# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report_html
short_description: The fleet report of validate.yml or health.yml as a self-contained HTML page
version_added: 0.1.0
description:
  - "A summary of the hosts, then a table per host: hosts ordered worst first (unreachable, failed, starting,
    degraded or warned, healthy or passed), and in each table the failing checks first, each row coloured by its
    status. Every value is HTML-escaped. The page loads nothing: inline style, no script, image, font or link
    outside the page, and a Content-Security-Policy that forbids them."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: "The report: C(generated) (a time) and C(hosts), a map of host to its result
      (C(gpu_host_validation) for validate, C(comfyui_health)'s result for health; C({unreachable: true}) or
      C({state: unreachable}) for a host that could not be reached)."
    type: dict
    required: true
  kind:
    description: Which report it is.
    type: str
    choices: [validate, health]
    required: true
"""

EXAMPLES = r"""
- name: Write the HTML page beside the JSON and Markdown reports
  ansible.builtin.copy:
    dest: reports/health.html
    content: "{{ report | comfyops.comfyui.fleet_report_html('health') }}"
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The HTML page.
  type: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._report import ReportError
from ansible_collections.comfyops.comfyui.plugins.module_utils._report import fleet_report_html as build
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors(None, ReportError)
def fleet_report_html(report, kind):
    return build(report, kind)


class FilterModule:
    def filters(self):
        return {"fleet_report_html": fleet_report_html}
