from __future__ import annotations

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError, format_size, parse_size, parse_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [("24GiB", 24 * 2**30), ("500 GB", 500 * 10**9), ("64GB", 64 * 10**9), (1024, 1024), ("1.5T", int(1.5 * 2**40)), ("100B", 100)],
)
def test_sizes(text, expected):
    assert parse_size(text, "x") == expected


@pytest.mark.parametrize("garbage", ["lots", "24 GiBs", "", None, True, "-5GB", -1])
def test_size_garbage_names_the_parameter(garbage):
    with pytest.raises(UnitError, match="min_ram"):
        parse_size(garbage, "min_ram")


def test_versions():
    assert parse_version("535.104.05", "v") == (535, 104, 5)
    assert parse_version(12.4, "v") == (12, 4)
    with pytest.raises(UnitError, match="min_cuda_version: expected a dotted version"):
        parse_version("twelve", "min_cuda_version")


def test_format_size():
    assert format_size(24 * 2**30) == "24.0 GiB"
    assert format_size(512) == "512 B"
