#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_k8s_manifests
short_description: Render ComfyUI's Kubernetes manifests from the deploy's settings and validate them offline
version_added: 0.5.0
description:
  - "Renders a Namespace, a ConfigMap with C(extra_model_paths.yaml), a PersistentVolumeClaim for the shared models and
    one for each instance's data, a Deployment per GPU instance (one C(nvidia.com/gpu) each, as on a host; startup,
    readiness and liveness probes on C(/system_stats), the startup probe holding the whole start-up budget), a Service,
    an optional Ingress with authentication annotations, a PodDisruptionBudget (optional) and a NetworkPolicy that lets only the
    ingress controller's namespaces and the namespace's own pods reach ComfyUI."
  - "Validates every manifest offline against the OpenAPI schemas of Kubernetes O(version) (the C(kubernetes-validate)
    library, strict: an unknown field is an error), then what a schema cannot see: quantities, a GPU count that is a
    whole number of 0 or more, probe paths that are routes ComfyUI serves and ports the container opens, selectors
    that select their pods. Each error names the manifest and the field."
  - With O(mode=render), writes one YAML file per manifest into O(dest) (atomically; files of an earlier render that
    are no longer rendered are removed) and fails before writing anything when a manifest does not validate.
    With O(mode=validate), validates the YAML files already in O(dest) (after a hand edit) and writes nothing.
  - The ComfyUI flags come from the same rule as the host deploy's (the P(comfyops.comfyui.comfyui_server_args#filter)
    filter).
requirements:
  - kubernetes-validate (on the host that runs the module, usually the controller)
author:
  - comfyops maintainers (@comfyops)
