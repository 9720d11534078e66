# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes manifests for ComfyUI, from the host deploy's own settings, and their offline validation.

``parse_settings`` turns the variables (comfyui_deploy_* and comfyui_deploy_k8s_*) into typed settings, failing with
the variable named; ``render`` makes the manifests (a Deployment per GPU instance, as on a host: one GPU each);
``validate`` checks each one against the Kubernetes OpenAPI schemas of a chosen version (kubernetes-validate,
offline) and then what a schema cannot see (quantities, a GPU count that is a whole non-negative number, probes
on a route ComfyUI serves and a port the container opens, selectors that select), naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._docker import DockerValueError, image_reference
from ansible_collections.comfyops.comfyui.plugins.module_utils._server_args import ArgsError, server_args

# The GET routes ComfyUI 0.8.0 answers (recorded in tests/fixtures/comfyui-api): the only paths a probe may use.
PROBE_ROUTES = ("/system_stats", "/queue", "/prompt", "/object_info", "/history", "/models", "/embeddings", "/extensions", "/")
COMFYUI_UID = 1000  # the image's non-root user (the collection's Dockerfile)
DATA = "/data"  # the instance's volume: user, input, output, temp
MODELS = "/models"  # the shared models volume
CONFIG = "/config"  # the ConfigMap (extra_model_paths.yaml)
GPU_RESOURCE = "nvidia.com/gpu"
# A Deployment's progress deadline is the start-up budget plus this much (comfyui_deploy_k8s_pull_allowance) for
# scheduling and pulling a CUDA image of several GB: past it the controller marks the rollout failed
# (ProgressDeadlineExceeded) and the playbook rolls back.
PULL_ALLOWANCE = 600
REVISION = "deployment.kubernetes.io/revision"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
# resource.Quantity: a signed decimal with an optional binary/decimal suffix or exponent
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]{0,255}$")  # the API server's rule (IsEnvVarName)
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_VERSION = re.compile(r"^1\.\d{1,2}(\.\d+)?$")


class K8sError(ValueError):
    """A setting or manifest that is not valid, with the variable or field named."""


@dataclass(frozen=True)
class Instance:
    name: str
    port: int
    gpus: int
    args: list[str]


@dataclass(frozen=True)
class Ingress:
    host: str
    class_name: str
    tls_secret: str
    auth: str  # none, basic, url
    auth_secret: str
    auth_url: str
    auth_signin: str


@dataclass(frozen=True)
class Settings:
    name: str
    namespace: str
    image: str
    release: str
    instances: list[Instance]
    startup_budget: int
    probe_period: int
    environment: dict[str, str]
    models_size: str
    models_access_mode: str
    data_size: str
    storage_class: str
    extra_model_paths: dict[str, Any]
    ingress: Ingress | None
    allow_from_namespaces: list[dict[str, str]]
    max_unavailable: int
    labels: dict[str, str] = field(default_factory=dict)
    pull_allowance: int = PULL_ALLOWANCE
    disruption_budget: bool = True
    # what the deploy knows of the secret environment: {names, digest} (filter secret_env's record), never a value; the
    # values are in the Secret <name>-env, which the role applies from the current inventory
    secrets: dict[str, Any] = field(default_factory=dict)


def _label(value: Any, where: str) -> str:
    text = str(value)
    if not _DNS_LABEL.match(text):
        raise K8sError("%s must be a DNS label (1-63 of a-z, 0-9 and -, starting and ending alphanumeric), got %r" % (where, value))
    return text


def _subdomain(value: Any, where: str, wildcard: bool = False) -> str:
    """A DNS-1123 subdomain (storage classes, Secrets, ingress classes and hosts; a host may start with '*.')."""
    text = value[2:] if wildcard and isinstance(value, str) and value.startswith("*.") else value
    if not isinstance(text, str) or not _DNS_SUBDOMAIN.match(text):
        raise K8sError("%s must be a DNS name (lower-case a-z, 0-9, '-' and '.', at most 253), got %r" % (where, value))
    return str(value)


def _label_key(value: Any, where: str) -> str:
    """A label key as the API server checks it: an optional DNS-subdomain prefix and '/', then a name of up to 63."""
    prefix, _slash, name = value.rpartition("/") if isinstance(value, str) else ("", "", None)
    if not isinstance(name, str) or not _LABEL_NAME.match(name) or (prefix and not _DNS_SUBDOMAIN.match(prefix)):
        raise K8sError("%s: %r is not a label key ([dns.prefix/]name, the name 1-63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric)" % (where, value))
    return value  # type: ignore[no-any-return]


