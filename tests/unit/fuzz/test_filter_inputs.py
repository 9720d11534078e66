"""Issue 26, part 10: every filter of the collection, fuzzed.

Each filter gets, for its input and then for each of its arguments in turn, values Hypothesis draws (the wrong type,
empty, huge, NUL, CR/LF, undecodable text, '..', a leading '-'), the other arguments left at a plain value. The
property: the filter returns, or fails with AnsibleFilterError (which Ansible reports as a task error naming the
filter and its message), never with another exception (a traceback in the play).
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_module_inputs import EXAMPLES, EXPLORE, VALUES

FILTERS_DIR = Path(__file__).resolve().parents[3] / "plugins" / "filter"


def filters() -> list[tuple[str, object]]:
    found = []
    for path in sorted(FILTERS_DIR.glob("*.py")):
        module = importlib.import_module("ansible_collections.comfyops.comfyui.plugins.filter." + path.stem)
        found += sorted(module.FilterModule().filters().items())
    return found


FILTERS = filters()
# a plain value of each documented type for the parameters not fuzzed: a filter is fuzzed one parameter at a time
PLAIN = {"dict": {}, "list": [], "str": "x", "path": "/x", "int": 1, "float": 1.0, "bool": False}


def documented(function) -> dict:
    """The filter's options (DOCUMENTATION), by parameter name (_input is the first parameter)."""
    module = importlib.import_module(function.__module__)
    options = yaml.safe_load(getattr(module, "DOCUMENTATION", "") or "{}").get("options") or {}
    first = next(iter(inspect.signature(function).parameters))
    return {(first if name == "_input" else name): option for name, option in options.items()}


def cases():
    for name, function in FILTERS:
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                yield name, function, parameter.name


CASES = list(cases())


def test_every_filter_is_fuzzed():
    assert len(FILTERS) >= 30 and {name for name, _f, _p in CASES} == {name for name, _f in FILTERS}


def call(function, fuzzed: str, value):
    signature = inspect.signature(function)
    options = documented(getattr(function, "__wrapped__", function))
    args = []
    for parameter in signature.parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            continue
        if parameter.name == fuzzed:
            args.append(value)
        elif parameter.default is not parameter.empty:
            args.append(parameter.default)
        else:
            args.append(PLAIN.get(options.get(parameter.name, {}).get("type"), ""))
    return function(*args)


@pytest.mark.parametrize(("name", "function", "parameter"), CASES, ids=["%s.%s" % (n, p) for n, _f, p in CASES])
def test_a_bad_value_fails_as_a_filter_error_never_a_traceback(name, function, parameter):
    @settings(max_examples=EXAMPLES, derandomize=not EXPLORE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=VALUES | st.just(os.urandom(8).hex()))
    def fuzz(value):
        try:
            call(function, parameter, value)
        except AnsibleError as exc:
            assert str(exc).strip(), "%s failed with an empty message" % name
        except Exception as exc:  # pylint: disable=broad-exception-caught  # the property: no other exception
            raise AssertionError("%s(%s=%r) raised %s: %s" % (name, parameter, value, type(exc).__name__, str(exc)[:300])) from None

    fuzz()
