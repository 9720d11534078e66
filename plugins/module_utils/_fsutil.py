# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing files safely: write a temp file in the same directory, fsync, rename, fsync the directory.

A crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile


def atomic_write(path, data, mode=0o644):
    """Replace `path` with `data` (bytes or str) atomically; return True when the content changed."""
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
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def append_bounded_lines(path, line, max_lines, mode=0o644):
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
