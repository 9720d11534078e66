"""System tests run the collection's playbooks on this machine; `make` links the checkout into build/collections."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "build" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

# The demo inventory names a `monitoring` group, so the comfyops.comfyui.alerts callback sends a failed run's alert to
# its Alertmanager (127.0.0.1:9093), which no system test but the monitoring ones runs: each failing run then spent
# the callback's whole delivery budget (10 s) retrying a refused connection, and every later run of the same site
# 10 s more on the spooled alert (test_deploy_safety: 135 s alone, 107 s with a 1 s budget). The callback still runs,
# fails to deliver and spools, within 1 s; test_alerts_callback, which tests delivery, sets its own settings.
os.environ.setdefault("COMFYOPS_ALERT_BUDGET", "1")

# pytest-xdist (--dist loadfile) hands whole test modules to its workers, and two of its habits made the system stage's
# time a draw: it queues the modules with the most tests first (ties in pytest-randomly's shuffled order), which says
# nothing of their length, and it gives a worker its next module as soon as two tests of the current one are left, so a
# worker two long tests from the end of test_deploy_standalone took test_backup_restore while another worker stood idle
# (the stage took 575 s, 764 s and 820 s in three runs on this machine). Here the longest modules, by their
# `--durations`, go first (`make system` passes --no-loadscope-reorder), and a worker gets a module only when it runs the
# last test of its current one; the other modules keep the shuffled order, and so does every module's own order of tests.
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


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadFileScheduling

    class OneModuleAtATime(LoadFileScheduling):
        """LoadFileScheduling that hands a worker its next module only when the worker runs its last test."""

        def _reschedule(self, node):
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            # a worker holds its last test back until it knows the next one (or that there is none): one pending test
            # is a worker running its last; waiting for none would wait forever
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    return OneModuleAtATime(config, log)
