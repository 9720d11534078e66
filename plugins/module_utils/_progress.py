# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of long work (a model download, a venv build) in a small JSON file that a playbook polls while the
module runs asynchronously, so the task output says how far it is instead of staying silent for minutes.

``Progress(path, what, total)`` is written by the worker: ``update(done)`` at most once a second, ``finish()`` at
the end (also after a failure, so a poller never waits for a file that will not change). ``watch_size``
measures the growth of a file or a directory from a thread (a model's partial file, a venv that pip or uv fills:
the bytes on disk are the one measure both share, and the installers give no byte count of their own).
``describe(read_progress(path))`` is the line a poller prints: what, bytes done (of the total), the rate, the time
left when the total is known.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import atomic_write
from ansible_collections.comfyops.comfyui.plugins.module_utils._units import format_size

INTERVAL = 1.0


class Progress:
    def __init__(self, path: str | None, what: str, total: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.what, self.total, self.clock = path, what, total, clock
        self.started = clock()
        self.written = float("-inf")
        self.done = 0
        self.note = ""

    def update(self, done: int, note: str | None = None, force: bool = False) -> None:
        self.done = done
        if note is not None:
            self.note = note
        now = self.clock()
        if self.path and (force or now - self.written >= INTERVAL):
            self.written = now
            self._write(finished=False, now=now)

    def finish(self, note: str | None = None) -> None:
        if note is not None:
            self.note = note
        if self.path:
            self._write(finished=True, now=self.clock())

    def _write(self, finished: bool, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        record = {
            "what": self.what,
            "done_bytes": self.done,
            "total_bytes": self.total,
            "elapsed_s": round(elapsed, 1),
            "rate_bytes_per_s": round(self.done / elapsed, 1),
            "note": self.note,
            "finished": finished,
        }
        atomic_write(str(self.path), json.dumps(record, sort_keys=True) + "\n", mode=0o644, sync=False)


def directory_bytes(path: str) -> int:
    """Bytes of the regular files under `path` (links not followed); files that vanish while counted are skipped."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(folder, name))
                total += info.st_size if stat.S_ISREG(info.st_mode) else 0
    return total


def size_on_disk(path: str) -> int:
    """The size of a file, or of the files under a directory; 0 when `path` does not exist (yet)."""
    if os.path.isdir(path):
        return directory_bytes(path)
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


@contextlib.contextmanager
def watch_size(progress: Progress, path: str, every: float = INTERVAL, note: str = "") -> Iterator[Progress]:
    """Update `progress` with the size of `path` from a thread until the block ends (its last size then)."""
    stop = threading.Event()
    baseline = size_on_disk(path)  # a resumed download counts what it fetches now
    progress.update(0, note, force=True)

    def sample() -> None:
        while not stop.wait(every):
            progress.update(max(0, size_on_disk(path) - baseline))

    thread = threading.Thread(target=sample, name="progress", daemon=True)
    thread.start()
    try:
        yield progress
    finally:
        stop.set()
        thread.join(every + 5)
        progress.update(max(0, size_on_disk(path) - baseline), force=True)


def read_progress(path: str) -> dict[str, Any] | None:
    """The last progress written at `path`, or None when there is none yet (or it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe(record: dict[str, Any] | None, what: str = "") -> str:
    """One line for the task output: '<what>: 1.2 GiB of 6.4 GiB (18 %), 85.3 MiB/s, about 62 s left'."""
    if not record:
        return "%s: starting" % (what or "work")
    name = str(record.get("what") or what or "work")
    done = int(record.get("done_bytes") or 0)
    total = record.get("total_bytes")
    rate = float(record.get("rate_bytes_per_s") or 0)
    parts = [fmt(done)]
    if isinstance(total, int) and total > 0:
        parts[0] += " of %s (%d %%)" % (fmt(total), min(100, done * 100 // total))
    parts.append("%s/s" % fmt(int(rate)))
    if record.get("finished"):
        parts.append("done in %.0f s" % float(record.get("elapsed_s") or 0))
    elif isinstance(total, int) and total > done and rate > 0:
        parts.append("about %.0f s left" % ((total - done) / rate))
    line = "%s: %s" % (name, ", ".join(parts))
    return line + (" (%s)" % record["note"] if record.get("note") else "")


def fmt(value: int) -> str:
    return format_size(value) or "0 B"
