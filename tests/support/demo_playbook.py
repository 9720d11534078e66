"""Run a playbook of the collection on this machine with the demo inventory (standalone, loopback only), rooted at
a directory of the test's own (COMFYOPS_DEMO_ROOT), as `make demo` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def demo_playbook(root: Path, book: str, extra: dict[str, Any], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(
        COMFYOPS_DEMO_ROOT=str(root),
        COMFYOPS_ALERT_STATE_DIR=str(root / "alerts"),  # the alerts callback keeps its spool in the test root
        NO_PROXY="*",
        PIP_NO_INDEX="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "build" / "collections"),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
    )
    cmd = [str(BIN / "ansible-playbook"), "-i", str(REPO / "inventories/demo"), str(REPO / "playbooks" / book), "-e", json.dumps(extra), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=timeout, cwd=str(root))
