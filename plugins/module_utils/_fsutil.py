# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing files safely: write a temp file in the same directory, fsync, rename, fsync the directory.

A crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from typing import Any


def atomic_write(path: str, data: str | bytes, mode: int = 0o644, sync: bool = True) -> bool:
    """Replace `path` with `data` (bytes or str) atomically; return True when the content changed. Without `sync`
    the data is not forced to disk first: a crash may then leave the old file or an empty one, never a torn one
    (for state that is cheap to lose, such as dedup counters, written on every call)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if not sync:
        return True
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def append_bounded_lines(path: str, line: str, max_lines: int, mode: int = 0o644) -> list[str]:
    """Append one line to a text file that keeps at most `max_lines` lines (the newest)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        lines = []
    lines.append(line)
    lines = lines[-max_lines:]
    atomic_write(path, "\n".join(lines) + "\n", mode)
    return lines


class PathError(ValueError):
    """A name or path that would leave its root, or is not a usable name; the message names the option."""


# One rule for every name that becomes a file name or a metric label: release ids, instance names,
# model file names (each component). No '/', no '..', no newline, no quote, no leading dot or dash.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def check_name(value: Any, option: str, kind: str = "name") -> str:
    """`value` unchanged when it is one safe path component, else PathError naming `option`."""
    if not isinstance(value, str) or not NAME_RE.match(value) or ".." in value:
        raise PathError(
            "%s: %s %r is not allowed: use 1-128 letters, digits, '.', '_', '+' and '-', starting with a letter or digit"
            " (no '/', '..', spaces, quotes or newlines)" % (option, kind, value)
        )
    return value


def inside(root: str, relative: Any, option: str) -> str:
    """The absolute path of `relative` under `root`, resolved (links followed); PathError when it would leave `root`.

    `relative` must be a relative path: absolute names, empty names and '..' components are refused, and so is
    any link on the way that points outside `root`. The path itself need not exist.
    """
    if not isinstance(relative, str) or not relative or "\x00" in relative or len(relative) > 4096 or any(len(p) > 255 for p in relative.split("/")):
        raise PathError("%s: %s is not a usable relative path" % (option, shown(relative, 200)))
    if os.path.isabs(relative):
        raise PathError("%s: %r is absolute; give a path inside %s" % (option, relative, root))
    parts = relative.replace("\\", "/").split("/")
    if any(part in ("..",) for part in parts) or all(part in ("", ".") for part in parts):
        raise PathError("%s: %r leaves or names %s itself; give a path inside it" % (option, relative, root))
    real_root = os.path.realpath(root)
    if len(os.path.join(real_root, relative)) > 4095:
        raise PathError("%s: %s is too long a path under %s (4095 characters in all)" % (option, shown(relative, 80), real_root))
    resolved = os.path.realpath(os.path.join(real_root, relative))
    if os.path.commonpath([real_root, resolved]) != real_root or resolved == real_root:
        raise PathError("%s: %r resolves to %s, outside %s (a link on the way?)" % (option, relative, resolved, real_root))
    return resolved


def shown(value: Any, limit: int = 120) -> str:
    """How a refused value appears in a message: its repr, cut to `limit` characters (a huge value stays readable)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# An absolute path on a managed host, as written into another program's configuration or command line: checked
# lexically (the host is not this machine), so no link can be resolved here; the roles create such paths root-owned.
ABS_PATH_RE = re.compile(r"^(/[A-Za-z0-9._+@-]+)+$")


def absolute_path(value: Any, option: str) -> str:
    """`value` unchanged when it is an absolute, normalised path of safe characters, not / itself, else PathError.

    Refused: relative paths, '.' and '..' components, empty components ('//'), a trailing '/', and any character but
    letters, digits, '.', '_', '+', '@', '-' and '/' (no space, quote, ';', '$', brace or newline), over 4096 characters.
    """
    if not isinstance(value, str) or len(value) > 4096 or not ABS_PATH_RE.match(value) or any(part in (".", "..") for part in value.split("/")):
        raise PathError(
            "%s: %r is not a usable absolute path: give /-separated names of letters, digits, '.', '_', '+', '@' and '-'"
            " (no '..', '//', trailing '/', spaces, quotes, ';', '$' or newlines)" % (option, value if not isinstance(value, str) else value[:200])
        )
    return value


# a program given by an option: a command name looked up on PATH, or an absolute path
PROGRAM_RE = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+-]*$")


def program(value: Any, option: str) -> str:
    """`value` when it is a command name (letters, digits, '.', '_', '+', '-', not starting with '-' or '.') or a
    usable absolute path, else PathError naming the option: never an option of the command that runs it, never '..'."""
    if isinstance(value, str) and PROGRAM_RE.match(value) and len(value) <= 255:
        return value
    try:
        return absolute_path(value, option)
    except PathError as exc:
        raise PathError("%s (or a command name such as python3)" % exc) from None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (one that belongs to another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_nofollow(path: str, flags: int = os.O_RDWR | os.O_CREAT, mode: int = 0o600) -> int:
    """A file descriptor for `path` that refuses a symbolic link in its last component (O_NOFOLLOW).

    Locks and pidfiles are opened this way: a link planted by a less privileged user cannot make root write
    through it.
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PathError("%s is a symbolic link: refusing to open it (remove it; who planted it?)" % path) from None
        raise


