#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_backup_info
short_description: The comfyops backups in a restic repository, with time, size, release and whether they verified
version_added: 0.3.0
description:
  - Lists the snapshots that M(comfyops.comfyui.comfyui_backup) made in O(repository) (tag C(comfyops)), newest last,
    with their time, host, release, instances, size (what a restore writes), and when they verified (or that they are
    damaged), as this host's C(<base>/state/backup-state.json) knows it.
  - Changes nothing (restic's cache under C(<base>/backup/cache) aside).
author:
  - comfyops maintainers (@comfyops)
options:
  snapshot:
    description: Also return RV(chosen) and what it recorded (RV(recorded)) for this snapshot (an id or its prefix).
    type: str
  host:
    description: Also return RV(chosen) and RV(recorded) for the newest snapshot of this host name.
    type: str
  sizes:
    description: Whether to ask restic for each snapshot's size (one call per snapshot).
    type: bool
    default: true
extends_documentation_fragment:
  - comfyops.comfyui.restic
  - comfyops.comfyui.attributes
attributes:
  check_mode:
    support: full
    details: It only reads.
"""

EXAMPLES = r"""
- name: What is in the repository
  comfyops.comfyui.comfyui_backup_info:
    base: /srv/comfyui
    repository: /var/backups/comfyui
    password: "{{ vault_restic_password }}"
  register: backups
"""

RETURN = r"""
snapshots:
  description: The snapshots, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    id: {description: "The snapshot's id.", type: str}
    short_id: {description: "Its short id.", type: str}
    time: {description: "When it was made (UTC).", type: str}
    host: {description: "The host it is of.", type: str}
    release: {description: "The release it recorded.", type: str}
    instances: {description: "The instances it recorded.", type: list, elements: str}
    tags: {description: "All its tags.", type: list, elements: str}
    size: {description: "Bytes a restore of it writes (with O(sizes)).", type: int}
    files: {description: "Files in it (with O(sizes)).", type: int}
    verified: {description: "When it last verified, or null.", type: str}
    damaged: {description: "Whether verification found it damaged.", type: bool}
newest:
  description: The newest snapshot of this list, or null.
  returned: always
  type: dict
chosen:
  description: The snapshot O(snapshot) names, or the newest of O(host).
  returned: when O(snapshot) or O(host) is given
  type: dict
recorded:
  description:
    - What RV(chosen) recorded, C(backup) (host, release, instances), C(release) (the release's metadata, such as
      C(comfyui_commit) and C(custom_nodes) with their commits) and C(models) (the model manifest).
  returned: when O(snapshot) or O(host) is given
  type: dict
"""

from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import (
    RESTIC_OPTIONS,
    RESTIC_PASSWORD_RULES,
    BackupError,
    Backups,
    password_file,
    repository_secrets,
    restic_for,
)
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule


def main():
    module = ComfyOpsModule(
        argument_spec=dict(
            RESTIC_OPTIONS,
            **{
                "snapshot": {"type": "str"},
                "host": {"type": "str"},
                "sizes": {"type": "bool", "default": True},
            },
        ),
        supports_check_mode=True,
        **RESTIC_PASSWORD_RULES,
    )
    p = module.params
    module.no_log_values.update(repository_secrets(p["repository"]))  # a rest:/s3: URL may carry credentials
    try:
        with password_file(p["password"], p["password_file"]) as secret:
            backups = Backups(p["base"], restic_for(p, secret))
            if not backups.restic.initialised():
                module.exit_json(changed=False, snapshots=[], newest=None, msg="the repository is not initialised yet")
            snapshots = backups.info()
            more = {}
            if p["snapshot"] or p["host"]:
                chosen = backups.resolve(p["snapshot"], host=p["host"])
                more = {"chosen": next(item for item in snapshots if item["id"] == chosen.id), "recorded": backups.recorded(chosen)}
            if p["sizes"]:
                for item in snapshots:
                    stats = backups.restic.stats(item["id"])
                    item.update(size=stats.get("total_size"), files=stats.get("total_file_count"))
    except BackupError as exc:
        module.fail_json(msg="comfyui_backup_info: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="comfyui_backup_info: %s: %s" % (exc.filename or p["base"], exc.strerror))
    module.exit_json(changed=False, snapshots=snapshots, newest=snapshots[-1] if snapshots else None, **more)


if __name__ == "__main__":
    main()
