"""System tests run the collection's playbooks on this machine; `make` links the checkout into build/collections."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "build" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

# pytest-xdist (--dist loadfile) hands whole test modules to its workers in queue order; by default it queues the
# modules with the most tests first (ties in pytest-randomly's shuffled order), which says nothing of their length: the
# ten quick tests of test_alerts_callback went first and the long deploy modules (six tests each) after them in random
# order, so a run could end with one worker alone on a long module (the system stage took 575 s in one run and 764 s in
# the next, same commit, same machine). `make system` turns that queueing off (--no-loadscope-reorder) and this hook
# puts the longest modules first, by their `--durations`; the others keep the shuffled order, and so does every
# module's own order of tests.
LONGEST_FIRST = [
    "test_deploy_standalone.py",
    "test_awx_runner.py",
    "test_deploy_safety.py",
    "test_backup_restore.py",
    "test_monitoring.py",
    "test_awx_setup.py",
]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the shuffled order within a rank stays
