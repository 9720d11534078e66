#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_validate
short_description: Check in one call whether a host can run ComfyUI in production
version_added: 0.1.0
description:
  - Runs a set of named checks and returns each as C({name, check, status, observed, expected, message, remedy, severity, labels}),
    with C(status) one of V(pass), V(warn), V(fail) or V(skip), plus a summary.
  - "Checks: V(cpu_cores), V(ram), V(disk) (free space per path), V(gpu_count), V(vram) (per GPU),
    V(driver_version), V(cuda_version) (the CUDA version the driver supports), V(compute_capability),
    V(vram_fit) (whether the models a workflow set needs fit in the free VRAM of the GPU that will run them),
    V(torch_cuda) (the CUDA build of the PyTorch in a given interpreter against the driver's CUDA),
    V(paths) (exist and writable by the service user), V(ports) (free, or held by our own service),
    V(endpoints) (TCP reachability, probed concurrently, each with its own timeout), V(dns),
    V(service_manager) (systemd present, or the Docker daemon reachable with the nvidia runtime registered),
    V(clock) (synchronised) and V(open_files)."
  - Defaults follow production (24 GB VRAM, 64 GB RAM, 500 GB free disk, CUDA 11.8 or newer).
    Every threshold is a parameter; sizes take human units (V(24GiB), V(500 GB)) and garbage is refused with a
    message that names the parameter.
  - Never C(changed); check mode runs the same read-only checks.
author:
  - comfyops maintainers (@comfyops)
requirements:
  - nvidia-ml-py on the managed host for the GPU checks (without it they fail, or warn with a lowered severity)
  - psutil on the managed host to name the process that holds a port (optional)
  - the Docker SDK for Python when O(deployment_mode=docker)
options:
  checks:
    description: The checks to run, in order. All by default.
    type: list
    elements: str
    choices: [cpu_cores, ram, disk, gpu_count, vram, driver_version, cuda_version, compute_capability, vram_fit,
              torch_cuda, paths, ports, endpoints, dns, service_manager, clock, open_files]
  severity:
    description:
      - Lower a check's severity, by check name. V(warn) reports a failure as a warning, V(skip) does not run it.
      - For example a CPU-only demo host sets V(gpu_count), V(vram) and the other GPU checks to V(warn).
    type: dict
    default: {}
  fail_on:
    description: Fail the task when any check reaches this status. V(never) only reports.
    type: str
    choices: [fail, warn, never]
    default: fail
  min_cpu_cores:
    description: Usable CPU cores.
    type: int
    default: 8
  min_ram:
    description: Installed RAM (a size such as V(64GB)).
    type: str
    default: 64GB
  disk:
    description: Free space to require per path; a path not made yet is measured on its parent's file system.
    type: list
    elements: dict
    default: [{path: /, min_free: 500GB}]
    suboptions:
      path:
        description: A path on the file system to measure.
        type: path
        required: true
      min_free:
        description: Free space to require (a size).
        type: str
        required: true
  min_gpus:
    description: Number of NVIDIA GPUs.
    type: int
    default: 1
  min_vram:
    description: Memory of each GPU (a size).
    type: str
    default: 24GB
  min_driver_version:
    description: NVIDIA driver version.
    type: str
    default: 520.61.05
  min_cuda_version:
    description: CUDA version the driver must support.
    type: str
    default: "11.8"
  min_compute_capability:
    description: CUDA compute capability of each GPU.
    type: str
    default: "7.0"
  models:
    description: Models a workflow set needs at once, for V(vram_fit).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name for the report.
        type: str
      size:
        description: Size in memory (a size such as V(6.5GB)).
        type: str
        required: true
  models_manifest:
    description: A JSON or YAML file on the host with a list of models (name, size), or a map with a C(models) list.
    type: path
  vram_fit_gpu:
    description: Index of the GPU that will run the models.
    type: int
    default: 0
  vram_headroom:
    description: VRAM to keep free beyond the models (activations, CUDA context).
    type: str
    default: 2GiB
  torch_python:
    description: A Python interpreter whose PyTorch to ask for its CUDA build, for example a release's venv.
    type: path
  paths:
    description: Directories that must exist and be writable by O(service_user).
    type: list
    elements: path
    default: []
  service_user:
    description: The user the service runs as, for O(paths).
    type: str
    default: root
  ports:
    description: TCP ports that must be free, or held by our own service.
    type: list
    elements: int
    default: []
  own_service_markers:
    description: A port held by a process whose name equals, or whose command line contains, one of these is ours.
    type: list
    elements: str
    default: []
  endpoints:
    description: C(host:port) pairs or URLs that must accept a TCP connection (model hosts, package indexes).
    type: list
    elements: str
    default: []
  endpoint_timeout:
    description: Seconds to wait for each endpoint; all endpoints are probed at once.
    type: float
    default: 5
  dns_names:
    description: Host names that must resolve.
    type: list
    elements: str
    default: []
  deployment_mode:
    description: How ComfyUI will run, for V(service_manager).
    type: str
    choices: [systemd, docker, standalone]
    default: systemd
  min_open_files:
    description: Open-files limit, of O(service_unit) when given, else of the module's own process.
    type: int
    default: 65536
  service_unit:
    description: A systemd unit whose C(LimitNOFILE) to read for V(open_files).
    type: str
extends_documentation_fragment:
  - comfyops.comfyui.attributes
"""

EXAMPLES = r"""
- name: Validate a production GPU host
  comfyops.comfyui.host_validate:
    disk:
      - path: /srv/comfyui
        min_free: 500GB
    ports: [8188]
    own_service_markers: [comfyui]
    endpoints:
      - https://pypi.org
      - huggingface.co:443
    models:
      - name: flux1-dev
        size: 23.8GB
      - name: t5xxl_fp16
        size: 9.8GB
  register: validation

- name: Validate a CPU-only demo host, reporting only
  comfyops.comfyui.host_validate:
    min_ram: 2GB
    min_cpu_cores: 1
    disk: [{path: /tmp, min_free: 100MB}]
    deployment_mode: standalone
    severity:
      gpu_count: warn
      vram: warn
      driver_version: warn
      cuda_version: warn
      compute_capability: warn
      clock: warn
      open_files: warn
    fail_on: never
  register: demo_validation
"""

RETURN = r"""
checks:
  description: One entry per check result (some checks give one per path, GPU, port or endpoint).
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: "Result name, such as V(ram) or V(disk:/srv/comfyui).", type: str, returned: always}
    check: {description: The check that produced it., type: str, returned: always}
    status: {description: "V(pass), V(warn), V(fail) or V(skip).", type: str, returned: always}
    observed: {description: What the host has., type: raw, returned: always}
    expected: {description: What the threshold asks., type: raw, returned: always}
    message: {description: A sentence for people., type: str, returned: always}
    remedy: {description: "What to do, for a failure or a warning.", type: str, returned: always}
    severity: {description: "For alerts: V(critical) for a failure, V(warning) for a warning, else V(info).", type: str, returned: always}
    labels: {description: "For alerts: at least C(check).", type: dict, returned: always}
  sample:
    - name: ram
      check: ram
      status: fail
      observed: 31.3 GiB
      expected: ">= 59.6 GiB"
      message: 31.3 GiB of RAM
      remedy: add RAM or lower min_ram
      severity: critical
      labels: {check: ram}
