#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_health
short_description: Check everything that matters about ComfyUI instances in one call
version_added: 0.1.0
description:
  - "Checks each ComfyUI instance of the host: V(api) (C(/system_stats) within a latency bound, the expected version),
    V(queue) (pending depth, age of the running prompt: a stuck queue), V(models) (required model files visible),
    V(custom_nodes) (expected node classes loaded: a failed import shows here), V(gpu) (free VRAM, temperature,
    ECC errors and throttling through NVML, and the server's own device figures), V(system) (load, available memory,
    free disk), V(service) (the systemd unit, pidfile process or container runs and is not restart-looping),
    V(workflow) (a smoke workflow executes within a time bound and its output file exists), and, when configured,
    V(redis), V(prometheus) and V(alertmanager)."
  - "Each check has its own status: V(pass), V(warn), V(fail), V(skip) or V(starting). The instance's state is
    V(healthy), V(degraded) (a warning), V(starting) (the API fails while the process lives inside
    O(startup_budget)) or V(failed)."
  - Appends each result to a bounded history file per instance and returns a trend (failure streak, latency
    percentiles), and can write Prometheus textfile metrics atomically for node_exporter. A history or metrics file
    that cannot be read or written (a full disk, a file where the directory should be) is a V(warn) check named
    V(history) in a report that is otherwise whole; the instance's state stays what its checks say.
  - Never C(changed). The smoke workflow's output file is removed after it was checked unless O(keep_smoke_output=true).
author:
  - comfyops maintainers (@comfyops)
