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
    print(f"installed collection OK: {len(modules)} modules render and run by FQCN ({', '.join(modules)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
