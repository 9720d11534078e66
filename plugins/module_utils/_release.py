# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release directories with an atomically switched ``current`` link. Plain Python, no Ansible.

Layout under a base path::

    releases/<id>/                 one release (ComfyUI checkout, custom nodes, venv link)
    releases/<id>/.comfyops-release.json   its metadata (id, refs, commits, state, ...)
    current -> releases/<id>       the active release, switched by rename(2)
    previous -> releases/<id>      the release that was active before: the rollback target
    shared/                        models, inputs, outputs and user data that outlive releases
    state/release.lock             flock(2) lock of each change; holds the holder's pid (opened O_NOFOLLOW)
    state/deploy.lock              the host-wide deploy lock: which run (controller, user, pid, start) holds it
    state/audit.log                append-only JSON lines: who switched what, from which release to which, outcome

Every release id that names a path is checked by ``_fsutil.check_name`` (no '/', '..', empty, quotes), in
every state. Root keeps this state only in root-owned trees: ``state/`` and ``releases/`` writable by the
service user are refused, since it could plant links there.

The rollback target is read from the ``previous`` link, never guessed from modification times.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import time
from collections.abc import Iterator
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import (
    NAME_RE,
    PathError,
    atomic_write,
    check_name,
    open_nofollow,
    owned_safely,
)

META = ".comfyops-release.json"
# activating: current already points at it, its gates (health, workflow) have not passed yet. A host
# stopped in that window keeps it, and the next deploy gates it again instead of taking it as done.
STATES = ("building", "ready", "activating", "active", "failed", "rolled_back")
UNFINISHED = ("building", "failed")
DEPLOY_LOCK = "deploy.lock"
AUDIT_LOG = "audit.log"
DEPLOYED = "deployed.json"  # the release and configuration digest the last successful deploy left running
LOCK_TTL = 3600  # seconds a deploy lock lives without a renewal (every change of the holding run renews it)
AUDIT_KEYS = ("time", "controller_user", "controller_host", "playbook", "action", "from_release", "to_release", "outcome", "run_id")


class ReleaseError(Exception):
    """A refused or impossible change; nothing was changed."""


def check_id(value: Any, option: str = "id") -> str:
    """The release id unchanged, or ReleaseError naming `option` (one rule: _fsutil.check_name)."""
    try:
        return check_name(value, option, "release id")
    except PathError as exc:
        raise ReleaseError(str(exc)) from None


_VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([0-9A-Za-z.+-]{1,40})["']\s*$""", re.M)


def read_comfyui_version(app_dir: str) -> str | None:
    """The version a ComfyUI checkout declares in comfyui_version.py (what /system_stats will report), or None."""
    try:
        fd = open_nofollow(os.path.join(app_dir, "comfyui_version.py"), os.O_RDONLY, 0)
    except (OSError, PathError):
        return None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
        match = _VERSION_RE.search(handle.read(4096))
    return match.group(1) if match else None


def process_start(pid: Any) -> int | None:
    """The start time of `pid` in clock ticks since boot (from /proc), or None when it does not run."""
    try:
        with open("/proc/%d/stat" % int(pid), encoding="ascii", errors="replace") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


