#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_model
short_description: Put a checksum-verified model file into ComfyUI's shared model folders
version_added: 0.1.0
description:
  - Makes C(<models_dir>/<folder>/<name>) exist with the given SHA-256 (and size), downloading it from an http(s) or
    file URL, with an optional authorization header that never appears in output.
  - Downloads go to C(<name>.partial) beside the target and are resumed with an HTTP Range request by a rerun; only
    a file whose size and digest match is renamed into place. A file whose digest does not match is moved to
    C(<models_dir>/.quarantine/) (never deleted) and the task fails.
  - Digests of verified files are cached by (size, mtime, inode), so an unchanged 10 GB file is not read again.
  - A manifest of the models (folder, name, size, sha256, source without credentials) is kept in
    C(<models_dir>/manifest.json) for backups.
author:
  - comfyops maintainers (@comfyops)
options:
  models_dir:
    description: The shared models directory, such as C(/srv/comfyui/shared/models).
    type: path
    required: true
  folder:
    description: The model folder, such as V(checkpoints), V(loras) or V(vae).
    type: str
    required: true
  name:
    description: File name inside the folder (may contain sub-folders).
    type: str
    required: true
  url:
    description:
      - "Where to get it (http, https or file). Treated as a secret (a query string or user info may hold a token):
        it is shown, stored and used in messages only without user info and query string."
    type: str
    required: true
  sha256:
    description: The expected SHA-256, 64 hex digits.
    type: str
  require_sha256:
    description: Refuse a model without O(sha256). Production inventories keep this on.
    type: bool
    default: true
  size:
    description: The expected size in bytes.
    type: int
  auth_header:
    description: An C(Authorization) header value for the download (for example C(Bearer hf_...)).
    type: str
  timeout:
    description: Seconds without progress before a download gives up.
    type: float
    default: 60
  progress_file:
    description:
      - Write the download's progress here (JSON, at most once a second, atomically; C(finished) true at the end, also
        after a failure) for a playbook that runs this module with C(async) to poll and print (bytes, total, rate, time
        left; see the filter comfyops.comfyui.progress_line). Not set, nothing is written.
    type: path
extends_documentation_fragment:
  - comfyops.comfyui.attributes
"""

EXAMPLES = r"""
- name: A checkpoint from a model host, with a token kept out of logs
  comfyops.comfyui.comfyui_model:
    models_dir: /srv/comfyui/shared/models
    folder: checkpoints
    name: sd_xl_base_1.0.safetensors
    url: https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors
    sha256: 31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b
    size: 6938078334
    auth_header: "Bearer {{ vault_hf_token }}"
"""

RETURN = r"""
path: {description: The model file., returned: always, type: str}
action: {description: "V(verified), V(downloaded), or in check mode what would happen.", returned: always, type: str}
sha256: {description: Its digest., returned: when known, type: str}
size: {description: Its size in bytes., returned: when known, type: int}
downloaded_bytes: {description: Bytes fetched by this run., returned: always, type: int}
resumed: {description: Whether a partial download was resumed., returned: always, type: bool}
digest_cached: {description: Whether the digest came from the cache instead of reading the file., returned: always, type: bool}
seconds: {description: Time taken., returned: always, type: float}
rate_mb_s: {description: Download rate in MB/s., returned: when downloaded, type: float}
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._model import ModelError, ensure_model
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule
from ansible_collections.comfyops.comfyui.plugins.module_utils._progress import Progress


def main():
    module = ComfyOpsModule(
        argument_spec={
            "models_dir": {"type": "path", "required": True},
            "folder": {"type": "str", "required": True},
            "name": {"type": "str", "required": True},
            "url": {"type": "str", "required": True, "no_log": True},
            "sha256": {"type": "str"},
            "require_sha256": {"type": "bool", "default": True},
            "size": {"type": "int"},
            "auth_header": {"type": "str", "no_log": True},
            "timeout": {"type": "float", "default": 60},
            "progress_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    headers = {"Authorization": p["auth_header"]} if p["auth_header"] else {}
    progress = Progress(None if module.check_mode else p["progress_file"], "%s/%s" % (p["folder"], p["name"]), p["size"])
    try:
        result = ensure_model(
            p["models_dir"],
            p["folder"],
            p["name"],
            p["url"],
            sha256=p["sha256"],
            size=p["size"],
            headers=headers,
            timeout=p["timeout"],
            require_sha256=p["require_sha256"],
            check_mode=module.check_mode,
            progress=progress,
        )
    except ModelError as exc:
        progress.finish("failed")
        module.fail_json(msg="comfyui_model: %s" % exc)
    except OSError as exc:
        progress.finish("failed")
        module.fail_json(msg="comfyui_model: %s: %s" % (exc.filename, exc.strerror))
    progress.finish(result["action"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
