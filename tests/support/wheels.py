"""Wheels made by hand, so that pip and uv install them from a local folder without any index.

Used as stand-ins: a "torch" with a CUDA local label, an older "torch" a node pack might pin, a numpy, a helper
package that depends on an old torch. Each holds one module with its version.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = (), scripts: dict[str, str] | None = None) -> Path:
    """Write <folder>/<name>-<version>-py3-none-any.whl (pure Python, module `name` with VERSION, and `scripts`
    installed into the venv's bin/) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    dist = "%s-%s.dist-info" % (module, version)
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    metadata += "".join("Requires-Dist: %s\n" % req for req in requires)
    files = {
        "%s/__init__.py" % module: ("VERSION = %r\n" % version).encode(),
        "%s/METADATA" % dist: metadata.encode(),
        "%s/WHEEL" % dist: b"Wheel-Version: 1.0\nGenerator: comfyops-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    for script, text in (scripts or {}).items():
        files["%s-%s.data/scripts/%s" % (module, version, script)] = text.encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append("%s/RECORD,," % dist)
    files["%s/RECORD" % dist] = ("\n".join(record) + "\n").encode()
    wheel = folder / ("%s-%s-py3-none-any.whl" % (module, version))
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = (0o100755 if ".data/scripts/" in path else 0o100644) << 16  # a regular file; pip keeps a script's x bit
            archive.writestr(info, data)
    return wheel