options:
  url:
    description: The instance to check when O(instances) is not given.
    type: str
    default: http://127.0.0.1:8188
  name:
    description: Name of the instance given by O(url), used in history and metrics.
    type: str
    default: default
  instances:
    description: Several instances on this host; each entry overrides the options of the same name.
    type: list
    elements: dict
    suboptions:
      name: {description: Instance name., type: str, required: true}
      url: {description: Base URL., type: str, required: true}
      unit: {description: Its systemd unit., type: str}
      pidfile: {description: Its pidfile (standalone)., type: path}
      container: {description: Its container., type: str}
      output_dir: {description: Its output directory., type: path}
      cuda_device: {description: The GPU index it runs on., type: int}
  checks:
    description: Checks to run. The core checks by default; the optional ones when their target is given.
    type: list
    elements: str
    choices: [api, queue, models, custom_nodes, gpu, system, service, workflow, redis, prometheus, alertmanager]
  fail_on:
    description: Fail the task when the worst state reaches this. V(starting) never fails the task.
    type: str
    choices: [failed, degraded, never]
    default: failed
  timeout: {description: Seconds for each HTTP call., type: float, default: 10}
  max_latency: {description: Seconds /system_stats may take before V(api) warns., type: float, default: 2}
  expected_version: {description: The ComfyUI version the server must report., type: str}
  max_queue_pending: {description: Pending prompts before V(queue) warns., type: int, default: 20}
  max_running_age: {description: Seconds a prompt may run before the queue counts as stuck., type: float, default: 900}
  required_models: {description: "Model files as C(folder/name), such as C(checkpoints/sd15.safetensors).", type: list, elements: str, default: []}
  required_node_classes: {description: Node classes that must be loaded., type: list, elements: str, default: []}
  require_gpu: {description: Fail V(gpu) when there are no GPU facts (else it is skipped)., type: bool, default: false}
  cuda_device: {description: GPU index of the instance given by O(url)., type: int, default: 0}
  min_vram_free: {description: Free VRAM below this warns (a size)., type: str, default: 1GiB}
  max_temperature: {description: GPU temperature in Celsius above this fails., type: int, default: 85}
  max_load_per_core: {description: One-minute load per core above this fails V(system)., type: float, default: 4}
  min_mem_available: {description: Available memory below this fails V(system) (a size)., type: str, default: 1GiB}
  disk_paths: {description: "Paths whose free space V(system) checks (data, models, outputs).", type: list, elements: path, default: []}
  min_disk_free: {description: Free space each of O(disk_paths) needs (a size)., type: str, default: 10GiB}
  service_manager:
    description: How the instance runs, for V(service) and for telling V(starting) from V(failed).
    type: str
    choices: [none, systemd, standalone, docker]
    default: none
  unit: {description: The systemd unit of the instance given by O(url)., type: str}
  pidfile: {description: The pidfile of the instance given by O(url)., type: path}
  container: {description: The container of the instance given by O(url)., type: str}
  max_restarts: {description: Restarts since the previous check above this count as a restart loop., type: int, default: 2}
  startup_budget: {description: Seconds after the process started during which a failing API is V(starting)., type: float, default: 120}
  workflow: {description: An API-format workflow for V(workflow); the recorded 64x64 smoke workflow by default., type: dict}
  workflow_timeout: {description: Seconds the smoke workflow may take., type: float, default: 60}
  output_dir: {description: "The output directory of the instance given by O(url), to check the smoke output exists.", type: path}
  keep_smoke_output: {description: Keep the smoke workflow's output files., type: bool, default: false}
  redis: {description: "C(host:port) of a Redis to PING.", type: str}
  prometheus_url: {description: Prometheus base URL whose C(/-/ready) must answer 200., type: str}
  alertmanager_url: {description: Alertmanager base URL whose C(/-/ready) must answer 200., type: str}
  history_dir: {description: Directory for one bounded JSON-lines history file per instance; no history when unset., type: path}
  history_max: {description: Records kept per history file., type: int, default: 500}
  textfile_dir: {description: Directory of node_exporter's textfile collector; metrics are written there atomically., type: path}
extends_documentation_fragment:
  - comfyops.comfyui.attributes
attributes:
  check_mode:
    support: partial
    details:
      - In check mode only read-only checks run. The V(workflow) check (it queues a prompt and writes an image) is
        reported as skipped, and neither the history (O(history_dir)) nor the metrics (O(textfile_dir)) are written;
        RV(check_mode) says so. The module never reports C(changed).
"""

EXAMPLES = r"""
- name: Check the local instance, its systemd unit and a smoke workflow
  comfyops.comfyui.comfyui_health:
    url: http://127.0.0.1:8188
    service_manager: systemd
    unit: comfyui.service
    output_dir: /srv/comfyui/shared/output
    required_models: [checkpoints/sd_xl_base_1.0.safetensors]
    history_dir: /var/lib/comfyops/health
    textfile_dir: /var/lib/prometheus/node-exporter
  register: health

- name: Wait for a fresh start, then require health
  comfyops.comfyui.comfyui_health:
    service_manager: systemd
    unit: comfyui.service
    startup_budget: 300
    fail_on: never
  register: health
  until: health.state != 'starting'
  retries: 60
  delay: 5
"""

RETURN = r"""
check_mode: {description: What check mode left out., returned: in check mode, type: str}
state:
  description: The worst state of all instances.
  returned: always
  type: str
  sample: healthy
instances:
  description: One entry per instance.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Instance name., type: str, returned: always}
    url: {description: Its URL., type: str, returned: always}
    state: {description: "V(healthy), V(degraded), V(starting) or V(failed).", type: str, returned: always}
    checks:
      description: "Each check as C({name, check, status, observed, expected, message, remedy, severity, labels}); labels name the check and the instance."
      type: list
      elements: dict
      returned: always
    failed: {description: Names of the failed checks., type: list, elements: str, returned: always}
    metrics: {description: "Measured values (api_latency, queue_pending, workflow_seconds, ...).", type: dict, returned: always}
    trend: {description: "Runs in the history, failure_streak, latency_p50, latency_p95, latency_max.", type: dict, returned: always}
    comfyui_version: {description: The version the server reports., type: str, returned: always}
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._comfyui import ComfyUIError
from ansible_collections.comfyops.comfyui.plugins.module_utils._health import CORE_CHECKS, DEFAULTS, INSTANCE_OPTIONS, OPTIONAL_CHECKS, run_health
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule

INSTANCE_KEYS = ("unit", "pidfile", "container", "output_dir", "cuda_device")


def argument_spec():
    return {
        "url": {"type": "str", "default": "http://127.0.0.1:8188"},
        "name": {"type": "str", "default": "default"},
        "instances": {
            "type": "list",
            "elements": "dict",
            "options": INSTANCE_OPTIONS,
        },
        "checks": {"type": "list", "elements": "str", "choices": list(CORE_CHECKS + OPTIONAL_CHECKS)},
        "fail_on": {"type": "str", "choices": ["failed", "degraded", "never"], "default": "failed"},
        "timeout": {"type": "float", "default": DEFAULTS["timeout"]},
        "max_latency": {"type": "float", "default": DEFAULTS["max_latency"]},
        "expected_version": {"type": "str"},
        "max_queue_pending": {"type": "int", "default": DEFAULTS["max_queue_pending"]},
        "max_running_age": {"type": "float", "default": DEFAULTS["max_running_age"]},
        "required_models": {"type": "list", "elements": "str", "default": []},
        "required_node_classes": {"type": "list", "elements": "str", "default": []},
        "require_gpu": {"type": "bool", "default": DEFAULTS["require_gpu"]},
        "cuda_device": {"type": "int", "default": 0},
        "min_vram_free": {"type": "str", "default": DEFAULTS["min_vram_free"]},
        "max_temperature": {"type": "int", "default": DEFAULTS["max_temperature"]},
        "max_load_per_core": {"type": "float", "default": DEFAULTS["max_load_per_core"]},
        "min_mem_available": {"type": "str", "default": DEFAULTS["min_mem_available"]},
        "disk_paths": {"type": "list", "elements": "path", "default": []},
        "min_disk_free": {"type": "str", "default": DEFAULTS["min_disk_free"]},
        "service_manager": {"type": "str", "choices": ["none", "systemd", "standalone", "docker"], "default": "none"},
        "unit": {"type": "str"},
        "pidfile": {"type": "path"},
        "container": {"type": "str"},
        "max_restarts": {"type": "int", "default": DEFAULTS["max_restarts"]},
        "startup_budget": {"type": "float", "default": DEFAULTS["startup_budget"]},
        "workflow": {"type": "dict"},
        "workflow_timeout": {"type": "float", "default": DEFAULTS["workflow_timeout"]},
        "output_dir": {"type": "path"},
        "keep_smoke_output": {"type": "bool", "default": False},
        "redis": {"type": "str"},
        "prometheus_url": {"type": "str"},
        "alertmanager_url": {"type": "str"},
        "history_dir": {"type": "path"},
        "history_max": {"type": "int", "default": 500},
        "textfile_dir": {"type": "path"},
    }


def main():
    module = ComfyOpsModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = dict(module.params)
    instances = params.pop("instances") or [{"name": params["name"], "url": params["url"], **{k: params[k] for k in INSTANCE_KEYS}}]
    checks = params.pop("checks")
    if not checks:
        checks = list(CORE_CHECKS) + [
            c for c, key in (("redis", "redis"), ("prometheus", "prometheus_url"), ("alertmanager", "alertmanager_url")) if params.get(key)
        ]
    fail_on = params.pop("fail_on")
    history_dir, history_max, textfile_dir = params.pop("history_dir"), params.pop("history_max"), params.pop("textfile_dir")
    try:
        report = run_health(instances, params, checks, history_dir=history_dir, history_max=history_max, textfile_dir=textfile_dir, read_only=module.check_mode)
    except (ValueError, ComfyUIError) as exc:  # UnitError, PathError and HealthInputError are ValueErrors
        module.fail_json(msg="comfyui_health: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="comfyui_health: cannot use %s: %s" % (exc.filename, exc.strerror))
    report.pop("gpu", None)
    bad = {"failed": ("failed",), "degraded": ("failed", "degraded"), "never": ()}[fail_on]
    unhealthy = [item for item in report["instances"] if item["state"] in bad]
    if unhealthy:
        details = "; ".join(
            "%s is %s: %s"
            % (item["name"], item["state"], ", ".join("%s (%s)" % (c["name"], c["message"]) for c in item["checks"] if c["status"] in ("fail", "warn")))
            for item in unhealthy
        )
        module.fail_json(msg=details, changed=False, **report)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
