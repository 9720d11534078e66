# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: url_safe
short_description: A URL without user info, query string or fragment, for showing, storing or naming
version_added: 0.1.0
description:
  - "C(https://user:pass@host/path/file.tar.gz?X-Amz-Signature=...) becomes C(https://host/path/file.tar.gz): the only
    form of a URL the collection shows in output, writes into metadata or turns into a release id or a file name."
author:
  - comfyops maintainers (@comfyops)
options:
  _input:
    description: The URL.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Show where a model comes from
  ansible.builtin.debug:
    msg: "{{ model.url | comfyops.comfyui.url_safe }}"
"""

RETURN = r"""
_value:
  description: The URL without secrets.
  type: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._http import redact_url
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import typed


@typed(DOCUMENTATION)
def url_safe(url):
    return redact_url(url)


class FilterModule:
    def filters(self):
        return {"url_safe": url_safe}
