"""The deploy tree in one pass: owners and modes of the ownership model, check mode, links refused."""

from __future__ import annotations

import os

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import (
    PRIVATE_DIRS,
    ROOT_DIRS,
    USER_DIRS,
    PathError,
    ensure_tree,
)

ME = os.getuid()
GID = os.getgid()


def mode(path):
    return os.lstat(path).st_mode & 0o7777


def test_lays_out_every_directory_with_its_mode_then_changes_nothing(tmp_path):
    base = tmp_path / "srv"
    changed = ensure_tree(str(base), ME, ME, GID, 0o750, ["scratch"])
    assert set(changed) == {rel or "." for rel in ROOT_DIRS + USER_DIRS + PRIVATE_DIRS} | {"scratch"}
    for rel in ROOT_DIRS:
        assert mode(base / rel) == 0o755, rel
    for rel in (*USER_DIRS, "scratch"):
        assert mode(base / rel) == 0o750, rel
    assert mode(base / "pkgcache") == 0o700
    assert ensure_tree(str(base), ME, ME, GID, 0o750, ["scratch"]) == {}


def test_a_wrong_mode_is_mended_and_named(tmp_path):
    ensure_tree(str(tmp_path), ME, ME, GID)
    os.chmod(tmp_path / "shared" / "models", 0o777)
    assert ensure_tree(str(tmp_path), ME, ME, GID) == {"shared/models": ["mode 0777 -> 0755"]}
    assert mode(tmp_path / "shared" / "models") == 0o755


def test_check_mode_reports_and_creates_nothing(tmp_path):
    base = tmp_path / "srv"
    changed = ensure_tree(str(base), ME, ME, GID, check_mode=True)
    assert changed["."] == ["created"] and changed["shared/models"] == ["created"]
    assert not base.exists()
    ensure_tree(str(base), ME, ME, GID)
    os.chmod(base / "logs", 0o700)
    assert ensure_tree(str(base), ME, ME, GID, check_mode=True) == {"logs": ["mode 0700 -> 0750"]}
    assert mode(base / "logs") == 0o700


def test_a_link_where_a_directory_belongs_is_refused_and_its_target_untouched(tmp_path):
    base = tmp_path / "srv"
    outside = tmp_path / "etc"
    outside.mkdir(mode=0o700)
    base.mkdir()
    (base / "logs").symlink_to(outside)
    with pytest.raises(PathError, match="logs exists and is not a directory"):
        ensure_tree(str(base), ME, ME, GID)
    assert mode(outside) == 0o700


def test_an_extra_directory_may_not_leave_the_base(tmp_path):
    with pytest.raises(PathError, match=r"extra_dirs: '\.\./x' leaves"):
        ensure_tree(str(tmp_path), ME, ME, GID, extra_user_dirs=["../x"])
    assert list(tmp_path.iterdir()) == []  # refused before anything was made
