"""System tests run the collection's playbooks on this machine; `make` links the checkout into build/collections."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "build" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