def _label_value(value: Any, where: str) -> str:
    text = "" if value is None else str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if text is None or len(text) > 63 or not _LABEL_VALUE.match(text):
        raise K8sError("%s: %r is not a label value (0-63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric)" % (where, value))
    return text


def _labels(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise K8sError("%s must be a map of label keys to values, got %r" % (where, raw))
    return {_label_key(key, where + " key"): _label_value(value, "%s[%s]" % (where, key)) for key, value in raw.items()}


def _env(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise K8sError("comfyui_deploy_environment must be a dict, got %r" % (raw,))
    for key in raw:
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise K8sError(
                "comfyui_deploy_environment: %r is not an environment variable name (letters, digits, '-', '_' and '.', not starting with a digit)" % (key,)
            )
    return {str(key): str(value) for key, value in raw.items()}


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _secrets(raw: Any) -> dict[str, Any]:
    """{names, digest} of the secret environment (filter secret_env, part record); K8sError naming the setting."""
    if not raw:
        return {}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("names"), list) or not _DIGEST.match(str(raw.get("digest", ""))):
        raise K8sError("settings.secrets must be {names: [...], digest: sha256:<hex>} (filter secret_env, part record), got a %s" % type(raw).__name__)
    for key in raw["names"]:
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise K8sError("settings.secrets.names: %r is not an environment variable name" % (key,))
    return {"names": sorted(raw["names"]), "digest": str(raw["digest"])}


def _model_paths(raw: Any) -> dict[str, Any]:
    """extra_model_paths.yaml's content: a map of section names to maps (ComfyUI's format)."""
    if not raw:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(section, Mapping) for section in raw.values()):
        raise K8sError(
            "comfyui_deploy_k8s_extra_model_paths must be a map of section names to maps (base_path, checkpoints, ...), as in "
            "extra_model_paths.yaml; got %s" % type(raw).__name__
        )
    return dict(raw)


def _quantity(value: Any, where: str) -> str:
    text = str(value)
    if isinstance(value, bool) or not _QUANTITY.match(text):
        raise K8sError("%s must be a Kubernetes quantity such as 100Gi, got %r" % (where, value))
    return text


