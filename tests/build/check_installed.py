"""After `ansible-galaxy collection install`: every module renders in ansible-doc and runs by FQCN.

Usage: check_installed.py COLLECTIONS_PATH  (run with ANSIBLE_COLLECTIONS_PATH set to it)
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile


def main() -> int:
    root = pathlib.Path(sys.argv[1]) / "ansible_collections" / "comfyops" / "comfyui"
    modules = sorted(p.stem for p in (root / "plugins" / "modules").glob("*.py"))
    assert modules, f"no modules installed under {root}"
    for excluded in ("comfyui-simulator", "tests/unit", "molecule", "Makefile"):
        assert not (root / excluded).exists(), f"{excluded} must not be in the built collection"
    # the roles copy the collection's own library to hosts from role_path/../../plugins/module_utils: the tarball has it
    import yaml  # pylint: disable=import-outside-toplevel

    role_vars = yaml.safe_load((root / "roles" / "monitoring_stack" / "vars" / "main.yml").read_text())
    for lib in role_vars["_monitoring_stack_lib_files"]:
        assert (root / "roles" / "monitoring_stack" / ".." / ".." / "plugins" / "module_utils" / lib).is_file(), f"the exporter's {lib} is not in the tarball"
    for rules in ("roles/monitoring_stack/files/rules/comfyui.rules.yml", "docs/runbooks.md"):
        assert (root / rules).is_file(), f"{rules} is not in the tarball"
    bindir = pathlib.Path(sys.executable).parent
    for name in modules:
        doc = subprocess.run([bindir / "ansible-doc", "--json", f"comfyops.comfyui.{name}"], capture_output=True, text=True, check=True)
        data = json.loads(doc.stdout)[f"comfyops.comfyui.{name}"]
        assert data["doc"]["short_description"] and data["examples"], name
    playbook = """
- hosts: localhost
  gather_facts: false
  tasks:
    - comfyops.comfyui.nvidia_gpu_info:
      register: gpu
    - comfyops.comfyui.host_validate:
        checks: [cpu_cores, disk]
        min_cpu_cores: 1
        disk: [{path: /, min_free: 1MB}]
      register: validation
    - ansible.builtin.assert:
        that:
          - gpu is not changed
          - validation.summary.status == 'pass'
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fqcn.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(playbook)
        subprocess.run(
            [bindir / "ansible-playbook", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", path],
            check=True,
        )
    doc = [bindir / "ansible-doc", "-t", "filter", "--json", "comfyops.comfyui.prometheus_config"]
    filters = subprocess.run(doc, capture_output=True, text=True, check=True)
    assert json.loads(filters.stdout)["comfyops.comfyui.prometheus_config"]["doc"]["short_description"]
    print(f"installed collection OK: {len(modules)} modules render and run by FQCN ({', '.join(modules)}); the exporter's library is in it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
