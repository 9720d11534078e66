"""Rollback, host side: from the decision to a healthy previous release, on this machine.

The demo inventory (standalone, CPU), a scratch root and a free loopback port. Times come from
the ansible.posix.json callback's per-task start and end stamps, so Ansible's start-up and the
controller-side decision are not counted:
  - rollback.yml: from its first task on the host (drain) to the end of the health check;
  - automatic rollback: a release that crashes at start fails gate 1; from the rescue's first
    task to the previous release verified healthy;
  - the plain alternative, without kept releases: rebuild the previous release from its source
    (checkout, new venv, configuration, restart, both gates), the comfyui_deploy role's span.
The simulator's requirements are empty, so the rebuild's venv is the cheapest one possible:
the ratio is a lower bound.
  .venv/bin/python benchmarks/rollback_time.py [RUNS]
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests" / "support"))
from loopback import free_port  # noqa: E402


def stamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Site:
    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        subprocess.run([str(REPO / "comfyui-simulator/tools/make-git-repo.sh"), str(root / "ComfyUI")], check=True, capture_output=True)

    def run(self, book: str, ref: str = "v0.8.0", expect_ok: bool = True, **extra) -> list[dict]:
        """Run a playbook; return its tasks as (name, start, end) dicts from the JSON callback."""
        env = dict(os.environ, COMFYOPS_DEMO_ROOT=str(self.root), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
        env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "collections")
        variables = {
            "comfyui_deploy_source": {"type": "git", "url": str(self.root / "ComfyUI"), "ref": ref},
            "comfyui_deploy_instances": [{"name": "default", "port": self.port}],
            **extra,
        }
        cmd = [str(BIN / "ansible-playbook"), "-i", str(REPO / "inventories/demo"), str(REPO / "playbooks" / book), "-e", json.dumps(variables)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if (proc.returncode == 0) != expect_ok:
            raise SystemExit(f"{book} {ref} {extra}: rc {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        doc = json.loads(proc.stdout[proc.stdout.index("{") :])
        return [
            {"name": t["task"]["name"].split(" : ", 1)[-1], "start": stamp(t["task"]["duration"]["start"]), "end": stamp(t["task"]["duration"]["end"])}
            for play in doc["plays"]
            for t in play["tasks"]
            if t["task"].get("duration", {}).get("end")
        ]


def span(tasks: list[dict], first, last) -> float:
    """Seconds from the start of the first task matching `first` to the end of the last matching `last`."""
    starts = [t["start"] for t in tasks if first(t["name"])]
    ends = [t["end"] for t in tasks if last(t["name"])]
    if not starts or not ends:
        raise SystemExit("tasks not found in: %s" % [t["name"] for t in tasks])
    return max(ends) - min(starts)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rows: dict[str, list[float]] = {"rollback.yml": [], "automatic rollback (gate 1 failed)": [], "rebuild previous release": []}
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="comfyops-rollback.") as tmp:
        site = Site(Path(tmp))
        try:
            site.run("deploy.yml", "v0.8.0")
            for run in range(runs):
                site.run("deploy.yml", "v0.8.1")  # B serves, A is the rollback target
                tasks = site.run("rollback.yml")
                rows["rollback.yml"].append(span(tasks, lambda n: n.startswith("Rollback |"), lambda n: n.startswith("Rollback |")))
                site.run("deploy.yml", "v0.8.1")
                tasks = site.run("deploy.yml", "v0.8.1", expect_ok=False, comfyui_deploy_environment={"COMFYUI_SIM_CRASH_AT_START": "1", "RUN": str(run)})
                rows["automatic rollback (gate 1 failed)"].append(
                    span(tasks, lambda n: n == "Activate | which gate failed", lambda n: n == "Activate | verify the previous release is healthy again")
                )
                # without kept releases: build A again from its source, with a venv of its own
                rebuild = {"comfyui_release_id_override": f"rebuild-{run}", "comfyui_deploy_pip_extra_args": f"--retries {run + 5}"}
                tasks = site.run("deploy.yml", "v0.8.0", **rebuild)
                rows["rebuild previous release"].append(
                    span(tasks, lambda n: n.startswith("Preflight |"), lambda n: n.startswith("Activate | the gates passed"))
                )
        finally:
            site.run("shutdown.yml")
    print(f"Rollback on this machine (standalone, CPU), host side, median of {runs} runs")
    med = {k: statistics.median(v) for k, v in rows.items()}
    for label, value in med.items():
        print(f"  {label:<40} {value:6.2f} s   {['%.2f' % x for x in rows[label]]}")
    print(f"ratio rebuild / rollback.yml: {med['rebuild previous release'] / med['rollback.yml']:.1f}x")


if __name__ == "__main__":
    main()