def _count(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
        raise K8sError("%s must be a whole number, got %r" % (where, value))
    number = int(value)
    if number < minimum:
        raise K8sError("%s must be %d or more, got %d" % (where, minimum, number))
    return number


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise K8sError("%s must be true or false, got %r" % (where, value))
    return value


def _ingress(raw: Any) -> Ingress | None:
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise K8sError("comfyui_deploy_k8s_ingress must be a dict, got %r" % (raw,))
    auth = str(raw.get("auth", "basic"))
    if auth not in ("none", "basic", "url"):
        raise K8sError("comfyui_deploy_k8s_ingress.auth must be none, basic or url, got %r" % auth)
    if not raw.get("host"):
        raise K8sError("comfyui_deploy_k8s_ingress.host is required (the name clients use)")
    ingress = Ingress(
        host=_subdomain(raw.get("host"), "comfyui_deploy_k8s_ingress.host", wildcard=True),
        class_name=_subdomain(raw.get("class_name") or "nginx", "comfyui_deploy_k8s_ingress.class_name"),
        tls_secret=_subdomain(raw["tls_secret"], "comfyui_deploy_k8s_ingress.tls_secret") if raw.get("tls_secret") else "",
        auth=auth,
        auth_secret=_subdomain(raw["auth_secret"], "comfyui_deploy_k8s_ingress.auth_secret") if raw.get("auth_secret") else "",
        auth_url=str(raw.get("auth_url") or ""),
        auth_signin=str(raw.get("auth_signin") or ""),
    )
    for key in ("auth_url", "auth_signin"):
        if getattr(ingress, key) and (not getattr(ingress, key).startswith(("http://", "https://")) or any(c.isspace() for c in getattr(ingress, key))):
            raise K8sError("comfyui_deploy_k8s_ingress.%s must be an http(s) URL, got %r" % (key, getattr(ingress, key)))
    if auth == "basic" and not ingress.auth_secret:
        raise K8sError("comfyui_deploy_k8s_ingress.auth_secret is required with auth: basic (a Secret holding an htpasswd 'auth' key)")
    if auth == "url" and not ingress.auth_url.startswith(("http://", "https://")):
        raise K8sError("comfyui_deploy_k8s_ingress.auth_url must be an http(s) URL with auth: url, got %r" % ingress.auth_url)
    return ingress


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """The typed settings from the variables (keys without their comfyui_deploy_ or comfyui_deploy_k8s_ prefix)."""
    if not isinstance(raw, Mapping):
        raise K8sError("expected a map of the deploy's settings, got %s" % type(raw).__name__)
    name = _label(raw.get("name", "comfyui"), "comfyui_deploy_k8s_name")
    release = str(raw.get("release") or "")
    if not release or not _LABEL_VALUE.match(release) or len(release) > 63:
        raise K8sError("comfyui_deploy_release_id must be a label value (1-63 of A-Z, a-z, 0-9, -, _ and .), got %r" % release)
    try:
        image = image_reference(raw.get("image"), "comfyui_deploy_image_repository:<release id>")
    except DockerValueError as exc:
        raise K8sError(str(exc)) from None
    device = str(raw.get("device", "cuda"))
    instances_raw = raw.get("instances") or []
    if not isinstance(instances_raw, Sequence) or isinstance(instances_raw, (str, bytes)) or not instances_raw:
        raise K8sError("comfyui_deploy_instances must be a non-empty list, got %r" % (instances_raw,))
    extra = raw.get("extra_args") or []
    instances: list[Instance] = []
    seen: set[str] = set()
    for index, item in enumerate(instances_raw):
        where = "comfyui_deploy_instances[%d]" % index
        if not isinstance(item, Mapping):
            raise K8sError("%s must be a dict, got %r" % (where, item))
        inst_name = _label(item.get("name"), where + ".name")
        if inst_name in seen:
            raise K8sError("%s.name %r is used twice" % (where, inst_name))
        seen.add(inst_name)
        gpus = _count(item.get("gpus", 0 if device == "cpu" else 1), where + ".gpus")
        data = {"output": DATA + "/output", "input": DATA + "/input", "user": DATA + "/user", "temp": DATA + "/temp", "database": DATA + "/user/comfyui.db"}
        pod_instance = {key: value for key, value in item.items() if key != "cuda_device"}  # the pod sees only its own GPU
        try:
            args = server_args(pod_instance, "0.0.0.0", data, device, str(raw.get("vram_mode", "normal")), raw.get("whitelist_nodes") or [], extra)
        except ArgsError as exc:
            raise K8sError(str(exc)) from None
        args += ["--extra-model-paths-config", CONFIG + "/extra_model_paths.yaml"]
        instances.append(Instance(inst_name, int(item["port"]), gpus, args))
    environment = _env(raw.get("environment") or {})
    access = str(raw.get("models_access_mode", "ReadWriteMany"))
    if access not in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"):
        raise K8sError("comfyui_deploy_k8s_models_access_mode must be a PVC access mode such as ReadWriteMany, got %r" % access)
    allow = raw.get("allow_from_namespaces")
    allow = [{"kubernetes.io/metadata.name": "ingress-nginx"}] if allow is None else allow
    if not isinstance(allow, list) or not all(isinstance(item, Mapping) for item in allow):
        raise K8sError("comfyui_deploy_k8s_allow_from_namespaces must be a list of label maps, got %r" % (allow,))
    allow = [_labels(item, "comfyui_deploy_k8s_allow_from_namespaces[%d]" % index) for index, item in enumerate(allow)]
    return Settings(
        name=name,
        namespace=_label(raw.get("namespace", "comfyui"), "comfyui_deploy_k8s_namespace"),
        image=image,
        release=release,
        instances=instances,
        startup_budget=_count(raw.get("startup_budget", 180), "comfyui_deploy_startup_budget", 1),
        probe_period=_count(raw.get("probe_period", 10), "comfyui_deploy_k8s_probe_period", 1),
        environment=environment,
        models_size=_quantity(raw.get("models_size", "200Gi"), "comfyui_deploy_k8s_models_size"),
        models_access_mode=access,
        data_size=_quantity(raw.get("data_size", "20Gi"), "comfyui_deploy_k8s_data_size"),
        storage_class=_subdomain(raw["storage_class"], "comfyui_deploy_k8s_storage_class") if raw.get("storage_class") else "",
        extra_model_paths=_model_paths(raw.get("extra_model_paths")),
        ingress=_ingress(raw.get("ingress")),
        allow_from_namespaces=allow,
        max_unavailable=_count(raw.get("max_unavailable", 1), "comfyui_deploy_k8s_max_unavailable", 0),
        labels=_labels(raw.get("labels") or {}, "comfyui_deploy_k8s_labels"),
        pull_allowance=_count(raw.get("pull_allowance", PULL_ALLOWANCE), "comfyui_deploy_k8s_pull_allowance"),
        disruption_budget=_flag(raw.get("disruption_budget", True), "comfyui_deploy_k8s_disruption_budget"),
        secrets=_secrets(raw.get("secrets")),
    )


def _meta(settings: Settings, name: str, component: str, namespaced: bool = True) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": "comfyui",
        "app.kubernetes.io/instance": settings.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "comfyops.comfyui",
        **settings.labels,
    }
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespaced:
        meta["namespace"] = settings.namespace
    return meta


