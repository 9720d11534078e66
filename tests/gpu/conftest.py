"""Opt-in tests against a real NVIDIA GPU (make gpu-test): not part of make test, which passes without a GPU."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build" / "collections"))
