# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: comfyui_container
short_description: The container of one ComfyUI instance (community.docker.docker_container options)
version_added: 0.5.0
description:
  - "C(comfyui_container): the options of C(community.docker.docker_container) for one instance of
    comfyui_deploy_instances in container mode: the release's image, ComfyUI's flags (the rule of the
    P(comfyops.comfyui.comfyui_server_args#filter) filter; the container sees its one GPU as device 0), the models
    (read-only), input, output, user data, temp and cache bind-mounted at the paths they have on the host, the host's
    service user, a GPU device request per instance (not on the CPU), a health check on C(/system_stats) whose start
    period is the start-up budget, the restart policy, size-bounded json-file logs or journald, labels."
  - The P(comfyops.comfyui.comfyui_compose#filter) filter makes a compose file from these specs.
  - Fails naming the variable when a value is not valid.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The instance (an entry of comfyui_deploy_instances).
    type: dict
    required: true
  settings:
    description:
      - "C(base), C(image), C(prefix), C(listen), C(device), C(vram_mode), C(whitelist_nodes), C(extra_args),
        C(environment), C(user) (uid:gid), C(startup_budget), C(stop_timeout), C(network_mode), C(log_driver),
        C(log_max_size), C(log_max_files), C(restart_policy), C(memory), C(release)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The container of each instance
  community.docker.docker_container: "{{ item | comfyops.comfyui.comfyui_container(_settings) }}"
  loop: "{{ comfyui_deploy_instances }}"
"""

RETURN = r"""
_value:
  description: The docker_container options.
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._container import ContainerError, container_spec
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors("comfyui_container", ContainerError, KeyError)
def comfyui_container(instance, settings):
    return container_spec(instance, settings)


class FilterModule:
    def filters(self):
        return {"comfyui_container": comfyui_container}
