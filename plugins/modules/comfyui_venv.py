#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_venv
short_description: Build a release's Python environment, keyed, with the torch stack held
version_added: 0.2.0
description:
  - Makes C(<base>/venvs/<key>) a complete virtual environment, where the key is a digest of everything that decides
    its content (Python version, ComfyUI's and every custom node's requirements, extra packages, constraints,
    indexes, protected packages). A venv with that key that is complete already is used as it is (V(changed=false)).
  - Installs with uv when it is found (O(installer=auto)) and pip otherwise, from a persistent root-owned package
    cache, C(<base>/pkgcache). uv is used with pip's index rule (the best version over all indexes).
  - "The torch stack cannot be broken by a custom node: ComfyUI's requirements and O(extra_packages) are installed
    first; the versions then installed of V(torch), V(torchvision), V(torchaudio) (with their CUDA build, the local
    version label) and of O(protected) become C(==) constraints; ComfyUI's and every custom node's requirements are
    then resolved and installed together under them. A node that wants another version of a held package fails the
    build, naming the node, the package, the version wanted and the version held."
  - C(pip check) must pass. The full freeze is written to C(<venv>/freeze.txt) and returned.
  - Index URLs may hold credentials. They go into the venv's own C(pip.conf) (mode 0600) and the installer's
    environment, never onto a command line, and are removed from any error text.
  - A build that fails removes its venv; nothing half-built is ever marked complete.
author:
  - comfyops maintainers (@comfyops)