class Releases:
    def __init__(self, base: str) -> None:
        self.base = os.path.abspath(base)
        self.releases_dir = os.path.join(self.base, "releases")
        self.current_link = os.path.join(self.base, "current")
        self.previous_link = os.path.join(self.base, "previous")
        self.state_dir = os.path.join(self.base, "state")

    # -- reading ---------------------------------------------------------------------------
    def _link_target(self, link: str) -> str | None:
        try:
            target = os.readlink(link)
        except OSError:
            return None
        release_id = os.path.basename(os.path.normpath(target))
        if not NAME_RE.match(release_id) or ".." in release_id:
            return None
        return release_id if os.path.isdir(os.path.join(self.releases_dir, release_id)) else None

    def current(self) -> str | None:
        return self._link_target(self.current_link)

    def previous(self) -> str | None:
        return self._link_target(self.previous_link)

    def path(self, release_id: str) -> str:
        return os.path.join(self.releases_dir, check_id(release_id))

    def metadata(self, release_id: str) -> dict[str, Any]:
        try:
            with open(os.path.join(self.path(release_id), META), encoding="utf-8") as handle:
                meta: dict[str, Any] = json.load(handle)
                return meta
        except (FileNotFoundError, ValueError):
            return {"id": release_id, "state": "building", "created": None}

    def list(self) -> builtins.list[dict[str, Any]]:
        if not os.path.isdir(self.releases_dir):
            return []
        names = [name for name in os.listdir(self.releases_dir) if NAME_RE.match(name) and ".." not in name]
        items = [self.metadata(name) for name in names if os.path.isdir(self.path(name))]
        return sorted(items, key=lambda m: (m.get("created") or "", m["id"]))

    def rollback_target(self, release_id: str | None = None) -> str | None:
        """The one rule for the release to go back to if `release_id` fails its gates (or for a plain rollback).

        The current release, when it is another one and it passed its gates; else the ``previous`` link. A release
        that is activating (never passed its gates), building or failed is never a rollback target.
        """
        current = self.current()
        if current and current != release_id and self.metadata(current).get("state") not in ("activating", *UNFINISHED):
            return current if release_id else self.previous()
        return self.previous()

    def needs_switch(self, release_id: str) -> bool:
        """Whether `release_id` still has to be switched to and gated (not current, or current but not active)."""
        current = self.current()
        return current != release_id or self.metadata(current).get("state") != "active"

    def deployed(self) -> dict[str, Any]:
        """{release, config_digest, time} of the last deploy that ended deployed or unchanged, or {}."""
        try:
            with open(os.path.join(self.state_dir, DEPLOYED), encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def record_deployed(self, release_id: str, config_digest: str, check_mode: bool = False) -> dict[str, Any]:
        """Remember that `release_id` runs with the configuration `config_digest` (after a deploy's gates passed)."""
        record = {"release": check_id(release_id), "config_digest": str(config_digest), "time": now_iso()}
        if check_mode:
            return record
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        atomic_write(os.path.join(self.state_dir, DEPLOYED), json.dumps(record, sort_keys=True) + "\n")
        return record

    def noop_reason(self, release_id: str, config_digest: str) -> str:
        """Why a deploy of `release_id` with configuration `config_digest` has work to do, or "" when it has none:
        the release is current and active (its gates passed) and the last successful deploy left this very
        configuration. Health is the caller's to confirm. An activating release always has work: its gates."""
        current = self.current()
        if current != release_id:
            return "current is %s, not %s" % (current or "nothing", release_id)
        state = self.metadata(current).get("state")
        if state != "active":
            return "release %s is %s, not active" % (release_id, state)
        record = self.deployed()
        if record.get("release") != release_id:
            return "no deploy of %s with this configuration is recorded" % release_id
        if record.get("config_digest") != config_digest:
            return "the configuration changed since the last deploy"
        return ""

    def query(self, audit_lines: int = 20) -> dict[str, Any]:
        return {
            "current": self.current(),
            "previous": self.previous(),
            "releases": self.list(),
            "deploy_lock": self.deploy_lock(),
            "audit": self.audit_tail(audit_lines),
        }

    def query_for(self, release_id: str, audit_lines: int = 20) -> dict[str, Any]:
        """query(), and for a deploy of `release_id`: its metadata, the rollback target and whether to switch."""
        return dict(
            self.query(audit_lines),
            release=self.metadata(release_id),
            rollback_target=self.rollback_target(release_id),
            needs_switch=self.needs_switch(release_id),
        )

    # -- changing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the change lock. A lock left by a dead process is free again (flock dies with it)."""
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        self.require_safe_tree()
        path = os.path.join(self.state_dir, "release.lock")
        try:
            fd = open_nofollow(path, os.O_RDWR | os.O_CREAT, 0o644)
        except PathError as exc:
            raise ReleaseError(str(exc)) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ReleaseError("%s is not a regular file: refusing to use it as a lock" % path)
        handle = os.fdopen(fd, "r+", encoding="ascii")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                handle.seek(0)
                holder = handle.read().strip() or "?"
                raise ReleaseError("another deploy holds %s (pid %s); wait for it, or stop it" % (path, holder)) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()

    def require_safe_tree(self) -> None:
        """As root, refuse to keep state in a tree the service user could plant links in."""
        if os.geteuid() != 0:
            return
        for directory in (self.base, self.releases_dir, self.state_dir):
            problem = owned_safely(directory)
            if problem:
                raise ReleaseError(
                    "%s: root keeps releases and their state only in root-owned directories that nobody else can write"
                    " (run the gpu_host role, or chown root: and chmod go-w it)" % problem
                )

    # -- the host-wide deploy lock ----------------------------------------------------------
    def _deploy_lock_path(self) -> str:
        return os.path.join(self.state_dir, DEPLOY_LOCK)

    def deploy_lock(self) -> dict[str, Any] | None:
        """The holder of the deploy lock (a dict), or None."""
        try:
            fd = open_nofollow(self._deploy_lock_path(), os.O_RDONLY, 0)
        except (FileNotFoundError, PathError):
            return None
        with os.fdopen(fd, encoding="utf-8") as handle:
            try:
                holder = json.load(handle)
            except ValueError:
                return {"run_id": "?", "unreadable": True, "expires": 0}
        return holder if isinstance(holder, dict) else {"run_id": "?", "unreadable": True, "expires": 0}

    @staticmethod
    def holder_alive(holder: dict[str, Any], now: float | None = None) -> bool:
        """Whether the run holding the lock still runs: its pid checked when it runs on this host, else its lease."""
        if holder.get("controller_host") == socket.gethostname() and holder.get("pid"):
            started = process_start(holder["pid"])
            return started is not None and started == holder.get("pid_start", started)
        return (now or time.time()) < float(holder.get("expires") or 0)

    @staticmethod
    def describe(holder: dict[str, Any]) -> str:
        return "run %s by %s@%s (pid %s, %s), started %s" % (
            holder.get("run_id"),
            holder.get("controller_user", "?"),
            holder.get("controller_host", "?"),
            holder.get("pid", "?"),
            holder.get("playbook") or holder.get("action") or "?",
            holder.get("acquired", "?"),
        )

    def check_deploy_lock(self, run: dict[str, Any] | None, ttl: int = LOCK_TTL, check_mode: bool = False) -> None:
        """Refuse a change while another live run holds the deploy lock; the holding run's lease is renewed."""
        holder = self.deploy_lock()
        if not holder:
            return
        mine = run is not None and bool(run) and holder.get("run_id") == run.get("run_id")
        if not mine and self.holder_alive(holder):
            raise ReleaseError(
                "the deploy lock of %s is held by %s; nothing was changed. Wait for that run to end; if it is dead, "
                "comfyui_release state=unlocked force=true breaks the lock" % (self.base, self.describe(holder))
            )
        if mine and not check_mode:
            atomic_write(self._deploy_lock_path(), json.dumps(dict(holder, expires=time.time() + ttl), sort_keys=True) + "\n")

    def acquire(self, run: dict[str, Any], ttl: int = LOCK_TTL, check_mode: bool = False, dead_run: str | None = None) -> dict[str, Any] | None:
        """Take the deploy lock for `run` (its run_id, controller_host, controller_user, pid, ...).

        Returns the holder it replaced when that run was dead (recovered), else None. Held by a live other run:
        ReleaseError naming the holder. `dead_run` is the id of a run its controller has seen dead (a host cannot
        see the controller's processes): a lock it holds is recovered at once.
        """
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        holder = self.deploy_lock()
        recovered = None
        if holder and holder.get("run_id") != run.get("run_id"):
            if self.holder_alive(holder) and not (dead_run and holder.get("run_id") == dead_run):
                raise ReleaseError(
                    "the deploy lock of %s is held by %s: refusing to start another run. Wait for it to end; if it is "
                    "dead, comfyui_release state=unlocked force=true breaks the lock" % (self.base, self.describe(holder))
                )
            recovered = holder
        if not check_mode:
            record = dict(run, acquired=(holder or {}).get("acquired") if holder and not recovered else now_iso(), expires=time.time() + ttl)
            if run.get("pid") and run.get("controller_host") == socket.gethostname() and record.get("pid_start") is None:
                record["pid_start"] = process_start(run["pid"])
            atomic_write(self._deploy_lock_path(), json.dumps(record, sort_keys=True) + "\n")
            if recovered:
                self.audit(run, "recover lock", outcome="recovered the lock of dead %s" % self.describe(recovered))
        return recovered

    def release_lock(self, run: dict[str, Any] | None, force: bool = False, check_mode: bool = False) -> bool:
        """Give the deploy lock back (only the holder, or anyone with `force`); True when one was removed."""
        holder = self.deploy_lock()
        if not holder:
            return False
        if not force and holder.get("run_id") != (run or {}).get("run_id"):
            if self.holder_alive(holder):
                raise ReleaseError("the deploy lock is held by %s, not by this run: left as it is" % self.describe(holder))
        if not check_mode:
            os.unlink(self._deploy_lock_path())
        return True

    # -- the audit trail -------------------------------------------------------------------
    def audit(
        self, run: dict[str, Any] | None, action: str, from_release: str | None = None, to_release: str | None = None, outcome: str | None = None
    ) -> dict[str, Any]:
        """Append one JSON line to state/audit.log (O_APPEND, never truncated, never through a link)."""
        run = run or {}
        record = {
            "time": now_iso(),
            "controller_user": run.get("controller_user"),
            "controller_host": run.get("controller_host"),
            "playbook": run.get("playbook"),
            "run_id": run.get("run_id"),
            "action": action,
            "from_release": from_release,
            "to_release": to_release,
            "outcome": outcome,
        }
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        try:
            fd = open_nofollow(os.path.join(self.state_dir, AUDIT_LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except PathError as exc:
            raise ReleaseError(str(exc)) from None
        try:
            os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def audit_tail(self, lines: int = 20) -> builtins.list[dict[str, Any]]:
        """The newest `lines` records of the audit trail (a torn or foreign line is skipped)."""
        try:
            fd = open_nofollow(os.path.join(self.state_dir, AUDIT_LOG), os.O_RDONLY, 0)
        except (FileNotFoundError, PathError):
            return []
        with os.fdopen(fd, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 256 * 1024))
            text = handle.read().decode("utf-8", "replace")
        records = []
        for line in text.splitlines()[-lines:]:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                records.append(item)
        return records

    def write_metadata(self, release_id: str, **changes: Any) -> dict[str, Any]:
        meta = self.metadata(release_id)
        meta.update(changes)
        meta["id"] = release_id
        atomic_write(os.path.join(self.path(release_id), META), json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return meta

    def create(self, release_id: str, info: dict[str, Any], check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
        """Make releases/<id> with metadata state building; an existing one is left as it is."""
        check_id(release_id)
        if os.path.isdir(self.path(release_id)):
            return False, self.metadata(release_id)
        meta = dict(info, id=release_id, state="building", created=now_iso())
        if check_mode:
            return True, meta
        os.makedirs(self.releases_dir, mode=0o755, exist_ok=True)
        os.makedirs(self.path(release_id), mode=0o755)
        return True, self.write_metadata(release_id, **meta)

    def mark(self, release_id: str, state: str, info: dict[str, Any] | None = None, check_mode: bool = False) -> tuple[bool, dict[str, Any]]:
        if state not in STATES:
            raise ReleaseError("state %r: one of %s" % (state, ", ".join(STATES)))
        self._require(release_id)
        meta = self.metadata(release_id)
        changes = dict(info or {}, state=state)
        if state == "ready":
            changes.setdefault("comfyui_version", read_comfyui_version(os.path.join(self.path(release_id), "app")))
        if all(meta.get(k) == v for k, v in changes.items()):
            return False, meta
        if check_mode:
            return True, dict(meta, **changes)
        if state == "failed" and self.current() == release_id:
            # a failed release is never current: a first deploy that failed its gates leaves no current link
            # (its instances are stopped), so the next activation cannot make it the rollback target
            os.unlink(self.current_link)
        return True, self.write_metadata(release_id, **changes)

    def _require(self, release_id: str) -> None:
        check_id(release_id)
        if not os.path.isdir(self.path(release_id)):
            known = ", ".join(m["id"] for m in self.list()) or "none"
            raise ReleaseError("release %r does not exist (releases: %s)" % (release_id, known))

    def _point(self, link: str, release_id: str) -> None:
        """Point `link` at releases/<id> by renaming a fresh link over it (atomic)."""
        tmp = "%s.tmp-%d" % (link, os.getpid())
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.path.join("releases", release_id), tmp)
        os.replace(tmp, link)
        dir_fd = os.open(self.base, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def activate(
        self, release_id: str, deployed_by: str | None = None, check_mode: bool = False, force: bool = False, pending: bool = False
    ) -> tuple[bool, str | None]:
        """Switch current to `release_id`; the release it replaces becomes the rollback target.

        With `pending` the release is marked ``activating`` (gates still to pass); without it, ``active``.
        Calling it again without `pending` on the current release confirms an activation.
        """
        self._require(release_id)
        meta = self.metadata(release_id)
        state = "activating" if pending else "active"
        old = self.current()
        if old == release_id:
            if meta.get("state") == state or (pending and meta.get("state") == "active"):
                return False, old
            if not check_mode:
                self.write_metadata(release_id, state=state)
            return True, old
        if meta.get("state") in UNFINISHED and not force:
            raise ReleaseError("release %s is %s, not ready: it cannot become active" % (release_id, meta.get("state")))
        if check_mode:
            return True, old
        earlier = self.previous()
        target = self.rollback_target(release_id)
        if old:
            old_state = self.metadata(old).get("state")
            if target == old:
                # an activation that never passed its gates, or a failed release, is no rollback target: the earlier one stays
                self._point(self.previous_link, old)
            if old_state in ("active", "activating"):
                self.write_metadata(old, state="ready")
        # previous_before: remembered so that a failed activation can put the rollback target back as it was.
        # A pending activation is recorded before the link moves, so that a host lost at any instant after
        # the switch finds its current release marked activating.
        record = {"state": state, "activated": now_iso(), "deployed_by": deployed_by or meta.get("deployed_by"), "previous_before": earlier}
        if pending:
            self.write_metadata(release_id, **record)
        self._point(self.current_link, release_id)
        if not pending:
            self.write_metadata(release_id, **record)
        return True, old

    def rollback(self, to: str | None = None, mark_from: str = "rolled_back", check_mode: bool = False) -> tuple[bool, str | None, str | None]:
        """Make the previous release (or `to`) current again; the one rolled back from is marked."""
        old = self.current()
        target = check_id(to, "to") if to else self.previous()
        if not target:
            raise ReleaseError("there is no previous release to roll back to (current: %s); nothing was changed" % (old or "none"))
        self._require(target)
        if target == old:
            return False, old, target
        if self.metadata(target).get("state") in UNFINISHED:
            raise ReleaseError("release %s is %s: refusing to roll back to it" % (target, self.metadata(target).get("state")))
        if check_mode:
            return True, old, target
        self._point(self.current_link, target)
        if old:
            earlier = self.metadata(old).get("previous_before")
            if mark_from == "failed":
                # a release that failed its gates is no rollback target: the one before stays it
                if earlier and earlier != target and os.path.isdir(self.path(earlier)):
                    self._point(self.previous_link, earlier)
                elif os.path.lexists(self.previous_link):
                    os.unlink(self.previous_link)
            else:
                self._point(self.previous_link, old)
            self.write_metadata(old, state=mark_from, rolled_back=now_iso())
        self.write_metadata(target, state="active", activated=now_iso())
        return True, old, target

    def remove(self, release_id: str, check_mode: bool = False) -> bool:
        path = self.path(release_id)  # checked: one name under releases/, never '..', '' or absolute
        if os.path.islink(path):
            raise ReleaseError("releases/%s is a symbolic link, not a release: refusing to remove through it" % release_id)
        if not os.path.isdir(path):
            return False
        if release_id in (self.current(), self.previous()):
            raise ReleaseError("release %s is %s: it is never removed" % (release_id, "active" if release_id == self.current() else "the rollback target"))
        if not check_mode:
            shutil.rmtree(path)
        return True

    def clean(self, keep: int, check_mode: bool = False) -> builtins.list[str]:
        """Remove releases beyond `keep`; never current or previous; unfinished ones go first, then the oldest."""
        if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= 1000:
            raise ReleaseError("keep: must be a number of releases from 1 to 1000, got %r" % (keep,))
        releases = self.list()
        protected = {self.current(), self.previous()}
        order = [m for m in releases if m.get("state") in UNFINISHED] + [m for m in releases if m.get("state") not in UNFINISHED]
        removed = []
        remaining = len(releases)
        for meta in order:
            if remaining <= keep:
                break
            if meta["id"] in protected:
                continue
            self.remove(meta["id"], check_mode=check_mode)
            removed.append(meta["id"])
            remaining -= 1
        return removed

    def unused_venvs(self, removed: Any = ()) -> builtins.list[str]:
        """Virtual environments under venvs/ that no release (beyond `removed`) links to."""
        venvs_dir = os.path.join(self.base, "venvs")
        if not os.path.isdir(venvs_dir):
            return []
        used = set()
        for meta in self.list():
            if meta["id"] in removed:
                continue
            try:
                used.add(os.path.basename(os.path.normpath(os.readlink(os.path.join(self.path(meta["id"]), "venv")))))
            except OSError:
                continue
        return sorted(name for name in os.listdir(venvs_dir) if name not in used and not os.path.islink(os.path.join(venvs_dir, name)))

    def clean_venvs(self, removed: Any = (), check_mode: bool = False) -> builtins.list[str]:
        """Remove the virtual environments no kept release uses (they are rebuilt from cache when needed again)."""
        names = self.unused_venvs(removed)
        if not check_mode:
            for name in names:
                path = os.path.join(self.base, "venvs", name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
        return names


RELEASE_MARK = "Part of the release id"
_ARCHIVE_SUFFIX = re.compile(r"\.(tar\.gz|tgz|tar\.xz|tar\.bz2|tar|zip)$")


def release_settings(argument_spec: dict[str, Any]) -> dict[str, Any]:
    """{option: default} of the role options whose description says they are part of the release id."""
    options = (argument_spec.get("argument_specs") or {}).get("main", {}).get("options", {})
    found = {}
    for name, spec in options.items():
        description = spec.get("description", "")
        text = " ".join(description) if isinstance(description, list) else str(description)
        if RELEASE_MARK in text:
            found[name] = spec.get("default")
    return found


def source_commit(source: dict[str, Any], ls_remote_lines: list[str] | None) -> str:
    """The commit (12 hex digits) of a git source from `git ls-remote` lines (the peeled tag first); for an archive its
    checksum's first 12 digits; for a local directory 'local'."""
    kind = source.get("type", "git")
    if kind == "archive":
        checksum = str(source.get("checksum") or "").rsplit(":", maxsplit=1)[-1].lower()
        return checksum[:12] if checksum else "nochecksum"
    if kind != "git":
        return "local"
    lines = [str(line) for line in ls_remote_lines or [] if str(line).strip()]
    peeled = [line for line in lines if line.rstrip().endswith("^{}")]
    chosen = (peeled or lines or ["unknown"])[0].split()[0]
    return chosen[:12]


def source_name(source: dict[str, Any]) -> str:
    """The readable part of a release id: the ref, or an archive's file name (from its URL without secrets), or a
    local directory's name; characters outside [A-Za-z0-9._-] become '_'."""
    from ansible_collections.comfyops.comfyui.plugins.module_utils._http import redact_url  # pylint: disable=import-outside-toplevel

    kind = source.get("type", "git")
    name = source.get("ref")
    if not name and kind == "archive":
        name = _ARCHIVE_SUFFIX.sub("", os.path.basename(redact_url(source.get("url") or "")))
    if not name:
        name = os.path.basename(str(source.get("path") or "local").rstrip("/")) or "local"
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(name))[:64].lstrip("._-") or "release"


def compute_release_id(source: dict[str, Any], ls_remote_lines: list[str] | None, settings_by_host: dict[str, Any]) -> str:
    """`<name>-<commit12>-<hash8>`: the same source and settings give the same id on every host and every run.

    `settings_by_host` is {host: {setting: value}} for every host of the group (not only those of a --limit), so
    that a change to one host's own settings makes a new release, identical everywhere.
    """
    parts = [[host, key, settings_by_host[host][key]] for host in sorted(settings_by_host) for key in sorted(settings_by_host[host])]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:8]
    return check_id("%s-%s-%s" % (source_name(source), source_commit(source, ls_remote_lines), digest), "release id")


def deploy_outcome(where: dict[str, Any], release_id: str, failed: bool = False, check_mode: bool = False) -> str:
    """One host's outcome in a deploy run, from a query result (see the deploy_outcome filter)."""
    where = where or {}
    if where.get("unreachable"):
        return "unreachable"
    states = {m.get("id"): m.get("state") for m in where.get("releases") or []}
    current = where.get("current")
    if current == release_id and states.get(current) == "active":
        return "deployed"
    if states.get(release_id) == "failed":
        return "rolled back"
    if failed:
        return "failed"
    return "would deploy" if check_mode else "not reached"


_PERCENT = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%\s*$")


def slice_batch(batch: Any, slices: Any) -> str | int:
    """The play's ``serial`` for one of ``slices`` job slices running at once, so the whole fleet never has more than
    ``batch`` hosts in a deploy at once: a percentage holds as it is (each slice takes that share of its own hosts),
    a number of hosts is shared out, and refused when smaller than the number of slices (each slice deploys at least one
    host at a time, so the limit could not hold). ReleaseError on anything else."""
    if isinstance(slices, bool) or not isinstance(slices, (int, str)) or not str(slices).strip().isdigit() or int(slices) < 1:
        raise ReleaseError("comfyui_deploy_slices: %r is not a number of job slices (1 or more)" % (slices,))
    count = int(slices)
    if isinstance(batch, str) and _PERCENT.match(batch):
        share = float(_PERCENT.match(batch).group(1))  # type: ignore[union-attr]
        if not 0 < share <= 100:
            raise ReleaseError("comfyui_deploy_batch: %r is not a percentage between 0 and 100" % batch)
        return batch.strip()
    if isinstance(batch, bool) or not str(batch).strip().isdigit() or int(batch) < 1:
        raise ReleaseError("comfyui_deploy_batch: %r is neither a number of hosts (1 or more) nor a percentage like '30%%'" % (batch,))
    if int(batch) < count:
        raise ReleaseError(
            "comfyui_deploy_batch: %s hosts at a time cannot hold across %d job slices running at once (each deploys at least one host);"
            " give a batch of %d or more, a percentage, or fewer slices" % (batch, count, count)
        )
    return int(batch) // count


_ID_COMMIT = re.compile(r"^[0-9a-f]{12}$")


def release_commit(release_id: str) -> str:
    """The git commit (12 hex digits) a release id names (`<name>-<commit12>-<hash8>`), or '' when it names none
    (an archive's checksum digits cannot be told from a commit, so only the caller knows the source is git)."""
    parts = str(release_id).rsplit("-", 2)
    return parts[1] if len(parts) == 3 and _ID_COMMIT.match(parts[1]) else ""
