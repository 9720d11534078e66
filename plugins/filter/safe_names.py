# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: safe_names
short_description: Names checked as single safe path components, for roles that turn names into files or configuration
version_added: 0.1.0
description:
  - "Returns the list unchanged when every name is 1-128 letters, digits, C(.), C(_), C(+) and C(-), starting with a letter
    or digit, without C(..): the collection's one rule for release ids, instance names and model file names. A name that
    breaks it fails with the option and the position named (C(comfyui_proxy_drain_instances[1]: instance name '../x' is
    not allowed ...)), so it can never become a path outside its directory, or a newline inside a configuration file."
author:
  - comfyops maintainers (@comfyops)
positional: option, kind
options:
  _input:
    description: The names.
    type: list
    elements: str
    required: true
  option:
    description: The option the names come from, for the error message.
    type: str
    required: true
  kind:
    description: What the names are, for the error message.
    type: str
    default: name
"""

EXAMPLES = r"""
- name: The instance names are safe to become file names
  ansible.builtin.set_fact:
    names: "{{ instances | map(attribute='name') | comfyops.comfyui.safe_names('instances[].name', 'instance name') }}"
"""

RETURN = r"""
_value:
  description: The names, unchanged.
  type: list
  elements: str
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, check_name
from ansible_collections.comfyops.comfyui.plugins.plugin_utils.filter_errors import filter_errors, typed


@typed(DOCUMENTATION, own=("_input",))
@filter_errors(None, PathError)
def safe_names(names, option, kind="name"):
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise PathError("%s: a list of names is expected, not %r" % (option, names))
    return [check_name(name, "%s[%d]" % (option, index), kind) for index, name in enumerate(list(names))]


class FilterModule:
    def filters(self):
        return {"safe_names": safe_names}
