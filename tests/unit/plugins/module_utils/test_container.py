"""Container mode's container specs and compose file (filters comfyui_container and comfyui_compose)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from ansible_collections.comfyops.comfyui.plugins.module_utils._container import ContainerError, compose_file, container_spec
from ansible_collections.comfyops.comfyui.plugins.module_utils._server_args import server_args

SETTINGS = {"base": "/srv/comfyui", "image": "registry.example/comfyui:r1", "user": "998:998", "release": "r1", "startup_budget": 600}
INSTANCES = [{"name": "gpu0", "port": 8188, "cuda_device": 0}, {"name": "gpu1", "port": 8189, "cuda_device": 1, "environment": {"X": "1"}}]


def test_one_gpu_per_instance_as_a_device_request():
    specs = [container_spec(instance, SETTINGS) for instance in INSTANCES]
    assert [spec["device_requests"] for spec in specs] == [
        [{"driver": "nvidia", "capabilities": [["gpu"]], "device_ids": ["0"]}],
        [{"driver": "nvidia", "capabilities": [["gpu"]], "device_ids": ["1"]}],
    ]
    # the container sees its one GPU as device 0: no --cuda-device, otherwise the host's flags
    assert "--cuda-device" not in specs[1]["command"]
    shared = "/srv/comfyui/shared"
    data = {
        "output": shared + "/output",
        "input": shared + "/input",
        "user": shared + "/user",
        "temp": shared + "/temp/gpu1",
        "database": shared + "/user/comfyui-gpu1.db",
    }
    assert specs[1]["command"] == server_args({"name": "gpu1", "port": 8189}, "127.0.0.1", data)
    unplaced = container_spec({"name": "any", "port": 8190}, SETTINGS)
    assert unplaced["device_requests"] == [{"driver": "nvidia", "capabilities": [["gpu"]], "count": 1}]
    assert "device_requests" not in container_spec(INSTANCES[0], dict(SETTINGS, device="cpu"))


def test_volumes_user_health_restart_logs():
    spec = container_spec(INSTANCES[1], SETTINGS)
    assert spec["name"] == "comfyui-gpu1" and spec["image"] == "registry.example/comfyui:r1" and spec["user"] == "998:998"
    mounts = {m["target"]: m for m in spec["mounts"]}
    assert mounts["/srv/comfyui/shared/models"]["read_only"] is True
    assert {"/srv/comfyui/shared/input", "/srv/comfyui/shared/output", "/srv/comfyui/shared/user"} <= set(mounts)
    assert all(m["source"] == m["target"] for m in spec["mounts"])  # the host's paths, so flags and configs mean the same
    probe = spec["healthcheck"]["test"][-1]
    assert spec["healthcheck"]["start_period"] == "600s" and "'127.0.0.1', 8189" in probe and "'/system_stats'" in probe
    assert spec["restart_policy"] == "unless-stopped" and spec["network_mode"] == "host"
    assert spec["log_driver"] == "json-file" and spec["log_options"] == {"max-size": "50m", "max-file": "5"}
    assert spec["env"]["X"] == "1" and spec["env"]["HF_HOME"] == "/srv/comfyui/cache/huggingface"
    journald = container_spec(INSTANCES[0], dict(SETTINGS, log_driver="journald"))
    assert journald["log_options"] == {"tag": "comfyui-gpu0"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"log_driver": "syslog"}, "comfyui_deploy_docker_log_driver"),
        ({"startup_budget": 0}, "comfyui_deploy_startup_budget"),
        ({"vram_mode": "tiny"}, "comfyui_deploy_vram_mode"),
        ({"log_max_files": "many"}, "comfyui_deploy_docker_log_max_files"),
    ],
)
def test_bad_settings_name_the_variable(change, named):
    with pytest.raises(ContainerError, match=named):
        container_spec(INSTANCES[0], dict(SETTINGS, **change))


def test_compose_file_runs_the_same_containers_and_compose_reads_it(tmp_path):
    specs = [container_spec(instance, SETTINGS) for instance in INSTANCES]
    extras = {"redis_image": "redis:7", "prometheus_image": "prom/prometheus:v3", "prometheus_config": "/etc/prometheus/prometheus.yml"}
    extras.update(exporter_image="registry.example/comfyui:r1", exporter_command=["/opt/comfyui/venv/bin/python", "-m", "exporter"])
    compose = compose_file(specs, extras)
    assert set(compose["services"]) == {"comfyui-gpu0", "comfyui-gpu1", "redis", "prometheus", "comfyui-exporter"}
    gpu1 = compose["services"]["comfyui-gpu1"]
    assert gpu1["command"] == specs[1]["command"] and gpu1["user"] == "998:998"
    assert gpu1["deploy"]["resources"]["reservations"]["devices"] == [{"driver": "nvidia", "capabilities": ["gpu"], "device_ids": ["1"]}]
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(compose, sort_keys=False))
    tool = ["docker", "compose"] if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0 else None
    tool = tool or ([shutil.which("docker-compose")] if shutil.which("docker-compose") else None)
    assert tool, "docker compose or docker-compose is needed (make unit installs Debian's docker-compose)"
    checked = subprocess.run([*tool, "-f", str(path), "config"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    normalised = yaml.safe_load(checked.stdout)
    assert normalised["services"]["comfyui-gpu1"]["healthcheck"]["start_period"] in ("10m0s", "600s", "10m")
