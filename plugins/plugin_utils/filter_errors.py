# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every filter of the collection fails: the input errors module_utils raises become one AnsibleFilterError whose
message says what and where, with no traceback and no chained exception (which could carry a secret's value)."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError


def filter_errors(prefix: str | None, *errors: type[Exception]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator: `errors` raised by the filter become AnsibleFilterError, its message prefixed with `prefix: `
    (the filter's name, for messages that do not name their option) or left as it is when `prefix` is None."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except errors as exc:
                raise AnsibleFilterError("%s: %s" % (prefix, exc) if prefix else str(exc)) from None

        return wrapped

    return wrap


# What each documented type of a filter's option takes: the filter's DOCUMENTATION is the one statement of its inputs,
# and @typed holds the filter to it, so a value of the wrong shape fails naming the filter and the option instead of
# breaking somewhere inside it (a str where a dict goes raised "'str' object has no attribute 'get'").
def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "path": lambda v: isinstance(v, str),
    "int": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and v.strip().lstrip("-").isdigit()),
    "float": lambda v: _scalar(v) and _finite(v),
    "bool": lambda v: isinstance(v, bool) or (isinstance(v, str) and v.lower() in ("true", "false", "yes", "no", "1", "0")),
    "dict": lambda v: isinstance(v, Mapping),
    "list": lambda v: isinstance(v, (list, tuple)),
}
_ELEMENTS: dict[str, Callable[[Any], bool]] = {"str": _scalar, "dict": lambda v: isinstance(v, Mapping)}


def _problem(value: Any, option: dict[str, Any], none_default: bool) -> str:
    wanted = option.get("type")
    if value is None:  # null where the option is optional and its default is null (or it has no default)
        return "" if none_default and not option.get("required") else "must be a %s, got None" % wanted
    if wanted in _TYPES and not _TYPES[wanted](value):
        return "must be a %s, got %s" % ({"dict": "map", "str": "string"}.get(wanted, wanted), type(value).__name__)
    elements = option.get("elements")
    if wanted == "list" and elements in _ELEMENTS:
        for index, item in enumerate(value):
            if not _ELEMENTS[elements](item):
                return "[%d] must be a %s, got %s" % (index, "map" if elements == "dict" else "string", type(item).__name__)
    return ""


def typed(documentation: str, problems: bool = False, own: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator: the filter's arguments are checked against the option types of its DOCUMENTATION (_input is its
    first parameter) before it runs; AnsibleFilterError('<filter>: <option> must be a map, got str') otherwise, or,
    for a preflight filter (`problems`), that message as its one problem. Options in `own` the filter checks itself,
    naming the variable its caller gives."""
    options = yaml.safe_load(documentation).get("options") or {}

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(function)
        first = next(iter(signature.parameters))
        names = {("_input" if name == first else name): name for name in signature.parameters}

        @functools.wraps(function)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise AnsibleFilterError("%s: %s" % (function.__name__, exc)) from None
            for option, spec in options.items():
                if option in own:
                    continue
                parameter = names.get(option)
                if parameter is None or parameter not in bound.arguments:
                    continue
                default = signature.parameters[parameter].default
                problem = _problem(bound.arguments[parameter], spec, default is None or default is inspect.Parameter.empty)
                if problem:
                    message = "%s: %s %s" % (function.__name__, "its input" if option == "_input" else option, problem)
                    if problems:  # a preflight filter returns what is wrong, it does not raise
                        return [message]
                    raise AnsibleFilterError(message) from None
            return function(*args, **kwargs)

        return wrapped

    return wrap