def _selector(settings: Settings, instance: str | None = None) -> dict[str, str]:
    selector = {"app.kubernetes.io/name": "comfyui", "app.kubernetes.io/instance": settings.name}
    if instance:
        selector["comfyops.io/comfyui-instance"] = instance
    return selector


def _pvc(settings: Settings, name: str, size: str, mode: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": [mode], "resources": {"requests": {"storage": size}}}
    if settings.storage_class:
        spec["storageClassName"] = settings.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(settings, name, "storage"), "spec": spec}


def _probe(port: int, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": "/system_stats", "port": port}, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def secret_name(settings: Settings) -> str:
    return settings.name + "-env"


def _container_env(settings: Settings) -> list[dict[str, Any]]:
    """The public environment as values; each secret as a reference to the Secret <name>-env, which the deploy applies
    from the current inventory: a rollout undo brings back a pod template that reads today's values, not old ones."""
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in settings.environment.items() if key not in settings.secrets.get("names", [])]
    env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name(settings), "key": key}}} for key in settings.secrets.get("names", [])]
    return sorted(env, key=lambda item: item["name"])


def _deployment(settings: Settings, instance: Instance) -> dict[str, Any]:
    name = "%s-%s" % (settings.name, instance.name)
    labels = {**_selector(settings, instance.name), "app.kubernetes.io/version": settings.release}
    resources: dict[str, Any] = {"limits": {GPU_RESOURCE: instance.gpus}} if instance.gpus else {}
    container = {
        "name": "comfyui",
        "image": settings.image,
        "imagePullPolicy": "IfNotPresent",
        "args": instance.args,
        "ports": [{"name": "http", "containerPort": instance.port, "protocol": "TCP"}],
        "env": _container_env(settings),
        "resources": resources,
        # the start-up budget (model loading, custom-node imports) belongs to the startup probe alone
        "startupProbe": _probe(instance.port, settings.probe_period, math.ceil(settings.startup_budget / settings.probe_period)),
        "readinessProbe": _probe(instance.port, settings.probe_period, 3),
        "livenessProbe": _probe(instance.port, settings.probe_period, 6),
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [
            {"name": "data", "mountPath": DATA},
            {"name": "models", "mountPath": MODELS},
            {"name": "config", "mountPath": CONFIG, "readOnly": True},
        ],
    }
    meta = _meta(settings, name, "server")
    meta["labels"].update(labels)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            # one GPU and one ReadWriteOnce data volume per instance: the old pod goes before the new one starts
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": settings.startup_budget + settings.pull_allowance,
            "selector": {"matchLabels": _selector(settings, instance.name)},
            "template": {
                # a new digest (a rotated token) rolls the pods out again: they read a Secret only when they start
                "metadata": {
                    "labels": {**meta["labels"]},
                    **({"annotations": {"comfyops.io/secrets-digest": settings.secrets["digest"]}} if settings.secrets.get("names") else {}),
                },
                "spec": {
                    "securityContext": {"runAsUser": COMFYUI_UID, "runAsGroup": COMFYUI_UID, "fsGroup": COMFYUI_UID},
                    "terminationGracePeriodSeconds": 300,
                    "containers": [container],
                    "volumes": [
                        {"name": "data", "persistentVolumeClaim": {"claimName": name + "-data"}},
                        {"name": "models", "persistentVolumeClaim": {"claimName": settings.name + "-models"}},
                        {"name": "config", "configMap": {"name": settings.name + "-config"}},
                    ],
                },
            },
        },
    }


