"""Every module's EXAMPLES run through ansible-playbook: arguments are accepted as written.

The examples target production hosts (GPUs, systemd units, model hosts), so on this machine
they may fail on what they check; what must not happen is a rejected argument or a broken
template. Each example task runs with ignore_errors, and its result is inspected.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

BIN = Path(sys.executable).parent
MODULES = sorted(p for p in (REPO / "plugins" / "modules").glob("*.py"))
REJECTED = ("Unsupported parameters", "missing required arguments", "is not a valid", "value of", "Invalid type", "template error", "undefined variable")


def examples(path: Path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EXAMPLES":
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"{path.name} has no EXAMPLES")


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_examples_are_accepted(module, tmp_path):
    tasks = examples(module)
    assert tasks, f"{module.stem}: EXAMPLES is empty"
    for task in tasks:
        for args in task.values():
            if isinstance(args, dict):
                # tests send traffic to loopback only: no probes of the examples' public endpoints
                args.pop("endpoints", None)
                args.pop("dns_names", None)
        task["ignore_errors"] = True
        task["register"] = "result"
        task.pop("until", None)
        task.pop("retries", None)
        task.pop("delay", None)
        task.pop("when", None)
    checks = []
    for index, task in enumerate(tasks):
        task["register"] = f"r{index}"
        checks.append(f"r{index}")
    report = {"name": "report", "ansible.builtin.debug": {"msg": "{{ {" + ", ".join(f"'{c}': {c}" for c in checks) + "} | to_json }}"}}
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"vault_hf_token": "hf_dummy"}, "tasks": [*tasks, report]}]
    path = tmp_path / "examples.yml"
    path.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"))
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", "--check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    results = [task["hosts"]["localhost"] for task in data["plays"][0]["tasks"][:-1]]
    assert len(results) == len(tasks), proc.stdout[-2000:]
    for task, outcome in zip(tasks, results, strict=True):
        message = str(outcome.get("msg", ""))
        assert not any(word in message for word in REJECTED), f"{module.stem} example {task.get('name')!r}: {message}"
