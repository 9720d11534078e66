# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checksum-verified model files: download (resumable), verify, quarantine, digest cache, manifest.

Plain Python, no Ansible. A model lands as ``<models_dir>/<folder>/<name>`` only once its size and
SHA-256 match; until then it lives in ``<name>.partial`` beside it (a rerun resumes it with an
HTTP Range request). A file whose digest does not match is moved to ``<models_dir>/.quarantine/``.
Digests of files already verified are cached by (size, mtime, inode), so an unchanged 10 GB file
is not read again on every run.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import http.client
import json
import os
import shutil
import time
import urllib.parse
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils import _http as transport
from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, atomic_write, check_name, inside
from ansible_collections.comfyops.comfyui.plugins.module_utils._progress import Progress, watch_size

CHUNK = 4 * 1024 * 1024
CACHE_NAME = ".comfyops-digests.json"
MANIFEST_NAME = "manifest.json"
QUARANTINE = ".quarantine"


class ModelError(Exception):
    """What went wrong, with the model's name; never carries a secret."""


redact = transport.redact_url  # a URL safe for messages: no user info, no query string (tokens live there)
FREE_MARGIN = 1024**3  # a download must leave this much free space beside it


def sha256_file(path: str, offset_hash: Any = None) -> Any:
    digest = offset_hash or hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            digest.update(block)
    return digest


class DigestCache:
    """(size, mtime_ns, inode) -> sha256 for the files of one models directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: dict[str, Any]
        try:
            with open(path, encoding="utf-8") as handle:
                self.entries = json.load(handle)
        except (FileNotFoundError, ValueError):
            self.entries = {}
        self.dirty = False

    @staticmethod
    def key(stat: os.stat_result) -> str:
        return "%d:%d:%d" % (stat.st_size, stat.st_mtime_ns, stat.st_ino)

    def lookup(self, relative: str, stat: os.stat_result) -> str | None:
        entry = self.entries.get(relative)
        return entry["sha256"] if entry and entry.get("key") == self.key(stat) else None

    def store(self, relative: str, stat: os.stat_result, digest: str) -> None:
        self.entries[relative] = {"key": self.key(stat), "sha256": digest}
        self.dirty = True

    def save(self) -> None:
        if self.dirty:
            atomic_write(self.path, json.dumps(self.entries, indent=1, sort_keys=True) + "\n")
            self.dirty = False


def _open_source(url: str, headers: dict[str, str], timeout: float, offset: int, redirects: int = 5) -> tuple[Any, Any, int | None, bool]:
    """(response-like, total size or None, resumed) for http(s) URLs, following redirects."""
    for _hop in range(redirects + 1):
        try:
            parsed = transport.parse_url(url, "url")
        except transport.UrlError as exc:
            raise ModelError(str(exc)) from None
        parts = urllib.parse.urlsplit(url)
        connection = transport.connection_for(parsed, timeout)
        target = parsed.target
        request_headers = dict(headers)
        if offset:
            request_headers["Range"] = "bytes=%d-" % offset
        try:
            connection.request("GET", target, headers=request_headers)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise ModelError("cannot reach %s: %s" % (redact(url), exc)) from None
        if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
            location = urllib.parse.urljoin(url, response.getheader("Location"))
            connection.close()
            if urllib.parse.urlsplit(location).netloc != parts.netloc:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}  # never hand a token to another host
            url = location
            continue
        if response.status == 206 and offset:
            total = response.getheader("Content-Range", "").rpartition("/")[2]
            return connection, response, int(total) if total.isdigit() else None, True
        if response.status == 200:
            length = response.getheader("Content-Length")
            return connection, response, int(length) if length and length.isdigit() else None, False
        if response.status == 416 and offset:
            connection.close()
            return None, None, offset, True  # the partial file is already whole
        body = transport.redact(response.read(200).decode("utf-8", "replace"), [*transport.secrets_of(headers), parts.query, parts.password or ""])
        connection.close()
        raise ModelError("%s answered %d %s: %s" % (redact(url), response.status, response.reason, body.strip()[:120]))
    raise ModelError("%s: more than %d redirects" % (redact(url), redirects))


def check_room(directory: str, needed: int, what: str) -> None:
    """ModelError unless `needed` more bytes fit in `directory` with FREE_MARGIN to spare."""
    free = shutil.disk_usage(directory).free
    if needed is not None and needed + FREE_MARGIN > free:
        raise ModelError(
            "%s: needs %d more bytes, only %d are free in %s (keeping %d spare); free some space first" % (what, needed, free, directory, FREE_MARGIN)
        )


def _download(url: str, partial: str, headers: dict[str, str], timeout: float, size: int | None = None, what: str = "model") -> tuple[int, bool]:
    """Fill `partial` from `url`, resuming what is there; return (bytes fetched, resumed).

    Before a byte is written, the announced length is compared with the declared `size` and with the free space;
    a disk that fills up (ENOSPC) removes the partial file instead of leaving it for the next run to fill again.
    """
    try:
        return _fill(url, partial, headers, timeout, size, what)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            if os.path.exists(partial):
                os.unlink(partial)
            raise ModelError("%s: the disk filled up during the download; the partial file was removed" % what) from None
        raise


def _fill_from_file(source: str, partial: str, offset: int, size: int | None, what: str) -> tuple[int, bool]:
    """Copy a local file:// source into `partial` from `offset` on; (bytes copied, resumed)."""
    if os.path.isdir(source):
        raise ModelError("%s: %s is a directory; a file:// source names one model file" % (what, source))
    if not os.path.isfile(source):
        raise ModelError("%s: %s does not exist" % (what, source))
    total = os.path.getsize(source)
    if size is not None and total != size:
        raise ModelError("%s: %s has %d bytes, expected %d; nothing was copied" % (what, source, total, size))
    check_room(os.path.dirname(partial), total - offset, what)
    with open(source, "rb") as src, open(partial, "ab") as dst:
        src.seek(offset)
        shutil.copyfileobj(src, dst, CHUNK)
        dst.flush()
        os.fsync(dst.fileno())
    return os.path.getsize(partial) - offset, offset > 0


