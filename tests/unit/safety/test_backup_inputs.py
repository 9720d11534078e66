"""Issue 26: the backup's input parsed before restic sees it. Each case passed before: a host 'a,release=forged' forged
a release tag (restic splits tags on commas, and two instances already came out as two tags), a link planted at
<base>/backup/staging made the backup write outside the base, a base that did not exist was 'successfully' backed up
empty, an unreachable repository read as 'not initialised yet', keep_last -1 became 0, and a password inside a rest:
repository URL was shown."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.comfyops.comfyui.plugins.filter.backup_preflight import backup_preflight
from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import (
    BackupError,
    Backups,
    Restic,
    check_ranges,
    repository_secrets,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def repo(tmp_path):
    password = tmp_path / "restic-password"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    return Restic(str(tmp_path / "repo"), str(password), cache_dir=str(tmp_path / "cache"), lock_wait=3)


def a_base(tmp_path):
    base = tmp_path / "srv"
    (base / "shared" / "user" / "default").mkdir(parents=True)
    (base / "shared" / "user" / "default" / "flow.json").write_text("{}")
    return base


@pytest.mark.parametrize(("host", "instances"), [("a,release=forged", ["default"]), ("gpu-01", ["default,release=forged"]), ("gpu 01", [])])
def test_a_host_or_instance_that_could_forge_a_tag_is_refused(tmp_path, repo, host, instances):
    with pytest.raises(BackupError, match="cannot name a backup"):
        Backups(str(a_base(tmp_path)), repo, instances, host=host)


def test_two_instances_are_one_tag_and_read_back_as_two(tmp_path, repo):
    backups = Backups(str(a_base(tmp_path)), repo, ["gpu0", "gpu1"], host="gpu-01")
    backups.backup()
    [snap] = backups.snapshots()
    assert snap.tag("instances") == "gpu0+gpu1" and [t for t in snap.tags if t.startswith(("instances", "gpu1"))] == ["instances=gpu0+gpu1"]
    assert backups.info()[0]["instances"] == ["gpu0", "gpu1"]


def test_a_base_that_does_not_exist_fails_and_makes_nothing(tmp_path, repo):
    missing = tmp_path / "no-such-base"
    with pytest.raises(BackupError, match="base: %s does not exist" % missing):
        Backups(str(missing), repo, ["default"], host="gpu-01").backup()
    assert not missing.exists()


@pytest.mark.parametrize("where", ["backup", "backup/staging"])
def test_a_link_planted_for_the_staging_tree_is_refused_and_nothing_is_written_outside(tmp_path, repo, where):
    base = a_base(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (base / where).parent.mkdir(parents=True, exist_ok=True)
    (base / where).symlink_to(outside)
    with pytest.raises(BackupError, match="is a symbolic link"):
        Backups(str(base), repo, ["default"], host="gpu-01").backup()
    assert list(outside.iterdir()) == []


def test_an_unreachable_repository_fails_naming_it_and_hides_its_credentials(tmp_path):
    password = tmp_path / "pw"
    password.write_text("pw\n")
    with socket.socket() as closed:  # bound, never listening: connection refused
        closed.bind(("127.0.0.1", 0))
        url = "rest:http://backup:s3cret-pass@127.0.0.1:%d/repo" % closed.getsockname()[1]
        restic = Restic(url, str(password), cache_dir=str(tmp_path / "cache"), lock_wait=1)
        with pytest.raises(BackupError) as caught:
            restic.initialised()
    assert "cannot be reached" in str(caught.value) and "rest:http://127.0.0.1:" in str(caught.value)
    assert "s3cret-pass" not in str(caught.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [("keep_last", -1), ("keep_last", 0), ("keep_daily", -1), ("keep_weekly", 10**6), ("max_age_days", 0), ("lock_wait", -5), ("lock_wait", 10**6)],
)
def test_numbers_outside_their_range_are_refused_naming_the_option(option, value):
    with pytest.raises(BackupError, match="^%s: %r is outside " % (option, value)):
        check_ranges({option: value})


def test_the_credentials_of_a_repository_url_are_found_for_no_log():
    assert set(repository_secrets("rest:https://backup:s3cret@host:8000/repo")) == {"backup:s3cret", "backup", "s3cret"}
    assert repository_secrets("/var/backups/restic") == [] and repository_secrets("s3:https://s3.example.org/bucket") == []


def test_the_module_never_shows_a_password_from_the_repository_url_even_at_vvv(tmp_path):
    base = a_base(tmp_path)
    book = tmp_path / "play.yml"
    url = "rest:http://backup:s3cret-pass@127.0.0.1:9/repo"
    task = {"comfyops.comfyui.comfyui_backup": {"base": str(base), "repository": url, "password": "pw-x", "state": "present", "lock_wait": 1}}
    book.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-vvv",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter=" + sys.executable,
            str(book),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert run.returncode != 0 and "cannot be reached" in run.stdout, run.stdout[-3000:]
    assert "s3cret-pass" not in run.stdout + run.stderr


GOOD = {
    "base": "/srv/comfyui",
    "repository": "s3:https://AKIA:s3cr3tKEY@storage.example/bucket",
    "password": "correct horse",
    "env": {"AWS_ACCESS_KEY_ID": "AKIA"},
    "host": "gpu-01",
    "instances": ["gpu0", "gpu1"],
    "max_age_days": 14,
    "health_dir": "/var/lib/comfyops/health",
    "textfile_dir": "/var/lib/prometheus/node-exporter",
    "keep_last": 7,
    "keep_daily": 30,
    "keep_weekly": 8,
    "verify_subset": "5%",
    "schedule": "*-*-* 03:00:00",
    "randomized_delay": 3600,
    "python": "/usr/bin/python3",
}


def test_the_roles_preflight_passes_good_settings():
    assert backup_preflight(GOOD) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base": "srv/comfyui"}, "backup_base: 'srv/comfyui' is not a usable absolute path"),
        ({"repository": "-o=sftp.command=touch /tmp/x"}, "backup_repository: not a restic repository"),
        ({"password": ""}, "backup_password: a non-empty text is required"),
        ({"env": {"BAD NAME": "x"}}, "backup_env: 'BAD NAME' is not a variable name"),
        ({"host": "a,release=forged"}, "the inventory host name: 'a,release=forged' cannot name a backup"),
        ({"instances": ["ok", "bad,tag"]}, "backup_instances[1]: 'bad,tag' cannot name a backup"),
        ({"keep_last": 0}, "backup_keep_last: 0 is outside 1 to 100000"),
        ({"keep_daily": "30"}, "backup_keep_daily: expected a number, got str"),
        ({"verify_subset": "--read-data"}, "backup_verify_subset: '--read-data' is not what restic reads"),
        ({"schedule": "daily\nExecStartPre=/bin/sh -c 'id'"}, "backup_schedule: "),
        ({"randomized_delay": -1}, "backup_randomized_delay: expected whole seconds from 0 to 86400, got -1"),
    ],
)
def test_the_roles_preflight_names_each_problem_before_anything_is_written(change, message):
    problems = backup_preflight(dict(GOOD, **change))
    assert len(problems) == 1 and problems[0].startswith(message), problems
    assert "s3cr3tKEY" not in problems[0] and "correct horse" not in problems[0]


def test_the_backup_role_runs_its_preflight_before_any_task_that_writes():
    tasks = yaml.safe_load((REPO / "roles" / "backup" / "tasks" / "main.yml").read_text())
    assert "backup_preflight" in str(tasks[0]) and "ansible.builtin.assert" in tasks[0]


@pytest.mark.parametrize("role", ["gpu_host", "monitoring_stack", "comfyui_proxy", "comfyui_deploy", "backup"])
def test_every_role_checks_its_input_before_its_first_task_that_writes(role):
    """Issue 26 part 3: each role's first task is an assert over its settings (or its preflight file's is), so a bad
    setting fails the role before anything on the host changes (the proxy removed nginx's default site first)."""
    main = yaml.safe_load((REPO / "roles" / role / "tasks" / "main.yml").read_text())
    first = main[0]
    if "ansible.builtin.import_tasks" in first or "ansible.builtin.include_tasks" in first:
        target = first.get("ansible.builtin.import_tasks") or first["ansible.builtin.include_tasks"]
        first = yaml.safe_load((REPO / "roles" / role / "tasks" / (target if isinstance(target, str) else target["file"])).read_text())[0]
    assert "ansible.builtin.assert" in first, "%s starts with %s" % (role, first.get("name"))


def test_package_names_apt_could_read_as_options_are_refused_naming_the_variable():
    from ansible_collections.comfyops.comfyui.plugins.filter.debian_packages import debian_packages

    assert debian_packages(["git", "python3-venv", "nginx=1.22.1-9"], "gpu_host_packages") == []
    assert debian_packages(["git", "-oAPT::Get::AllowUnauthenticated=true"], "gpu_host_packages") == [
        "gpu_host_packages[1]: '-oAPT::Get::AllowUnauthenticated=true' is not a package name, with an optional =version"
    ]
    assert debian_packages("restic --allow-downgrades", "backup_restic_package")[0].startswith("backup_restic_package: 'restic --allow")