def owned_safely(path: str, allowed_uids: tuple[int, ...] = (0,)) -> str | None:
    """None when `path` (a directory) is owned by one of `allowed_uids` and not writable by group or others,
    else a sentence saying what is wrong. Root only writes state into trees nobody else can change."""
    try:
        stat = os.lstat(path)
    except FileNotFoundError:
        return None
    if os.path.islink(path):
        return "%s is a symbolic link" % path
    if stat.st_uid not in allowed_uids:
        return "%s is owned by uid %d, not by root" % (path, stat.st_uid)
    if stat.st_mode & 0o022:
        return "%s is writable by group or others (mode %o)" % (path, stat.st_mode & 0o777)
    return None


def keep_newest(directory: str, keep: int) -> list[str]:
    """Remove the regular files of `directory` beyond the newest `keep` (by mtime); links and folders stay.

    Returns the removed paths. Used to bound smoke-workflow outputs that the gates leave behind.
    """
    try:
        entries = [entry for entry in os.scandir(directory) if entry.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    entries.sort(key=lambda entry: (entry.stat(follow_symlinks=False).st_mtime_ns, entry.name), reverse=True)
    removed = []
    for entry in entries[max(0, keep) :]:
        os.unlink(entry.path)
        removed.append(entry.path)
    return removed


# The deploy tree, defined once (gpu_host and comfyui_deploy both lay it out through comfyui_tree).
# Root owns the base and everything the service user only reads: it cannot plant a link there for root to follow.
# The service user owns only what it writes: its data under shared/, its logs and its caches (its HOME).
ROOT_DIRS = ("", "releases", "venvs", "state", "bin", "run", "shared", "shared/models")
USER_DIRS = ("logs", "cache", "shared/input", "shared/output", "shared/user", "shared/temp")
# Root's own package cache (pip/uv wheels): never writable by the service user, whose files root would install.
PRIVATE_DIRS = ("pkgcache",)


def ensure_dir(path: str, uid: int, gid: int, mode: int, check_mode: bool = False) -> list[str]:
    """Make `path` a real directory (not a link) owned by uid:gid with `mode`; return what was changed ([] if none).

    A symbolic link in its place is refused (PathError): root would otherwise chown or fill its target.
    """
    changes = []
    try:
        stat = os.lstat(path)
    except FileNotFoundError:
        stat = None
    if os.path.islink(path) or (stat is not None and not os.path.isdir(path)):
        raise PathError("%s exists and is not a directory (a link or a file): refusing to use it" % path)
    if stat is None:
        changes.append("created")
        if check_mode:
            return changes
        os.mkdir(path, mode)
        stat = os.lstat(path)
    if (stat.st_uid, stat.st_gid) != (uid, gid):
        changes.append("owner %d:%d -> %d:%d" % (stat.st_uid, stat.st_gid, uid, gid))
        if not check_mode:
            os.lchown(path, uid, gid)
    if stat.st_mode & 0o7777 != mode:
        changes.append("mode %04o -> %04o" % (stat.st_mode & 0o7777, mode))
        if not check_mode:
            os.chmod(path, mode)
    return changes


def ensure_tree(
    base: str, root_uid: int, user_uid: int, gid: int, user_mode: int = 0o750, extra_user_dirs: Any = (), check_mode: bool = False
) -> dict[str, list[str]]:
    """Lay out the deploy tree under `base` in one pass; return {relative path: [changes]} for what changed.

    ROOT_DIRS are root:<gid> 0755, USER_DIRS and `extra_user_dirs` (absolute, or relative to and inside
    `base`) are <user>:<gid> `user_mode`, PRIVATE_DIRS root:root 0700. Parents come before children.
    """
    plan = [(rel, root_uid, gid, 0o755) for rel in ROOT_DIRS]
    plan += [(rel, root_uid, 0, 0o700) for rel in PRIVATE_DIRS]
    plan += [(rel, user_uid, gid, user_mode) for rel in tuple(USER_DIRS) + tuple(extra_user_dirs)]
    # every path is decided (and a bad extra one refused) before anything is changed
    paths = []
    for rel, uid, group, mode in plan:
        if rel in ROOT_DIRS + USER_DIRS + PRIVATE_DIRS:
            path = os.path.join(base, rel) if rel else base
        else:
            path = absolute_path(rel, "extra_dirs") if os.path.isabs(rel) else inside(base, rel, "extra_dirs")
        paths.append((rel or ".", path, uid, group, mode))
    changed = {}
    for rel, path, uid, group, mode in paths:
        if check_mode and rel != "." and not os.path.isdir(os.path.dirname(path.rstrip("/"))):
            changed[rel] = ["created"]
            continue
        changes = ensure_dir(path, uid, group, mode, check_mode)
        if changes:
            changed[rel] = changes
    return changed
