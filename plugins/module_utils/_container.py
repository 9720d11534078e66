# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container mode: one container per ComfyUI instance, decided once, and the compose file made from the same specs.

``container_spec`` gives the options of community.docker.docker_container for one instance: the release's image,
ComfyUI's flags (the same rule as on a host), the data directories bind-mounted at the paths they have on the host
(so the flags, extra_model_paths.yaml and backups mean the same inside and out), the host's service user, one GPU
per instance as a device request, a health check on /system_stats with the start-up budget as its start period, a
restart policy and bounded logs. ``compose_file`` turns those specs (plus Redis, Prometheus and the exporter) into
a compose file for people who run containers by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils import _docker
from ansible_collections.comfyops.comfyui.plugins.module_utils._envfile import EnvError, split_secrets
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, absolute_path
from ansible_collections.comfyops.comfyui.plugins.module_utils._server_args import ArgsError, server_args

LOG_DRIVERS = ("json-file", "journald", "local")


class ContainerError(ValueError):
    """A setting that cannot become a container, with the variable named."""


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise ContainerError("%s must be a whole number of 1 or more, got %r" % (where, value))
    return int(value)


def container_spec(instance: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """community.docker.docker_container options for one instance; every value that reaches Docker is parsed first
    (module_utils/_docker.py), and ContainerError names the variable.

    settings: base, image, prefix, listen, device, vram_mode, whitelist_nodes, extra_args, environment and secret_names
    (the secrets are named in secret_env, never valued: instances.yml adds them; the instance's
    environment is added), user ("uid:gid"), startup_budget, stop_timeout, network_mode, log_driver, log_max_size,
    log_max_files, restart_policy, memory (optional), release.
    """
    try:
        return _spec(instance, settings)
    except (_docker.DockerValueError, PathError) as exc:
        raise ContainerError(str(exc)) from None


def _parsed(instance: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that reach Docker as names, sizes and references, parsed; DockerValueError or PathError otherwise."""
    name = str(instance.get("name"))
    environment = {**(settings.get("environment") or {}), **(instance.get("environment") or {})}
    for key in environment:
        _docker.env_name(key, "comfyui_deploy_environment / comfyui_deploy_instances[].environment key")
    parsed = {
        "base": absolute_path(str(settings["base"]).rstrip("/"), "comfyui_deploy_base"),
        "name": _docker.container_name("%s%s" % (settings.get("prefix", "comfyui-"), name), "comfyui_deploy_container_prefix + instance name"),
        "image": _docker.image_reference(settings["image"], "comfyui_deploy_image_repository:release id"),
        "network_mode": _docker.network_mode(settings.get("network_mode", "host"), "comfyui_deploy_docker_network_mode"),
        "log_max_size": _docker.size(settings.get("log_max_size", "50m"), "comfyui_deploy_docker_log_max_size"),
        "restart_policy": _docker.restart_policy(settings.get("restart_policy", "unless-stopped"), "comfyui_deploy_docker_restart_policy"),
        "user": _docker.user(settings["user"], "the service user's uid:gid"),
    }
    if settings.get("memory"):
        parsed["memory"] = _docker.size(settings["memory"], "comfyui_deploy_memory_max")
    return parsed


def settings_problems(instances: Sequence[Any], settings: Mapping[str, Any], images: Mapping[str, Any]) -> list[str]:
    """Every problem with container mode's settings, before anything is built (the role's preflight): each instance's
    container (as container_spec parses it, with the service user's ids still unknown), and the images:
    repository, base (unless auto), CPU image, CUDA images and the build network."""
    problems: list[str] = []

    def check(parse: Any, value: Any, option: str) -> None:
        try:
            parse(value, option)
        except (_docker.DockerValueError, PathError) as exc:
            problems.append(str(exc))

    check(_docker.repository, images.get("repository"), "comfyui_deploy_image_repository")
    if images.get("base") not in (None, "", "auto"):
        check(_docker.image_reference, images.get("base"), "comfyui_deploy_image_base")
    check(_docker.image_reference, images.get("cpu_image"), "comfyui_deploy_cpu_image")
    for version, image in (images.get("cuda_images") or {}).items():
        check(_docker.image_reference, image, "comfyui_deploy_cuda_images[%s]" % version)
    if images.get("build_network"):
        check(_docker.network_mode, images["build_network"], "comfyui_deploy_docker_build_network")
    for instance in instances:  # the image is the repository above tagged with the release id (checked on its own)
        if isinstance(instance, Mapping):
            try:
                _parsed(instance, dict(settings, image="placeholder", user="0:0"))
            except (_docker.DockerValueError, PathError) as exc:
                if str(exc) not in problems:
                    problems.append(str(exc))
    return problems


def _spec(instance: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    parsed = _parsed(instance, settings)
    name = str(instance.get("name"))
    base = parsed["base"]
    shared = base + "/shared"
    data = {
        "output": shared + "/output",
        "input": shared + "/input",
        "user": shared + "/user",
        "temp": "%s/temp/%s" % (shared, name),
        "database": "%s/user/comfyui-%s.db" % (shared, name),
    }
    device = str(settings.get("device", "cuda"))
    gpu = instance.get("cuda_device")
    # the container sees only its own GPU, as device 0: --cuda-device would name one it does not have
    flags_instance = {key: value for key, value in instance.items() if key != "cuda_device"}
    try:
        args = server_args(
            flags_instance,
            str(settings.get("listen", "127.0.0.1")),
            data,
            device,
            str(settings.get("vram_mode", "normal")),
            settings.get("whitelist_nodes") or [],
            settings.get("extra_args") or [],
        )
    except ArgsError as exc:
        raise ContainerError(str(exc)) from None
    log_driver = str(settings.get("log_driver", "json-file"))
    if log_driver not in LOG_DRIVERS:
        raise ContainerError("comfyui_deploy_docker_log_driver must be one of %s, got %r" % (", ".join(LOG_DRIVERS), log_driver))
    budget = _positive(settings.get("startup_budget", 180), "comfyui_deploy_startup_budget")
    port = int(instance["port"])
    cache = base + "/cache"
    environment = {
        "HOME": cache,
        "XDG_CACHE_HOME": cache,
        "TRITON_CACHE_DIR": cache + "/triton",
        "CUDA_CACHE_PATH": cache + "/nv",
        "HF_HOME": cache + "/huggingface",
    }
    # a release keeps this spec: the secrets (filter secret_env) are not in it, only their names; instances.yml adds
    # their values from the current inventory when it starts the container
    operator = {str(k): v for k, v in {**(settings.get("environment") or {}), **(instance.get("environment") or {})}.items()}
    try:
        parts = split_secrets(operator, settings.get("secret_names") or [], "comfyui_deploy_environment")
    except EnvError as exc:
        raise ContainerError(str(exc)) from None
    environment.update(parts["public"])
    log_options: dict[str, str] = {}
    if log_driver in ("json-file", "local"):
        log_options = {
            "max-size": parsed["log_max_size"],
            "max-file": str(_positive(settings.get("log_max_files", 5), "comfyui_deploy_docker_log_max_files")),
        }
    else:
        log_options = {"tag": "comfyui-" + name}
    spec: dict[str, Any] = {
        "name": parsed["name"],
        "image": parsed["image"],
        "command": args,
        "env": environment,
        "secret_env": parts["record"]["names"],
        "user": parsed["user"],
        "network_mode": parsed["network_mode"],
        "mounts": [
            {"type": "bind", "source": shared + "/models", "target": shared + "/models", "read_only": True},
            {"type": "bind", "source": shared + "/input", "target": shared + "/input"},
            {"type": "bind", "source": shared + "/output", "target": shared + "/output"},
            {"type": "bind", "source": shared + "/user", "target": shared + "/user"},
            {"type": "bind", "source": shared + "/temp", "target": shared + "/temp"},
            {"type": "bind", "source": cache, "target": cache},
        ],
        "healthcheck": {
            "test": [
                "CMD",
                "/opt/comfyui/venv/bin/python",
                "-c",
                "import http.client as h; c = h.HTTPConnection('127.0.0.1', %d, timeout=5); c.request('GET', '/system_stats'); "
                "raise SystemExit(c.getresponse().status != 200)" % port,
            ],
            "interval": "15s",
            "timeout": "10s",
            "retries": 3,
            "start_period": "%ds" % budget,
        },
        "restart_policy": parsed["restart_policy"],
        "stop_timeout": _positive(settings.get("stop_timeout", 300), "comfyui_deploy_stop_timeout"),
        "log_driver": log_driver,
        "log_options": log_options,
        "labels": {
            "io.comfyops.instance": name,
            "io.comfyops.release": str(settings.get("release", "")),
            "io.comfyops.port": str(port),
        },
        "init": True,
    }
    if device != "cpu":
        request: dict[str, Any] = {"driver": "nvidia", "capabilities": [["gpu"]]}
        if gpu is not None:
            request["device_ids"] = [str(gpu)]
        else:
            request["count"] = 1
        spec["device_requests"] = [request]
    if "memory" in parsed:
        spec["memory"] = parsed["memory"]
    return spec


def compose_file(specs: Sequence[Mapping[str, Any]], extras: Mapping[str, Any]) -> dict[str, Any]:
    """A compose file (the Compose Specification, read by docker compose and docker-compose 1.29) with the instances'
    containers and, when given in extras, redis (image), prometheus (image, config path) and the exporter (image, command)."""
    services: dict[str, Any] = {}
    for spec in specs:
        service: dict[str, Any] = {
            "image": spec["image"],
            "container_name": spec["name"],
            "command": list(spec["command"]),
            # a secret is named without a value: compose takes it from the environment it runs in
            "environment": {**dict(spec["env"]), **{name: None for name in spec.get("secret_env", [])}},
            "user": spec["user"],
            "network_mode": spec["network_mode"],
            "init": True,
            "volumes": [{"type": "bind", "source": m["source"], "target": m["target"], "read_only": bool(m.get("read_only", False))} for m in spec["mounts"]],
            "healthcheck": dict(spec["healthcheck"]),
            "restart": spec["restart_policy"],
            "stop_grace_period": "%ds" % spec["stop_timeout"],
            "logging": {"driver": spec["log_driver"], "options": dict(spec["log_options"])},
            "labels": dict(spec["labels"]),
        }
        if spec.get("device_requests"):
            devices = []
            for request in spec["device_requests"]:
                device: dict[str, Any] = {"driver": request["driver"], "capabilities": list(request["capabilities"][0])}
                if "device_ids" in request:
                    device["device_ids"] = list(request["device_ids"])
                else:
                    device["count"] = request["count"]
                devices.append(device)
            service["deploy"] = {"resources": {"reservations": {"devices": devices}}}
        services[spec["name"]] = service
    network_mode = specs[0]["network_mode"] if specs else "host"
    if extras.get("redis_image"):
        services["redis"] = {
            "image": extras["redis_image"],
            "network_mode": network_mode,
            "restart": "unless-stopped",
            "command": ["redis-server", "--bind", "127.0.0.1"],
        }
    if extras.get("prometheus_image"):
        services["prometheus"] = {
            "image": extras["prometheus_image"],
            "network_mode": network_mode,
            "restart": "unless-stopped",
            "volumes": [{"type": "bind", "source": extras["prometheus_config"], "target": "/etc/prometheus/prometheus.yml", "read_only": True}],
            "command": ["--config.file=/etc/prometheus/prometheus.yml", "--web.listen-address=127.0.0.1:9090"],
        }
    if extras.get("exporter_image"):
        services["comfyui-exporter"] = {
            "image": extras["exporter_image"],
            "network_mode": network_mode,
            "restart": "unless-stopped",
            "command": list(extras.get("exporter_command") or []),
        }
    # no top-level name: docker-compose 1.x (Debian's) refuses it; the project is named by -p or the directory
    return {"services": services}
