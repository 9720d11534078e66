# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of what cannot be downloaded again, with restic as the engine. Plain Python, no Ansible.

What a backup holds (the *backup set*), gathered under ``<base>/backup/staging`` first so that restic reads a
consistent copy, never a file being written:

    meta/backup.json      host, time, release id, instances, and what was left out (files that kept changing)
    meta/release.json     the current release's metadata (ComfyUI commit, custom nodes and their commits)
    meta/freeze.txt       its venv's package freeze
    meta/models.json      the model manifest (folder, name, size, sha256, source): models are fetched again from it
    config/instances/     the instances' configuration files of the current release, extra_model_paths.yaml
    config/deployed.json  what the last good deploy recorded
    user/                 shared/user: saved workflows, settings; SQLite databases copied with SQLite's online
                          backup API (a consistent copy while ComfyUI writes, never a torn file)
    logs/, health/        the logs and health history newer than ``max_age_days``
    manifest.json         every file above: path, size, sha256 (what a restore is checked against)

The staging tree is kept between runs and only files whose size or modification time changed are copied again,
so restic's change detection skips the rest and a second backup of an unchanged host costs little. A file that
changes while it is copied is copied again (3 tries), then left out and named in ``meta/backup.json``.
Optionally ``shared/output`` is backed up in place as well (``include_outputs``).

restic does encryption, deduplication, integrity checks, locking and retention. Its password is never on a
command line: the caller gives a password file (mode 0600) and restic reads ``RESTIC_PASSWORD_FILE``.

A restore writes nothing outside ``<base>``: restic restores into ``<base>/backup/restore-<time>`` (a scratch
directory), every entry there is checked (regular files and directories only; links, devices, FIFOs and sockets
are refused, as are names that would leave the tree) and compared with the snapshot's manifest; then what is in
place now is backed up (tag ``pre-restore``) and moved aside, and the restored user data is moved into place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._debian import package_problems
from ansible_collections.comfyops.comfyui.plugins.module_utils._envfile import EnvError, check_env, is_secret
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import (
    PathError,
    absolute_path,
    atomic_write,
    inside,
    open_nofollow,
    pid_alive,
    program,
    shown,
)

STAGING = "staging"
MANIFEST = "manifest.json"
STATE = "backup-state.json"  # in <base>/state: verified and damaged snapshots, the last results
LOCK = "backup.lock"
SQLITE_MAGIC = b"SQLite format 3\x00"
COPY_TRIES = 3
PRE_RESTORE = "pre-restore"
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
# What restic says when it cannot reach a repository (as opposed to finding none there): not "not initialised yet"
UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "network is unreachable", "no route to host", "tls handshake", "dial tcp")
RESTIC_LOCKED = re.compile(r"repository is already locked (?:exclusively )?by PID (\d+) on (\S+) by (.+?) \(")


class BackupError(Exception):
    """A backup, check, retention or restore that could not be done; the message says what and where."""


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def attributes(st: os.stat_result) -> dict[str, Any]:
    """What a restore puts back on a file or directory: its mode, and its owner and group by name (resolved again on
    the host restored to, which may number its users differently) and by number."""
    try:
        owner: str | None = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = None
    try:
        group: str | None = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = None
    return {"mode": "%04o" % stat.S_IMODE(st.st_mode), "owner": owner, "group": group, "uid": st.st_uid, "gid": st.st_gid}


def _id_of(name: str | None, by_name: Any, recorded: int, fallback: int | None) -> int:
    """A recorded owner's id on this host: by name, else the fallback (the service user's), else the recorded number."""
    if name:
        try:
            return int(by_name(name))
        except KeyError:
            pass
    return fallback if fallback is not None else recorded


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


# -- restic ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: str
    hostname: str
    tags: tuple[str, ...]
    paths: tuple[str, ...]

    def tag(self, key: str) -> str:
        for tag in self.tags:
            if tag.startswith(key + "="):
                return tag.split("=", 1)[1]
        return ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            id=str(data["id"]),
            short_id=str(data.get("short_id") or data["id"][:8]),
            time=str(data["time"]),
            hostname=str(data.get("hostname", "")),
            tags=tuple(data.get("tags") or ()),
            paths=tuple(data.get("paths") or ()),
        )


def parse_json_lines(text: str) -> list[dict[str, Any]]:
    """restic --json writes one JSON document per line (status, summary, error); anything else is skipped."""
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(("{", "[")):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def backup_summary(text: str) -> dict[str, Any]:
    """The summary of `restic backup --json`: snapshot id, files, bytes added, duration."""
    for item in reversed(parse_json_lines(text)):
        if isinstance(item, dict) and item.get("message_type") == "summary":
            return {
                "snapshot_id": item.get("snapshot_id", ""),
                "files_new": item.get("files_new", 0),
                "files_changed": item.get("files_changed", 0),
                "files_unmodified": item.get("files_unmodified", 0),
                "files": item.get("total_files_processed", 0),
                "bytes": item.get("total_bytes_processed", 0),
                "bytes_added": item.get("data_added", 0),
                "duration": round(float(item.get("total_duration", 0.0)), 3),
            }
    raise BackupError("restic backup finished without a summary: no snapshot was made")


def locked_by(text: str) -> tuple[int, str, str] | None:
    found = RESTIC_LOCKED.search(text)
    return (int(found.group(1)), found.group(2), found.group(3)) if found else None


