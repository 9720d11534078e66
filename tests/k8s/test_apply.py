"""playbooks/kubernetes.yml against a real Kubernetes control plane on loopback: etcd (Debian's), kube-apiserver and
kube-controller-manager (built from Debian's kubernetes source by tests/testbed/kube-control-plane.sh). The cluster has
no kubelet and no registry: this test plays the kubelet's part, marking a pod ready, or crash-looping when its image
is from the repository `registry.test/crashing`. Everything else (the apply, the Deployment controller's ReplicaSets
and rollout status, the progress deadline, the rollback) is Kubernetes' own.

Run with `make k8s-test` (it builds the binaries once); kube-apiserver 1.20 has no policy/v1, so the
PodDisruptionBudget is left out (comfyui_deploy_k8s_disruption_budget: false).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
K8S_BIN = Path(os.environ.get("COMFYOPS_K8S_DIR", "/var/tmp/comfyops-k8s")) / "bin"
sys.path.insert(0, str(REPO / "tests" / "support"))
from loopback import free_port  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (K8S_BIN / "kube-apiserver").exists() or shutil.which("etcd") is None,
    reason="no control plane here: make k8s-test builds kube-apiserver and kube-controller-manager from Debian's source",
)
CRASHING = "registry.test/crashing"
GOOD = "registry.test/comfyui"


def wait_until(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out after %ss waiting for %s" % (timeout, what)
        time.sleep(interval)  # poll


class FakeKubelet(threading.Thread):
    """What a kubelet would report for each new pod: ready, or crash-looping when its image is from CRASHING."""

    def __init__(self, core):
        super().__init__(daemon=True)
        self.core, self.stop = core, threading.Event()

    def run(self):
        while not self.stop.is_set():
            for pod in self.core.list_pod_for_all_namespaces().items:
                if pod.status.conditions or pod.metadata.deletion_timestamp:
                    continue
                container = pod.spec.containers[0]
                now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                crashing = container.image.startswith(CRASHING + ":")
                state = {"waiting": {"reason": "CrashLoopBackOff"}} if crashing else {"running": {"startedAt": now}}
                status = {
                    "phase": "Running",
                    "startTime": now,
                    "conditions": [{"type": "Ready", "status": "False" if crashing else "True", "lastTransitionTime": now}],
                    "containerStatuses": [
                        {
                            "name": container.name,
                            "image": container.image,
                            "imageID": "",
                            "ready": not crashing,
                            "restartCount": 3 if crashing else 0,
                            "state": state,
                        }
                    ],
                }
                try:
                    self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, {"status": status})
                except Exception:  # a pod the controller deleted meanwhile
                    pass
            self.stop.wait(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from kubernetes import client, config

    root = tmp_path_factory.mktemp("k8s")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "sa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (root / "sa.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    token = uuid.uuid4().hex
    (root / "tokens.csv").write_text('%s,admin,admin,"system:masters"\n' % token)
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    logs, procs = [], []

    def start(name, cmd):
        log = open(root / (name + ".log"), "w")  # closed at teardown
        logs.append(log)
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    start("etcd", [
        "etcd", "--name", "default", "--data-dir", str(root / "etcd"),
        "--listen-client-urls", "http://127.0.0.1:%d" % etcd_port, "--advertise-client-urls", "http://127.0.0.1:%d" % etcd_port,
        "--listen-peer-urls", "http://127.0.0.1:%d" % peer_port, "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer_port,
        "--initial-cluster", "default=http://127.0.0.1:%d" % peer_port,
    ])  # fmt: skip
    start("kube-apiserver", [
        str(K8S_BIN / "kube-apiserver"), "--etcd-servers", "http://127.0.0.1:%d" % etcd_port,
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(api_port), "--insecure-port", "0",
        "--cert-dir", str(root / "certs"), "--token-auth-file", str(root / "tokens.csv"), "--authorization-mode", "RBAC",
        "--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", str(root / "sa.pub"),
        "--service-account-signing-key-file", str(root / "sa.key"), "--service-cluster-ip-range", "10.0.0.0/24",
        "--disable-admission-plugins", "ServiceAccount", "--endpoint-reconciler-type", "none",
    ])  # fmt: skip
    kubeconfig = root / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "test", "cluster": {"server": "https://127.0.0.1:%d" % api_port, "certificate-authority": str(root / "certs" / "apiserver.crt")}}
                ],
                "users": [{"name": "admin", "user": {"token": token}}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
                "current-context": "test",
            }
        )
    )
    kubeconfig.chmod(0o600)
    try:
        wait_until((root / "certs" / "apiserver.crt").exists, 60, "the apiserver's certificate")
        api = config.new_client_from_config(config_file=str(kubeconfig))

        def ready():
            try:  # the default namespace exists once the apiserver has bootstrapped
                return client.CoreV1Api(api).read_namespace("default").metadata.name == "default"
            except Exception:  # not listening yet
                return False

        wait_until(ready, 120, "kube-apiserver /readyz")
        start("kube-controller-manager", [
            str(K8S_BIN / "kube-controller-manager"), "--kubeconfig", str(kubeconfig), "--controllers", "deployment,replicaset",
            "--leader-elect=false", "--port", "0", "--secure-port", "0",
        ])  # fmt: skip
        kubelet = FakeKubelet(client.CoreV1Api(api))
        kubelet.start()
        yield {"kubeconfig": kubeconfig, "apps": client.AppsV1Api(api), "core": client.CoreV1Api(api), "root": root}
        kubelet.stop.set()
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        for log in logs:
            log.close()


def playbook(cluster, tmp_path, namespace, repository, **more):
    host_vars = {
        "ansible_connection": "local",
        "comfyui_deploy_source": {"type": "local", "path": "/nonexistent", "ref": "v0.8.0"},
        "comfyui_deploy_instances": [{"name": "gpu0", "port": 8188, "cuda_device": 0}, {"name": "gpu1", "port": 8189, "cuda_device": 1}],
        "comfyui_deploy_image_repository": repository,
        "comfyui_deploy_startup_budget": 5,
        "comfyui_deploy_k8s_pull_allowance": 10,
        "comfyui_deploy_k8s_probe_period": 1,
        "comfyui_deploy_k8s_namespace": namespace,
        "comfyui_deploy_k8s_disruption_budget": False,
        "comfyui_deploy_k8s_version": "1.25",
        "comfyui_deploy_k8s_dir": str(tmp_path / "k8s"),
        "comfyui_deploy_k8s_kubeconfig": str(cluster["kubeconfig"]),
        **more,
    }
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"comfyui_hosts": {"hosts": {"gpu-a": host_vars}}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"), ANSIBLE_NOCOLOR="1")
    cmd = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        str(REPO / "playbooks" / "kubernetes.yml"),
        "-e",
        f"ansible_python_interpreter={sys.executable}",
    ]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def deployments(cluster, namespace):
    return {d.metadata.name: d for d in cluster["apps"].list_namespaced_deployment(namespace).items}


def image(deployment):
    return deployment.spec.template.spec.containers[0].image


def revision(deployment):
    return deployment.metadata.annotations["deployment.kubernetes.io/revision"]


def test_a_release_rolls_out_and_a_second_run_changes_nothing(cluster, tmp_path):
    namespace = "comfyui-" + uuid.uuid4().hex[:6]
    run = playbook(cluster, tmp_path, namespace, GOOD)
    assert run.returncode == 0, run.stdout[-4000:]
    assert "comfyui-gpu0: rolled out (revision 1)" in run.stdout and "comfyui-gpu1: rolled out (revision 1)" in run.stdout
    found = deployments(cluster, namespace)
    assert sorted(found) == ["comfyui-gpu0", "comfyui-gpu1"]
    for deployment in found.values():
        assert image(deployment).startswith(GOOD + ":v0.8.0-")
        assert deployment.status.available_replicas == deployment.status.updated_replicas == 1
    services = [s.metadata.name for s in cluster["core"].list_namespaced_service(namespace).items]
    assert services == ["comfyui"]
    again = playbook(cluster, tmp_path, namespace, GOOD, comfyui_deploy_k8s_context="test")  # the kubeconfig's context by name
    assert again.returncode == 0, again.stdout[-4000:]
    assert {name: revision(d) for name, d in deployments(cluster, namespace).items()} == {"comfyui-gpu0": "1", "comfyui-gpu1": "1"}


def test_a_release_whose_pods_never_become_ready_is_rolled_back_where_it_went(cluster, tmp_path):
    namespace = "comfyui-" + uuid.uuid4().hex[:6]
    first = playbook(cluster, tmp_path, namespace, GOOD)
    assert first.returncode == 0, first.stdout[-4000:]
    good = {name: image(d) for name, d in deployments(cluster, namespace).items()}

    started = time.monotonic()
    bad = playbook(cluster, tmp_path, namespace, CRASHING)
    took = time.monotonic() - started
    assert bad.returncode != 0
    assert "comfyui-gpu0: exceeded its progress deadline" in bad.stdout, bad.stdout[-4000:]
    assert "rolled back to their previous ReplicaSets: comfyui-gpu0." in bad.stdout, bad.stdout[-4000:]
    assert took >= 15, "the rollout failed before its progress deadline (5 s budget + 10 s allowance): %.1f s" % took

    def back():
        found = deployments(cluster, namespace)
        gpu0 = found["comfyui-gpu0"]
        return gpu0.status.observed_generation == gpu0.metadata.generation and gpu0.status.updated_replicas == gpu0.status.available_replicas == 1 and found

    found = wait_until(back, 60, "comfyui-gpu0 to serve the previous release again")
    # gpu0 went back to the first release's pod template (a new revision of the old ReplicaSet); the deploy never
    # reached gpu1 (one Deployment at a time), so it was left as it was
    assert image(found["comfyui-gpu0"]) == good["comfyui-gpu0"] and revision(found["comfyui-gpu0"]) == "3"
    assert image(found["comfyui-gpu1"]) == good["comfyui-gpu1"] and revision(found["comfyui-gpu1"]) == "1"
    pods = cluster["core"].list_namespaced_pod(namespace).items
    assert pods and all(not p.spec.containers[0].image.startswith(CRASHING) for p in pods if not p.metadata.deletion_timestamp)
