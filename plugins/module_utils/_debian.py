# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian package names as the roles hand them to apt: a name with an optional version pin, never an option."""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import shown

PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,99}(=[A-Za-z0-9.+~:-]{1,100})?$")


class PackageError(ValueError):
    """A package name apt could read as something else; the message names the variable."""


def package(value: Any, option: str) -> str:
    """A Debian package name with an optional version pin (``nginx`` or ``nginx=1.22.1-9``); never an option."""
    if not isinstance(value, str) or not PACKAGE_RE.match(value):
        raise PackageError("%s: %s is not a package name, with an optional =version" % (option, shown(value)))
    return value


def package_problems(values: Any, option: str) -> list[str]:
    """The problems of a list of package names (naming `option` and the index) or of one name, one message each."""
    if isinstance(values, str) or values is None:
        try:
            package(values, option)
        except PackageError as exc:
            return [str(exc)]
        return []
    if not isinstance(values, list):
        return ["%s: expected a list of package names, got %s" % (option, type(values).__name__)]
    problems = []
    for index, value in enumerate(values):
        try:
            package(value, "%s[%d]" % (option, index))
        except PackageError as exc:
            problems.append(str(exc))
    return problems