def _fill(url: str, partial: str, headers: dict[str, str], timeout: float, size: int | None, what: str) -> tuple[int, bool]:
    offset = os.path.getsize(partial) if os.path.exists(partial) else 0
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return _fill_from_file(urllib.parse.unquote(parts.path), partial, offset, size, what)
    if parts.scheme not in ("http", "https"):
        raise ModelError("unsupported URL scheme %r (http, https or file)" % parts.scheme)
    connection, response, total, resumed = _open_source(url, headers, timeout, offset)
    if response is None:
        return 0, True
    if not resumed:
        offset = 0
    if total is not None and size is not None and total != size:
        connection.close()
        raise ModelError("%s: %s announces %d bytes, the declared size is %d; nothing was downloaded" % (what, redact(url), total, size))
    try:
        check_room(os.path.dirname(partial), (total if total is not None else size or 0) - offset, what)
    except ModelError:
        connection.close()
        raise
    fetched = 0
    try:
        with open(partial, "ab" if resumed else "wb") as dst:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                dst.write(block)
                fetched += len(block)
                if size is not None and offset + fetched > size:
                    raise ModelError("%s: %s sent more than the declared %d bytes; stopped" % (what, redact(url), size))
            dst.flush()
            os.fsync(dst.fileno())
        if response.length:  # the server promised more than it sent
            raise ModelError("download from %s broke off after %d bytes, %d short (rerun to resume)" % (redact(url), fetched, response.length))
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise
        raise ModelError("download from %s broke off after %d bytes: %s (rerun to resume)" % (redact(url), fetched, exc)) from None
    except http.client.HTTPException as exc:
        raise ModelError("download from %s broke off after %d bytes: %s (rerun to resume)" % (redact(url), fetched, exc)) from None
    finally:
        connection.close()
    return fetched, resumed


def _checked_request(
    models_dir: str, folder: str, name: str, sha256: str | None, size: int | None, timeout: float, require_sha256: bool
) -> tuple[str, str | None]:
    """The destination inside `models_dir` and the digest in lower case; ModelError naming what is wrong."""
    if not isinstance(models_dir, str) or not os.path.isabs(models_dir):
        raise ModelError("models_dir: %r is not an absolute path; give where the models live, such as /srv/comfyui/shared/models" % (models_dir,))
    try:
        check_name(folder, "folder", "model folder")
        for part in str(name).split("/"):
            check_name(part, "name", "model file name part")
        dest = inside(models_dir, os.path.join(folder, name), "name")  # a planted link in a subfolder cannot lead out
    except PathError as exc:
        raise ModelError(str(exc)) from None
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 0 < size < 2**50):
        raise ModelError("%s/%s: size must be a number of bytes from 1 to 2**50, got %r" % (folder, name, size))
    if timeout is None or not 0 < float(timeout) <= 86400:
        raise ModelError("timeout: seconds from 0 to 86400, got %r" % (timeout,))
    if sha256:
        sha256 = sha256.lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ModelError("%s/%s: sha256 must be 64 hex digits" % (folder, name))
    elif require_sha256:
        raise ModelError("%s/%s: a sha256 is required (set require_sha256=false to skip the check outside production)" % (folder, name))
    return dest, sha256