class Restic:
    """restic with a repository and a password file; every call has a deadline and speaks --json where it can."""

    def __init__(
        self,
        repository: str,
        password_file: str,
        binary: str = "restic",
        env: dict[str, str] | None = None,
        cache_dir: str | None = None,
        lock_wait: float = 60.0,
        timeout: float = 6 * 3600.0,
    ) -> None:
        self.repository = repository
        self.binary = binary
        self.lock_wait = lock_wait
        self.timeout = timeout
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        self.env.update(env or {})
        self.env.update(RESTIC_REPOSITORY=repository, RESTIC_PASSWORD_FILE=password_file)
        if cache_dir:
            self.env["RESTIC_CACHE_DIR"] = cache_dir
        self.secrets = [v for k, v in (env or {}).items() if v and is_secret(k)]

    def describe(self) -> str:
        return re.sub(r"(://)[^/@]+@", r"\1", self.repository)  # no credentials in a repository URL

    def hide(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text.replace(self.repository, self.describe())

    def run(self, args: list[str], check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """One restic command; a lock held by a dead process on this host is removed, a live one is waited for."""
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                done = subprocess.run(
                    [self.binary, *args], env=self.env, capture_output=True, text=True, timeout=timeout or self.timeout, check=False, stdin=subprocess.DEVNULL
                )
            except FileNotFoundError:
                raise BackupError("restic is not installed (%s not found); the backup role installs Debian's restic package" % self.binary) from None
            except subprocess.TimeoutExpired:
                raise BackupError("restic %s did not finish within %.0f s" % (args[0], timeout or self.timeout)) from None
            holder = locked_by(done.stderr)
            if done.returncode == 0 or not check or holder is None:
                break
            pid, host, user = holder
            if host == socket.gethostname() and not pid_alive(pid):
                self.run(["unlock"], check=True)  # removes only stale locks; ours is stale: its process is gone
                continue
            if time.monotonic() >= deadline:
                raise BackupError(
                    "the repository %s is locked by PID %d on %s (%s), still running after %.0f s; wait for it or stop it"
                    % (self.describe(), pid, host, user, self.lock_wait)
                )
            time.sleep(1.0)  # a live holder: wait for it
        if check and done.returncode != 0:
            raise BackupError("restic %s failed (exit %d): %s" % (args[0], done.returncode, self.hide(done.stderr.strip()[-800:])))
        return done

    def initialised(self) -> bool:
        done = self.run(["cat", "config"], check=False, timeout=120)
        if done.returncode == 0:
            return True
        if locked_by(done.stderr):
            return True
        text = done.stderr.lower()
        if any(sign in text for sign in UNREACHABLE):
            raise BackupError("the repository %s cannot be reached: %s" % (self.describe(), self.hide(done.stderr.strip()[-500:])))
        if "does not exist" in text or "is there a repository" in text or "unable to open config file" in text:
            return False
        raise BackupError("restic cannot open the repository %s: %s" % (self.describe(), self.hide(done.stderr.strip()[-500:])))

    def init(self) -> bool:
        """Initialise the repository once; True when it was made now."""
        if self.initialised():
            return False
        self.run(["init"])
        return True

    def snapshots(self, tags: list[str] | None = None) -> list[Snapshot]:
        args = ["snapshots", "--json"] + [x for tag in tags or [] for x in ("--tag", tag)]
        data = json.loads(self.run(args).stdout or "[]")
        return sorted((Snapshot.parse(item) for item in data or []), key=lambda s: s.time)

    def backup(self, paths: list[str], tags: list[str], host: str) -> dict[str, Any]:
        args = ["backup", "--json", "--host", host] + [x for tag in tags for x in ("--tag", tag)] + paths
        return backup_summary(self.run(args).stdout)

    def check(self, read_data_subset: str | None = None) -> tuple[bool, str]:
        args = ["check"] + (["--read-data-subset", read_data_subset] if read_data_subset else [])
        done = self.run(args, check=False)
        if locked_by(done.stderr):
            done = self.run(args)
        text = self.hide((done.stdout + done.stderr).strip())
        return done.returncode == 0, text

    def restore(self, snapshot_id: str, target: str) -> None:
        """Restore from the repository itself (--no-cache: a local cache must not hide damage in the repository)."""
        self.run(["restore", snapshot_id, "--no-cache", "--target", target])

    def forget(self, snapshot_ids: list[str], prune: bool = True) -> str:
        if not snapshot_ids:
            return ""
        return self.run(["forget"] + (["--prune"] if prune else []) + snapshot_ids).stdout

    def dump(self, snapshot_id: str, path: str) -> str:
        """One file of a snapshot, as text (restic dump)."""
        return self.run(["dump", snapshot_id, path]).stdout

    def stats(self, snapshot_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run(["stats", "--json", snapshot_id]).stdout or "{}")
        return data

    def packs_of(self, text: str) -> list[str]:
        """The packs `restic check` names ("Pack ID does not match, want <id>", "pack <id>: ...")."""
        return sorted(set(re.findall(r"(?i)(?:pack|want)\s+([0-9a-f]{64})", text)))

    def trees_of(self, text: str) -> list[str]:
        """The trees `restic check` could not read ("error for tree <id>")."""
        return sorted(set(re.findall(r"error for tree ([0-9a-f]{8,64})", text)))

    def snapshots_with(self, kind: str, object_id: str) -> list[str]:
        """The snapshots that hold a pack's data blobs (`kind` pack) or a tree (`kind` tree)."""
        done = self.run(["find", "--json", "--" + kind, object_id], check=False)
        found: set[str] = set()
        for item in parse_json_lines(done.stdout):
            for entry in item if isinstance(item, list) else [item]:
                if isinstance(entry, dict) and entry.get("snapshot"):
                    found.add(str(entry["snapshot"]))
        return sorted(found)


# -- retention ---------------------------------------------------------------------------------
def retention(snapshots: list[Snapshot], keep_last: int, keep_daily: int, keep_weekly: int, verified: set[str]) -> tuple[list[Snapshot], list[Snapshot]]:
    """(keep, remove): the newest `keep_last`, the newest of each of the last `keep_daily` days and `keep_weekly`
    ISO weeks that have snapshots, and always the newest verified snapshot (never all removed)."""
    newest_first = sorted(snapshots, key=lambda s: s.time, reverse=True)
    keep: dict[str, Snapshot] = {s.id: s for s in newest_first[: max(0, keep_last)]}
    for size, bucket in ((keep_daily, lambda s: s.time[:10]), (keep_weekly, lambda s: "%d-W%02d" % _iso_week(s.time))):
        seen: set[str] = set()
        for snap in newest_first:
            key = bucket(snap)
            if key not in seen and len(seen) < size:
                seen.add(key)
                keep[snap.id] = snap
    good = [s for s in newest_first if s.id in verified]
    if good:
        keep[good[0].id] = good[0]
    elif newest_first and not keep:
        keep[newest_first[0].id] = newest_first[0]  # nothing verified and a policy that keeps nothing: keep the newest
    return [s for s in newest_first if s.id in keep], [s for s in newest_first if s.id not in keep]


def _iso_week(stamp: str) -> tuple[int, int]:
    day = datetime.date.fromisoformat(stamp[:10])
    year, week, _weekday = day.isocalendar()
    return year, week


# -- the backup set ----------------------------------------------------------------------------
@dataclasses.dataclass
class Gathered:
    staging: str
    files: int = 0
    bytes: int = 0
    copied: int = 0
    unchanged: int = 0
    databases: list[str] = dataclasses.field(default_factory=list)
    changing: list[str] = dataclasses.field(default_factory=list)  # kept changing while copied: left out
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)


def is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def copy_sqlite(source: str, target: str) -> None:
    """A consistent copy of a live SQLite database through SQLite's online backup API (never a torn file)."""
    tmp = target + ".tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    src = sqlite3.connect("file:%s?mode=ro" % source, uri=True, timeout=30)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA integrity_check").fetchone()
        finally:
            dst.close()
    finally:
        src.close()
    if not check or check[0] != "ok":
        os.unlink(tmp)
        raise BackupError("the copy of the database %s failed SQLite's integrity check: %s" % (source, check))
    os.replace(tmp, target)


