# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_preflight
short_description: Every problem of the backup role's settings, before the role writes anything
version_added: 0.1.0
description:
  - "Checks the settings (keys without their C(backup_) prefix, and C(host), the inventory host name): C(base),
    C(health_dir), C(textfile_dir) and C(python) usable absolute paths; C(repository) a restic repository; C(password)
    given; C(env) variable names and values an environment can carry; C(host) and C(instances) names that can be part
    of a restic tag; C(keep_last), C(keep_daily), C(keep_weekly) and C(max_age_days) in their ranges; C(verify_subset)
    what restic's C(--read-data-subset) reads; C(schedule) a systemd calendar expression without a newline;
    C(randomized_delay) whole seconds up to a day."
  - Returns the problems, all at once (empty when the settings are usable); a message names the variable and never
    shows the password or a credential of the repository URL.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The settings.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Preflight | the settings are usable
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "backup: {{ _problems | join('; ') }}"
    quiet: true
  vars:
    _problems: "{{ {'base': backup_base, 'repository': backup_repository, 'password': backup_password} | comfyops.comfyui.backup_preflight }}"
"""

RETURN = r"""
_value:
  description: The problems, one message each.
  type: list
  elements: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import preflight
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION, problems=True)
def backup_preflight(values):
    return preflight(dict(values))


class FilterModule:
    def filters(self):
        return {"backup_preflight": backup_preflight}
