"""The roles that copy module_utils files onto a host (backup: the comfyops-backup command; monitoring_stack: the
exporter and the standalone manager) copy every file those files import: the backup role once shipped _backup.py
without the _envfile.py and _debian.py it had come to import, and the command failed on the host with an ImportError
(molecule's backup scenario found it; the unit tests import from the checkout, where everything is)."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO

MODULE_UTILS = REPO / "plugins" / "module_utils"
IMPORT = re.compile(r"^from ansible_collections\.comfyops\.comfyui\.plugins\.module_utils(?:\.(_\w+) import| import ([\w, ]+))", re.M)


def imports(name: str) -> set[str]:
    text = (MODULE_UTILS / name).read_text()
    found = set()
    for module, names in IMPORT.findall(text):
        found |= {module + ".py"} if module else {part.split(" as ")[0].strip() + ".py" for part in names.split(",")}
    return found


def shipped_backup() -> list[str]:
    tasks = yaml.safe_load((REPO / "roles" / "backup" / "tasks" / "main.yml").read_text())
    (task,) = [task for task in tasks if "the collection's backup library on the host" in task["name"]]
    return task["loop"]


def shipped_monitoring() -> list[str]:
    return yaml.safe_load((REPO / "roles" / "monitoring_stack" / "vars" / "main.yml").read_text())["_monitoring_stack_lib_files"]


@pytest.mark.parametrize("shipped", [shipped_backup, shipped_monitoring], ids=["backup", "monitoring_stack"])
def test_every_module_utils_file_a_shipped_file_imports_is_shipped_too(shipped):
    files = set(shipped())
    missing = {needed: name for name in sorted(files) for needed in imports(name) if needed not in files}
    assert missing == {}, "imported by a shipped file but not shipped: %s" % missing
