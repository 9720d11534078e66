"""The playbooks as AWX runs them: through ansible-runner's Python API, with a private data dir, an inventory, extra
vars and env, no TTY; outcomes are read from the job events and artifacts, not from text.

Two demo-like hosts on this machine (local connection, each its own base and port, loopback only). The deploy runs
as an AWX workflow with job slicing would: a canary job on the whole inventory, then two slices at once, each with
one host and the canary job's artifacts as extra vars (as AWX passes set_stats on): one release id, one canary.
Then health.yml, a second release, and rollback.yml back to the first, each through ansible-runner.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import ansible_runner
import pytest
import yaml
from ansible_collections.comfyops.comfyui.plugins.module_utils._release import Releases
from loopback import free_port

REPO = Path(__file__).resolve().parents[2]
HOSTS = ("sim-a", "sim-b")


def own(name: str, port: int) -> dict:
    """A host's own base and port, and the instance health.yml checks there (as an AWX inventory would hold them)."""
    base = "{{ _demo_root }}/%s/srv" % name
    instance = {"name": "default", "url": "http://127.0.0.1:%d" % port, "pidfile": base + "/run/default.pid", "output_dir": base + "/shared/output"}
    return {"comfyui_deploy_base": base, "comfyui_deploy_instances": [{"name": "default", "port": port}], "comfyui_health_instances": [instance]}


def inventory(hosts: dict[str, int]) -> dict:
    """The demo inventory's comfyui_hosts, with `hosts` (name -> port), each under its own base."""
    demo = yaml.safe_load((REPO / "inventories/demo/hosts.yml").read_text())["all"]["children"]["comfyui_hosts"]
    local = demo["hosts"]["localhost"]
    return {
        "all": {
            "children": {
                "comfyui_hosts": {
                    "hosts": {name: {**local, **own(name, port)} for name, port in hosts.items()},
                    "vars": {k: v for k, v in demo["vars"].items() if not k.startswith(("monitoring_stack_", "backup_"))},
                }
            }
        }
    }


class Job:
    """One ansible-runner job as AWX makes it, and what its events say."""

    def __init__(self, bed: dict, name: str, playbook: str, hosts: tuple[str, ...], extravars: dict):
        self.dir = bed["root"] / "jobs" / name
        (self.dir / "inventory").mkdir(parents=True)
        (self.dir / "inventory" / "hosts.json").write_text(json.dumps(inventory({h: bed["ports"][h] for h in hosts})))
        self.kwargs = {
            "private_data_dir": str(self.dir),
            "project_dir": str(REPO / "playbooks"),
            "playbook": playbook,
            "extravars": {"comfyui_health_options": {"service_manager": "standalone", "history_dir": str(bed["root"] / "health")}, **extravars},
            "envvars": bed["env"],
            "quiet": True,
            "timeout": 900,
        }
        self.runner = None

    def start(self):
        thread, self.runner = ansible_runner.run_async(**self.kwargs)
        return thread

    def run(self):
        self.runner = ansible_runner.run(**self.kwargs)
        return self

    @property
    def events(self) -> list[dict]:
        return list(self.runner.events)

    def text(self) -> str:
        return "\n".join(e.get("stdout", "") for e in self.events)

    def facts(self, name: str) -> list[tuple[str, object]]:
        """(host, value) of every set_fact of `name`, from runner_on_ok events."""
        out = []
        for e in self.events:
            data = e.get("event_data", {})
            if e["event"] == "runner_on_ok" and name in (data.get("res", {}).get("ansible_facts") or {}):
                out.append((data["host"], data["res"]["ansible_facts"][name]))
        return out

    @property
    def artifacts(self) -> dict:
        stats = [e for e in self.events if e["event"] == "playbook_on_stats"]
        assert len(stats) == 1, "one stats event"
        return stats[0]["event_data"].get("artifact_data", {})

    def role_hosts(self, play: str) -> set[str]:
        """The hosts on which the comfyui_deploy role ran a task in `play`."""
        return {
            e["event_data"]["host"]
            for e in self.events
            if e["event"] in ("runner_on_ok", "runner_on_failed") and e["event_data"].get("play") == play and e["event_data"].get("role") == "comfyui_deploy"
        }


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    root = tmp_path_factory.mktemp("awx")
    subprocess.run([str(REPO / "comfyui-simulator/tools/make-git-repo.sh"), str(root / "ComfyUI")], check=True, capture_output=True)
    env = {
        "COMFYOPS_DEMO_ROOT": str(root),
        "COMFYOPS_ALERT_STATE_DIR": str(root / "alerts"),
        "NO_PROXY": "*",
        "PIP_NO_INDEX": "1",
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "collections"),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": os.environ["PATH"],
    }
    for host in HOSTS:
        (root / host).mkdir()  # each host's base goes under it, as the demo's goes under its root
    bed = {"root": root, "env": env, "ports": {h: free_port() for h in HOSTS}}
    yield bed
    if any((root / h / "srv" / "bin" / "comfyuictl").exists() for h in HOSTS):
        Job(bed, "teardown", "shutdown.yml", HOSTS, {}).run()


