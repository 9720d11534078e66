"""The comfyui_proxy role's names on a real ansible-playbook run (this machine, nothing installed): an instance name
becomes a drain mark's file name and a line of nginx's configuration, so a name that is not one safe path component is
refused with the option and position named, before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run_role(tmp_path: Path, tasks_from: str, extra: dict) -> subprocess.CompletedProcess:
    book = tmp_path / "play.yml"
    book.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [{"ansible.builtin.include_role": {"name": "comfyops.comfyui.comfyui_proxy", "tasks_from": tasks_from}}],
                }
            ]
        )
    )
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"))
    settings = {"ansible_python_interpreter": sys.executable, **extra}
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(book), "-e", json.dumps(settings)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture
def proxy_dirs(tmp_path):
    site = tmp_path / "site.conf"
    site.write_text("# the proxy's site, present: drain acts\n")
    state = tmp_path / "state"
    (state / "drained").mkdir(parents=True)
    return {
        "comfyui_proxy_site_path": str(site),
        "comfyui_proxy_state_dir": str(state),
        "comfyui_proxy_conf_dir": str(tmp_path / "conf"),
        "comfyui_proxy_instances": [{"name": "gpu0", "port": 8188}, {"name": "gpu1", "port": 8189}],
    }


def test_drain_refuses_a_name_that_leaves_the_marks_directory(tmp_path, proxy_dirs):
    victim = tmp_path / "victim"
    victim.write_text("must survive\n")
    run = run_role(tmp_path, "drain", dict(proxy_dirs, comfyui_proxy_drain_instances=["gpu0", "../../victim"], comfyui_proxy_drain_state="in"))
    assert run.returncode != 0
    assert "comfyui_proxy_drain_instances[1]: instance name '../../victim' is not allowed" in run.stdout, run.stdout[-3000:]
    assert victim.read_text() == "must survive\n"
    assert not (tmp_path / "conf").exists(), "nothing is written before the names are checked"


def test_drain_refuses_a_name_that_is_not_an_instance_of_the_host(tmp_path, proxy_dirs):
    run = run_role(tmp_path, "drain", dict(proxy_dirs, comfyui_proxy_drain_instances=["gpu7"], comfyui_proxy_drain_state="out"))
    assert run.returncode != 0
    assert "comfyui_proxy_drain_instances: gpu7 not among this host's instances (gpu0, gpu1)" in run.stdout, run.stdout[-3000:]
    assert list((Path(proxy_dirs["comfyui_proxy_state_dir"]) / "drained").iterdir()) == []


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([{"name": "gpu0", "port": 8188}, {"name": "gpu1\n    server 203.0.113.9:80", "port": 8189}], "comfyui_proxy_instances[1].name: instance name"),
        ([{"name": "gpu0", "port": "8188; include /etc/shadow"}], "comfyui_proxy_instances[0].port: '8188; include /etc/shadow' is not a whole number"),
        ([{"name": "gpu0", "port": 70000}], "comfyui_proxy_instances[0].port: 70000 is not a whole number from 1 to 65535"),
        ([{"name": "gpu0", "port": 8188}, {"name": "gpu0", "port": 8189}], "instance names repeat (gpu0, gpu0)"),
    ],
    ids=["newline-in-name", "directive-in-port", "port-out-of-range", "same-name-twice"],
)
def test_preflight_refuses_instances_nginx_could_misread(tmp_path, proxy_dirs, instances, message):
    run = run_role(tmp_path, "preflight", dict(proxy_dirs, comfyui_proxy_instances=instances, comfyui_proxy_auth="none", comfyui_proxy_tls_mode="self_signed"))
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-3000:]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # each was accepted before issue 26; the first rendered a location nginx took that asked for no credentials
        ({"comfyui_proxy_max_body_size": "1m; location /open { auth_basic off; }"}, "comfyui_proxy_max_body_size: '1m; location /open"),
        ({"comfyui_proxy_rate": "10r/s; location /open { auth_basic off; }"}, "comfyui_proxy_rate: '10r/s; location /open"),
        ({"comfyui_proxy_access_log": "/tmp/a.json comfyui_json; location /open { auth_basic off; }"}, "comfyui_proxy_access_log: "),
        ({"comfyui_proxy_auth": "sso", "comfyui_proxy_sso_trusted": ["0.0.0.0/0"]}, "comfyui_proxy_allow_sso_from_anywhere: true"),
        ({"comfyui_proxy_auth": "none"}, "comfyui_proxy_auth: none on 0.0.0.0, an address that is not loopback"),
    ],
    ids=["body-size-injection", "rate-injection", "access-log-injection", "sso-from-everyone", "no-auth-on-public"],
)
def test_the_whole_role_refuses_before_it_writes_or_installs_anything(tmp_path, proxy_dirs, settings, message):
    """The role's main entry point: its preflight is the first task after the argument spec, so nothing is installed,
    no default site removed and no file written (the conf dir is not even created)."""
    users = [{"name": "ops", "password": "x-secret-y"}]
    run = run_role(tmp_path, "main", dict(proxy_dirs, comfyui_proxy_tls_mode="self_signed", comfyui_proxy_users=users, **settings))
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-3000:]
    assert "x-secret-y" not in run.stdout + run.stderr
    assert "TASK [comfyops.comfyui.comfyui_proxy : Install" not in run.stdout
    assert not (tmp_path / "conf").exists()


def test_preflight_accepts_the_hosts_own_instances(tmp_path, proxy_dirs):
    loopback_only = {"comfyui_proxy_listen_addresses": ["127.0.0.1"]}  # no authentication needs no opt-in there
    run = run_role(tmp_path, "preflight", dict(proxy_dirs, comfyui_proxy_auth="none", comfyui_proxy_tls_mode="self_signed", **loopback_only))
    assert run.returncode == 0, run.stdout[-3000:]