def _ingress_manifest(settings: Settings, ingress: Ingress, port: int) -> dict[str, Any]:
    meta = _meta(settings, settings.name, "ingress")
    annotations = {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",  # /ws stays open while prompts run
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-body-size": "64m",
    }
    if ingress.auth == "basic":
        annotations.update(
            {
                "nginx.ingress.kubernetes.io/auth-type": "basic",
                "nginx.ingress.kubernetes.io/auth-secret": ingress.auth_secret,
                "nginx.ingress.kubernetes.io/auth-realm": "ComfyUI",
            }
        )
    elif ingress.auth == "url":
        annotations["nginx.ingress.kubernetes.io/auth-url"] = ingress.auth_url
        if ingress.auth_signin:
            annotations["nginx.ingress.kubernetes.io/auth-signin"] = ingress.auth_signin
    meta["annotations"] = annotations
    spec: dict[str, Any] = {
        "ingressClassName": ingress.class_name,
        "rules": [
            {
                "host": ingress.host,
                "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": settings.name, "port": {"number": port}}}}]},
            }
        ],
    }
    if ingress.tls_secret:
        spec["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def _extra_model_paths(settings: Settings) -> str:
    import yaml

    paths = settings.extra_model_paths or {
        "comfyops": {
            "base_path": MODELS,
            **{folder: folder + "/" for folder in ("checkpoints", "loras", "vae", "clip", "controlnet", "upscale_models", "embeddings")},
        }
    }
    return str(yaml.safe_dump(paths, sort_keys=True))


def render(settings: Settings) -> list[dict[str, Any]]:
    """Every manifest, in the order they are applied."""
    port = settings.instances[0].port
    manifests: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(settings, settings.namespace, "namespace", namespaced=False)},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(settings, settings.name + "-config", "config"),
            "data": {"extra_model_paths.yaml": _extra_model_paths(settings)},
        },
        _pvc(settings, settings.name + "-models", settings.models_size, settings.models_access_mode),
    ]
    for instance in settings.instances:
        manifests.append(_pvc(settings, "%s-%s-data" % (settings.name, instance.name), settings.data_size, "ReadWriteOnce"))
    manifests += [_deployment(settings, instance) for instance in settings.instances]
    # one Service in front of every instance (a port each pod opens under the same name)
    manifests.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(settings, settings.name, "service"),
            "spec": {"selector": _selector(settings), "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]},
        }
    )
    if settings.ingress:
        manifests.append(_ingress_manifest(settings, settings.ingress, port))
    if settings.disruption_budget:
        manifests.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": _meta(settings, settings.name, "disruption-budget"),
                "spec": {"maxUnavailable": settings.max_unavailable, "selector": {"matchLabels": _selector(settings)}},
            }
        )
    # ComfyUI has no authentication: only the ingress controller's namespaces (and the namespace's own pods, such as
    # the exporter) may open its port
    sources: list[dict[str, Any]] = [{"namespaceSelector": {"matchLabels": labels}} for labels in settings.allow_from_namespaces]
    sources.append({"podSelector": {}})
    manifests.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(settings, settings.name, "network-policy"),
            "spec": {
                "podSelector": {"matchLabels": _selector(settings)},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": "http"}]}],
            },
        }
    )
    return manifests


def manifest_name(manifest: Mapping[str, Any]) -> str:
    return "%s/%s" % (manifest.get("kind", "?"), (manifest.get("metadata") or {}).get("name", "?"))


