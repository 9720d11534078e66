"""The venv builder with real pip and uv over local wheels (no index, no network): the key, the held torch stack,
the named conflict, pip check, the freeze, nothing half-built, and secrets kept out of errors."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _venv
from wheels import make_wheel

UV = str(Path(sys.executable).with_name("uv"))
INSTALLERS = ["pip", pytest.param("uv", marks=pytest.mark.skipif(not os.access(UV, os.X_OK), reason="uv is in requirements/dev.txt"))]


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheels")
    make_wheel(folder, "torch", "2.5.1+cu124")  # the CUDA build ComfyUI's index gave
    make_wheel(folder, "torch", "1.0.0")  # what an old node pack pins
    make_wheel(folder, "numpy", "2.0.0")
    make_wheel(folder, "numpy", "1.26.4")
    make_wheel(folder, "requests", "2.32.3")
    make_wheel(folder, "oldhelper", "0.1", requires=("torch<2",))  # an old torch through a dependency
    make_wheel(folder, "goodhelper", "0.3", requires=("torch>=2",))
    return folder


def spec_for(tmp_path, wheelhouse, nodes=(), protected=("numpy",), **more):
    comfy = tmp_path / "requirements.txt"
    comfy.write_text("torch\nnumpy>=1.25\n")
    requirements = [_venv.Requirements("comfyui", str(comfy), comfy.read_text())]
    for name, text in nodes:
        path = tmp_path / ("%s.txt" % name)
        path.write_text(text)
        requirements.append(_venv.Requirements(name, str(path), text))
    settings = {"find_links": [str(wheelhouse)], "no_index": True, "protected": list(protected), "extra_packages": ["requests"]}
    settings.update(more)
    return _venv.VenvSpec(python=sys.executable, python_version=sys.version, requirements=requirements, **settings)


@pytest.mark.parametrize("installer", INSTALLERS)
def test_builds_holds_torch_checks_and_freezes_then_reuses(tmp_path, wheelhouse, installer):
    spec = spec_for(tmp_path, wheelhouse, nodes=[("Good-Pack", "goodhelper\ntorch\n"), ("No-Reqs", "")])
    result = _venv.build(str(tmp_path / "srv"), spec, installer, UV)
    assert result["changed"] and result["installer"] == installer
    assert result["held"] == {"torch": "2.5.1+cu124", "numpy": "2.0.0"}
    assert {"torch==2.5.1+cu124", "numpy==2.0.0", "goodhelper==0.3", "requests==2.32.3"} <= set(result["freeze"])
    venv = Path(result["path"])
    assert venv.name == spec.key() and (venv / ".comfyops-complete").is_file()
    assert (venv / "freeze.txt").read_text().split() == result["freeze"]
    assert oct((venv / "pip.conf").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "srv" / "pkgcache").stat().st_mode & 0o777) == "0o700"
    again = _venv.build(str(tmp_path / "srv"), spec, installer, UV)
    assert not again["changed"] and again["freeze"] == result["freeze"] and again["held"] == result["held"]


@pytest.mark.parametrize("installer", INSTALLERS)
def test_a_node_pinning_another_torch_fails_naming_node_package_wanted_and_held(tmp_path, wheelhouse, installer):
    spec = spec_for(tmp_path, wheelhouse, nodes=[("Good-Pack", "goodhelper\n"), ("Old-Pack", "torch==1.0.0\n")])
    with pytest.raises(_venv.VenvError) as caught:
        _venv.build(str(tmp_path / "srv"), spec, installer, UV)
    message = str(caught.value)
    assert "custom node 'Old-Pack' wants torch==1.0.0, but torch 2.5.1+cu124 is held" in message
    assert "Good-Pack" not in message and "Nothing was switched" in message
    assert not (tmp_path / "srv" / "venvs" / spec.key()).exists()  # nothing half-built is left


@pytest.mark.slow
def test_a_protected_package_is_held_like_torch_and_the_list_is_configurable(tmp_path, wheelhouse):
    nodes = [("Numpy-Pack", "numpy<2\n")]
    with pytest.raises(_venv.VenvError, match=r"custom node 'Numpy-Pack' wants numpy<2, but numpy 2\.0\.0 is held"):
        _venv.build(str(tmp_path / "a"), spec_for(tmp_path, wheelhouse, nodes=nodes), "pip")
    unprotected = spec_for(tmp_path, wheelhouse, nodes=nodes, protected=())
    result = _venv.build(str(tmp_path / "b"), unprotected, "pip")
    assert "numpy==1.26.4" in result["freeze"] and result["held"] == {"torch": "2.5.1+cu124"}


def test_an_old_torch_through_a_dependency_is_named_too(tmp_path, wheelhouse):
    spec = spec_for(tmp_path, wheelhouse, nodes=[("Helper-Pack", "oldhelper\n")])
    with pytest.raises(_venv.VenvError, match=r"custom node 'Helper-Pack' wants torch 1\.0\.0 \(through its requirements\), but torch 2\.5\.1\+cu124 is held"):
        _venv.build(str(tmp_path / "srv"), spec, "pip")


def test_the_key_follows_everything_that_decides_the_content(tmp_path, wheelhouse):
    spec = spec_for(tmp_path, wheelhouse)
    key = spec.key()
    assert len(key) == 16 and spec_for(tmp_path, wheelhouse).key() == key
    changes = [
        {"python_version": "3.12.8 (main)"},
        {"extra_packages": ["requests", "rich"]},
        {"protected": ["numpy", "pillow"]},
        {"extra_index_urls": ["https://download.pytorch.org/whl/cu128"]},
        {"no_index": False},
        {"constraints_text": "numpy<3\n"},
    ]
    for change in changes:
        changed = spec_for(tmp_path, wheelhouse)
        for name, value in change.items():
            setattr(changed, name, value)
        assert changed.key() != key, change
    with_node = spec_for(tmp_path, wheelhouse, nodes=[("Good-Pack", "goodhelper\n")])
    assert with_node.key() != key


def test_a_leftover_of_an_interrupted_build_is_rebuilt_not_trusted(tmp_path, wheelhouse):
    spec = spec_for(tmp_path, wheelhouse)
    leftover = tmp_path / "srv" / "venvs" / spec.key()
    leftover.mkdir(parents=True)
    (leftover / "half-written").write_text("x")
    result = _venv.build(str(tmp_path / "srv"), spec, "pip")
    assert result["changed"] and not (leftover / "half-written").exists() and (leftover / ".comfyops-complete").is_file()


def test_check_mode_builds_nothing(tmp_path, wheelhouse):
    result = _venv.build(str(tmp_path / "srv"), spec_for(tmp_path, wheelhouse), "pip", check_mode=True)
    assert result["changed"] and not (tmp_path / "srv").exists()


def test_index_credentials_never_reach_an_error(tmp_path, wheelhouse):
    spec = spec_for(tmp_path, wheelhouse, no_index=False, find_links=[], index_url="http://deployer:s3cr3t-idx@127.0.0.1:9/simple")
    spec.extra_args = ["--retries", "0", "--timeout", "1"]
    with pytest.raises(_venv.VenvError) as caught:
        _venv.build(str(tmp_path / "srv"), spec, "pip")
    assert "s3cr3t-idx" not in str(caught.value) and "install ComfyUI's requirements failed" in str(caught.value)


def test_installer_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _venv.choose_installer("auto", "", []) == ("pip", "", "uv is not on this host")
    assert _venv.choose_installer("pip", "", []) == ("pip", "", "installer=pip")
    with pytest.raises(_venv.VenvError, match="uv is not on this host"):
        _venv.choose_installer("uv", "", [])
    assert _venv.choose_installer("auto", "", [], lambda: ("/opt/uv", "")) == ("uv", "/opt/uv", "")  # installed first
    assert _venv.choose_installer("auto", "", [], lambda: ("", "no index")) == ("pip", "", "no index")
    if os.access(UV, os.X_OK):
        assert _venv.choose_installer("auto", UV, []) == ("uv", UV, "")
        assert _venv.choose_installer("auto", UV, ["--no-binary", ":all:"])[:2] == ("pip", "")  # pip's options: pip
    shutil.rmtree(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not os.access(UV, os.X_OK), reason="uv is in requirements/dev.txt")
def test_a_missing_uv_is_installed_first_from_the_same_indexes_or_pip_builds_and_says_why(tmp_path, wheelhouse, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no uv on PATH (the builder runs everything by full path)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    # "uv" from the wheelhouse: its bin/uv hands over to the real uv, so the venv is built by what was installed
    make_wheel(wheelhouse, "uv", "0.13.9", scripts={"uv": '#!/bin/sh\nexec %s "$@"\n' % UV})
    make_wheel(wheelhouse, "uvstub", "1.0")  # not uv: installs no bin/uv
    spec = spec_for(tmp_path, wheelhouse)
    built = _venv.build(str(tmp_path / "a"), spec, "auto", "", uv_package="uv==0.13.9")
    assert built["installer"] == "uv" and "installer_note" not in built
    (tools,) = (tmp_path / "a" / "tools").iterdir()
    assert (tools / ".comfyops-complete").is_file() and oct((tools / "pip.conf").stat().st_mode & 0o777) == "0o600"
    again = _venv.build(str(tmp_path / "b"), spec, "auto", "", uv_package="uv==0.13.9")  # another base: its own tools
    assert again["installer"] == "uv"
    stub = _venv.build(str(tmp_path / "c"), spec, "auto", "", uv_package="uvstub==1.0")
    assert stub["installer"] == "pip" and "installed no bin/uv" in stub["installer_note"]
    assert list((tmp_path / "c" / "tools").iterdir()) == [], "the failed tools venv was removed"
    missing = _venv.build(str(tmp_path / "d"), spec, "auto", "", uv_package="uv==9.9.9")  # not in the wheelhouse, no index
    assert missing["installer"] == "pip" and "uv==9.9.9" in missing["installer_note"]
    with pytest.raises(_venv.VenvError, match="could not be installed"):
        _venv.build(str(tmp_path / "e"), spec, "uv", "", uv_package="uv==9.9.9")
