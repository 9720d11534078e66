#!/usr/bin/python
# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: comfyui_backup
short_description: Back up, verify, prune and restore what a ComfyUI host cannot download again, with restic
version_added: 0.3.0
description:
  - "The backup set of a deploy base (O(base)): saved workflows and settings under C(shared/user) with its SQLite
    databases (copied through SQLite's online backup API, never a torn file), the instances' configuration, the
    current release's metadata (ComfyUI commit, custom nodes and their commits), its package freeze, the model
    manifest with digests, and the logs and health history newer than O(max_age_days). It is gathered into
    C(<base>/backup/staging) (kept between runs, so unchanged files are not copied or read again) with a
    C(manifest.json) of every file's sha256, then stored by restic: encrypted, deduplicated, locked."
  - "V(present): a backup, tagged C(comfyops), C(host=), C(release=), C(instances=). V(verified): C(restic check)
    (O(read_data_subset) of the data read too) and a trial restore of the newest snapshot (or O(snapshot)) from the
    repository itself, compared with its manifest; damaged snapshots are named and remembered. V(pruned): retention
    (O(keep_last), O(keep_daily), O(keep_weekly)), never removing the newest verified snapshot. V(restored): restic
    restores into a scratch directory under C(<base>/backup), every entry is checked (only regular files and
    directories; links, devices, FIFOs and sockets refused) and compared with the manifest, what is in place is
    backed up (tag C(pre-restore)) and moved aside, then the user data (and the configuration, when the backup is of
    this host, base and current release; elsewhere the deploy made it for this host) is moved into place. Nothing
    outside O(base) is written."
  - "A lock left in the repository by a dead restic on this host is removed; a live one is waited for (O(lock_wait)),
    then the task fails naming its holder. Two operations at once on one host: the second waits."
  - The repository password is passed to restic in a file (mode 0600), never on a command line.
author:
  - comfyops maintainers (@comfyops)
options:
  state:
    description: What to do.
    type: str
    choices: [present, verified, pruned, restored]
    default: present
  instances:
    description: The instances' names (recorded with the backup).
    type: list
    elements: str
    default: []
  host:
    description: The host name recorded with the backup (default this host's name).
    type: str
  include_outputs:
    description: Also back up C(shared/output) (in place, not copied to staging).
    type: bool
    default: false
  max_age_days:
    description: Logs and health history older than this are not backed up.
    type: float
    default: 14
  health_dir:
    description: The health history directory (M(comfyops.comfyui.comfyui_health)'s O(comfyops.comfyui.comfyui_health#module:history_dir)).
    type: path
  read_data_subset:
    description: With V(verified), also read this part of the data (restic's C(--read-data-subset), such as C(10%) or C(1/5)).
    type: str
  snapshot:
    description: With V(restored) or V(verified), the snapshot (an id or its prefix; the newest of this host when not given).
    type: str
  from_host:
    description: With V(restored) and no O(snapshot), the newest snapshot of this host name (disaster recovery onto a new host).
    type: str
  keep_last:
    description: With V(pruned), keep the newest this many (1 to 100000; a value outside fails naming the option).
    type: int
    default: 7
  keep_daily:
    description: With V(pruned), keep the newest of each of the last this many days with snapshots (0 to 100000).
    type: int
    default: 30
  keep_weekly:
    description: With V(pruned), keep the newest of each of the last this many weeks with snapshots (0 to 100000).
    type: int
    default: 8
  lock_wait:
    description: Seconds to wait for a live lock (of the repository, or of another operation on this host); 0 to 86400.
    type: float
    default: 600
  textfile_dir:
    description: Write Prometheus textfile metrics (last success, duration, bytes added, snapshots, last verify) here.
    type: path
extends_documentation_fragment:
  - comfyops.comfyui.restic
  - comfyops.comfyui.attributes
attributes:
  check_mode:
    support: full
    details: Says what would be backed up (files, bytes), pruned (which snapshots) or restored (snapshot, files, bytes); changes nothing.
notes:
  - Needs restic on the host (the P(comfyops.comfyui.backup#role) role installs Debian's package).
"""

EXAMPLES = r"""
- name: Back up now
  comfyops.comfyui.comfyui_backup:
    base: /srv/comfyui
    repository: /var/backups/comfyui
    password: "{{ vault_restic_password }}"
    instances: [gpu0, gpu1]

- name: Verify, reading a tenth of the data
  comfyops.comfyui.comfyui_backup:
    base: /srv/comfyui
    repository: s3:https://s3.example.com/backups/comfyui
    password: "{{ vault_restic_password }}"
    env: {AWS_ACCESS_KEY_ID: "{{ vault_s3_key }}", AWS_SECRET_ACCESS_KEY: "{{ vault_s3_secret }}"}
    state: verified
    read_data_subset: 10%

- name: Restore the newest snapshot
  comfyops.comfyui.comfyui_backup:
    base: /srv/comfyui
    repository: /var/backups/comfyui
    password: "{{ vault_restic_password }}"
    state: restored
"""

RETURN = r"""
snapshot_id: {description: "The snapshot made (V(present)), checked (V(verified)) or restored (V(restored)).", returned: when known, type: str}
files: {description: "Files restic processed (V(present)) or in the snapshot (V(restored) in check mode).", returned: state=present, type: int}
bytes_added: {description: "Bytes the backup added to the repository after deduplication.", returned: state=present, type: int}
duration: {description: "restic's own duration in seconds.", returned: state=present, type: float}
seconds: {description: "The whole operation's duration in seconds.", returned: state=present, type: float}
release: {description: "The release recorded in the backup.", returned: "state=present or state=restored", type: str}
databases: {description: "The SQLite databases copied through the online backup API.", returned: state=present, type: list, elements: str}
left_out_changing: {description: "Files left out because they kept changing while copied.", returned: state=present, type: list, elements: str}
ok: {description: "Whether the repository and the snapshot verified.", returned: state=verified, type: bool}
problems: {description: "What verification found.", returned: state=verified, type: list, elements: str}
damaged_snapshots: {description: "Snapshots known to be damaged (restore refuses them).", returned: state=verified, type: list, elements: str}
kept: {description: "Snapshots kept by retention.", returned: state=pruned, type: list, elements: str}
removed: {description: "Snapshots removed (or that would be, in check mode).", returned: state=pruned, type: list, elements: str}
restored: {description: "What was moved into place (V(user), V(config/instances)).", returned: state=restored, type: list, elements: str}
pre_restore_snapshot: {description: "The snapshot of what was in place before the restore.", returned: state=restored, type: str}
plan: {description: "In check mode with V(present): the files and bytes that would be backed up.", returned: check mode, type: dict}
"""

import contextlib

from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import (
    RESTIC_OPTIONS,
    RESTIC_PASSWORD_RULES,
    BackupError,
    Backups,
    check_ranges,
    password_file,
    repository_secrets,
    restic_for,
    write_metrics,
)
from ansible_collections.comfyops.comfyui.plugins.module_utils._module import ComfyOpsModule


def main():
    module = ComfyOpsModule(
        argument_spec=dict(
            RESTIC_OPTIONS,
            **{
                "state": {"type": "str", "choices": ["present", "verified", "pruned", "restored"], "default": "present"},
                "instances": {"type": "list", "elements": "str", "default": []},
                "host": {"type": "str"},
                "include_outputs": {"type": "bool", "default": False},
                "max_age_days": {"type": "float", "default": 14},
                "health_dir": {"type": "path"},
                "read_data_subset": {"type": "str"},
                "snapshot": {"type": "str"},
                "from_host": {"type": "str"},
                "keep_last": {"type": "int", "default": 7},
                "keep_daily": {"type": "int", "default": 30},
                "keep_weekly": {"type": "int", "default": 8},
                "lock_wait": {"type": "float", "default": 600},
                "textfile_dir": {"type": "path"},
            },
        ),
        supports_check_mode=True,
        **RESTIC_PASSWORD_RULES,
    )
    p = module.params
    module.no_log_values.update(repository_secrets(p["repository"]))  # a rest:/s3: URL may carry credentials
    try:
        check_ranges(p)
        with password_file(p["password"], p["password_file"]) as secret:
            restic = restic_for(p, secret)
            backups = Backups(p["base"], restic, p["instances"], max_age_days=p["max_age_days"], health_dir=p["health_dir"], host=p["host"])
            result = run(backups, p, module.check_mode)
            if p["textfile_dir"] and not module.check_mode:
                write_metrics(p["textfile_dir"], backups)
    except BackupError as exc:
        module.fail_json(msg="comfyui_backup: %s" % exc)
    except OSError as exc:
        module.fail_json(msg="comfyui_backup: %s: %s" % (exc.filename or p["base"], exc.strerror))
    if p["state"] == "verified" and not module.check_mode and not result["ok"]:
        module.fail_json(msg="comfyui_backup: verification failed: %s" % "; ".join(result["problems"])[:2000], **result)
    module.exit_json(**result)


def run(backups, p, check):
    state = p["state"]
    with backups.lock(wait=p["lock_wait"]) if not check else contextlib.nullcontext():  # check mode writes nothing, a lock file included
        if state == "present":
            if check:
                return {"changed": True, "plan": backups.set.plan()}
            return dict(backups.backup(include_outputs=p["include_outputs"]), changed=True)
        if state == "verified":
            if check:
                return {"changed": False, "snapshot_id": p["snapshot"], "msg": "would run restic check and a trial restore"}
            return dict(backups.verify(p["read_data_subset"], p["snapshot"]), changed=False)
        if state == "pruned":
            return backups.prune(p["keep_last"], p["keep_daily"], p["keep_weekly"], check_mode=check)
        return backups.restore(p["snapshot"], check_mode=check, from_host=p["from_host"])


if __name__ == "__main__":
    main()
