"""comfyui_model's download of a model (1 GiB by default) from a loopback HTTP server, digest included,
against `curl` plus `sha256sum` of the same file; then re-verifying the unchanged model (digest cache)
against a full `sha256sum`.

    .venv/bin/python benchmarks/model_download.py [SIZE_MIB] [RUNS]
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "collections"))
from ansible_collections.comfyops.comfyui.plugins.module_utils._model import ensure_model


def main() -> None:
    size_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        served = Path(tmp, "served")
        served.mkdir()
        source = served / "model.safetensors"
        digest = hashlib.sha256()
        with open(source, "wb") as handle:
            block = os.urandom(1024 * 1024)
            for index in range(size_mib):
                chunk = block[:-8] + index.to_bytes(8, "big")
                handle.write(chunk)
                digest.update(chunk)
        sha = digest.hexdigest()
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
        handler.log_message = lambda *args: None
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/model.safetensors" % httpd.server_port
        ours, plain, verify_ours, verify_plain = [], [], [], []
        try:
            for _run in range(runs):
                models = Path(tmp, "models")
                shutil.rmtree(models, ignore_errors=True)
                started = time.perf_counter()
                result = ensure_model(str(models), "checkpoints", "model.safetensors", url, sha256=sha)
                ours.append(time.perf_counter() - started)
                assert result["action"] == "downloaded"
                target = Path(tmp, "curl.safetensors")
                started = time.perf_counter()
                subprocess.run(["curl", "-sf", "-o", str(target), url], check=True)
                out = subprocess.run(["sha256sum", str(target)], check=True, capture_output=True, text=True).stdout.split()[0]
                plain.append(time.perf_counter() - started)
                assert out == sha
                started = time.perf_counter()
                again = ensure_model(str(models), "checkpoints", "model.safetensors", url, sha256=sha)
                verify_ours.append(time.perf_counter() - started)
                assert again["digest_cached"] and not again["changed"]
                started = time.perf_counter()
                subprocess.run(["sha256sum", str(models / "checkpoints" / "model.safetensors")], check=True, capture_output=True)
                verify_plain.append(time.perf_counter() - started)
                target.unlink()
        finally:
            httpd.shutdown()
    med = statistics.median
    print(f"{size_mib} MiB model from a loopback HTTP server, median of {runs} runs")
    print(f"comfyui_model download + sha256 + rename: {med(ours):.2f} s ({size_mib * 1.048576 / med(ours):.0f} MB/s)")
    print(f"curl + sha256sum:                         {med(plain):.2f} s")
    print(f"re-verify unchanged model (digest cache): {med(verify_ours) * 1000:.2f} ms; full sha256sum: {med(verify_plain):.2f} s")
    print(
        f"ratio download curl+sha256sum/ours: {med(plain) / med(ours):.2f} (aim >= 0.9); re-verify sha256sum/ours: {med(verify_plain) / med(verify_ours):.0f}x"
    )


if __name__ == "__main__":
    main()
