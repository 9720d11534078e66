"""The backup role's comfyops-backup command (roles/backup/templates/comfyops-backup.j2), rendered and run against a
real restic repository: init once, a scheduled run (backup, retention, verify, metrics), and the standalone loop,
which runs at once when the last backup is more than a day old (persistent) and otherwise waits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jinja2
import pytest
from conftest import REPO, wait_until

sys.path.insert(0, str(REPO / "tests" / "unit" / "plugins" / "module_utils"))
from test_backup import make_base

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is installed by `make unit`")


@pytest.fixture
def command(tmp_path):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    text = env.from_string((REPO / "roles/backup/templates/comfyops-backup.j2").read_text()).render(
        backup_python=sys.executable, _backup_lib=str(REPO / "build" / "collections")
    )
    script = tmp_path / "comfyops-backup"
    script.write_text(text)
    script.chmod(0o755)
    password = tmp_path / "password"
    password.write_text("scheduled\n")
    password.chmod(0o600)
    config = {
        "base": str(make_base(tmp_path)),
        "repository": str(tmp_path / "repo"),
        "password_file": str(password),
        "env": {},
        "instances": ["default"],
        "host": "gpu-01",
        "include_outputs": False,
        "max_age_days": 14,
        "health_dir": "",
        "textfile_dir": str(tmp_path / "textfile"),
        "keep_last": 7,
        "keep_daily": 30,
        "keep_weekly": 8,
        "verify_subset": "10%",
        "randomized_delay": 0,
    }
    (tmp_path / "backup.json").write_text(json.dumps(config))
    environment = dict(os.environ, COMFYOPS_BACKUP_CONFIG=str(tmp_path / "backup.json"))

    def run(*args, **more):
        return subprocess.run([str(script), *args], capture_output=True, text=True, env=environment, timeout=120, check=False, **more)

    run.script, run.env, run.config = script, environment, config
    return run


def snapshots(config):
    env = dict(os.environ, RESTIC_REPOSITORY=config["repository"], RESTIC_PASSWORD_FILE=config["password_file"])
    return json.loads(subprocess.run(["restic", "snapshots", "--json"], capture_output=True, text=True, env=env, check=True).stdout or "[]")


def test_init_once_then_a_scheduled_run_backs_up_prunes_verifies_and_writes_metrics(command, tmp_path):
    assert command("init").stdout.strip() == "created"
    assert command("init").stdout.strip() == "exists"
    done = command("run")
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line) for line in done.stdout.splitlines()]
    assert [next(iter(step)) for step in steps] == ["backup", "prune", "verify"] and steps[2]["verify"]["ok"] is True
    metrics = (tmp_path / "textfile" / "comfyui_backup.prom").read_text()
    assert "comfyui_backup_snapshots 1.0" in metrics or "comfyui_backup_snapshots 1" in metrics
    assert "comfyui_backup_last_verify_ok 1.0" in metrics
    assert json.loads(command("status").stdout)["last_backup"]["snapshot_id"] == steps[0]["backup"]["snapshot_id"]


def test_the_standalone_loop_runs_at_once_when_overdue_and_waits_otherwise(command):
    command("init")
    state = Path(command.config["base"], "state", "backup-state.json")
    state.write_text(json.dumps({"last_backup": {"epoch": time.time() - 2 * 86400}}))  # two days ago: overdue
    loop = subprocess.Popen([str(command.script), "loop"], env=command.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: len(snapshots(command.config)) == 1, 90, "the overdue backup the loop starts at once")
        wait_until(lambda: json.loads(state.read_text())["last_backup"].get("snapshot_id"), 30, "the run to finish")
        assert loop.poll() is None  # it goes on, waiting a day for the next run
    finally:
        loop.kill()
        loop.wait()


def test_a_wrong_action_says_how_to_call_it(command):
    out = command("backup-now")
    assert out.returncode == 2 and "usage: comfyops-backup run|backup|verify|prune|metrics|init|status|loop" in out.stderr
