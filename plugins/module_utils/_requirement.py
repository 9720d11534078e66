# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What reaches pip's or uv's command line or requirements as a package: parsed first, never an option.

An entry of ``extra_packages`` that starts with ``-`` is an option to pip (``-r/etc/shadow`` made pip read that file
and print its lines in the error). ``package(value, option)`` accepts a PEP 508 requirement (parsed with
``packaging``, which ansible-core depends on; where a host lacks it, pip's vendored copy), or an absolute path to a
wheel or source archive, and nothing else.

A custom node's ``requirements.txt`` is the node author's, not the operator's: ``node_requirements(text, node)`` drops
the few index options a node may carry (``--extra-index-url`` and its kind: the deploy's own indexes decide where
packages come from) and says so, and refuses every other option (``-r``, ``-c``, ``-e``, ``--trusted-host`` ...) and
pip's ``${VARIABLE}`` expansion (which would put the deploy's environment, a token, into a URL of the node's choosing).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from ansible_collections.comfyops.comfyui.plugins.module_utils._fsutil import PathError, absolute_path, shown
from ansible_collections.comfyops.comfyui.plugins.module_utils._http import redact_url


def _packaging() -> Any:
    """packaging.requirements (ansible-core depends on it), or pip's vendored copy on a host without it, or None."""
    for name in ("packaging.requirements", "pip._vendor.packaging.requirements"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None  # pragma: no cover - neither: the plain grammar below decides alone


PACKAGING = _packaging()


class RequirementError(ValueError):
    """A package entry or a requirements line that is not a requirement; the message names where."""


ARCHIVE_RE = re.compile(r"\.(whl|tar\.gz|zip|tar\.bz2)$")
# name, extras and version specifiers only: what is left when packaging is not importable
PLAIN_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?\s*([<>=!~]=?\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*$")
# index options a node may carry: dropped (the deploy's indexes decide), and said
DROPPED = ("--extra-index-url", "--index-url", "-i", "--find-links", "-f", "--pre", "--prefer-binary")


def package(value: Any, option: str) -> str:
    """`value` (stripped) when it is a PEP 508 requirement or an absolute path to a package archive; else RequirementError."""
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\x00\r\n"):
        raise RequirementError(
            "%s: %s is not a package: give a requirement such as 'requests>=2.31' or the absolute path of a wheel" % (option, shown(value, 160))
        )
    text = value.strip()
    if text.startswith("-"):
        raise RequirementError("%s: %s starts with '-', so pip would read it as an option; give a requirement, never an option" % (option, shown(value, 160)))
    if text.startswith(("/", ".")):
        try:
            absolute_path(text, option)
        except PathError as exc:
            raise RequirementError(str(exc)) from None
        if not ARCHIVE_RE.search(text):
            raise RequirementError("%s: %s is a path, but not of a wheel or source archive (.whl, .tar.gz, .zip)" % (option, shown(value, 160)))
        return text
    if PACKAGING is None:
        if not PLAIN_RE.match(text):
            raise RequirementError("%s: %s is not a requirement (name, extras and versions; packaging is not installed here)" % (option, shown(value, 160)))
        return text
    try:
        PACKAGING.Requirement(text)
    except PACKAGING.InvalidRequirement as exc:
        raise RequirementError("%s: %s is not a PEP 508 requirement: %s" % (option, shown(value, 160), str(exc).splitlines()[0][:200])) from None
    return text


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) with pip's backslash continuations joined and comments removed."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = re.sub(r"(^|\s)#.*$", "", pending + raw).strip()
        pending = ""
        lines.append((start, line))
    if pending:
        lines.append((start, pending.strip()))
    return lines


def node_requirements(text: str, node: str) -> tuple[str, list[str]]:
    """A custom node's requirements.txt as pip may read it, and a note per line dropped; RequirementError for a line
    that is an option other than an index one, or that uses ${VARIABLE} expansion."""
    kept: list[str] = []
    notes: list[str] = []
    for number, line in _logical_lines(text):
        if not line:
            continue
        where = "custom node %r: requirements.txt line %d" % (node, number)
        if "${" in line:
            raise RequirementError(
                "%s uses ${...}, which pip fills in from the deploy's environment (a token could go into a URL of the node's choosing); "
                "a custom node's requirements may not" % where
            )
        if line.startswith("-"):
            flag = re.split(r"[\s=]", line, maxsplit=1)[0]
            if flag in DROPPED:
                argument = line[len(flag) :].lstrip(" =")
                notes.append(
                    "%s (%s %s) ignored: the deploy's indexes decide where packages come from "
                    "(comfyui_deploy_pip_extra_index_urls, comfyui_deploy_pip_find_links)" % (where, flag, redact_url(argument) if argument else "")
                )
                continue
            raise RequirementError(
                "%s is the pip option %s, which a custom node may not give (it could read or install anything); only requirements, "
                "and index options that are ignored, may be there" % (where, flag[:40])
            )
        kept.append(line)
    return "".join(line + "\n" for line in kept), notes
