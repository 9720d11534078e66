"""Every filter fails the one way plugin_utils/filter_errors.py gives: an AnsibleFilterError that says what and where,
prefixed with the filter's name when the message does not name its option, with no chained exception."""

from __future__ import annotations

import inspect

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.comfyops.comfyui.plugins.filter.comfyui_base_image import comfyui_base_image
from ansible_collections.comfyops.comfyui.plugins.filter.safe_names import safe_names
from ansible_collections.comfyops.comfyui.plugins.filter.slice_batch import slice_batch
from ansible_collections.comfyops.comfyui.plugins.filter.systemd_env import systemd_env
from ansible_collections.comfyops.comfyui.plugins.filter.torch_index import torch_index


def failure(call):
    with pytest.raises(AnsibleFilterError) as caught:
        call()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, "the error chains another"
    return caught.value.message


def test_prefixed_with_the_filter_name():
    assert failure(lambda: torch_index("cuda", None)).startswith("torch_index: ")
    assert failure(lambda: comfyui_base_image("cuda", "10.2")).startswith("comfyui_base_image: ")
    assert failure(lambda: systemd_env({"A": "x\ny"})).startswith("systemd_env: ")


def test_messages_that_name_their_option_are_left_as_they_are():
    message = failure(lambda: safe_names(["gpu0", "../x"], "comfyui_proxy_drain_instances", "instance name"))
    assert message.startswith("comfyui_proxy_drain_instances[1]: instance name '../x' is not allowed")
    assert failure(lambda: safe_names("gpu0", "names")) == "names: a list of names is expected, not 'gpu0'"
    assert not failure(lambda: slice_batch(3, 4)).startswith("slice_batch")


def test_good_input_passes_through_unchanged():
    assert safe_names(["gpu0", "gpu-1.a"], "names") == ["gpu0", "gpu-1.a"]
    assert torch_index("cpu") == "https://download.pytorch.org/whl/cpu"
    assert slice_batch("30%", 4) == "30%"
    assert safe_names.__name__ == "safe_names" and "kind" in inspect.unwrap(safe_names).__code__.co_varnames
