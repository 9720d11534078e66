"""Kubernetes manifests from the deploy's settings, validated offline against the real schemas (kubernetes-validate)."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.comfyops.comfyui.plugins.filter.k8s_rollback_targets import k8s_rollback_targets
from ansible_collections.comfyops.comfyui.plugins.filter.k8s_rollout_status import k8s_rollout_status
from ansible_collections.comfyops.comfyui.plugins.module_utils._k8s import K8sError, parse_settings, render, validate

BASE = {
    "release": "v0.8.0-0123456789ab-deadbeef",
    "image": "registry.example/comfyui:v0.8.0-0123456789ab-deadbeef",
    "instances": [
        {"name": "gpu0", "port": 8188, "cuda_device": 0},
        {"name": "gpu1", "port": 8189, "cuda_device": 1, "extra_args": ["--preview-method", "auto"]},
    ],
    "startup_budget": 600,
    "ingress": {"host": "comfyui.example", "auth": "basic", "auth_secret": "comfyui-auth", "tls_secret": "comfyui-tls"},
    "environment": {"HF_HOME": "/data/hf"},
}


def manifests(**changes):
    settings = copy.deepcopy(BASE)
    settings.update(changes)
    return render(parse_settings(settings))


def by_kind(docs, kind):
    return [doc for doc in docs if doc["kind"] == kind]


@pytest.mark.parametrize("version", ["1.29", "1.31", "1.33", "1.37"])
def test_every_manifest_validates_against_the_schemas(version):
    docs = manifests()
    assert [doc["kind"] for doc in docs] == [
        "Namespace", "ConfigMap", "PersistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaim",
        "Deployment", "Deployment", "Service", "Ingress", "PodDisruptionBudget", "NetworkPolicy",
    ]  # fmt: skip
    assert validate(docs, version) == []


def test_a_deployment_per_gpu_instance_with_probes_and_the_startup_budget():
    deployments = by_kind(manifests(), "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == ["comfyui-gpu0", "comfyui-gpu1"]
    for deployment, port in zip(deployments, (8188, 8189), strict=True):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}
        assert container["image"] == BASE["image"]
        startup = container["startupProbe"]
        assert startup["httpGet"] == {"path": "/system_stats", "port": port}
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
        assert container["readinessProbe"]["httpGet"]["path"] == container["livenessProbe"]["httpGet"]["path"] == "/system_stats"
        args = container["args"]
        # the same flags as on a host (filter comfyui_server_args), listening in the pod, its own GPU only
        assert args[:4] == ["--listen", "0.0.0.0", "--port", str(port)]
        assert "--cuda-device" not in args and "--database-url" in args and "sqlite:////data/user/comfyui.db" in args
        assert args[-2:] == ["--extra-model-paths-config", "/config/extra_model_paths.yaml"]
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 1000
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        # the controller gives up (ProgressDeadlineExceeded) only after the start-up budget and time to pull the image
        assert deployment["spec"]["progressDeadlineSeconds"] == 600 + 600
    assert by_kind(manifests(pull_allowance=30), "Deployment")[0]["spec"]["progressDeadlineSeconds"] == 630
    assert by_kind(manifests(disruption_budget=False), "PodDisruptionBudget") == []
    assert len(by_kind(manifests(), "PodDisruptionBudget")) == 1
    assert "--preview-method" in deployments[1]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_cpu_instances_ask_for_no_gpu_and_run_with_cpu():
    docs = manifests(device="cpu")
    container = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {} and "--cpu" in container["args"]
    assert validate(docs, "1.31") == []


def test_ingress_auth_annotations_and_network_policy():
    docs = manifests()
    ingress = by_kind(docs, "Ingress")[0]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"] == "comfyui-auth"
    assert ingress["spec"]["tls"] == [{"hosts": ["comfyui.example"], "secretName": "comfyui-tls"}]
    sso = by_kind(manifests(ingress={"host": "c.example", "auth": "url", "auth_url": "https://sso.example/auth"}), "Ingress")[0]
    assert sso["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-url"] == "https://sso.example/auth"
    assert by_kind(manifests(ingress={}), "Ingress") == []
    policy = by_kind(docs, "NetworkPolicy")[0]["spec"]
    assert policy["ingress"][0]["from"][0] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    assert by_kind(docs, "PodDisruptionBudget")[0]["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"instances": [{"name": "gpu0", "port": 8188, "gpus": -1}]}, "comfyui_deploy_instances[0].gpus"),
        ({"instances": [{"name": "GPU_0", "port": 8188}]}, "comfyui_deploy_instances[0].name"),
        ({"instances": [{"name": "gpu0", "port": 0}]}, "comfyui_deploy_instances[gpu0].port"),
        ({"models_size": "lots"}, "comfyui_deploy_k8s_models_size"),
        ({"pull_allowance": -1}, "comfyui_deploy_k8s_pull_allowance"),
        ({"disruption_budget": "no"}, "comfyui_deploy_k8s_disruption_budget must be true or false"),
        ({"startup_budget": 0}, "comfyui_deploy_startup_budget"),
        ({"ingress": {"host": "c.example", "auth": "basic"}}, "comfyui_deploy_k8s_ingress.auth_secret"),
        ({"release": ""}, "comfyui_deploy_release_id"),
        ({"vram_mode": "tiny"}, "comfyui_deploy_vram_mode"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(change, named):
    with pytest.raises(K8sError, match=named.replace("[", r"\[").replace("]", r"\]")):
        manifests(**change)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # issue 26: each passed the offline validation before, and the API server would have refused it
        ({"labels": {"../evil key!": "x"}}, "comfyui_deploy_k8s_labels key: '../evil key!' is not a label key"),
        ({"labels": {"team": "a\nb"}}, "comfyui_deploy_k8s_labels[team]: 'a\\nb' is not a label value"),
        ({"labels": {"team": "x" * 64}}, "is not a label value"),
        ({"labels": {"example.org/team": "ml", "Bad_Prefix/x": "y"}}, "'Bad_Prefix/x' is not a label key"),
        ({"environment": {"BAD KEY": "x"}}, "comfyui_deploy_environment: 'BAD KEY' is not an environment variable name"),
        ({"environment": {"1X": "x"}}, "'1X' is not an environment variable name"),
        ({"storage_class": "Fast SSD"}, "comfyui_deploy_k8s_storage_class must be a DNS name"),
        ({"ingress": {"host": "comfy.example\nx", "auth": "none"}}, "comfyui_deploy_k8s_ingress.host must be a DNS name"),
        ({"ingress": {"host": "Comfy.Example", "auth": "none"}}, "comfyui_deploy_k8s_ingress.host must be a DNS name"),
        ({"ingress": {"host": "c.example", "auth": "basic", "auth_secret": "my secret"}}, "comfyui_deploy_k8s_ingress.auth_secret must be a DNS name"),
        ({"ingress": {"host": "c.example", "auth": "url", "auth_url": "https://auth.example/x y"}}, "comfyui_deploy_k8s_ingress.auth_url must be"),
        ({"allow_from_namespaces": [{"kubernetes.io/metadata.name": "ingress nginx"}]}, "comfyui_deploy_k8s_allow_from_namespaces[0]["),
        ({"image": "registry.example/comfyui:r1 --privileged"}, "comfyui_deploy_image_repository:<release id>: 'registry.example/comfyui:r1 --privileged'"),
        ({"extra_model_paths": ["checkpoints"]}, "comfyui_deploy_k8s_extra_model_paths must be a map of section names to maps"),  # crashed
        ({"extra_model_paths": {"comfyops": "models/"}}, "comfyui_deploy_k8s_extra_model_paths must be a map of section names to maps"),
    ],
)
def test_values_the_api_server_would_refuse_are_refused_here_naming_the_variable(change, named):
    with pytest.raises(K8sError) as caught:
        manifests(**change)
    assert named in str(caught.value)


def test_real_names_labels_and_hosts_pass():
    docs = manifests(
        labels={"example.org/team": "ml-platform", "tier": ""},
        storage_class="fast-ssd.example.org",
        ingress={"host": "*.comfy.example.org", "auth": "none", "class_name": "nginx"},
        environment={"HF_HOME": "/data/hf", "my.setting-1": "x"},
        extra_model_paths={"nas": {"base_path": "/mnt/nas", "checkpoints": "ckpt/"}},
    )
    assert validate(docs, "1.31") == []


def test_a_yaml_that_is_no_manifest_of_ours_is_an_error_not_a_crash():
    docs = manifests()
    errors = validate([*docs, {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": []}, ["a", "list"]], "1.31")
    assert errors == [
        "Kustomization/?: kustomize.config.k8s.io/v1beta1 Kustomization is not a kind Kubernetes 1.31 knows (a file that is not a manifest of this deploy?)",
        "document %d: not a Kubernetes manifest (a map with apiVersion and kind), got list" % (len(docs) + 2),
    ]


def test_a_negative_gpu_count_in_a_manifest_fails_with_the_field_named():
    docs = manifests()
    by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = -1
    errors = validate(docs, "1.31")
    assert errors == [
        "Deployment/comfyui-gpu0: spec.template.spec.containers[0].resources.limits.nvidia.com/gpu: a GPU count is a whole number of 0 or more, got -1"
    ]


def test_a_probe_path_typo_fails_with_the_field_named():
    docs = manifests()
    by_kind(docs, "Deployment")[1]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] = "/system_stat"
    (error,) = validate(docs, "1.31")
    assert error.startswith("Deployment/comfyui-gpu1: spec.template.spec.containers[0].livenessProbe.httpGet.path: '/system_stat' is not a route")


def test_schema_errors_name_the_field():
    docs = manifests()
    container = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")  # a typo in a field name: strict schemas refuse it
    by_kind(docs, "Service")[0]["spec"]["ports"][0]["port"] = "eighty"
    errors = validate(docs, "1.31")
    assert any(e.startswith("Deployment/comfyui-gpu0: spec.template.spec.containers[0]:") and "'readinesProbe' was unexpected" in e for e in errors)
    assert any(e.startswith("Service/comfyui: spec.ports[0].port:") for e in errors)


def test_selectors_and_probe_ports_must_match():
    docs = manifests()
    deployment = by_kind(docs, "Deployment")[0]
    deployment["spec"]["selector"]["matchLabels"]["comfyops.io/comfyui-instance"] = "gpu9"
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = 9999
    errors = validate(docs, "1.31")
    assert any("spec.selector.matchLabels.comfyops.io/comfyui-instance" in e for e in errors)
    assert any("readinessProbe.httpGet.port: 9999 is not a port the container opens" in e for e in errors)


def test_an_unknown_kubernetes_version_is_refused():
    with pytest.raises(K8sError, match="comfyui_deploy_k8s_version"):
        validate(manifests(), "1.5")
    with pytest.raises(K8sError, match="no schemas"):
        validate(manifests(), "1.99")


def deployment(name="comfyui-gpu0", generation=2, observed=2, revision="2", replicas=1, status=None, conditions=()):
    """A Deployment as the API server returns it (k8s_info's resources), with the status the controller wrote."""
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "comfyui", "generation": generation, "annotations": {"deployment.kubernetes.io/revision": revision}},
        "spec": {"replicas": replicas, "strategy": {"type": "Recreate"}, "progressDeadlineSeconds": 1200},
        "status": {"observedGeneration": observed, "conditions": list(conditions), **(status or {})},
    }
    return body