def _signature(st: os.stat_result) -> tuple[int, int]:
    return (st.st_size, st.st_mtime_ns)


def copy_stable(source: str, target: str) -> bool | None:
    """Copy `source` to `target` (mtime kept) unless `target` already matches; True when copied, False when it was
    already current, None when the file kept changing while copied (left out)."""
    for _attempt in range(COPY_TRIES):
        before = os.stat(source, follow_symlinks=False)
        try:
            have = os.stat(target, follow_symlinks=False)
            if _signature(have) == _signature(before):
                return False
        except FileNotFoundError:
            pass
        tmp = target + ".tmp"
        shutil.copyfile(source, tmp, follow_symlinks=False)
        os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = os.stat(source, follow_symlinks=False)
        if _signature(after) == _signature(before) and os.stat(tmp).st_size == before.st_size:
            os.replace(tmp, target)
            return True
        os.unlink(tmp)
    return None


# A restic tag is split on commas, and ours are key=value: a host or an instance name that carried a ',' or a '=' could
# forge another tag (a host 'a,release=forged'). They become tags only as these names.
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
INSTANCES_SEPARATOR = "+"  # instances=a+b (restic would split a+b written with a comma into two tags)


def tag_part(value: Any, option: str, pattern: re.Pattern[str]) -> str:
    """`value` when it can be part of a restic tag (no ',', '=', space or newline), else BackupError naming `option`."""
    if not isinstance(value, str) or not pattern.match(value):
        raise BackupError("%s: %r cannot name a backup (a host name, or an instance name of a-z, 0-9, '_' and '-'; no ',', '=' or spaces)" % (option, value))
    return value


