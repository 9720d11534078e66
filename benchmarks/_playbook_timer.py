"""Shared by the benchmarks: run a one-play playbook on localhost and time it.

The play takes a timestamp before its first task and after its last, so each run gives the
wall time of the whole `ansible-playbook` process and of the tasks alone.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_STAMP = "{{ lookup('ansible.builtin.pipe', 'date +%s.%N') }}"


def playbook(tasks_yaml: str) -> str:
    """A play on localhost around `tasks_yaml` (task entries indented by four spaces)."""
    head = f'- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.set_fact:\n        t0: "{_STAMP}"\n'
    tail = f'    - ansible.builtin.set_fact:\n        t1: "{_STAMP}"\n'
    tail += '    - ansible.builtin.debug:\n        msg: "TASKS_SECONDS={{ t1 | float - t0 | float }}"\n'
    return head + tasks_yaml + tail


def run(path: Path, extra_vars: dict | None = None) -> tuple[float, float]:
    """(wall seconds, task seconds) of one ansible-playbook run; exits on failure."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(path)]
    for key, value in (extra_vars or {}).items():
        cmd += ["-e", f"{key}={value}"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{path.name} failed:\n{proc.stdout[-3000:]}")
    return wall, float(proc.stdout.split("TASKS_SECONDS=")[1].split()[0].strip("'\""))


def medians(rows: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _t in rows), statistics.median(t for _w, t in rows)


def compare(ours: Path, plain: Path, runs: int, title: str, ours_label: str, plain_label: str) -> None:
    """Run both playbooks alternately `runs` times and print their medians and the ratio last."""
    rows: dict[str, list[tuple[float, float]]] = {"ours": [], "plain": []}
    for _run in range(runs):
        rows["ours"].append(run(ours))
        rows["plain"].append(run(plain))
    (ours_wall, ours_tasks), (plain_wall, plain_tasks) = medians(rows["ours"]), medians(rows["plain"])
    print(f"{title}, median of {runs} runs (wall = whole ansible-playbook process; tasks = between two timestamps)")
    print(f"{ours_label:<28} wall {ours_wall:.2f} s, tasks {ours_tasks:.2f} s")
    print(f"{plain_label:<28} wall {plain_wall:.2f} s, tasks {plain_tasks:.2f} s")
    print(f"ratio plain/ours: wall {plain_wall / ours_wall:.1f}x, tasks {plain_tasks / ours_tasks:.1f}x")
