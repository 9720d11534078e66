"""monitoring.yml on this machine as `make demo` runs it (the demo inventory, the standalone manager, Debian's
Prometheus, Alertmanager and node_exporter, the comfyops exporter in its own venv), on ports of the test's own:
every target up through Prometheus's API, every dashboard query returns data, a rerun and --check change nothing.
The exporter sees two H200s through a pinned NVML stand-in (tests/support/fake_nvml_h200), so the GPU dashboard is
checked too on a machine without a GPU."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from dashboard_check import empty_panels
from demo_playbook import REPO, demo_playbook
from loopback import free_port

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus is installed by `make system`")
WHEELS = REPO / ".cache" / "wheels"


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def query(prom: str, expr: str) -> list:
    return get_json("%s/api/v1/query?%s" % (prom, urllib.parse.urlencode({"query": expr})))["data"]["result"]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)  # poll: Prometheus has no push signal for "scraped"
    raise AssertionError("%s: not within %.0f s" % (what, timeout))


def changed(out: subprocess.CompletedProcess[str]) -> int:
    return int(re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", out.stdout).group(1))


def changed_tasks(out: subprocess.CompletedProcess[str]) -> list[str]:
    """The names of the tasks that reported a change, for a readable failure."""
    names, task = [], ""
    for line in out.stdout.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line
        elif line.startswith("changed:"):
            names.append(task)
    return names


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    subprocess.run([str(REPO / "tests/testbed/wheels.sh"), str(WHEELS)], check=True, capture_output=True)
    root = tmp_path_factory.mktemp("monitoring-demo")
    subprocess.run([str(REPO / "comfyui-simulator/tools/make-git-repo.sh"), str(root / "ComfyUI")], check=True, capture_output=True)
    ports = {name: free_port() for name in ("comfyui", "exporter", "node", "prometheus", "alertmanager")}
    extra = {
        "comfyui_deploy_instances": [{"name": "default", "port": ports["comfyui"]}],
        "monitoring_stack_exporter_port": ports["exporter"],
        "monitoring_stack_node_exporter_port": ports["node"],
        "monitoring_stack_prometheus_port": ports["prometheus"],
        "monitoring_stack_alertmanager_port": ports["alertmanager"],
        "monitoring_stack_scrape_interval": 1,
        "monitoring_stack_evaluation_interval": 1,
        "monitoring_stack_exporter_cache_seconds": 0.5,
        "monitoring_stack_exporter_pip_env": {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELS)},
        "monitoring_stack_exporter_environment": {"PYTHONPATH": str(REPO / "tests/support/fake_nvml_h200")},
    }
    deployed = demo_playbook(root, "deploy.yml", extra)
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    first = demo_playbook(root, "monitoring.yml", extra)
    assert first.returncode == 0, first.stdout[-4000:]
    yield root, ports, extra, first
    subprocess.run([str(root / "monitoring/bin/comfyops-monctl"), "stop"], capture_output=True, check=False)
    demo_playbook(root, "shutdown.yml", extra)


def test_every_target_is_up_and_a_rerun_and_check_mode_change_nothing(stack):
    root, ports, extra, first = stack
    assert changed(first) > 0
    prom = "http://127.0.0.1:%d" % ports["prometheus"]

    def all_up():
        targets = get_json(prom + "/api/v1/targets")["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in targets} if all(t["health"] == "up" for t in targets) and len(targets) == 4 else None

    assert wait_for(all_up, 60, "every target up") == {"comfyui": "up", "node": "up", "prometheus": "up", "alertmanager": "up"}
    assert all(r["metric"]["host"] == "localhost" for r in query(prom, "up"))
    again = demo_playbook(root, "monitoring.yml", extra)
    assert again.returncode == 0 and changed(again) == 0, changed_tasks(again) or again.stdout[-3000:]
    checked = demo_playbook(root, "monitoring.yml", extra, "--check")
    assert checked.returncode == 0 and changed(checked) == 0, changed_tasks(checked) or checked.stdout[-3000:]
    status = subprocess.run([str(root / "monitoring/bin/comfyops-monctl"), "status"], capture_output=True, text=True, check=False)
    assert status.returncode == 0 and status.stdout.count("running (pid") == 4, status.stdout
    rules = get_json(prom + "/api/v1/rules")["data"]["groups"]
    assert sum(len(g["rules"]) for g in rules) >= 14


def test_every_dashboard_query_returns_data(stack):
    root, ports, extra, _first = stack
    prom = "http://127.0.0.1:%d" % ports["prometheus"]
    comfy = "http://127.0.0.1:%d" % ports["comfyui"]
    # real work for the panels to show: a smoke run through comfyui_health (its textfile), prompts that succeed and one
    # that fails in a node (LoadImage of a file that is not an image, as recorded from ComfyUI 0.8.0)
    health = demo_playbook(
        root,
        "health.yml",
        extra,
        "-e",
        json.dumps(
            {
                "comfyui_health_report_dir": str(root / "reports"),
                "comfyui_health_options": {"service_manager": "standalone", "textfile_dir": str(root / "monitoring/textfile")},
                "comfyui_health_instances": [
                    {"name": "default", "url": comfy, "pidfile": str(root / "srv/run/default.pid"), "output_dir": str(root / "srv/shared/output")}
                ],
            }
        ),
    )
    assert health.returncode == 0, health.stdout[-3000:]
    (root / "srv/shared/input/broken.png").write_text("not an image")
    broken = json.loads((REPO / "../shared/comfyui-api/error_workflow.json").read_text()) if (REPO / "../shared").exists() else None
    broken = broken or {
        "1": {"class_type": "LoadImage", "inputs": {"image": "broken.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "err"}},
    }
    smoke = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 3}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "dash"}},
    }
    for prompt in (smoke, broken):
        body = json.dumps({"prompt": prompt, "client_id": "dashboards"}).encode()
        request = urllib.request.Request(comfy + "/prompt", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
    wait_for(lambda: query(prom, "comfyui_node_errors_total") and query(prom, 'comfyui_prompts_total{outcome="success"} > 0'), 60, "the prompts counted")
    count, empty = empty_panels(prom, 60)
    assert count >= 30
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_the_exporter_reports_the_release_and_the_gpus(stack):
    root, ports, _extra, _first = stack
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % ports["exporter"], timeout=10) as answer:
        text = answer.read().decode()
    release = Path(root / "srv/current").resolve().name
    assert 'release="%s"' % release in text
    assert text.count("comfyui_gpu_memory_total_bytes{") == 2 and "NVIDIA H200" in text
