# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: release_id
short_description: The release id of a deploy run, from the source and every host's release settings
version_added: 0.1.0
description:
  - "C(<name>-<commit>-<hash>): the ref (or an archive's file name, or a local directory's name), the commit a git
    ref resolves to (from O(ls_remote)), an archive's checksum or C(local), and a hash of the release settings of
    every host of the group, so the same source and settings give the same id, and a change to one host's settings
    makes a new release for all."
  - "The release settings are the options of the role P(comfyops.comfyui.comfyui_deploy#role)'s argument spec whose
    description says C(Part of the release id); a host that does not set one gets the spec's default. A new option
    cannot be forgotten: a unit test fails until it is marked, or declared as not affecting the release."
  - The source is the first host's C(comfyui_deploy_source), or the role's default.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The hosts of the group (every one, not only those of a C(--limit)).
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
  ls_remote:
    description: The lines of C(git ls-remote URL REF REF^{}) for a git source.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: One release id for the run
  ansible.builtin.set_fact:
    comfyui_release_id: "{{ groups['comfyui_hosts'] | comfyops.comfyui.release_id(hostvars, ls_remote.stdout_lines) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The release id.
  type: str
  sample: v0.8.0-5b0d8d4a1f2c-1c9e4f2a
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._release import ReleaseError, compute_release_id
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.role_spec import deploy_release_settings, host_setting, release_source


@typed(DOCUMENTATION)
@filter_errors("release_id", ReleaseError)
def release_id(hosts, hostvars, ls_remote=None):
    settings = deploy_release_settings()
    by_host = {host: {key: host_setting(hostvars, host, key, default) for key, default in settings.items()} for host in hosts}
    return compute_release_id(release_source(hosts, hostvars), ls_remote or [], by_host)


class FilterModule:
    def filters(self):
        return {"release_id": release_id}
