# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's AnsibleModule: Ansible's own, with the input rules every module of the collection keeps.

- A failed argument validation says every error, not only the first: for a list of dicts with sub-options,
  ansible-core's first error can be a bare "dictionary requested, could not parse JSON or key=value" that names no
  option, while a later one names it.
- Every option of type ``path`` that is given must be a usable absolute path (``_fsutil.absolute_path``: no '..', no
  NUL, no newline, at most 4096 characters), refused naming the option before the module does anything. Ansible's
  ``path`` type turns any value into text (a dict became a 10,000-character "path" that failed deep in the module).
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, absolute_path, shown


class ComfyOpsModule(AnsibleModule):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._comfyops_validated = False
        try:
            super().__init__(*args, **kwargs)
        except (TypeError, AttributeError, OverflowError, ValueError) as exc:  # ansible-core's validation breaks on some
            # values instead of reporting them: a bool where a map of options goes, an infinite float or a 2**63 for an int
            spec = kwargs.get("argument_spec") or (args[0] if args else {})
            wrong = _culprits(spec, self.params if isinstance(getattr(self, "params", None), dict) else {})
            self.fail_json(msg="; ".join(wrong) if wrong else "the module's arguments do not validate: %s" % exc)
        self._comfyops_validated = True
        for name, spec in sorted(self.argument_spec.items()):
            value = self.params.get(name)
            if spec.get("type") == "path" and value is not None:
                try:
                    absolute_path(value, name)
                except PathError as exc:
                    self.fail_json(msg=str(exc))

    def fail_json(self, msg: Any = None, **kwargs: Any) -> Any:
        result = getattr(self, "validation_result", None)
        if not self._comfyops_validated and result is not None and len(result.error_messages) > 1:
            msg = "; ".join(dict.fromkeys(str(message) for message in result.error_messages))
        return super().fail_json(msg=msg, **kwargs)


def _culprits(spec: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The options whose value alone breaks ansible-core's validation (it raised instead of reporting an error)."""
    found = []
    for name, option in sorted(spec.items()):
        if params.get(name) is None:
            continue
        try:
            ArgumentSpecValidator({name: option}).validate({name: params[name]})
        except Exception as exc:  # pylint: disable=broad-exception-caught  # whatever broke it, it is this option's value
            value = "its value" if option.get("no_log") else shown(params[name], 120)  # a secret's is never shown
            found.append("%s: %s is not a valid %s (%s)" % (name, value, option.get("type", "str"), exc))
    return found
