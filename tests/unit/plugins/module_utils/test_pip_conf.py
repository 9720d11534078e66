"""The container build's pip.conf: the same indexes as a host's venv, local wheel directories as the wheelhouse."""

from __future__ import annotations

from ansible_collections.comfyops.comfyui.plugins.filter.comfyui_pip_conf import comfyui_pip_conf


def test_indexes_and_local_wheels():
    text = comfyui_pip_conf(
        {
            "index_url": "https://user:secret@pypi.example/simple",
            "extra_index_urls": ["https://download.pytorch.org/whl/cu128", ""],
            "find_links": ["/opt/wheels", "https://wheels.example/"],
            "no_index": False,
        }
    )
    assert text.splitlines() == [
        "[global]",
        "index-url = https://user:secret@pypi.example/simple",
        "extra-index-url = https://download.pytorch.org/whl/cu128",
        "find-links = https://wheels.example/ /build/wheels",
    ]


def test_no_index_uses_the_wheelhouse():
    assert comfyui_pip_conf({"no_index": True}).splitlines() == ["[global]", "find-links = /build/wheels", "no-index = true"]
