"""Issue 9: downloads cannot fill the disk, leave a partial on ENOSPC, keep many bad copies, or write through a link."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils import _model

DATA = b"x" * 4096
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src.bin"
    path.write_bytes(DATA)
    return path


def test_a_model_larger_than_the_free_space_is_refused_before_a_byte(source, tmp_path, monkeypatch):
    free = shutil.disk_usage(tmp_path).free
    monkeypatch.setattr(_model, "FREE_MARGIN", free + 2**40)  # more spare than there is, even if others free some meanwhile
    with pytest.raises(_model.ModelError, match=r"needs 4096 more bytes, only \d+ are free"):
        _model.ensure_model(str(tmp_path / "models"), "vae", "v.safetensors", source.as_uri(), sha256=DIGEST)
    assert not (tmp_path / "models" / "vae" / "v.safetensors.partial").exists()


def test_a_full_disk_removes_the_partial(source, tmp_path, monkeypatch):
    def fill_then_fail(src, dst, _chunk):
        dst.write(src.read(100))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_model.shutil, "copyfileobj", fill_then_fail)
    with pytest.raises(_model.ModelError, match="the disk filled up during the download; the partial file was removed"):
        _model.ensure_model(str(tmp_path / "models"), "vae", "v.safetensors", source.as_uri(), sha256=DIGEST)
    assert not (tmp_path / "models" / "vae" / "v.safetensors.partial").exists()


def test_a_declared_size_that_does_not_match_copies_nothing(source, tmp_path):
    with pytest.raises(_model.ModelError, match="has 4096 bytes, expected 10; nothing was copied"):
        _model.ensure_model(str(tmp_path / "models"), "vae", "v.safetensors", source.as_uri(), sha256=DIGEST, size=10)


def test_one_quarantined_copy_per_model(source, tmp_path):
    models = tmp_path / "models"
    for _attempt in range(3):
        with pytest.raises(_model.ModelError, match="does not match"):
            _model.ensure_model(str(models), "vae", "v.safetensors", source.as_uri(), sha256="0" * 64)
    kept = sorted(p.name for p in (models / ".quarantine").iterdir())
    assert len(kept) == 2 and kept[1].endswith(".why"), kept


def test_a_linked_subfolder_cannot_lead_out(source, tmp_path):
    models = tmp_path / "models"
    (models / "vae").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", models / "vae" / "sub")
    with pytest.raises(_model.ModelError, match="outside"):
        _model.ensure_model(str(models), "vae", "sub/v.safetensors", source.as_uri(), sha256=DIGEST)
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize("size", [-1, 0, 2**60, True])
def test_sizes_are_ranged(source, tmp_path, size):
    with pytest.raises(_model.ModelError, match="size must be a number of bytes"):
        _model.ensure_model(str(tmp_path / "models"), "vae", "v.safetensors", source.as_uri(), sha256=DIGEST, size=size)