def _field(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += "[%d]" % part if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def _semantic_errors(manifest: Mapping[str, Any]) -> list[str]:
    """What the OpenAPI schema cannot see, as (field, message) text."""
    errors: list[str] = []
    spec = manifest.get("spec") or {}
    if manifest.get("kind") in ("Deployment", "StatefulSet"):
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        for key, value in ((spec.get("selector") or {}).get("matchLabels") or {}).items():
            if labels.get(key) != value:
                errors.append("spec.selector.matchLabels.%s: %r does not select the pod template (labels %s)" % (key, value, labels))
        for index, container in enumerate((template.get("spec") or {}).get("containers") or []):
            base = "spec.template.spec.containers[%d]" % index
            ports = {port.get("containerPort") for port in container.get("ports") or []} | {port.get("name") for port in container.get("ports") or []}
            for kind in ("limits", "requests"):
                for resource, value in ((container.get("resources") or {}).get(kind) or {}).items():
                    where = "%s.resources.%s.%s" % (base, kind, resource)
                    if resource == GPU_RESOURCE and (isinstance(value, bool) or not str(value).isdigit()):
                        errors.append("%s: a GPU count is a whole number of 0 or more, got %r" % (where, value))
                    elif not _QUANTITY.match(str(value)):
                        errors.append("%s: %r is not a Kubernetes quantity" % (where, value))
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                get = (container.get(probe) or {}).get("httpGet")
                if get is None:
                    continue
                path = str(get.get("path", ""))
                if path.split("?", maxsplit=1)[0] not in PROBE_ROUTES and path.split("?", maxsplit=1)[0] not in ["/api" + route for route in PROBE_ROUTES]:
                    errors.append("%s.%s.httpGet.path: %r is not a route ComfyUI serves (use /system_stats)" % (base, probe, path))
                if get.get("port") not in ports:
                    errors.append("%s.%s.httpGet.port: %r is not a port the container opens" % (base, probe, get.get("port")))
    return errors


def validate(manifests: Sequence[Mapping[str, Any]], version: str) -> list[str]:
    """Errors of every manifest against the schemas of Kubernetes ``version`` and the checks above; empty when valid."""
    import kubernetes_validate
    from kubernetes_validate.utils import VersionNotSupportedError

    if not _VERSION.match(str(version)):
        raise K8sError("comfyui_deploy_k8s_version must be a Kubernetes version such as 1.31, got %r" % version)
    from kubernetes_validate.utils import SchemaNotFoundError

    errors: list[str] = []
    for index, manifest in enumerate(manifests):
        if not isinstance(manifest, Mapping) or not isinstance(manifest.get("apiVersion"), str) or not isinstance(manifest.get("kind"), str):
            errors.append("document %d: not a Kubernetes manifest (a map with apiVersion and kind), got %s" % (index + 1, type(manifest).__name__))
            continue
        name = manifest_name(manifest)
        try:
            kubernetes_validate.validate(dict(manifest), str(version), strict=True)
        except SchemaNotFoundError:
            errors.append(
                "%s: %s %s is not a kind Kubernetes %s knows (a file that is not a manifest of this deploy?)"
                % (name, manifest["apiVersion"], manifest["kind"], version)
            )
            continue
        except VersionNotSupportedError:
            raise K8sError(
                "comfyui_deploy_k8s_version %s has no schemas in kubernetes-validate %s" % (version, kubernetes_validate.version.__version__)
            ) from None
        except kubernetes_validate.ValidationError as exc:
            errors.append("%s: %s: %s" % (name, _field(list(exc.path)) or "(top)", exc.message))
        errors += ["%s: %s" % (name, error) for error in _semantic_errors(manifest)]
    return errors


def rollout_status(deployment: Mapping[str, Any] | None) -> dict[str, str]:
    """Where a Deployment's rollout stands, by the rules of `kubectl rollout status`: V(done) when the controller has
    seen the new spec and every replica is updated and available with no old one left, V(failed) when it reports
    ProgressDeadlineExceeded, V(progressing) otherwise (V(failed) as well for a Deployment that is not there)."""
    if not deployment:
        return {"state": "failed", "message": "the Deployment is not there"}
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name", "?")
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return {"state": "progressing", "message": "%s: waiting for the controller to see the new spec" % name}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return {"state": "failed", "message": "%s: exceeded its progress deadline (%s)" % (name, condition.get("message", ""))}
    wanted = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    replicas = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < wanted:
        return {"state": "progressing", "message": "%s: %d of %d new replicas updated" % (name, updated, wanted)}
    if replicas > updated:
        return {"state": "progressing", "message": "%s: %d old replicas pending termination" % (name, replicas - updated)}
    if available < updated:
        return {"state": "progressing", "message": "%s: %d of %d updated replicas available" % (name, available, updated)}
    return {"state": "done", "message": "%s: rolled out (revision %s)" % (name, (meta.get("annotations") or {}).get(REVISION, "?"))}


def revisions(deployments: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each Deployment's revision (the controller's annotation), by name."""
    return {str((d.get("metadata") or {}).get("name")): str(((d.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")) for d in deployments}


def rollback_targets(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The Deployments a failed apply changed: those whose revision moved since before it. A Deployment the apply did
    not reach keeps its revision and is left alone (rolling it back would take it to the release before its current
    one); one that did not exist before has no earlier ReplicaSet to go back to."""
    return sorted(name for name, revision in after.items() if name in before and before[name] and revision != before[name])
