"""Look at a page in headless Chromium (Debian's chromium-headless-shell): its DOM, a screenshot, and every URL the
browser asked for while it loaded the page (from Chromium's own network log, so an asset the page would fetch is
seen, whatever HTML construct asked for it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

BINARIES = ("chromium-headless-shell", "chromium")


def binary() -> str:
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("headless Chromium is missing: install Debian's chromium-headless-shell (make unit does)")


def look(page: Path, screenshot: Path, width: int = 1280, height: int = 1000) -> tuple[str, set[str]]:
    """(the DOM after load, the URLs requested) for `page`; writes the PNG `screenshot`."""
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    netlog = screenshot.with_suffix(".netlog.json")
    common = [binary(), "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=%d,%d" % (width, height)]
    url = page.resolve().as_uri()
    shot = subprocess.run([*common, "--log-net-log=%s" % netlog, "--screenshot=%s" % screenshot, url], capture_output=True, text=True, timeout=60, check=False)
    assert shot.returncode == 0 and screenshot.is_file(), "chromium --screenshot failed (%s): %s" % (shot.returncode, shot.stderr[-2000:])
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=60, check=True).stdout
    events = json.loads(netlog.read_text()).get("events", [])
    urls = {str(e["params"]["url"]) for e in events if isinstance(e.get("params"), dict) and e["params"].get("url")}
    return dom, urls


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
