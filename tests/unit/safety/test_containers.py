"""Issue 26: container mode parses everything that reaches Docker (module_utils/_docker.py), in the filter and in the
deploy's preflight, before any image is built. Each case here passed before: the filter's documentation said it failed
naming the variable, but it took any value."""

from __future__ import annotations

import pytest
from ansible_collections.comfyops.comfyui.plugins.filter.deploy_preflight import deploy_preflight
from ansible_collections.comfyops.comfyui.plugins.module_utils import _docker
from ansible_collections.comfyops.comfyui.plugins.module_utils._container import ContainerError, container_spec

SETTINGS = {"base": "/srv/comfyui", "image": "registry.example.org:5000/team/comfyui:r1", "user": "998:998", "release": "r1", "prefix": "comfyui-"}
INSTANCE = {"name": "gpu0", "port": 8188}
IMAGES = {"repository": "comfyops/comfyui", "base": "auto", "cpu_image": "ubuntu:24.04", "cuda_images": {}, "build_network": ""}

CASES = [
    ({"network_mode": "container:victim"}, "comfyui_deploy_docker_network_mode: 'container:victim' would join another container's network namespace"),
    ({"network_mode": "host --privileged"}, "comfyui_deploy_docker_network_mode: 'host --privileged' is not host, bridge, none or a network's name"),
    ({"base": "/srv/../etc"}, "comfyui_deploy_base: '/srv/../etc' is not a usable absolute path"),
    ({"base": "relative/srv"}, "comfyui_deploy_base: 'relative/srv' is not a usable absolute path"),
    ({"prefix": "comfy ui/"}, "comfyui_deploy_container_prefix + instance name: 'comfy ui/gpu0' is not a container name"),
    ({"log_max_size": "50m --log-opt x=y"}, "comfyui_deploy_docker_log_max_size: '50m --log-opt x=y' is not a size"),
    ({"memory": "lots"}, "comfyui_deploy_memory_max: 'lots' is not a size"),
    ({"environment": {"BAD KEY": "x"}}, "'BAD KEY' is not an environment variable name"),
    ({"environment": {"A=B": "x"}}, "'A=B' is not an environment variable name"),
    ({"restart_policy": "sometimes"}, "comfyui_deploy_docker_restart_policy: 'sometimes' is not one of no, on-failure, always, unless-stopped"),
]


@pytest.mark.parametrize(("more", "message"), CASES)
def test_the_filter_refuses_what_docker_would_misread_naming_the_variable(more, message):
    with pytest.raises(ContainerError) as caught:
        container_spec(INSTANCE, dict(SETTINGS, **more))
    assert message in str(caught.value)


@pytest.mark.parametrize(("more", "message"), CASES)
def test_the_deploy_preflight_refuses_it_before_anything_is_built(more, message):
    values = {
        "release_id": "r1",
        "source": {"type": "local", "path": "/x"},
        "instances": [INSTANCE],
        "listen": "127.0.0.1",
        "tier": "staging",
        "container": dict({k: v for k, v in SETTINGS.items() if k not in ("image", "user")}, **more),
        "images": IMAGES,
    }
    problems = deploy_preflight(values)
    assert any(message in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ({"repository": "Comfyops/ComfyUI"}, "comfyui_deploy_image_repository: 'Comfyops/ComfyUI' is not an image repository"),
        ({"repository": "comfyops/comfyui:latest"}, "is not an image repository"),
        ({"cpu_image": "ubuntu:24.04 && curl evil"}, "comfyui_deploy_cpu_image: 'ubuntu:24.04 && curl evil' is not an image reference"),
        ({"base": "../../x"}, "comfyui_deploy_image_base: '../../x' is not an image reference"),
        ({"cuda_images": {"12.4": "nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN x"}}, "comfyui_deploy_cuda_images[12.4]: "),
        ({"build_network": "container:builder"}, "comfyui_deploy_docker_build_network: 'container:builder' would join"),
    ],
)
def test_the_images_are_references(images, message):
    values = {"release_id": "r1", "source": {"type": "local", "path": "/x"}, "instances": [INSTANCE], "listen": "127.0.0.1", "tier": "staging"}
    problems = deploy_preflight(dict(values, container={"base": "/srv/comfyui"}, images=dict(IMAGES, **images)))
    assert any(message in problem for problem in problems), problems


@pytest.mark.parametrize(
    "reference",
    [
        "ubuntu:24.04",
        "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
        "registry.example.org:5000/team/comfyui:r1",
        "localhost/comfyops/comfyui:v0.8.0-abc",
        "ghcr.io/org/img@sha256:" + "a" * 64,
        "comfyops-test/debian:bookworm",
    ],
)
def test_real_references_pass(reference):
    assert _docker.image_reference(reference, "o") == reference


def test_good_settings_pass_and_the_systemd_mode_is_not_asked():
    spec = container_spec(INSTANCE, dict(SETTINGS, memory="24G", log_max_size="50m", network_mode="comfy_net"))
    assert spec["memory"] == "24g" and spec["network_mode"] == "comfy_net" and spec["log_options"]["max-size"] == "50m"
    values = {"release_id": "r1", "source": {"type": "local", "path": "/x"}, "instances": [INSTANCE], "listen": "127.0.0.1", "tier": "staging"}
    assert deploy_preflight(dict(values, container=None, images={"repository": "NOT CHECKED"})) == []