summary:
  description: Counts by status, the overall status and the names that failed or warned.
  returned: always
  type: dict
  sample: {pass: 12, warn: 1, fail: 1, skip: 2, status: fail, failed: [ram], warned: [clock]}
gpu:
  description: The GPU facts the checks read (as M(comfyops.comfyui.nvidia_gpu_info) returns them), when a GPU check ran.
  returned: when a GPU check ran
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._checks import ALL_CHECKS, DEFAULTS, run_checks
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import UnitError

ARGUMENT_SPEC = {
    "checks": {"type": "list", "elements": "str", "choices": list(ALL_CHECKS)},
    "severity": {"type": "dict", "default": {}},
    "fail_on": {"type": "str", "choices": ["fail", "warn", "never"], "default": "fail"},
    "min_cpu_cores": {"type": "int", "default": DEFAULTS["min_cpu_cores"]},
    "min_ram": {"type": "str", "default": DEFAULTS["min_ram"]},
    "disk": {
        "type": "list",
        "elements": "dict",
        "default": DEFAULTS["disk"],
        "options": {"path": {"type": "path", "required": True}, "min_free": {"type": "str", "required": True}},
    },
    "min_gpus": {"type": "int", "default": DEFAULTS["min_gpus"]},
    "min_vram": {"type": "str", "default": DEFAULTS["min_vram"]},
    "min_driver_version": {"type": "str", "default": DEFAULTS["min_driver_version"]},
    "min_cuda_version": {"type": "str", "default": DEFAULTS["min_cuda_version"]},
    "min_compute_capability": {"type": "str", "default": DEFAULTS["min_compute_capability"]},
    "models": {"type": "list", "elements": "dict", "default": [], "options": {"name": {"type": "str"}, "size": {"type": "str", "required": True}}},
    "models_manifest": {"type": "path"},
    "vram_fit_gpu": {"type": "int", "default": 0},
    "vram_headroom": {"type": "str", "default": DEFAULTS["vram_headroom"]},
    "torch_python": {"type": "path"},
    "paths": {"type": "list", "elements": "path", "default": []},
    "service_user": {"type": "str", "default": "root"},
    "ports": {"type": "list", "elements": "int", "default": []},
    "own_service_markers": {"type": "list", "elements": "str", "default": []},
    "endpoints": {"type": "list", "elements": "str", "default": []},
    "endpoint_timeout": {"type": "float", "default": 5},
    "dns_names": {"type": "list", "elements": "str", "default": []},
    "deployment_mode": {"type": "str", "choices": ["systemd", "docker", "standalone"], "default": "systemd"},
    "min_open_files": {"type": "int", "default": DEFAULTS["min_open_files"]},
    "service_unit": {"type": "str"},
}


def main():
    module = ComfyOpsModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = dict(module.params)
    checks, severity, fail_on = params.pop("checks"), params.pop("severity"), params.pop("fail_on")
    try:
        report = run_checks(params, checks=checks, severity=severity)
    except UnitError as exc:
        module.fail_json(msg="host_validate: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="host_validate: cannot read %s: %s" % (exc.filename, exc.strerror))
    if report["gpu"] is None:
        del report["gpu"]
    else:
        report["gpu"].pop("import_error", None)
    summary = report["summary"]
    failing = summary["failed"] + (summary["warned"] if fail_on == "warn" else [])
    if fail_on != "never" and failing:
        details = "; ".join("%s: %s" % (item["name"], item["message"]) for item in report["checks"] if item["name"] in failing)
        module.fail_json(msg="%d check(s) did not pass: %s" % (len(failing), details), changed=False, **report)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
