# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: comfyui_pip_conf
short_description: The pip.conf an image's venv is built with (the same indexes as a host's venv)
version_added: 0.5.0
description:
  - "The C(pip.conf) text of the P(comfyops.comfyui.comfyui_venv#module) module's venvs (the rule in C(_venv.pip_conf)),
    for the first stage of the container image. It is copied into that stage only, so index credentials never reach
    the final image or its history (a build argument would)."
  - Local C(find_links) directories become O(wheelhouse), where the role copies them in the build context.
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: C(index_url), C(extra_index_urls), C(find_links), C(no_index).
    type: dict
    required: true
  wheelhouse:
    description: Where local wheel directories are inside the build.
    type: str
    default: /build/wheels
"""

EXAMPLES = r"""
- name: The build's pip.conf
  ansible.builtin.copy:
    content: "{{ {'index_url': '', 'extra_index_urls': ['https://download.pytorch.org/whl/cu128'], 'no_index': false} | comfyops.comfyui.comfyui_pip_conf }}"
    dest: /srv/comfyui/releases/r1/pip.conf
    mode: "0600"
  no_log: true
"""

RETURN = r"""
_value:
  description: The file's text.
  type: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._venv import VenvSpec, pip_conf
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def comfyui_pip_conf(settings, wheelhouse="/build/wheels"):
    links = [str(link) for link in settings.get("find_links") or []]
    remote = [link for link in links if "://" in link]
    spec = VenvSpec(
        python="",
        python_version="",
        requirements=[],
        index_url=str(settings.get("index_url") or ""),
        extra_index_urls=[str(url) for url in settings.get("extra_index_urls") or [] if url],
        find_links=remote + ([wheelhouse] if len(remote) < len(links) or settings.get("no_index") else []),
        no_index=bool(settings.get("no_index")),
    )
    return pip_conf(spec)


class FilterModule:
    def filters(self):
        return {"comfyui_pip_conf": comfyui_pip_conf}
