"""Backups through the collection's own library (module_utils/_backup.py, restic underneath) against tar, on the
same tree: a deploy base with 2,000 small user files (saved workflows, settings) and 1 GiB of outputs (random
bytes: PNGs do not compress), outputs included.

1. First backup (gather the set, restic backup, a new repository) against `tar --zstd -cf` of the same trees.
2. Second backup with nothing changed: its time as a share of the first's (the staging tree is kept, so restic's
   change detection skips what did not change).
3. Restore of the same set (restic restore into scratch, checked against the manifest) against `tar -xf`.

    .venv/bin/python benchmarks/backup_restore.py [--files 2000] [--outputs-mib 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.comfyops.comfyui.plugins.module_utils._backup import Backups, Restic, check_manifest  # noqa: E402


def make_tree(base: Path, files: int, outputs_mib: int) -> None:
    flows = base / "shared" / "user" / "default" / "workflows"
    flows.mkdir(parents=True)
    for index in range(files):
        (flows / ("flow-%04d.json" % index)).write_text(json.dumps({"nodes": [{"id": n, "type": "KSampler", "seed": index * n} for n in range(20)]}))
    out = base / "shared" / "output"
    out.mkdir(parents=True)
    for index in range(outputs_mib // 4):
        (out / ("image_%05d_.png" % index)).write_bytes(os.urandom(4 * 1024 * 1024))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--outputs-mib", type=int, default=1024)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backup-bench-", dir="/var/tmp"))
    try:
        base = work / "srv"
        make_tree(base, args.files, args.outputs_mib)
        password = work / "password"
        password.write_text("bench\n")
        password.chmod(0o600)
        backups = Backups(str(base), Restic(str(work / "repo"), str(password), cache_dir=str(work / "cache")), ["default"], host="bench")
        first = timed(lambda: backups.backup(include_outputs=True))
        second = timed(lambda: backups.backup(include_outputs=True))
        trees = ["shared/user", "shared/output"]
        tar_create = timed(lambda: subprocess.run(["tar", "--zstd", "-cf", str(work / "set.tar.zst"), "-C", str(base), *trees], check=True))
        snap = backups.snapshots()[-1]

        def restic_restore() -> None:
            target = work / "restored"
            backups.restic.restore(snap.id, str(target))
            problems = check_manifest(os.path.join(str(target), snap.paths[0].lstrip("/")))[1]
            assert not problems, problems

        restore = timed(restic_restore)
        (work / "untar").mkdir()
        tar_extract = timed(lambda: subprocess.run(["tar", "--zstd", "-xf", str(work / "set.tar.zst"), "-C", str(work / "untar")], check=True))
        size = sum(p.stat().st_size for p in (base / "shared").rglob("*") if p.is_file())
        print("tree: %d user files and %d MiB of outputs (%.0f MiB in all)" % (args.files, args.outputs_mib, size / 2**20))
        print("first backup  %7.2f s   tar --zstd -c  %7.2f s   ratio backup/tar %.2f" % (first, tar_create, first / tar_create))
        print("second backup %7.2f s   (nothing changed)   %.1f%% of the first" % (second, 100 * second / first))
        print("restore       %7.2f s   tar -x         %7.2f s   ratio restore/tar %.2f" % (restore, tar_extract, restore / tar_extract))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
