#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_prompt
short_description: Run an API-format workflow on ComfyUI, or check it without running it
version_added: 0.1.0
description:
  - Submits an API-format workflow (inline or from a file on the host) with optional input overrides, waits for it
    with a timeout, and returns the prompt id, status, duration, node errors and output files.
  - On timeout it interrupts the prompt (or removes it from the queue when it still waits) unless told to leave it.
  - With O(validate_only=true), and in check mode, it checks the workflow against the server's C(/object_info)
    without executing it, with ComfyUI's error types (V(invalid_prompt) for an unknown node class,
    V(required_input_missing), V(value_not_in_list) for a missing model file, V(invalid_input_type), ...).
  - Running a workflow writes outputs, so it reports C(changed); validation never does.
author:
  - comfyops maintainers (@comfyops)
options:
  url:
    description: Base URL of the ComfyUI instance.
    type: str
    default: http://127.0.0.1:8188
  workflow:
    description: The API-format workflow (a map of node ids to C(class_type) and C(inputs)), or its JSON text.
    type: raw
  workflow_file:
    description: A JSON file on the host with the workflow.
    type: path
  overrides:
    description: "Inputs to set before submitting, as C({node_id: {input_name: value}})."
    type: dict
    default: {}
  wait:
    description: Wait for the prompt to finish.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: float
    default: 300
  on_timeout:
    description: V(interrupt) stops (or unqueues) a prompt that took too long; V(leave) lets it run.
    type: str
    choices: [interrupt, leave]
    default: interrupt
  validate_only:
    description: Only check the workflow against the server's node definitions.
    type: bool
    default: false
  output_dir:
    description: The instance's output directory on this host; the returned files then carry their path and size.
    type: path
  client_id:
    description: Client id sent with the prompt.
    type: str
    default: comfyops
  timeout:
    description: Seconds for each HTTP call.
    type: float
    default: 30
  fail_on_error:
    description: Fail the task when the workflow is invalid, fails, is interrupted or times out.
    type: bool
    default: true
  keep_outputs:
    description:
      - With O(output_dir), keep only the newest this many files in each sub-folder of O(output_dir) the workflow wrote
        into (never O(output_dir) itself), so that repeated smoke runs cannot fill the disk. Unset keeps everything.
    type: int
extends_documentation_fragment:
  - comfyops.comfyui.attributes
notes:
  - Exactly one of O(workflow) and O(workflow_file) is required.
  - ComfyUI serves an identical prompt from its cache without running it again; vary an input (a seed, a prefix)
    through O(overrides) to force a real run.
"""

EXAMPLES = r"""
- name: Run the smoke workflow and wait up to a minute
  comfyops.comfyui.comfyui_prompt:
    url: http://127.0.0.1:8188
    workflow:
      "1": {class_type: EmptyImage, inputs: {width: 64, height: 64, batch_size: 1, color: 0}}
      "2": {class_type: SaveImage, inputs: {images: ["1", 0], filename_prefix: smoke}}
    overrides:
      "1": {color: "{{ 16777215 | random }}"}
    wait_timeout: 60
    output_dir: /srv/comfyui/shared/output
  register: run

- name: Check a production workflow against the server's models without running it
  comfyops.comfyui.comfyui_prompt:
    workflow_file: /srv/comfyui/workflows/sdxl.json
    validate_only: true
"""

RETURN = r"""
prompt_id: {description: The prompt id (none when only validated or rejected)., returned: always, type: str}
status:
  description: "V(valid) or V(invalid) when validated; V(success), V(error), V(interrupted), V(rejected) or V(timeout) when run."
  returned: always
  type: str
duration: {description: Seconds from submission to the end of the prompt., returned: when run, type: float}
error: {description: "ComfyUI's error: the 400 error, or the node, type and message of an execution error.", returned: always, type: dict}
node_errors: {description: "ComfyUI's node errors, by node id.", returned: always, type: dict}
pruned: {description: Older output files removed by O(keep_outputs)., returned: with keep_outputs, type: list, elements: str}
files:
  description: Output files, each with node, filename, subfolder, type, and with O(output_dir) path and size.
  returned: always
  type: list
  elements: dict