options:
  settings:
    description:
      - "The deploy's settings, keyed without prefix: C(release) (comfyui_deploy_release_id), C(image), C(instances),
        C(device), C(vram_mode), C(extra_args), C(environment), C(whitelist_nodes), C(startup_budget), and the
        Kubernetes ones C(name), C(namespace), C(probe_period), C(models_size), C(models_access_mode), C(data_size),
        C(storage_class), C(extra_model_paths), C(ingress), C(allow_from_namespaces), C(max_unavailable), C(labels),
        C(pull_allowance) (seconds added to C(startup_budget) to make each Deployment's C(progressDeadlineSeconds)) and
        C(disruption_budget) (V(false) leaves the PodDisruptionBudget out)."
      - "C(environment) holds no secret: C(secrets) is C({names, digest}) of the secret environment (filter
        P(comfyops.comfyui.secret_env#filter), part V(record)). Each secret becomes a reference to the key of that name
        in the Secret C(<name>-env), which the role applies from the current inventory (a rollout undo then reads
        today's values), and the digest a pod template annotation (a rotated token rolls the pods out)."
      - An instance may say C(gpus) (default 1, 0 on the CPU).
      - Required with O(mode=render).
    type: dict
  version:
    description: The Kubernetes version whose schemas the manifests must meet, such as V(1.31).
    type: str
    default: "1.31"
  dest:
    description: The directory of the manifest files.
    type: path
    required: true
  mode:
    description: V(render) writes the manifests; V(validate) checks the files in O(dest).
    type: str
    choices: [render, validate]
    default: render
extends_documentation_fragment:
  - comfyops.comfyui.attributes
"""

EXAMPLES = r"""
- name: Render and validate the manifests for Kubernetes 1.31
  comfyops.comfyui.comfyui_k8s_manifests:
    dest: /tmp/comfyui-k8s
    version: "1.31"
    settings:
      release: v0.8.0-0123456789ab-deadbeef
      image: registry.example/comfyui:v0.8.0-0123456789ab-deadbeef
      instances: [{name: gpu0, port: 8188}, {name: gpu1, port: 8188}]
      ingress: {host: comfyui.example, auth: basic, auth_secret: comfyui-basic-auth, tls_secret: comfyui-tls}
  delegate_to: localhost
"""

RETURN = r"""
manifests:
  description: The manifests (rendered, or read from O(dest)), in the order to apply them.
  returned: success
  type: list
  elements: dict
files:
  description: The manifest files in O(dest), in the same order.
  returned: success
  type: list
  elements: str
written:
  description: The files written or removed (nothing in check mode or with O(mode=validate)).
  returned: always
  type: list
  elements: str
errors:
  description: Validation errors, each naming the manifest and the field (the module fails when there is one).
  returned: always
  type: list
  elements: str
"""

import os
import re
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import atomic_write
from ansible_collections.comfyops.comfyui.plugins.module_utils._k8s import K8sError, manifest_name, parse_settings, render, validate
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None
try:
    import kubernetes_validate  # probed here for a clear error; _k8s uses it
except ImportError:
    KV_ERROR = traceback.format_exc()
else:
    KV_ERROR = None if kubernetes_validate else "kubernetes-validate is not usable"

OURS = re.compile(r"^\d{2}-[a-z0-9-]+\.yaml$")


def _file_name(index, manifest):
    return "%02d-%s.yaml" % (index, re.sub(r"[^a-z0-9-]+", "-", manifest_name(manifest).lower()).strip("-"))


def _read(dest):
    """The manifests of the YAML files in `dest`, and a sentence for each document that is not one (named by file)."""
    files = sorted(name for name in os.listdir(dest) if name.endswith((".yaml", ".yml")))
    manifests, paths, problems = [], [], []
    for name in files:
        path = os.path.join(dest, name)
        with open(path, encoding="utf-8") as handle:
            for number, doc in enumerate(yaml.safe_load_all(handle), 1):
                if not doc:
                    continue
                if not isinstance(doc, dict) or not isinstance(doc.get("apiVersion"), str) or not isinstance(doc.get("kind"), str):
                    problems.append("%s: document %d is not a Kubernetes manifest (a map with apiVersion and kind)" % (path, number))
                    continue
                manifests.append(doc)
                paths.append(path)
    return manifests, paths, problems


def main():
    module = ComfyOpsModule(
        argument_spec={
            "settings": {"type": "dict"},
            "version": {"type": "str", "default": "1.31"},
            "dest": {"type": "path", "required": True},
            "mode": {"type": "str", "choices": ["render", "validate"], "default": "render"},
        },
        required_if=[("mode", "render", ["settings"])],
        supports_check_mode=True,
    )
    if KV_ERROR:
        module.fail_json(msg=missing_required_lib("kubernetes-validate"), exception=KV_ERROR)
    p = module.params
    dest = p["dest"]
    try:
        if p["mode"] == "validate":
            if not os.path.isdir(dest):
                module.fail_json(msg="comfyui_k8s_manifests: dest %s is not a directory of manifests" % dest, errors=[], written=[])
            manifests, files, errors = _read(dest)
        else:
            try:
                manifests = render(parse_settings(p["settings"]))
            except K8sError as exc:  # named by the role variable that fills the setting, under the option
                raise K8sError("settings: %s" % exc) from None
            files = [os.path.join(dest, _file_name(index, manifest)) for index, manifest in enumerate(manifests)]
            errors = []
        errors += validate(manifests, p["version"])
    except (K8sError, yaml.YAMLError, UnicodeDecodeError) as exc:
        module.fail_json(msg="comfyui_k8s_manifests: %s" % exc, errors=[str(exc)], written=[])
    if errors:
        module.fail_json(
            msg="comfyui_k8s_manifests: %d error(s) against Kubernetes %s: %s" % (len(errors), p["version"], "; ".join(errors)),
            errors=errors,
            written=[],
            manifests=manifests,
        )
    written = []
    if p["mode"] == "render":
        wanted = {}
        for path, manifest in zip(files, manifests):
            wanted[path] = "# Rendered by comfyops.comfyui.comfyui_k8s_manifests; edits are overwritten.\n" + yaml.safe_dump(
                manifest, sort_keys=False, default_flow_style=False
            )
        old = [os.path.join(dest, name) for name in (os.listdir(dest) if os.path.isdir(dest) else []) if OURS.match(name)]
        for path, text in wanted.items():
            current = None
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    current = handle.read()
            if current != text:
                written.append(path)
                if not module.check_mode:
                    os.makedirs(dest, mode=0o755, exist_ok=True)
                    atomic_write(path, text, 0o644)
        for path in sorted(set(old) - set(wanted)):
            written.append(path)
            if not module.check_mode:
                os.unlink(path)
    module.exit_json(changed=bool(written), manifests=manifests, files=files, written=written, errors=[])


if __name__ == "__main__":
    main()