class BackupSet:
    """Gathers the backup set of one deploy base into its staging directory."""

    def __init__(self, base: str, instances: list[str], max_age_days: float = 14, health_dir: str | None = None, host: str | None = None) -> None:
        self.base = os.path.abspath(base)
        self.instances = [tag_part(name, "instances[%d]" % index, INSTANCE_RE) for index, name in enumerate(instances)]
        self.max_age = max_age_days * 86400
        self.health_dir = health_dir
        self.host = tag_part(host or socket.gethostname(), "host", HOST_RE)
        self.root = os.path.join(self.base, "backup")
        self.staging = os.path.join(self.root, STAGING)

    def release(self) -> tuple[str, dict[str, Any], str]:
        """(current release id, its metadata, the release directory) or ('', {}, '') when none is deployed."""
        link = os.path.join(self.base, "current")
        try:
            target = os.readlink(link)
        except OSError:
            return "", {}, ""
        directory = os.path.join(self.base, target) if not os.path.isabs(target) else target
        release_id = os.path.basename(directory.rstrip("/"))
        try:
            with open(os.path.join(directory, ".comfyops-release.json"), encoding="utf-8") as handle:
                meta = json.load(handle)
        except (OSError, ValueError):
            meta = {"id": release_id}
        return release_id, meta, directory

    def sources(self) -> list[tuple[str, str, bool]]:
        """(source path, path in the staging tree, whether age-bounded) for every tree of the set."""
        _release_id, _meta, directory = self.release()
        found = [(os.path.join(self.base, "shared", "user"), "user", False), (os.path.join(self.base, "logs"), "logs", True)]
        if directory:
            found += [(os.path.join(directory, "instances"), "config/instances", False)]
            found += [(os.path.join(directory, "app", "extra_model_paths.yaml"), "config/extra_model_paths.yaml", False)]
        found += [(os.path.join(self.base, "state", "deployed.json"), "config/deployed.json", False)]
        found += [(os.path.join(self.base, "shared", "models", "manifest.json"), "meta/models.json", False)]
        if directory:
            found += [(os.path.join(directory, "venv", "freeze.txt"), "meta/freeze.txt", False)]
        if self.health_dir:
            found += [(self.health_dir, "health", True)]
        return found

    def walk(self) -> Iterator[tuple[str, str, os.stat_result, bool]]:
        """(source file, staging-relative path, its stat, age-bounded) for every regular file of the set."""
        now = time.time()
        for source, relative, bounded in self.sources():
            try:
                top = os.stat(source, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(top.st_mode):
                yield source, relative, top, bounded
                continue
            if not stat.S_ISDIR(top.st_mode):
                continue
            for folder, dirs, files in os.walk(source):
                dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
                for name in sorted(files):
                    path = os.path.join(folder, name)
                    if name.endswith(SQLITE_SIDECARS) and os.path.exists(path.rsplit("-", 1)[0]):
                        continue  # a database's -wal, -shm or -journal: the online backup copy holds what they hold
                    try:
                        st = os.stat(path, follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # gone while we looked
                    if not stat.S_ISREG(st.st_mode) or (bounded and now - st.st_mtime > self.max_age):
                        continue  # links, sockets, FIFOs and old logs are not part of the set
                    yield path, os.path.join(relative, os.path.relpath(path, source)), st, bounded

    def plan(self) -> dict[str, Any]:
        """What a backup would hold, without writing anything (check mode)."""
        files = list(self.walk())
        release_id, _meta, _directory = self.release()
        return {
            "release": release_id,
            "files": len(files),
            "bytes": sum(st.st_size for _s, _r, st, _b in files),
            "paths": sorted(r for _s, r, _st, _b in files),
        }

    def gather(self) -> Gathered:
        """Bring the staging tree up to date with the set; write meta/ and manifest.json. The base must exist (a
        missing one is a mistake, not an empty backup); backup/ and backup/staging must be directories of the base,
        not links (a link planted there would make the backup write outside it)."""
        if not os.path.isdir(self.base):
            raise BackupError("base: %s does not exist (or is not a directory): nothing to back up; give the deploy's comfyui_deploy_base" % self.base)
        for path in (self.root, self.staging):
            if os.path.islink(path):
                raise BackupError("%s is a symbolic link (to %s); the backup writes only into real directories of the base" % (path, os.readlink(path)))
        try:
            inside(self.base, os.path.relpath(self.staging, self.base), "staging")
        except PathError as exc:
            raise BackupError(str(exc)) from None
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700, follow_symlinks=False)
        os.makedirs(self.staging, mode=0o700, exist_ok=True)
        if os.path.islink(self.root) or os.path.islink(self.staging):  # made a link between the checks and now
            raise BackupError("%s or %s became a symbolic link while the backup ran" % (self.root, self.staging))
        done = Gathered(self.staging)
        wanted: set[str] = set()
        recorded: dict[str, dict[str, Any]] = {}
        for source, relative, st, _bounded in self.walk():
            target = os.path.join(self.staging, relative)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            try:
                if is_sqlite(source):
                    copy_sqlite(source, target)
                    done.databases.append(relative)
                    copied: bool | None = True
                else:
                    copied = copy_stable(source, target)
            except FileNotFoundError:
                continue  # removed while we copied: not part of this backup
            if copied is None:
                done.changing.append(relative)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target)
                continue
            wanted.add(relative)
            recorded[relative] = attributes(st)
            done.copied += int(copied)
            done.unchanged += int(not copied)
        self._write_meta(done, wanted)
        self._remove_stale(wanted)
        done.manifest = self._write_manifest(recorded, self.directories())
        done.files = len(done.manifest["files"])
        done.bytes = sum(f["size"] for f in done.manifest["files"])
        return done

    def _write_meta(self, done: Gathered, wanted: set[str]) -> None:
        release_id, meta, _directory = self.release()
        os.makedirs(os.path.join(self.staging, "meta"), mode=0o700, exist_ok=True)
        record = {
            "host": self.host,
            "base": self.base,
            "release": release_id,
            "instances": self.instances,
            "databases": sorted(done.databases),
            "left_out_changing": sorted(done.changing),
        }
        atomic_write(os.path.join(self.staging, "meta", "release.json"), json.dumps(meta, indent=2, sort_keys=True) + "\n", 0o600)
        atomic_write(os.path.join(self.staging, "meta", "backup.json"), json.dumps(record, indent=2, sort_keys=True) + "\n", 0o600)
        wanted.update({"meta/release.json", "meta/backup.json"})

    def _remove_stale(self, wanted: set[str]) -> None:
        for folder, dirs, files in os.walk(self.staging, topdown=False):
            for name in files:
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, self.staging)
                if relative != MANIFEST and relative not in wanted:
                    os.unlink(path)
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(folder, name))  # only when empty

    def directories(self) -> dict[str, dict[str, Any]]:
        """The attributes of every directory of the set's trees (their tops included), by staging-relative path."""
        found = {}
        for source, relative, _bounded in self.sources():
            if not os.path.isdir(source) or os.path.islink(source):
                continue
            for folder, dirs, _files in os.walk(source):
                dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
                with contextlib.suppress(FileNotFoundError):
                    found[os.path.normpath(os.path.join(relative, os.path.relpath(folder, source)))] = attributes(os.stat(folder, follow_symlinks=False))
        return found

    def _write_manifest(self, recorded: dict[str, dict[str, Any]], directories: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """manifest.json: each file's size and sha256, and the mode and owner of each file and directory (version 2;
        a restore of a version 1 manifest gives the restored tree the service user and the modes restic kept)."""
        entries = []
        for folder, dirs, files in os.walk(self.staging):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, self.staging)
                if relative == MANIFEST:
                    continue
                entries.append({"path": relative, "size": os.path.getsize(path), "sha256": sha256_of(path), **recorded.get(relative, {})})
        release_id, _meta, _directory = self.release()
        manifest = {
            "version": 2,
            "host": self.host,
            "release": release_id,
            "instances": self.instances,
            "files": entries,
            "directories": [{"path": path, **attrs} for path, attrs in sorted(directories.items())],
        }
        atomic_write(os.path.join(self.staging, MANIFEST), json.dumps(manifest, indent=1, sort_keys=True) + "\n", 0o600)
        return manifest


# -- restore safety ----------------------------------------------------------------------------
def check_tree(root: str) -> list[str]:
    """Problems of a restored tree: anything that is not a regular file or a directory (links of any kind,
    devices, FIFOs, sockets), and names that would leave the tree. An empty list is a safe tree."""
    problems = []
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            st = os.lstat(path)
            if name in ("..", ".") or "\n" in name:
                problems.append("%s: a name that is not allowed" % relative)
            elif stat.S_ISLNK(st.st_mode):
                problems.append("%s: a symbolic link (to %s): refused" % (relative, os.readlink(path)))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                problems.append("%s: a device file: refused" % relative)
            elif stat.S_ISFIFO(st.st_mode):
                problems.append("%s: a FIFO: refused" % relative)
            elif stat.S_ISSOCK(st.st_mode):
                problems.append("%s: a socket: refused" % relative)
            elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                problems.append("%s: not a file or a directory: refused" % relative)
            elif not os.path.realpath(path).startswith(real_root + os.sep):
                problems.append("%s: resolves outside the restore directory" % relative)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return problems


def check_manifest(root: str) -> tuple[dict[str, Any], list[str]]:
    """(manifest, problems) of a restored staging tree: every listed file present with its size and sha256,
    and no file that the manifest does not list."""
    try:
        with open(os.path.join(root, MANIFEST), encoding="utf-8") as handle:
            manifest: dict[str, Any] = json.load(handle)
    except (OSError, ValueError) as exc:
        return {}, ["%s: missing or unreadable (%s)" % (MANIFEST, exc)]
    problems = []
    listed = set()
    for entry in manifest.get("files", []):
        relative = str(entry.get("path", ""))
        listed.add(relative)
        try:
            path = inside(root, relative, MANIFEST)  # the one path rule: no absolute name, no '..', no escaping link
        except PathError:
            problems.append("%s: the manifest names a path outside the tree" % relative)
            continue
        if not os.path.isfile(path):
            problems.append("%s: missing" % relative)
        elif os.path.getsize(path) != entry.get("size") or sha256_of(path) != entry.get("sha256"):
            problems.append("%s: its content differs from the manifest (size or sha256)" % relative)
    for folder, _dirs, files in os.walk(root):
        for name in files:
            relative = os.path.relpath(os.path.join(folder, name), root)
            if relative != MANIFEST and relative not in listed:
                problems.append("%s: not in the manifest" % relative)
    return manifest, problems


