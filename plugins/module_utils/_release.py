# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release directories with an atomically switched ``current`` link. Plain Python, no Ansible.

Layout under a base path::

    releases/<id>/                 one release (ComfyUI checkout, custom nodes, venv link)
    releases/<id>/.comfyops-release.json   its metadata (id, refs, commits, state, ...)
    current -> releases/<id>       the active release, switched by rename(2)
    previous -> releases/<id>      the release that was active before: the rollback target
    shared/                        models, inputs, outputs and user data that outlive releases
    state/release.lock             flock(2) lock of changes; holds the holder's pid

The rollback target is read from the ``previous`` link, never guessed from modification times.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import re
import shutil

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import atomic_write

META = ".comfyops-release.json"
# activating: current already points at it, its gates (health, workflow) have not passed yet. A host
# stopped in that window keeps it, and the next deploy gates it again instead of taking it as done.
STATES = ("building", "ready", "activating", "active", "failed", "rolled_back")
UNFINISHED = ("building", "failed")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ReleaseError(Exception):
    """A refused or impossible change; nothing was changed."""


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


class Releases:
    def __init__(self, base):
        self.base = os.path.abspath(base)
        self.releases_dir = os.path.join(self.base, "releases")
        self.current_link = os.path.join(self.base, "current")
        self.previous_link = os.path.join(self.base, "previous")
        self.state_dir = os.path.join(self.base, "state")

    # -- reading ---------------------------------------------------------------------------
    def _link_target(self, link):
        try:
            target = os.readlink(link)
        except OSError:
            return None
        release_id = os.path.basename(os.path.normpath(target))
        return release_id if os.path.isdir(os.path.join(self.releases_dir, release_id)) else None

    def current(self):
        return self._link_target(self.current_link)

    def previous(self):
        return self._link_target(self.previous_link)

    def path(self, release_id):
        return os.path.join(self.releases_dir, release_id)

    def metadata(self, release_id):
        try:
            with open(os.path.join(self.path(release_id), META), encoding="utf-8") as handle:
                return json.load(handle)
        except (FileNotFoundError, ValueError):
            return {"id": release_id, "state": "building", "created": None}

    def list(self):
        if not os.path.isdir(self.releases_dir):
            return []
        items = [self.metadata(name) for name in os.listdir(self.releases_dir) if os.path.isdir(self.path(name)) and not name.startswith(".")]
        return sorted(items, key=lambda m: (m.get("created") or "", m["id"]))

    def query(self):
        return {"current": self.current(), "previous": self.previous(), "releases": self.list()}

    # -- changing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Hold the change lock. A lock left by a dead process is free again (flock dies with it)."""
        os.makedirs(self.state_dir, exist_ok=True)
        path = os.path.join(self.state_dir, "release.lock")
        handle = open(path, "a+", encoding="ascii")
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

    def write_metadata(self, release_id, **changes):
        meta = self.metadata(release_id)
        meta.update(changes)
        meta["id"] = release_id
        atomic_write(os.path.join(self.path(release_id), META), json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return meta

    def create(self, release_id, info, check_mode=False):
        """Make releases/<id> with metadata state building; an existing one is left as it is."""
        if not ID_RE.match(release_id or ""):
            raise ReleaseError("release id %r: use letters, digits, '.', '_' and '-' (at most 128)" % release_id)
        if os.path.isdir(self.path(release_id)):
            return False, self.metadata(release_id)
        meta = dict(info, id=release_id, state="building", created=now_iso())
        if check_mode:
            return True, meta
        for folder in ("models", "input", "output", "user"):
            os.makedirs(os.path.join(self.base, "shared", folder), exist_ok=True)
        os.makedirs(self.path(release_id))
        return True, self.write_metadata(release_id, **meta)

    def mark(self, release_id, state, info=None, check_mode=False):
        if state not in STATES:
            raise ReleaseError("state %r: one of %s" % (state, ", ".join(STATES)))
        self._require(release_id)
        meta = self.metadata(release_id)
        changes = dict(info or {}, state=state)
        if all(meta.get(k) == v for k, v in changes.items()):
            return False, meta
        if check_mode:
            return True, dict(meta, **changes)
        return True, self.write_metadata(release_id, **changes)

    def _require(self, release_id):
        if not release_id or not os.path.isdir(self.path(release_id)):
            known = ", ".join(m["id"] for m in self.list()) or "none"
            raise ReleaseError("release %r does not exist (releases: %s)" % (release_id, known))

    def _point(self, link, release_id):
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

    def activate(self, release_id, deployed_by=None, check_mode=False, force=False, pending=False):
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
        if old:
            old_state = self.metadata(old).get("state")
            if old_state != "activating":
                # an activation that never passed its gates is no rollback target: the earlier one stays
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

    def rollback(self, to=None, mark_from="rolled_back", check_mode=False):
        """Make the previous release (or `to`) current again; the one rolled back from is marked."""
        old = self.current()
        target = to or self.previous()
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

    def remove(self, release_id, check_mode=False):
        if not os.path.isdir(self.path(release_id)):
            return False
        if release_id in (self.current(), self.previous()):
            raise ReleaseError("release %s is %s: it is never removed" % (release_id, "active" if release_id == self.current() else "the rollback target"))
        if not check_mode:
            shutil.rmtree(self.path(release_id))
        return True

    def clean(self, keep, check_mode=False):
        """Remove releases beyond `keep`; never current or previous; unfinished ones go first, then the oldest."""
        if keep < 1:
            raise ReleaseError("keep must be at least 1, got %d" % keep)
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


def deploy_outcome(where, release_id, failed=False, check_mode=False):
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
