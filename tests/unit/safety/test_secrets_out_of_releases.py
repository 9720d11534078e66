"""Issue 26: a release keeps a secret's name and a digest, never its value, in every form a release takes (the host's
instance file, the container spec, the compose file, the Kubernetes manifests). Before, HF_TOKEN stayed in every
older release's instances/<name>.json, and a rollback ran with the revoked token. The deploy and the rollback that
write the values from the current inventory are tested in tests/system/test_deploy_safety.py."""

from __future__ import annotations

import hashlib
import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.comfyops.comfyui.plugins.filter.secret_env import secret_env
from ansible_collections.comfyops.comfyui.plugins.module_utils._container import compose_file, container_spec
from ansible_collections.comfyops.comfyui.plugins.module_utils._envfile import EnvError, is_secret, split_secrets
from ansible_collections.comfyops.comfyui.plugins.module_utils._k8s import K8sError, parse_settings, render, validate

TOKEN = "hf_SECRETtoken0123456789"
ENV = {"HF_TOKEN": TOKEN, "DB_PASSWORD": "pa$$", "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True", "LICENSE_SERIAL": "L-1"}


@pytest.mark.parametrize(
    ("name", "secret"),
    [("HF_TOKEN", True), ("AWS_SECRET_ACCESS_KEY", True), ("api_key", True), ("PGPASSWORD", True), ("BASIC_AUTH", True),
     ("SESSION_COOKIE", True), ("PYTORCH_CUDA_ALLOC_CONF", False), ("HF_HOME", False), ("LICENSE_SERIAL", False)],
)  # fmt: skip
def test_a_secret_is_known_by_its_name(name, secret):
    assert is_secret(name) is secret


def test_the_split_keeps_names_and_a_digest_of_the_secrets_and_listed_names_are_secrets_too():
    parts = split_secrets(ENV, ["LICENSE_SERIAL"])
    assert parts["public"] == {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    assert parts["secret"] == {"HF_TOKEN": TOKEN, "DB_PASSWORD": "pa$$", "LICENSE_SERIAL": "L-1"}
    assert parts["record"]["names"] == ["DB_PASSWORD", "HF_TOKEN", "LICENSE_SERIAL"]
    assert TOKEN not in json.dumps(parts["record"]) and parts["record"]["digest"].startswith("sha256:")
    rotated = split_secrets(dict(ENV, HF_TOKEN="hf_rotated"), ["LICENSE_SERIAL"])["record"]
    assert rotated["names"] == parts["record"]["names"] and rotated["digest"] != parts["record"]["digest"]
    expected = hashlib.sha256(json.dumps(sorted(parts["secret"].items())).encode()).hexdigest()
    assert parts["record"]["digest"] == "sha256:" + expected


@pytest.mark.parametrize(
    ("names", "env", "message"),
    [
        ("HF_TOKEN", {}, "comfyui_deploy_secret_names: expected a list of variable names, got 'HF_TOKEN'"),
        (["BAD NAME"], {}, "comfyui_deploy_secret_names: expected a list of variable names"),
        ([], {"HF_TOKEN": "a\nb"}, "comfyui_deploy_environment.HF_TOKEN: the value holds a newline"),
        ([], "HF_TOKEN=x", "comfyui_deploy_environment: expected a map of variable names to values, got str"),
    ],
)
def test_bad_input_names_the_variable_and_never_a_value(names, env, message):
    with pytest.raises(EnvError) as caught:
        split_secrets(env, names, "comfyui_deploy_environment")
    assert message in str(caught.value)
    assert "a\nb" not in str(caught.value)


def test_the_filter_gives_each_part_and_refuses_another():
    assert secret_env(ENV, [], "secret") == {"HF_TOKEN": TOKEN, "DB_PASSWORD": "pa$$"}
    assert "HF_TOKEN" not in secret_env(ENV)
    with pytest.raises(AnsibleFilterError, match="secret_env: part must be one of public, secret, record, got 'all'"):
        secret_env(ENV, [], "all")


def test_the_container_spec_a_release_keeps_names_its_secrets_without_their_values():
    settings = {"base": "/srv/comfyui", "image": "comfyops/comfyui:r1", "user": "998:998", "release": "r1", "environment": ENV}
    spec = container_spec({"name": "gpu0", "port": 8188, "environment": {"GPU0_KEY": "k0"}}, settings)
    assert TOKEN not in json.dumps(spec) and "k0" not in json.dumps(spec)
    assert spec["secret_env"] == ["DB_PASSWORD", "GPU0_KEY", "HF_TOKEN"]
    assert spec["env"]["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True" and spec["env"]["LICENSE_SERIAL"] == "L-1"
    listed = container_spec({"name": "gpu0", "port": 8188}, dict(settings, secret_names=["LICENSE_SERIAL"]))
    assert "LICENSE_SERIAL" not in listed["env"] and "LICENSE_SERIAL" in listed["secret_env"]
    # the compose file names them for compose to take from the environment it runs in
    service = next(iter(compose_file([spec], {})["services"].values()))
    assert service["environment"]["HF_TOKEN"] is None and service["environment"]["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"


K8S = {
    "release": "v0.8.0-0123456789ab-deadbeef",
    "image": "registry.example/comfyui:v0.8.0-0123456789ab-deadbeef",
    "instances": [{"name": "gpu0", "port": 8188, "cuda_device": 0}],
    "environment": split_secrets(ENV)["public"],
    "secrets": split_secrets(ENV)["record"],
}


def test_kubernetes_refers_to_the_secret_and_a_new_digest_rolls_the_pods():
    docs = render(parse_settings(K8S))
    assert TOKEN not in json.dumps(docs)
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    template = deployment["spec"]["template"]
    env = {item["name"]: item for item in template["spec"]["containers"][0]["env"]}
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "comfyui-env", "key": "HF_TOKEN"}}}
    assert env["PYTORCH_CUDA_ALLOC_CONF"]["value"] == "expandable_segments:True"
    assert template["metadata"]["annotations"]["comfyops.io/secrets-digest"] == K8S["secrets"]["digest"]
    assert validate(docs, "1.31") == []
    plain = next(doc for doc in render(parse_settings(dict(K8S, secrets={}))) if doc["kind"] == "Deployment")
    assert "annotations" not in plain["spec"]["template"]["metadata"]


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"names": ["HF_TOKEN"], "digest": TOKEN}, "settings.secrets must be {names: [...], digest: sha256:<hex>}"),
        ({"names": ["BAD NAME"], "digest": "sha256:" + "0" * 64}, "settings.secrets.names: 'BAD NAME' is not an environment variable name"),
        (["HF_TOKEN"], "settings.secrets must be"),
    ],
)
def test_kubernetes_refuses_a_secrets_record_that_is_not_one(secrets, message):
    with pytest.raises(K8sError) as caught:
        parse_settings(dict(K8S, secrets=secrets))
    assert message in str(caught.value) and TOKEN not in str(caught.value)
