"""The release id: which role settings make a release is read from the role's argument spec, and every option
of the spec is classified, so a new setting cannot be forgotten (issue 10: comfyui_deploy_python was)."""

from __future__ import annotations

import yaml
from ansible_collections.comfyops.comfyui.plugins.module_utils import _release
from conftest import REPO

SPEC = yaml.safe_load((REPO / "roles/comfyui_deploy/meta/argument_specs.yml").read_text())
OPTIONS = SPEC["argument_specs"]["main"]["options"]

# Declared as not affecting what a release contains, each with its reason.
NOT_RELEASE = {
    "comfyui_deploy_base": "where releases live, not what they contain",
    "comfyui_deploy_user": "who runs them (units and directories outside the release)",
    "comfyui_deploy_group": "who runs them",
    "comfyui_deploy_source": "named by the id itself: ref and commit, archive name and checksum, or local ref",
    "comfyui_deploy_release_id": "the id itself",
    "comfyui_deploy_deployed_by": "recorded, not built",
    "comfyui_deploy_require_sha256": "a gate on input, not content",
    "comfyui_deploy_tier": "a gate on input, not content",
    "comfyui_deploy_model_auth_header": "a secret used to fetch models; the models themselves are release settings",
    "comfyui_deploy_allow_public_listen": "a gate; the listen address itself is a release setting",
    "comfyui_deploy_stop_timeout": "the unit and the control script, outside the release",
    "comfyui_deploy_restart_limit_burst": "the unit, outside the release",
    "comfyui_deploy_limit_nofile": "the unit and the control script, outside the release",
    "comfyui_deploy_tasks_max": "the unit, outside the release",
    "comfyui_deploy_memory_max": "the unit, outside the release",
    "comfyui_deploy_device_policy": "the unit, outside the release",
    "comfyui_deploy_ctl_python": "the control script, outside the release",
    "comfyui_deploy_startup_budget": "how long the gate waits",
    "comfyui_deploy_progress_interval": "how often a long job's progress is printed",
    "comfyui_deploy_async_timeout": "how long a venv build or a download may take",
    "comfyui_deploy_health_retries": "how long the gate waits",
    "comfyui_deploy_smoke_timeout": "how long the gate waits",
    "comfyui_deploy_drain_timeout": "how the switch is done",
    "comfyui_deploy_drain_interrupt": "how the switch is done",
    "comfyui_deploy_keep_releases": "retention",
    "comfyui_deploy_installer": "how the venv is built; its content is decided by the key's settings",
    "comfyui_deploy_uv": "how the venv is built",
    "comfyui_deploy_uv_package": "how the venv is built (uv installed first when missing)",
    "comfyui_deploy_proxy": "how instances are restarted (one at a time behind the proxy)",
    "comfyui_deploy_image_repository": "where the image is kept; its tag is the release id",
    "comfyui_deploy_container_prefix": "the containers' names, outside the image",
    "comfyui_deploy_docker_build_network": "how the image is built",
    "comfyui_deploy_docker_network_mode": "the container's settings, outside the image",
    "comfyui_deploy_docker_restart_policy": "the container's settings, outside the image",
    "comfyui_deploy_docker_log_driver": "the container's settings, outside the image",
    "comfyui_deploy_docker_log_max_size": "the container's settings, outside the image",
    "comfyui_deploy_docker_log_max_files": "the container's settings, outside the image",
    "comfyui_deploy_compose_file": "a file written beside the release for people, not run",
    "comfyui_deploy_compose_extras": "a file written beside the release for people, not run",
}


def test_every_role_option_is_a_release_setting_or_declared_not_to_be_one():
    settings = _release.release_settings(SPEC)
    assert "comfyui_deploy_python" in settings and "comfyui_deploy_torch_cuda_builds" in settings
    assert not set(settings) & set(NOT_RELEASE), "declared both ways"
    unclassified = sorted(set(OPTIONS) - set(settings) - set(NOT_RELEASE))
    assert unclassified == [], "mark them 'Part of the release id' in the argument spec, or declare them here"
    assert sorted(set(NOT_RELEASE) - set(OPTIONS)) == [], "declared options that no longer exist"


def test_release_settings_defaults_are_the_role_defaults():
    defaults = yaml.safe_load((REPO / "roles/comfyui_deploy/defaults/main.yml").read_text())
    for name, default in _release.release_settings(SPEC).items():
        assert defaults[name] == default, name


def test_release_ids():
    git = {"type": "git", "url": "https://x/ComfyUI.git", "ref": "v0.8.0"}
    lines = ["1111111111111111111111111111111111111111\trefs/tags/v0.8.0", "2222222222222222222222222222222222222222\trefs/tags/v0.8.0^{}"]
    one = _release.compute_release_id(git, lines, {"h1": {"a": 1}, "h2": {"a": 1}})
    assert one.startswith("v0.8.0-222222222222-") and one == _release.compute_release_id(git, lines, {"h2": {"a": 1}, "h1": {"a": 1}})
    assert _release.compute_release_id(git, lines, {"h1": {"a": 1}, "h2": {"a": 2}}) != one
    archive = {"type": "archive", "url": "https://u:p@s3/b/ComfyUI-0.8.1.tar.gz?X-Amz-Signature=SECRET", "checksum": "sha256:" + "ab" * 32}
    assert _release.compute_release_id(archive, [], {}).startswith("ComfyUI-0.8.1-abababababab-")
    assert _release.compute_release_id({"type": "local", "path": "/opt/my comfy/"}, [], {}).startswith("my_comfy-local-")


def test_the_config_digest_follows_every_option_but_who_deploys_the_id_and_secrets():
    from ansible_collections.comfyops.comfyui.plugins.plugin_utils.role_spec import NOT_CONFIG, config_digest

    hostvars = {"h1": {"comfyui_deploy_stop_timeout": 60}, "h2": {}}
    one = config_digest(hostvars, "h1")
    assert len(one) == 32 and one == config_digest({"h1": {"comfyui_deploy_stop_timeout": 60}}, "h1")
    assert config_digest(hostvars, "h2") != one  # the default, not 60
    for option in set(OPTIONS) - set(NOT_CONFIG):
        assert config_digest({"h1": dict(hostvars["h1"], **{option: "changed-for-test"})}, "h1") != one, option
    for option in NOT_CONFIG:
        assert config_digest({"h1": dict(hostvars["h1"], **{option: "s3cr3t"})}, "h1") == one, option