# -- the whole operation -----------------------------------------------------------------------
class Backups:
    """Back up, verify, prune and restore one deploy base through one restic repository."""

    def __init__(self, base: str, restic: Restic, instances: list[str] | None = None, **set_options: Any) -> None:
        self.base = os.path.abspath(base)
        self.restic = restic
        self.set = BackupSet(self.base, instances or [], **set_options)
        self.state_path = os.path.join(self.base, "state", STATE)

    # -- local state ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        try:
            with open(self.state_path, encoding="utf-8") as handle:
                data: dict[str, Any] = json.load(handle)
                return data
        except (OSError, ValueError):
            return {}

    def save_state(self, data: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(self.state_path), mode=0o755, exist_ok=True)
        atomic_write(self.state_path, json.dumps(data, indent=1, sort_keys=True) + "\n", 0o600)

    @contextlib.contextmanager
    def lock(self, wait: float = 600.0) -> Iterator[None]:
        """One backup operation at a time on this host: a second one waits up to `wait` seconds, then fails."""
        os.makedirs(self.set.root, mode=0o700, exist_ok=True)
        try:
            fd = open_nofollow(os.path.join(self.set.root, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        except PathError as exc:
            raise BackupError(str(exc)) from None
        with os.fdopen(fd, "r+") as handle:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        raise BackupError("another backup operation (pid %s) holds %s after %.0f s" % (handle.read().strip() or "?", LOCK, wait)) from None
                    time.sleep(0.2)  # another operation runs: wait for it
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield

    def tags(self, release_id: str) -> list[str]:
        release = tag_part(release_id, "release id", re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")) if release_id else "none"
        return ["comfyops", "host=%s" % self.set.host, "release=%s" % release, "instances=%s" % INSTANCES_SEPARATOR.join(self.set.instances)]

    # -- operations -------------------------------------------------------------------------
    def backup(self, include_outputs: bool = False, extra_tags: list[str] | None = None) -> dict[str, Any]:
        started = time.monotonic()
        # Opening a repository costs restic its key derivation (about 0.5 s, calibrated at init): a repository this
        # host has seen initialised is not asked again; if it has gone since, the backup says so and it is made anew.
        known = self.state().get("initialised") == self.restic.describe()
        made = False if known else self.restic.init()
        gathered = self.set.gather()
        paths = [gathered.staging] + (
            [os.path.join(self.base, "shared", "output")] if include_outputs and os.path.isdir(os.path.join(self.base, "shared", "output")) else []
        )
        release_id = str(gathered.manifest.get("release") or "")
        try:
            summary = self.restic.backup(paths, self.tags(release_id) + (extra_tags or []), self.set.host)
        except BackupError as exc:
            if not known or not any(t in str(exc).lower() for t in ("does not exist", "is there a repository", "unable to open config")):
                raise
            made = self.restic.init()
            summary = self.restic.backup(paths, self.tags(release_id) + (extra_tags or []), self.set.host)
        result = dict(
            summary,
            initialised=made,
            release=release_id,
            set_files=gathered.files,
            set_bytes=gathered.bytes,
            copied=gathered.copied,
            databases=gathered.databases,
            left_out_changing=gathered.changing,
            seconds=round(time.monotonic() - started, 3),
        )
        state = self.state()
        state["initialised"] = self.restic.describe()
        state["last_backup"] = {
            "time": now_iso(),
            "epoch": round(time.time(), 3),
            "snapshot_id": summary["snapshot_id"],
            "bytes_added": summary["bytes_added"],
            "seconds": result["seconds"],
        }
        self.save_state(state)
        return result

    def snapshots(self) -> list[Snapshot]:
        return self.restic.snapshots(["comfyops"])

    def resolve(self, snapshot_id: str | None, snapshots: list[Snapshot] | None = None, host: str | None = None) -> Snapshot:
        """The snapshot `snapshot_id` (an id or a prefix), or the newest of `host` (default this host) when none is named."""
        found = snapshots if snapshots is not None else self.snapshots()
        # the newest backup, not the copy of what was in place that a restore made (tag pre-restore)
        regular = [s for s in found if PRE_RESTORE not in s.tags]
        mine = [s for s in regular if s.tag("host") == (host or self.set.host)]
        if host is None and not mine:
            mine = regular
        if not snapshot_id or snapshot_id == "latest":
            if not mine:
                raise BackupError("the repository %s has no comfyops snapshot%s to use" % (self.restic.describe(), " of host %s" % host if host else ""))
            return mine[-1]
        matches = [s for s in found if s.id.startswith(snapshot_id)]
        if len(matches) != 1:
            raise BackupError("snapshot %r: %s" % (snapshot_id, "no such snapshot" if not matches else "more than one snapshot starts so"))
        return matches[0]

    def verify(self, read_data_subset: str | None = None, snapshot_id: str | None = None) -> dict[str, Any]:
        """restic check, then a trial restore of the snapshot (the newest) into scratch, checked against its manifest."""
        ok, text = self.restic.check(read_data_subset)
        state = self.state()
        damaged = set(state.get("damaged", []))
        problems: list[str] = []
        if not ok:
            for pack in self.restic.packs_of(text):
                damaged.update(self.restic.snapshots_with("pack", pack))
            for tree in self.restic.trees_of(text):
                damaged.update(self.restic.snapshots_with("tree", tree))
            problems.append("restic check: %s" % text[-1500:])
        snaps = self.snapshots()
        snap = self.resolve(snapshot_id, snaps) if snaps else None
        trial: list[str] = []
        if snap is not None:
            with self.scratch("verify") as scratch:
                try:
                    self.restic.restore(snap.id, scratch)
                    trial = self._restored_problems(scratch, snap)
                except BackupError as exc:
                    trial = [str(exc)]
            if trial:
                damaged.add(snap.id)
        verified = dict(state.get("verified", {}))
        if snap is not None and not trial and ok:
            verified[snap.id] = now_iso()
        last = {"time": now_iso(), "epoch": round(time.time(), 3), "ok": int(ok and not trial), "snapshot_id": snap.id if snap else None}
        state.update(verified=verified, damaged=sorted(damaged), last_verify=last)
        self.save_state(state)
        return {
            "ok": ok and not trial,
            "check_ok": ok,
            "snapshot_id": snap.id if snap else None,
            "problems": problems + trial,
            "damaged_snapshots": sorted(damaged),
        }

    def prune(self, keep_last: int, keep_daily: int, keep_weekly: int, check_mode: bool = False) -> dict[str, Any]:
        snaps = self.snapshots()
        verified = set(self.state().get("verified", {})) - set(self.state().get("damaged", []))
        keep, remove = retention(snaps, keep_last, keep_daily, keep_weekly, verified)
        if remove and not check_mode:
            self.restic.forget([s.id for s in remove], prune=True)
        return {"kept": [s.id for s in keep], "removed": [s.id for s in remove], "changed": bool(remove)}

    def restore(
        self, snapshot_id: str | None, uid: int | None = None, gid: int | None = None, check_mode: bool = False, from_host: str | None = None
    ) -> dict[str, Any]:
        """Restore user data (and the current release's configuration when it is the same release) from a snapshot:
        `snapshot_id`, else the newest of `from_host` (another host's, for disaster recovery), else this host's."""
        snaps = self.snapshots()
        snap = self.resolve(snapshot_id, snaps, from_host)
        if snap.id in set(self.state().get("damaged", [])):
            raise BackupError("snapshot %s failed its verification (damaged): refusing to restore it; choose another" % snap.short_id)
        if check_mode:
            stats = self.restic.stats(snap.id)
            return {
                "snapshot_id": snap.id,
                "release": snap.tag("release"),
                "files": stats.get("total_file_count"),
                "bytes": stats.get("total_size"),
                "changed": True,
            }
        with self.scratch("restore") as scratch:
            self.restic.restore(snap.id, scratch)
            restored = self._restored_root(scratch, snap)
            problems = check_tree(scratch) + check_manifest(restored)[1]
            if problems:
                raise BackupError("snapshot %s does not restore cleanly, nothing was changed: %s" % (snap.short_id, "; ".join(problems[:10])))
            before = self.backup(extra_tags=[PRE_RESTORE]) if os.path.isdir(os.path.join(self.base, "shared", "user")) else None
            moved = self._swap(restored, uid, gid)
        return {
            "snapshot_id": snap.id,
            "release": snap.tag("release"),
            "pre_restore_snapshot": before and before["snapshot_id"],
            "restored": moved,
            "changed": True,
        }

    # -- helpers ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def scratch(self, kind: str) -> Iterator[str]:
        os.makedirs(self.set.root, mode=0o700, exist_ok=True)
        path = os.path.join(self.set.root, "%s-%s" % (kind, time.strftime("%Y%m%dT%H%M%S")))
        shutil.rmtree(path, ignore_errors=True)
        os.mkdir(path, 0o700)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _restored_root(self, scratch: str, snap: Snapshot) -> str:
        """Where the staging tree of `snap` is inside the scratch directory (restic keeps absolute paths)."""
        for path in snap.paths:
            if path.rstrip("/").endswith("/backup/" + STAGING):
                try:  # a path read from the repository: it must stay inside the scratch directory
                    return inside(scratch, path.lstrip("/"), "snapshot %s path" % snap.short_id)
                except PathError as exc:
                    raise BackupError(str(exc)) from None
        raise BackupError("snapshot %s holds no comfyops backup set (paths: %s)" % (snap.short_id, ", ".join(snap.paths)))

    def _restored_problems(self, scratch: str, snap: Snapshot) -> list[str]:
        try:
            restored = self._restored_root(scratch, snap)
        except BackupError as exc:
            return [str(exc)]
        return check_tree(scratch) + check_manifest(restored)[1]

    def _swap(self, restored: str, uid: int | None, gid: int | None) -> list[str]:
        """Move what is in place aside (under backup/pre-restore-<time>) and the restored user data into place."""
        aside = os.path.join(self.set.root, "pre-restore-%s" % time.strftime("%Y%m%dT%H%M%S"))
        os.makedirs(aside, mode=0o700, exist_ok=True)
        moved = []
        pairs = [("user", os.path.join(self.base, "shared", "user"))]
        release_id, _meta, directory = self.set.release()
        with open(os.path.join(restored, "meta", "backup.json"), encoding="utf-8") as handle:
            recorded = json.load(handle)
        manifest = check_manifest(restored)[0]
        # The configuration is this host's own only when the backup is of this host, base and release: on another host
        # (disaster recovery) the deploy made it from the inventory for this host (its paths, its ports), and the
        # backed-up copy stays in the snapshot for reference.
        same = (recorded.get("release"), recorded.get("host"), recorded.get("base")) == (release_id, self.set.host, self.base)
        if directory and same and os.path.isdir(os.path.join(restored, "config", "instances")):
            pairs.append(("config/instances", os.path.join(directory, "instances")))
        for relative, destination in pairs:
            source = os.path.join(restored, relative)
            if not os.path.isdir(source):
                continue
            owner = os.stat(destination) if os.path.exists(destination) else None
            if os.path.exists(destination):
                os.replace(destination, os.path.join(aside, relative.replace("/", "_")))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.move(source, destination)
            if manifest.get("directories") is not None:
                self._put_back(manifest, relative, destination, uid, gid)
            else:  # a manifest of version 1 recorded no modes or owners
                fallback = (owner.st_uid, owner.st_gid) if owner else (None, None)
                self._own(destination, uid if uid is not None else fallback[0], gid if gid is not None else fallback[1])
                if owner:
                    os.chmod(destination, stat.S_IMODE(owner.st_mode))
            moved.append(relative)
        return moved

    @staticmethod
    def _put_back(manifest: dict[str, Any], relative: str, destination: str, uid: int | None, gid: int | None) -> None:
        """Each restored file and directory under `relative` gets the mode and owner recorded when it was backed up:
        owners by name on this host, an owner this host lacks becomes the service user (uid, gid)."""
        for entry in list(manifest.get("files", [])) + list(manifest.get("directories", [])):
            path = str(entry.get("path", ""))
            if (path != relative and not path.startswith(relative + "/")) or "mode" not in entry:
                continue
            target = destination + path[len(relative) :]
            if os.path.islink(target) or not os.path.exists(target):
                continue
            os.chown(
                target,
                _id_of(entry.get("owner"), lambda n: pwd.getpwnam(n).pw_uid, int(entry.get("uid", -1)), uid),
                _id_of(entry.get("group"), lambda n: grp.getgrnam(n).gr_gid, int(entry.get("gid", -1)), gid),
                follow_symlinks=False,
            )
            os.chmod(target, int(str(entry["mode"]), 8) & 0o7777)  # after chown, which clears set-id bits

    @staticmethod
    def _own(path: str, uid: int | None, gid: int | None) -> None:
        if uid is None and gid is None:
            return
        for folder, dirs, files in os.walk(path):
            os.chown(folder, uid if uid is not None else -1, gid if gid is not None else -1)
            for name in dirs + files:
                os.chown(os.path.join(folder, name), uid if uid is not None else -1, gid if gid is not None else -1, follow_symlinks=False)

    def recorded(self, snap: Snapshot) -> dict[str, Any]:
        """What a snapshot recorded about its host: meta/backup.json, meta/release.json and meta/models.json."""
        root = next((p for p in snap.paths if p.rstrip("/").endswith("/backup/" + STAGING)), None)
        if root is None:
            raise BackupError("snapshot %s holds no comfyops backup set" % snap.short_id)
        found: dict[str, Any] = {}
        for name in ("backup", "release", "models"):
            try:
                found[name] = json.loads(self.restic.dump(snap.id, "%s/meta/%s.json" % (root.rstrip("/"), name)))
            except (BackupError, ValueError):
                found[name] = {}
        return found

    def info(self) -> list[dict[str, Any]]:
        state = self.state()
        verified = state.get("verified", {})
        damaged = set(state.get("damaged", []))
        return [
            {
                "id": s.id,
                "short_id": s.short_id,
                "time": s.time,
                "host": s.tag("host") or s.hostname,
                "release": s.tag("release"),
                "instances": [i for i in re.split(r"[+,]", s.tag("instances")) if i],  # ',' in snapshots of before 0.6
                "tags": list(s.tags),
                "verified": verified.get(s.id),
                "damaged": s.id in damaged,
            }
            for s in self.snapshots()
        ]


# -- what the module, the command and the metrics share ----------------------------------------------
@contextlib.contextmanager
def password_file(password: str | None, path: str | None) -> Iterator[str]:
    """A file holding the repository password for restic: `path` as it is, or `password` written to a private
    temporary file (0600 in a 0700 directory) that is removed afterwards. Never a command line."""
    if path:
        if not os.path.isfile(path):
            raise BackupError("password_file %s does not exist" % path)
        yield path
        return
    if not password:
        raise BackupError("a repository password is needed (password or password_file)")
    directory = tempfile.mkdtemp(prefix="comfyops-restic-")
    secret = os.path.join(directory, "password")
    try:
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
        yield secret
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# The options every module that opens a repository takes (documented once: doc fragment comfyops.comfyui.restic).
RESTIC_OPTIONS: dict[str, dict[str, Any]] = {
    "base": {"type": "path", "required": True},
    "repository": {"type": "str", "required": True},
    "password": {"type": "str", "no_log": True},
    "password_file": {"type": "path", "no_log": False},  # a path, not a secret
    "env": {"type": "dict", "default": {}, "no_log": True},
    "restic": {"type": "str", "default": "restic"},
    "cache_dir": {"type": "path"},
}
# Ranges of the numeric options (keep_last -1 silently became 0 before).
RANGES: dict[str, tuple[float, float]] = {
    "keep_last": (1, 100000),
    "keep_daily": (0, 100000),
    "keep_weekly": (0, 100000),
    "max_age_days": (0.001, 36500),
    "lock_wait": (0, 86400),
}


def check_ranges(params: dict[str, Any]) -> None:
    """BackupError naming the first option outside its range (keep_last keeps at least the newest snapshot)."""
    for option, (low, high) in RANGES.items():
        value = params.get(option)
        if value is not None and not low <= value <= high:
            raise BackupError("%s: %r is outside %s to %s" % (option, value, ("%g" % low), ("%g" % high)))


def repository_secrets(repository: str) -> list[str]:
    """The credentials inside a repository URL (rest:https://user:password@host/, s3:https://key:secret@host/...):
    the modules add them to what Ansible never shows."""
    found = re.findall(r"://([^/@\s]+)@", str(repository or ""))
    return [part for userinfo in found for part in [userinfo, *userinfo.split(":")] if part]


RESTIC_PASSWORD_RULES: dict[str, Any] = {"required_one_of": [("password", "password_file")], "mutually_exclusive": [("password", "password_file")]}


def check_repository(repository: Any, option: str = "repository") -> str:
    """A restic repository (a path or a URL such as s3:host/bucket); BackupError naming `option`, never the value (a
    repository URL may carry credentials)."""
    if not isinstance(repository, str) or not 0 < len(repository) <= 4096 or repository.startswith("-") or any(c < " " for c in repository):
        raise BackupError(
            "%s: not a restic repository (a path or a URL such as s3:host/bucket, 1 to 4096 characters, no control"
            " character, not starting with '-'): got %s"
            % (option, ("%d characters" % len(repository)) if isinstance(repository, str) else type(repository).__name__)
        )
    return repository


# restic's --read-data-subset: a percentage, n/t, or a size
SUBSET_RE = re.compile(r"^([0-9]+(\.[0-9]+)?%|[0-9]+/[0-9]+|[0-9]+[KMGT]?)$")
# systemd's OnCalendar=: its own words and digits, never a newline (it goes into the timer unit as written)
CALENDAR_RE = re.compile(r"^[A-Za-z0-9 ,:*./~+-]{1,200}$")


def preflight(values: dict[str, Any]) -> list[str]:
    """Every problem of the backup role's settings (keys without their backup_ prefix), before the role writes anything:
    paths, the repository, the password, restic's environment, names that become tags, ranges, the subset read by each
    verification, the schedule. Messages name the variable and never show a secret."""
    problems: list[str] = []

    def check(call: Any, *args: Any) -> None:
        try:
            call(*args)
        except (BackupError, PathError, EnvError) as exc:
            problems.append(str(exc))

    for key in ("base", "health_dir", "textfile_dir", "python"):
        if values.get(key) not in (None, ""):
            check(absolute_path, values[key], "backup_" + key)
    check(check_repository, values.get("repository"), "backup_repository")
    password = values.get("password")
    if not isinstance(password, str) or not password.strip() or "\x00" in password:
        problems.append("backup_password: a non-empty text is required (restic's repository password)")
    check(check_env, values.get("env") or {}, "backup_env")
    check(tag_part, values.get("host"), "the inventory host name", HOST_RE)
    instances = values.get("instances") or []
    if not isinstance(instances, list):
        problems.append("backup_instances: expected a list of instance names, got %s" % type(instances).__name__)
    else:
        for index, name in enumerate(instances):
            check(tag_part, name, "backup_instances[%d]" % index, INSTANCE_RE)
    for key in ("keep_last", "keep_daily", "keep_weekly", "max_age_days"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append("backup_%s: expected a number, got %s" % (key, type(value).__name__))
        else:
            check(check_ranges, {key: value})
    if not SUBSET_RE.match(str(values.get("verify_subset", "5%"))):
        problems.append(
            "backup_verify_subset: %s is not what restic reads (a percentage such as 5%%, n/t such as 1/7, or a size such as 2G)"
            % shown(values.get("verify_subset"), 60)
        )
    if not CALENDAR_RE.match(str(values.get("schedule", "daily"))):
        problems.append("backup_schedule: %s is not a systemd calendar expression such as daily or *-*-* 03:00:00" % shown(values.get("schedule"), 60))
    problems += package_problems(values.get("restic_package", "restic"), "backup_restic_package")
    delay = values.get("randomized_delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 86400:
        problems.append("backup_randomized_delay: expected whole seconds from 0 to 86400, got %s" % shown(delay, 40))
    return [problem if problem.startswith("backup_") or problem.startswith("the inventory") else "backup_" + problem for problem in problems]


def restic_for(params: dict[str, Any], secret: str) -> Restic:
    """A Restic from the module's (or the command's) settings."""
    base = os.path.abspath(params["base"])
    try:
        env = check_env(params.get("env") or {}, "env")  # names, and values without NUL or newlines, as restic's environment
    except EnvError as exc:
        raise BackupError(str(exc)) from None
    try:
        binary = program(params.get("restic") or "restic", "restic")
    except PathError as exc:
        raise BackupError(str(exc)) from None
    check_repository(params["repository"])
    return Restic(
        params["repository"],
        secret,
        binary=binary,
        env=env,
        cache_dir=params.get("cache_dir") or os.path.join(base, "backup", "cache"),
        lock_wait=float(params.get("lock_wait") or 600),
    )


METRICS = (
    ("comfyui_backup_last_success_timestamp_seconds", "gauge", "When the last backup succeeded (Unix time).", ("last_backup", "epoch")),
    ("comfyui_backup_last_duration_seconds", "gauge", "How long the last backup took.", ("last_backup", "seconds")),
    ("comfyui_backup_last_added_bytes", "gauge", "Bytes the last backup added to the repository.", ("last_backup", "bytes_added")),
    ("comfyui_backup_last_verify_timestamp_seconds", "gauge", "When the repository was last verified (Unix time).", ("last_verify", "epoch")),
    ("comfyui_backup_last_verify_ok", "gauge", "Whether the last verification passed (1) or not (0).", ("last_verify", "ok")),
)


def write_metrics(textfile_dir: str, backups: Backups) -> str:
    """Prometheus textfile metrics of the backups (for node_exporter's textfile collector), written atomically."""
    state = backups.state()
    lines = []
    for name, kind, text, (section, key) in METRICS:
        value = (state.get(section) or {}).get(key)
        if value is None:
            continue
        lines += ["# HELP %s %s" % (name, text), "# TYPE %s %s" % (name, kind), "%s %s" % (name, float(value))]
    try:
        count: float = len(backups.snapshots())
    except BackupError:
        count = float("nan")
    lines += ["# HELP comfyui_backup_snapshots Snapshots of this host in the repository.", "# TYPE comfyui_backup_snapshots gauge"]
    lines.append("comfyui_backup_snapshots %s" % count)
    os.makedirs(textfile_dir, exist_ok=True)
    path = os.path.join(textfile_dir, "comfyui_backup.prom")
    atomic_write(path, "\n".join(lines) + "\n", 0o644)
    return path


def deploy_overrides(recorded: dict[str, Any], source: dict[str, Any], custom_nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The deploy settings that rebuild the release a snapshot recorded on a new host: its release id, the ComfyUI
    source at the recorded commit (git), and the inventory's custom nodes pinned to the recorded commits."""
    release = recorded.get("release") or {}
    release_id = str(release.get("id") or (recorded.get("backup") or {}).get("release") or "")
    if not release_id:
        raise BackupError("the snapshot recorded no release (the host had none deployed): deploy one, then restore the data")
    pinned: dict[str, str] = {}
    for node in release.get("custom_nodes") or []:
        name, version = (node.get("name"), node.get("version")) if isinstance(node, dict) else (node[0], node[1])
        if version:
            pinned[str(name)] = str(version)
    names = {str(node.get("name")) for node in custom_nodes}
    missing = sorted(set(pinned) - names)
    if missing:
        raise BackupError("the recorded release had custom nodes the inventory does not declare (comfyui_deploy_custom_nodes): %s" % ", ".join(missing))
    new_source = dict(source)
    commit = release.get("comfyui_commit")
    if new_source.get("type") == "git" and commit:
        new_source["ref"] = commit
    nodes = [dict(node, version=pinned.get(str(node.get("name")), node.get("version"))) for node in custom_nodes]
    return {"comfyui_deploy_release_id": release_id, "comfyui_deploy_source": new_source, "comfyui_deploy_custom_nodes": nodes}


def models_missing(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The models a snapshot's manifest lists that this host does not have with the same sha256 (folder/name)."""
    have = {(m.get("folder"), m.get("name"), m.get("sha256")) for m in (current or {}).get("models", [])}
    wanted = (recorded or {}).get("models") or []
    return [
        "%s/%s (sha256 %s)" % (m.get("folder"), m.get("name"), str(m.get("sha256"))[:12])
        for m in wanted
        if (m.get("folder"), m.get("name"), m.get("sha256")) not in have
    ]
