"""Issue 9: random JSON and sizes never crash a parser: they parse, or raise the parser's own typed error."""

from __future__ import annotations

from ansible_collections.comfyops.comfyui.plugins.module_utils import _comfyui, _http, _units, _workflow
from hypothesis import example, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
object_info = {
    "EmptyImage": {"input": {"required": {"width": ["INT", {"min": 1, "max": 8192}], "color": ["INT", {}]}}, "output": ["IMAGE"], "output_node": False},
    "SaveImage": {"input": {"required": {"images": ["IMAGE"], "filename_prefix": ["STRING", {}]}}, "output": [], "output_node": True},
}
node = st.fixed_dictionaries(
    {"class_type": st.sampled_from(["EmptyImage", "SaveImage", "Nope"]) | json_values},
    optional={"inputs": st.dictionaries(st.sampled_from(["width", "color", "images", "filename_prefix"]), json_values) | json_values},
)
prompts = st.dictionaries(st.sampled_from(["1", "2", "3"]), node | json_values, max_size=3) | json_values


@settings(max_examples=300, deadline=None)
@given(json_values)
@example({"status": {"messages": [[["unhashable"], {}], ["execution_error", {"timestamp": "x"}]], "status_str": 5}, "outputs": {"2": {"images": [1]}}})
def test_response_parsers_never_crash(data):
    for parse in (_comfyui.parse_system_stats, _comfyui.parse_queue):
        try:
            parse(data)
        except _comfyui.NotComfyUI:
            pass
    if isinstance(data, dict):
        entry = _comfyui.parse_history_entry("p", data)
        entry.files()
        assert entry.duration is None or entry.duration >= 0


@settings(max_examples=300, deadline=None)
@given(prompts)
def test_the_workflow_validator_never_crashes(prompt):
    valid, error, outputs, node_errors = _workflow.Validator(object_info.get).validate_prompt(prompt)
    assert valid == (error is None)
    assert isinstance(outputs, list) and isinstance(node_errors, dict)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.none(), st.booleans()))
def test_sizes_parse_or_fail_clearly(value):
    try:
        size = _units.parse_size(value, "min_ram")
    except _units.UnitError as exc:
        assert str(exc).startswith("min_ram: ")
    else:
        assert 0 <= size <= _units.MAX_SIZE


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_urls_parse_or_fail_clearly(value):
    try:
        _http.parse_url(value, "url")
    except _http.UrlError as exc:
        assert str(exc).startswith("url: ")
    _http.redact_url(value)
