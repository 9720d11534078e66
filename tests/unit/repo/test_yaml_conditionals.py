"""Every conditional in the collection's YAML is a string.

A plain YAML scalar that holds ": " (say a regex in `_out is search('host : ok=')`) is a mapping, not
an expression; ansible-lint accepts it and Ansible fails only when the task runs.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import REPO

KEYS = ("that", "when", "failed_when", "changed_when", "until")


def yaml_files():
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "*.yml", "*.yaml"], capture_output=True, text=True, check=True)
    return [REPO / name for name in listed.stdout.split() if not name.startswith(("tests/fixtures/", ".github/"))]


def conditionals(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in KEYS:
                for item in value if isinstance(value, list) else [value]:
                    yield where, key, item
            yield from conditionals(value, where)
    elif isinstance(node, list):
        for item in node:
            yield from conditionals(item, where)


class Loader(yaml.SafeLoader):
    """YAML as Ansible reads it: `!unsafe` (text Ansible must not template) and `!vault` are texts."""


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_conditionals_are_strings(path):
    docs = list(yaml.load_all(path.read_text(), Loader=Loader))
    bad = [(key, item) for doc in docs for _where, key, item in conditionals(doc, path) if not isinstance(item, (str, bool, int))]
    assert not bad, "%s: conditionals that YAML read as %s" % (path.name, bad)