"""

import json
import os

from ansible_collections.comfyops.comfyui.plugins.module_utils._comfyui import (
    ComfyUIClient,
    ComfyUIError,
    apply_overrides,
    execute_workflow,
    validate_workflow,
)
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, inside, keep_newest
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule


def load_workflow(module):
    params = module.params
    if params["workflow_file"]:
        try:
            with open(params["workflow_file"], encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as exc:
            module.fail_json(msg="workflow_file %s: %s" % (params["workflow_file"], exc))
    workflow = params["workflow"]
    if isinstance(workflow, str):
        try:
            workflow = json.loads(workflow)
        except ValueError as exc:
            module.fail_json(msg="workflow: not valid JSON (%s)" % exc)
    return workflow  # checked by apply_overrides (parse_workflow), which names the node that is wrong


def main():
    module = ComfyOpsModule(
        argument_spec={
            "url": {"type": "str", "default": "http://127.0.0.1:8188"},
            "workflow": {"type": "raw"},
            "workflow_file": {"type": "path"},
            "overrides": {"type": "dict", "default": {}},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "float", "default": 300},
            "on_timeout": {"type": "str", "choices": ["interrupt", "leave"], "default": "interrupt"},
            "validate_only": {"type": "bool", "default": False},
            "output_dir": {"type": "path"},
            "client_id": {"type": "str", "default": "comfyops"},
            "timeout": {"type": "float", "default": 30},
            "fail_on_error": {"type": "bool", "default": True},
            "keep_outputs": {"type": "int"},
        },
        required_one_of=[("workflow", "workflow_file")],
        mutually_exclusive=[("workflow", "workflow_file")],
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False, "prompt_id": None, "status": None, "error": None, "node_errors": {}, "files": []}
    for key, most in (("wait_timeout", 7 * 86400), ("timeout", 3600)):
        if not 0 < params[key] <= most:
            module.fail_json(msg="comfyui_prompt: %s: seconds, more than 0 and at most %d, got %r" % (key, most, params[key]), **result)
    if params["keep_outputs"] is not None and not 0 <= params["keep_outputs"] <= 100000:
        module.fail_json(msg="comfyui_prompt: keep_outputs: a number of files from 0, got %r" % params["keep_outputs"], **result)
    try:
        client = ComfyUIClient(params["url"], timeout=params["timeout"])
        workflow = apply_overrides(load_workflow(module), params["overrides"])
        if params["validate_only"] or module.check_mode:
            valid, error, node_errors = validate_workflow(client, workflow)
            result.update(status="valid" if valid else "invalid", error=error, node_errors=node_errors, changed=module.check_mode and valid)
            if not valid and params["fail_on_error"]:
                module.fail_json(msg="workflow is invalid: %s: %s" % (error["message"], error["details"]), **result)
            module.exit_json(**result)
        timeout = params["wait_timeout"] if params["wait"] else 0.0
        outcome = execute_workflow(client, workflow, timeout, params["on_timeout"] if params["wait"] else "leave", params["client_id"])
    except ComfyUIError as exc:
        module.fail_json(msg="comfyui_prompt: %s" % exc, **result)
    if not params["wait"] and outcome["status"] == "timeout":
        outcome.update(status="queued", error=None)
    result.update(outcome, changed=outcome["status"] not in ("rejected",))
    if params["output_dir"]:
        folders = set()
        for item in result["files"]:
            if item["type"] == "output":
                try:  # the server names the file: it must resolve inside output_dir
                    path = inside(params["output_dir"], os.path.join(str(item["subfolder"] or ""), str(item["filename"])), "files[].filename")
                except PathError as exc:
                    module.fail_json(msg="comfyui_prompt: the server named an output outside output_dir: %s" % exc, **result)
                item.update(path=path, size=os.path.getsize(path) if os.path.isfile(path) else None)
                folders.add(os.path.dirname(path))
        if params["keep_outputs"] is not None:
            result["pruned"] = sorted(
                p for folder in folders if folder != os.path.realpath(params["output_dir"]) for p in keep_newest(folder, params["keep_outputs"])
            )
    if params["fail_on_error"] and result["status"] not in ("success", "queued"):
        error = result["error"] or {}
        module.fail_json(
            msg="workflow %s: %s" % (result["status"], error.get("exception_message") or error.get("message") or error),
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