def ensure_model(
    models_dir: str,
    folder: str,
    name: str,
    url: str,
    sha256: str | None = None,
    size: int | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    require_sha256: bool = True,
    check_mode: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Make `<models_dir>/<folder>/<name>` exist with this digest; return what was done. A download reports its
    bytes to `progress` (the caller finishes it)."""
    dest, sha256 = _checked_request(models_dir, folder, name, sha256, size, timeout, require_sha256)
    relative = "%s/%s" % (folder, name)
    cache = DigestCache(os.path.join(models_dir, CACHE_NAME))
    result = {
        "path": dest,
        "folder": folder,
        "name": name,
        "changed": False,
        "action": None,
        "sha256": None,
        "size": None,
        "downloaded_bytes": 0,
        "seconds": 0.0,
        "rate_mb_s": None,
        "digest_cached": False,
        "resumed": False,
    }
    started = time.monotonic()
    if os.path.isfile(dest):
        stat = os.stat(dest)
        digest = cache.lookup(relative, stat)
        result["digest_cached"] = digest is not None
        if digest is None:
            digest = sha256_file(dest).hexdigest()
        good = (sha256 is None or digest == sha256) and (size is None or stat.st_size == size)
        if good:
            if not result["digest_cached"]:
                cache.store(relative, stat, digest)
                cache.save()
            result.update(action="verified", sha256=digest, size=stat.st_size, seconds=time.monotonic() - started)
            return result
        if check_mode:
            result.update(changed=True, action="would quarantine and download")
            return result
        quarantine(models_dir, dest, "present file has sha256 %s, expected %s" % (digest, sha256))
    if check_mode:
        result.update(changed=True, action="would download")
        return result
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    partial = dest + ".partial"
    with watch_size(progress or Progress(None, relative), partial, note="downloading"):
        fetched, resumed = _download(url, partial, dict(headers or {}), timeout, size, relative)
    if progress:
        progress.update(progress.done, "verifying the sha256", force=True)
    stat = os.stat(partial)
    if size is not None and stat.st_size != size:
        bad = quarantine(models_dir, partial, "size %d, expected %d" % (stat.st_size, size))
        raise ModelError("%s: downloaded %d bytes, expected %d; quarantined as %s" % (relative, stat.st_size, size, bad))
    digest = sha256_file(partial).hexdigest()
    if sha256 is not None and digest != sha256:
        bad = quarantine(models_dir, partial, "sha256 %s, expected %s" % (digest, sha256))
        raise ModelError("%s: sha256 %s does not match the expected %s; quarantined as %s" % (relative, digest, sha256, bad))
    os.replace(partial, dest)
    stat = os.stat(dest)
    cache.store(relative, stat, digest)
    cache.save()
    update_manifest(models_dir, {"folder": folder, "name": name, "size": stat.st_size, "sha256": digest, "source": redact(url)})
    seconds = time.monotonic() - started
    result.update(
        changed=True,
        action="downloaded",
        sha256=digest,
        size=stat.st_size,
        downloaded_bytes=fetched,
        resumed=resumed,
        seconds=seconds,
        rate_mb_s=round(fetched / seconds / 1e6, 1) if seconds > 0 else None,
    )
    return result


def quarantine(models_dir: str, path: str, reason: str) -> str:
    """Move a bad file aside with a note of why; return its new path. One copy per model is kept: the
    newest bad one (an older quarantined copy of the same file is removed, so failures cannot fill the disk)."""
    folder = os.path.join(models_dir, QUARANTINE)
    os.makedirs(folder, exist_ok=True)
    stem = os.path.basename(path)
    for old in glob.glob(os.path.join(glob.escape(folder), glob.escape(stem) + ".*")):
        if not os.path.islink(old):
            os.unlink(old)
    target = os.path.join(folder, "%s.%d" % (stem, int(time.time() * 1000)))
    os.replace(path, target)
    atomic_write(target + ".why", reason + "\n")
    return target


def update_manifest(models_dir: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Record one model (folder, name, size, sha256, source) in <models_dir>/manifest.json, atomically."""
    path = os.path.join(models_dir, MANIFEST_NAME)
    manifest: dict[str, Any]
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (FileNotFoundError, ValueError):
        manifest = {"models": []}
    models = [m for m in manifest.get("models", []) if (m.get("folder"), m.get("name")) != (entry["folder"], entry["name"])]
    models.append(entry)
    manifest["models"] = sorted(models, key=lambda m: (m["folder"], m["name"]))
    atomic_write(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
