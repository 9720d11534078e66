"""The execution environment: `ansible-builder create` makes a build context from execution-environment.yml and the
collection tarball; ansible-builder's own introspection of the installed collection finds our Python and system
requirements; and those Python requirements, with the EE's ansible-core, ansible-runner and `ansible`, install into a
clean virtual environment where every third-party library any plugin imports can be imported.
(The image itself is not built: that needs a registry for its base image, which these machines cannot reach.)"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

BIN = Path(sys.executable).parent
# top-level import name -> the distribution that provides it
DISTRIBUTIONS = {
    "psutil": "psutil",
    "pynvml": "nvidia-ml-py",
    "docker": "docker",
    "yaml": "PyYAML",
    "prometheus_client": "prometheus-client",
    "kubernetes_validate": "kubernetes-validate",
}


def third_party_imports() -> set[str]:
    """Every top-level module any file under plugins/ imports (also inside functions), minus stdlib and Ansible."""
    names: set[str] = set()
    for path in (REPO / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("ansible", "ansible_collections", "__future__")}


def requirement_names(lines: list[str]) -> set[str]:
    out = set()
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.add(line.split("==")[0].split(">=")[0].split("[")[0].strip().lower())
    return out


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    """A copy of the EE definition and its files beside a freshly built tarball, and that tarball installed."""
    root = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(REPO / name, root / name)
    subprocess.run([BIN / "ansible-galaxy", "collection", "build", "--output-path", root / "build" / "dist", REPO], check=True, capture_output=True, cwd=REPO)
    installed = root / "installed"
    tarball = next((root / "build" / "dist").glob("comfyops-comfyui-*.tar.gz"))
    install = [BIN / "ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", installed, tarball]
    subprocess.run(install, check=True, capture_output=True)
    return root, installed, tarball


def test_ansible_builder_create_makes_a_build_context_with_the_collection_and_the_pins(bed):
    root, _installed, tarball = bed
    create = [BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "--context", "context"]
    done = subprocess.run(create, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Complete!" in done.stdout and "Found USER directive" not in done.stdout + done.stderr
    context = root / "context"
    dockerfile = (context / "Dockerfile").read_text()
    pins = {line.split("==")[0]: line for line in (REPO / "requirements" / "runtime.txt").read_text().splitlines() if "==" in line}
    assert 'ARG ANSIBLE_INSTALL_REFS="%s ansible-runner==' % pins["ansible-core"] in dockerfile
    assert 'ARG EE_BASE_IMAGE="' in dockerfile, "the base image can be overridden (a mirror) with --build-arg"
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--no-deps"' in dockerfile
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": "/build/collections/comfyops-comfyui.tar.gz", "type": "file"}]}
    assert (context / "_build" / "requirements.txt").read_text().split() == [pins["ansible"]]


def test_introspection_of_the_installed_collection_finds_its_python_and_system_requirements(bed):
    _root, installed, _tarball = bed
    done = subprocess.run([BIN / "ansible-builder", "introspect", "--sanitize", installed], capture_output=True, text=True, check=True)
    found = yaml.safe_load(done.stdout)
    ours = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines() if line.split("#")[0].strip()]
    python = [item.split("#")[0].strip() for item in found["python"]]
    # ansible-builder leaves out what ansible-core already brings (PyYAML)
    assert python == [pin for pin in ours if not pin.startswith("PyYAML")], found
    system = [item.split("#")[0].strip() for item in found["system"]]
    assert system == [line for line in (REPO / "bindep.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert all("from collection comfyops.comfyui" in item for item in found["python"] + found["system"])


def test_every_library_a_plugin_imports_is_a_requirement():
    imports = third_party_imports()
    assert imports, "the scan found the plugins' imports"
    unknown = imports - set(DISTRIBUTIONS)
    assert not unknown, "plugins import %s: add them to requirements.txt and to DISTRIBUTIONS here" % sorted(unknown)
    required = requirement_names((REPO / "requirements.txt").read_text().splitlines())
    assert {DISTRIBUTIONS[name].lower() for name in imports} <= required


@pytest.mark.slow
def test_the_ee_python_requirements_install_into_a_clean_venv_and_import_every_plugin_dependency(bed, tmp_path):
    root, _installed, _tarball = bed
    ee = yaml.safe_load((root / "execution-environment.yml").read_text())["dependencies"]
    pins = [ee["ansible_core"]["package_pip"], ee["ansible_runner"]["package_pip"], *ee["python"]]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    # --no-compile: pip need not byte-compile every file of the ansible package (the slowest part of this test); the
    # import below compiles what it loads
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile"]
    install = subprocess.run([*pip, "-r", REPO / "requirements.txt", *pins], capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stderr[-3000:]
    modules = [*sorted(third_party_imports()), "ansible_runner", "ansible_collections.community.docker", "ansible_collections.awx.awx"]
    probe = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint('imported', len(sys.argv) - 1)"
    done = subprocess.run([venv / "bin" / "python", "-c", probe, *modules], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "imported %d" % len(modules)
