"""A warm venv rebuild, pip against uv, through the collection's own builder (module_utils/_venv.py).

The same real wheel set for both: ComfyUI 0.8.0's requirements that do not need torchvision/torchaudio, with
the CPU torch wheel of /opt/wheels when it is there (else without torch), downloaded once from PyPI with
`pip download` into a wheelhouse. Each installer then builds a venv offline (`no_index`, `find_links` the
wheelhouse) once to fill its cache under <base>/pkgcache, and the timed runs rebuild it from that warm cache
(the venv removed, the cache kept): what a new release with changed requirements costs on a host that has
built one before. Prints each run, the medians and the ratio pip/uv.

    .venv/bin/python benchmarks/venv_rebuild.py [--runs 3] [--wheelhouse ~/.cache/comfyops-bench/wheels]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.comfyops.comfyui.plugins.module_utils import _venv  # noqa: E402

# ComfyUI 0.8.0's requirements.txt without the packages that need torchvision or torchaudio wheels.
REQUIREMENTS = """\
numpy>=1.25.0
einops
transformers>=4.37.2
tokenizers>=0.13.3
sentencepiece
safetensors>=0.4.2
aiohttp>=3.11.8
yarl>=1.18.0
pyyaml
Pillow
scipy
tqdm
psutil
alembic
SQLAlchemy
pydantic~=2.0
pydantic-settings~=2.0
requests
"""
TORCH_WHEELS = "/opt/wheels"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wheelhouse", default=os.path.expanduser("~/.cache/comfyops-bench/wheels"))
    args = parser.parse_args()
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    work = Path(tempfile.mkdtemp(prefix="comfyops-venv-bench."))
    try:
        requirements = work / "requirements.txt"
        torch_wheels = sorted(Path(TORCH_WHEELS).glob("torch-*.whl"))
        with_torch = bool(torch_wheels)
        # pinned to the local wheel's version: PyPI's newer torch would bring gigabytes of CUDA wheels
        pin = "torch==%s\n" % torch_wheels[-1].name.split("-")[1] if with_torch else ""
        requirements.write_text(pin + REQUIREMENTS)
        wheelhouse = Path(args.wheelhouse)
        wheelhouse.mkdir(parents=True, exist_ok=True)
        links = [str(wheelhouse)] + ([TORCH_WHEELS] if with_torch else [])
        print("wheelhouse %s: downloading what is missing (once) ..." % wheelhouse, flush=True)
        download = [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), "--only-binary", ":all:"]
        subprocess.run([*download, *["--find-links=%s" % link for link in links], "-r", str(requirements)], check=True)
        wheels = sorted(wheelhouse.glob("*.whl"))
        size = sum(w.stat().st_size for w in wheels) + sum(w.stat().st_size for w in torch_wheels)
        print("%d wheels, %.0f MB%s" % (len(wheels), size / 1e6, ", torch from %s" % TORCH_WHEELS if with_torch else ", no torch"))
        spec = _venv.VenvSpec(
            python=sys.executable,
            python_version=sys.version,
            requirements=[_venv.Requirements("comfyui", str(requirements), requirements.read_text())],
            find_links=links,
            no_index=True,
            protected=["numpy"],
        )
        medians = {}
        for installer in ("pip", "uv"):
            base = work / installer
            _venv.build(str(base), spec, installer, uv)  # the first build fills the cache
            times = []
            for run in range(args.runs):
                shutil.rmtree(base / "venvs")
                start = time.monotonic()
                result = _venv.build(str(base), spec, installer, uv)
                times.append(time.monotonic() - start)
                print("%-3s warm rebuild %d: %6.2f s (%d packages)" % (installer, run + 1, times[-1], len(result["freeze"])), flush=True)
            medians[installer] = statistics.median(times)
        print("median warm rebuild: pip %.2f s, uv %.2f s; ratio pip/uv %.1fx" % (medians["pip"], medians["uv"], medians["pip"] / medians["uv"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
