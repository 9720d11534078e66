"""Progress of long work: the file a model download or a venv build writes while it runs in the background, and the
line a playbook prints from it."""

from __future__ import annotations

import json

from ansible_collections.comfyops.comfyui.plugins.filter.progress_line import progress_line
from ansible_collections.comfyops.comfyui.plugins.module_utils import _progress
from ansible_collections.comfyops.comfyui.plugins.module_utils._model import ensure_model
from ansible_collections.comfyops.comfyui.plugins.module_utils._progress import Progress, describe, read_progress, watch_size
from conftest import wait_until


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_written_at_most_once_a_second_and_finished_at_the_end(tmp_path):
    clock, path = Clock(), tmp_path / "p.json"
    progress = Progress(str(path), "checkpoints/a.safetensors", 4 * 2**30, clock=clock)
    progress.update(2**30)
    clock.now += 0.5
    progress.update(2 * 2**30)  # within the second: not written
    assert read_progress(str(path))["done_bytes"] == 2**30
    clock.now += 0.6
    progress.update(2 * 2**30, "downloading")
    record = read_progress(str(path))
    assert (record["done_bytes"], record["finished"], record["rate_bytes_per_s"]) == (2 * 2**30, False, round(2 * 2**30 / 1.1, 1))
    assert describe(record) == "checkpoints/a.safetensors: 2.0 GiB of 4.0 GiB (50 %), 1.8 GiB/s, about 1 s left (downloading)"
    clock.now += 1.9
    progress.update(4 * 2**30)
    progress.finish("downloaded")
    assert describe(read_progress(str(path))) == "checkpoints/a.safetensors: 4.0 GiB of 4.0 GiB (100 %), 1.3 GiB/s, done in 3 s (downloaded)"


def test_without_a_path_nothing_is_written_and_no_file_reads_as_starting(tmp_path):
    Progress(None, "venv").finish()
    assert list(tmp_path.iterdir()) == []
    assert read_progress(str(tmp_path / "none.json")) is None
    assert progress_line("", "venv") == "venv: starting"
    assert progress_line("{not json", "venv") == "venv: starting"
    assert progress_line(json.dumps({"what": "venv abc", "done_bytes": 1536, "rate_bytes_per_s": 512, "finished": False})) == "venv abc: 1.5 KiB, 512 B/s"


def test_watch_size_follows_a_growing_directory_from_a_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(_progress, "INTERVAL", 0.0)
    path, target = tmp_path / "p.json", tmp_path / "venv"
    target.mkdir()
    (target / "old").write_bytes(b"x" * 100)  # there before: not counted
    with watch_size(Progress(str(path), "venv k"), str(target), every=0.01, note="building") as progress:
        (target / "lib").mkdir()
        (target / "lib" / "a.py").write_bytes(b"y" * 5000)
        wait_until(lambda: (read_progress(str(path)) or {}).get("done_bytes") == 5000, 10, "the thread saw the new bytes")
    progress.finish("built")
    record = read_progress(str(path))
    assert (record["done_bytes"], record["note"], record["finished"]) == (5000, "built", True)


def test_a_model_download_reports_its_bytes_of_the_declared_size(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"m" * 300_000)
    path = tmp_path / "progress.json"
    progress = Progress(str(path), "checkpoints/m.bin", 300_000)
    result = ensure_model(str(tmp_path / "models"), "checkpoints", "m.bin", source.as_uri(), size=300_000, require_sha256=False, progress=progress)
    progress.finish(result["action"])
    record = read_progress(str(path))
    assert (record["done_bytes"], record["total_bytes"], record["note"], record["finished"]) == (300_000, 300_000, "downloaded", True)
    assert describe(record).startswith("checkpoints/m.bin: 293.0 KiB of 293.0 KiB (100 %), ")