options:
  base:
    description: The deploy base, such as C(/srv/comfyui).
    type: path
    required: true
  python:
    description: The interpreter the venv is made from.
    type: str
    default: python3
  app:
    description:
      - The release's ComfyUI checkout. Its C(requirements.txt) must exist; each custom node's
        C(custom_nodes/<name>/requirements.txt) is read when it exists (a node without one has none).
    type: path
    required: true
  custom_nodes:
    description:
      - The names of the custom nodes under C(<app>/custom_nodes), in order; each is checked as a name.
      - "A node's C(requirements.txt) is its author's, not yours: pip reads a parsed copy. Index options in it
        (C(--extra-index-url), C(--index-url), C(-i), C(--find-links), C(-f), C(--pre), C(--prefer-binary)) are dropped,
        each said in RV(requirement_notes) and as a warning (the deploy's indexes decide where packages come from);
        any other option (C(-r), C(-c), C(-e), C(--trusted-host) ...) and pip's C(${VARIABLE}) expansion fail the
        build naming the node and the line."
    type: list
    elements: str
    default: []
  extra_packages:
    description:
      - Packages the requirements do not list (ComfyUI 0.8.0 imports V(requests) without listing it).
      - Each is a PEP 508 requirement (V(requests>=2.31), V(torch==2.5.1+cu124), V(name @ https://host/name.whl)) or the
        absolute path of a wheel or source archive on the host; never a pip option (an entry starting with C(-) is
        refused, naming its position).
    type: list
    elements: str
    default: []
  constraints:
    description: A pip constraints file on the host, applied to every step.
    type: path
  index_url:
    description: The package index instead of PyPI (may hold credentials).
    type: str
  extra_index_urls:
    description: More indexes, such as the PyTorch index for the host's CUDA (may hold credentials).
    type: list
    elements: str
    default: []
  find_links:
    description: Local wheel directories or pages of links (may hold credentials).
    type: list
    elements: str
    default: []
  no_index:
    description: Use no package index, only O(find_links) (an offline wheelhouse). C(PIP_NO_INDEX) in the host's environment means the same, for uv too.
    type: bool
    default: false
  extra_args:
    description: More pip options (shell words). uv does not take pip's options, so with these O(installer=auto) uses pip.
    type: str
    default: ""
  protected:
    description: Packages held like the torch family (their installed version is a constraint), such as V(numpy).
    type: list
    elements: str
    default: []
  installer:
    description: V(auto) (uv when found, else pip), V(uv) (fail when missing) or V(pip).
    type: str
    choices: [auto, uv, pip]
    default: auto
  uv:
    description: The uv executable; empty looks for V(uv) on C(PATH).
    type: str
    default: ""
  uv_package:
    description:
      - When uv is allowed (O(installer=auto) or V(uv)) but not found, this pip requirement (such as V(uv==0.13.9)) is
        installed first into C(<base>/tools/uv-<key>) with pip, from the same indexes (a mirror, credentials, O(no_index)
        and O(find_links) honoured), and that uv builds the venv. When it cannot be installed, O(installer=auto)
        builds with pip and says why in RV(installer_note). Empty installs nothing.
    type: str
    default: ""
  progress_file:
    description:
      - Write the build's progress here (the bytes written into the venv so far and the rate, JSON, at most once a
        second, atomically; C(finished) true at the end, also after a failure) for a playbook that runs this module
        with C(async) to poll and print (see the filter comfyops.comfyui.progress_line). Not set, nothing is written.
    type: path
extends_documentation_fragment:
  - comfyops.comfyui.attributes
"""

EXAMPLES = r"""
- name: The venv of a release, torch held against custom nodes
  comfyops.comfyui.comfyui_venv:
    base: /srv/comfyui
    python: /usr/bin/python3.12
    app: /srv/comfyui/releases/v0.8.0-abc/app
    custom_nodes: [ComfyUI-Impact-Pack]
    extra_packages: [requests]
    extra_index_urls: [https://download.pytorch.org/whl/cu128]
    protected: [numpy]
  register: venv
"""

RETURN = r"""
key: {description: The venv's key (a digest of what decides its content)., returned: always, type: str, sample: 3f1c0de29a7b4e51}
path: {description: The venv., returned: always, type: str}
installer: {description: "V(uv) or V(pip): what built it (or would, in check mode).", returned: when known, type: str}
installer_note:
  description: Why pip built it although uv was allowed (uv missing and not installable, pip options).
  returned: when pip built it instead of uv
  type: str
requirement_notes:
  description: The lines of custom nodes' requirements that were dropped (index options), each naming the node, the line and the option.
  returned: when a node's requirements had such a line
  type: list
  elements: str
held: {description: "The held packages and their versions ({name: version}).", returned: when built or recorded, type: dict}
freeze: {description: "Every installed distribution as C(name==version).", returned: when built or recorded, type: list, elements: str}
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule
from ansible_collections.comfyops.comfyui.plugins.module_utils._progress import Progress
from ansible_collections.comfyops.comfyui.plugins.module_utils._venv import VenvError, build, read_spec


def main():
    module = ComfyOpsModule(
        argument_spec={
            "base": {"type": "path", "required": True},
            "python": {"type": "str", "default": "python3"},
            "app": {"type": "path", "required": True},
            "custom_nodes": {"type": "list", "elements": "str", "default": []},
            "extra_packages": {"type": "list", "elements": "str", "default": []},
            "constraints": {"type": "path"},
            "index_url": {"type": "str", "no_log": True},
            "extra_index_urls": {"type": "list", "elements": "str", "default": [], "no_log": True},
            "find_links": {"type": "list", "elements": "str", "default": [], "no_log": True},
            "no_index": {"type": "bool", "default": False},
            "extra_args": {"type": "str", "default": ""},
            "protected": {"type": "list", "elements": "str", "default": []},
            "installer": {"type": "str", "choices": ["auto", "uv", "pip"], "default": "auto"},
            "uv": {"type": "str", "default": ""},
            "uv_package": {"type": "str", "default": ""},
            "progress_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    progress = Progress(None if module.check_mode else p["progress_file"], "venv")
    try:
        spec = read_spec(p)
        progress.what = "venv %s" % spec.key()
        result = build(p["base"], spec, p["installer"], p["uv"], module.check_mode, uv_package=p["uv_package"], progress=progress)
    except (VenvError, PathError) as exc:
        progress.finish("failed")
        module.fail_json(msg="comfyui_venv: %s" % exc)
    except OSError as exc:
        progress.finish("failed")
        module.fail_json(msg="comfyui_venv: %s: %s" % (exc.filename, exc.strerror))
    progress.finish("built" if result.get("changed") else "already built")
    for note in result.get("requirement_notes") or []:
        module.warn(note)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
