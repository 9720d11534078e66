# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: comfyui_server_args
short_description: ComfyUI's command-line flags for one instance, the same for systemd, containers and Kubernetes
version_added: 0.5.0
description:
  - "The flags one instance of comfyui_deploy_instances starts with: C(--listen), C(--port), its output, input, user and
    temp directories, C(--database-url) (the database beside the user data, never in the read-only checkout), the
    device (C(--cpu) or C(--cuda-device)), the VRAM mode, the custom-node whitelist and the extra arguments."
  - Decided once; the host deploy's environment file, the container's command and the Kubernetes Deployment use it.
  - Fails naming the option when the port, device or VRAM mode is not valid.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The instance (C(name), C(port); optional C(listen), C(cuda_device), C(extra_args)).
    type: dict
    required: true
  listen:
    description: The address to listen on when the instance names none.
    type: str
    required: true
  data:
    description: The directories C(output), C(input), C(user), C(temp) and the C(database) file.
    type: dict
    required: true
  device:
    description: C(cuda) or C(cpu).
    type: str
    default: cuda
  vram_mode:
    description: C(normal), C(low), C(high) or C(no) (not used on the CPU).
    type: str
    default: normal
  whitelist_nodes:
    description: When not empty, every custom node but these is disabled.
    type: list
    elements: str
    default: []
  extra_args:
    description: More flags, after the others.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: The flags of the default instance
  ansible.builtin.debug:
    msg: >-
      {{ {'name': 'default', 'port': 8188} | comfyops.comfyui.comfyui_server_args(listen='127.0.0.1',
         data={'output': '/data/output', 'input': '/data/input', 'user': '/data/user', 'temp': '/data/temp',
               'database': '/data/user/comfyui.db'}) }}
"""

RETURN = r"""
_value:
  description: The flags, one list item each.
  type: list
  elements: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._server_args import ArgsError, server_args
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION)
@filter_errors("comfyui_server_args", ArgsError)
def comfyui_server_args(instance, listen, data, device="cuda", vram_mode="normal", whitelist_nodes=(), extra_args=()):
    return server_args(instance, listen, data, device, vram_mode, whitelist_nodes, extra_args)


class FilterModule:
    def filters(self):
        return {"comfyui_server_args": comfyui_server_args}