def stats(bed, host: str) -> dict:
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open("http://127.0.0.1:%d/system_stats" % bed["ports"][host], timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def sliced(bed):
    """The workflow: the canary job on the whole inventory, then the rollout as two slices at once."""
    source = {"comfyui_deploy_source": {"type": "git", "url": str(bed["root"] / "ComfyUI"), "ref": "v0.8.0"}}
    canary = Job(bed, "canary", "deploy.yml", HOSTS, {**source, "comfyui_deploy_phase": "canary"}).run()
    assert canary.runner.status == "successful", canary.text()[-4000:]
    handed_on = {k: v for k, v in canary.artifacts.items() if k.startswith("comfyui_")}  # AWX: set_stats -> the next node's extra vars
    slices = [
        Job(bed, "slice-%d" % n, "deploy.yml", (host,), {**source, **handed_on, "comfyui_deploy_phase": "rollout", "comfyui_deploy_slices": 2})
        for n, host in enumerate(HOSTS, 1)
    ]
    threads = [job.start() for job in slices]
    for thread in threads:
        thread.join(900)
    # where the hosts stand right after the slices (other tests deploy and roll back later, in any order)
    after = {host: (Releases(str(bed["root"] / host / "srv")).query(), stats(bed, host)) for host in HOSTS}
    return canary, slices, after


def test_the_canary_job_deploys_the_canary_alone_and_hands_on_its_release(bed, sliced):
    canary, _slices, _after = sliced
    artifacts = canary.artifacts
    release = artifacts["comfyui_release_id_override"]
    assert artifacts["comfyui_deploy_canary"] == "sim-a" and artifacts["comfyui_deploy_canary_release"] == release
    assert artifacts["comfyops_deploy_outcome"]["deployed"] == ["sim-a"]
    assert canary.role_hosts("Canary") == {"sim-a"} and canary.role_hosts("The rest, in batches") == set()
    # the per-host outcome is event data: the summary fact of the set_fact task
    [(_host, summary)] = canary.facts("comfyops_deploy_summary")
    assert summary["release"] == release and summary["deployed"] == ["sim-a"]


def test_two_slices_at_once_deploy_one_release_id_with_one_canary(bed, sliced):
    canary, slices, after = sliced
    release = canary.artifacts["comfyui_release_id_override"]
    assert [job.runner.status for job in slices] == ["successful", "successful"], [job.text()[-3000:] for job in slices]
    summaries = [job.facts("comfyops_deploy_summary")[0][1] for job in slices]
    assert {s["release"] for s in summaries} == {release}, "every slice deployed the canary job's release id"
    assert [s["deployed"] for s in summaries] == [["sim-a"], ["sim-b"]]
    assert all(job.role_hosts("Canary") == set() for job in slices), "no slice ran a canary of its own"
    assert slices[0].role_hosts("The rest, in batches") == set(), "the canary host is not deployed again"
    assert slices[1].role_hosts("The rest, in batches") == {"sim-b"}
    for host, (releases, system) in after.items():
        assert releases["current"] == release, releases
        assert len(releases["releases"]) == 1, "%s has one release, built once: %s" % (host, releases["releases"])
        assert system["system"]["comfyui_version"] == "0.8.0"


def test_a_rollout_job_without_its_canary_jobs_artifacts_is_refused(bed, sliced):
    source = {"comfyui_deploy_source": {"type": "git", "url": str(bed["root"] / "ComfyUI"), "ref": "v0.8.0"}}
    job = Job(bed, "orphan-rollout", "deploy.yml", ("sim-b",), {**source, "comfyui_deploy_phase": "rollout"}).run()
    assert job.runner.status == "failed"
    failed = [e["event_data"] for e in job.events if e["event"] == "runner_on_failed"]
    assert failed and "needs the canary job's artifacts" in failed[0]["res"]["msg"], failed
    assert job.role_hosts("The rest, in batches") == set()


def test_a_batch_smaller_than_the_slices_is_refused_before_anything_changes(bed, sliced):
    source = {"comfyui_deploy_source": {"type": "git", "url": str(bed["root"] / "ComfyUI"), "ref": "v0.8.0"}}
    job = Job(bed, "bad-batch", "deploy.yml", HOSTS, {**source, "comfyui_deploy_batch": 1, "comfyui_deploy_slices": 3}).run()
    assert job.runner.status == "failed"
    assert "1 hosts at a time cannot hold across 3 job slices" in job.text()
    assert job.role_hosts("Canary") == set()


def test_health_then_a_second_release_then_rollback_through_ansible_runner(bed, sliced):
    health = Job(bed, "health", "health.yml", HOSTS, {"comfyui_health_report_dir": str(bed["root"] / "reports")}).run()
    assert health.runner.status == "successful", health.text()[-3000:]
    results = {
        e["event_data"]["host"]: e["event_data"]["res"]
        for e in health.events
        if e["event"] == "runner_on_ok" and e["event_data"].get("task_action") == "comfyops.comfyui.comfyui_health"
    }
    assert sorted(results) == list(HOSTS) and {r["state"] for r in results.values()} == {"healthy"}, results
    assert (bed["root"] / "reports" / "health.html").is_file()

    first = {h: Releases(str(bed["root"] / h / "srv")).query()["current"] for h in HOSTS}
    versions = {h: stats(bed, h)["system"]["comfyui_version"] for h in HOSTS}
    source = {"comfyui_deploy_source": {"type": "git", "url": str(bed["root"] / "ComfyUI"), "ref": "v0.8.1"}}
    second = Job(bed, "deploy-0.8.1", "deploy.yml", HOSTS, source).run()
    assert second.runner.status == "successful", second.text()[-3000:]
    assert sorted(second.artifacts["comfyops_deploy_outcome"]["deployed"]) == list(HOSTS)
    assert {stats(bed, h)["system"]["comfyui_version"] for h in HOSTS} == {"0.8.1"}

    back = Job(bed, "rollback", "rollback.yml", HOSTS, {}).run()
    assert back.runner.status == "successful", back.text()[-3000:]
    for host in HOSTS:
        assert Releases(str(bed["root"] / host / "srv")).query()["current"] == first[host]
        assert stats(bed, host)["system"]["comfyui_version"] == versions[host]


def test_a_branch_that_moves_between_the_canary_job_and_a_slice_fails_that_slice_before_its_switch(bed, sliced):
    repo = bed["root"] / "ComfyUI"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "branch", "-f", "moving", "v0.8.1"], check=True)
    source = {"comfyui_deploy_source": {"type": "git", "url": str(repo), "ref": "moving"}}
    canary = Job(bed, "moving-canary", "deploy.yml", HOSTS, {**source, "comfyui_deploy_phase": "canary"}).run()
    assert canary.runner.status == "successful", canary.text()[-3000:]
    handed_on = {k: v for k, v in canary.artifacts.items() if k.startswith("comfyui_")}
    moved = subprocess.run([*git, "commit-tree", "moving^{tree}", "-p", "moving", "-m", "moved"], check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([*git, "update-ref", "refs/heads/moving", moved], check=True)  # the branch moves on
    before = Releases(str(bed["root"] / "sim-b" / "srv")).query()["current"]
    job = Job(bed, "moving-slice", "deploy.yml", ("sim-b",), {**source, **handed_on, "comfyui_deploy_phase": "rollout"}).run()
    assert job.runner.status == "failed"
    failed = [e["event_data"]["res"].get("msg", "") for e in job.events if e["event"] == "runner_on_failed"]
    assert any("the ref moved" in m for m in failed), failed
    assert any("Nothing was switched" in m for m in failed), failed
    assert Releases(str(bed["root"] / "sim-b" / "srv")).query()["current"] == before, "sim-b stays where it was"