AVAILABLE = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
PROGRESSING = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}


@pytest.mark.parametrize(
    ("body", "state", "says"),
    [
        # just applied: the controller has not seen generation 3; Available still describes the old pod
        (deployment(generation=3, observed=2, status={"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}, conditions=[AVAILABLE]),
         "progressing", "waiting for the controller to see the new spec"),
        # Recreate: the old pod is going, the new one not made yet
        (deployment(status={"replicas": 1, "updatedReplicas": 0, "availableReplicas": 1}, conditions=[AVAILABLE, PROGRESSING]),
         "progressing", "0 of 1 new replicas updated"),
        (deployment(status={"replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}, conditions=[AVAILABLE, PROGRESSING]),
         "progressing", "1 old replicas pending termination"),
        # the new pod is there, loading models (startup probe not passed yet)
        (deployment(status={"replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1},
                    conditions=[{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}, PROGRESSING]),
         "progressing", "0 of 1 updated replicas available"),
        (deployment(status={"replicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1},
                    conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                 "message": 'ReplicaSet "comfyui-gpu0-7d9c" has timed out progressing.'}]),
         "failed", 'exceeded its progress deadline (ReplicaSet "comfyui-gpu0-7d9c" has timed out progressing.)'),
        (deployment(status={"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1},
                    conditions=[AVAILABLE, {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]),
         "done", "comfyui-gpu0: rolled out (revision 2)"),
        (deployment(replicas=0, status={}), "done", "rolled out"),
        (None, "failed", "the Deployment is not there"),
    ],
    ids=["spec-not-observed", "recreate-old-going", "old-pending-termination", "new-pod-starting", "deadline-exceeded", "done", "scaled-to-zero", "missing"],
)  # fmt: skip
def test_rollout_status_follows_kubectl_rollout_status(body, state, says):
    status = k8s_rollout_status(body)
    assert status["state"] == state and says in status["message"], status


def test_only_the_deployments_the_failed_apply_changed_are_rolled_back():
    before = [deployment("comfyui-gpu0", revision="4"), deployment("comfyui-gpu1", revision="7")]
    # gpu0 took the new release (revision 5) and failed; the apply never reached gpu1; gpu2 is new in this release
    after = [deployment("comfyui-gpu0", revision="5"), deployment("comfyui-gpu1", revision="7"), deployment("comfyui-gpu2", revision="1")]
    assert k8s_rollback_targets(after, before) == ["comfyui-gpu0"]
    assert k8s_rollback_targets(after, []) == [], "a first deploy has no earlier ReplicaSet to go back to"
    assert k8s_rollback_targets([], before) == []
