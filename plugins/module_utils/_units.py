# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Human units for thresholds: sizes ("24GiB", "500 GB") and dotted versions ("11.8", "535.104.05")."""

from __future__ import annotations

import math
import re
from typing import Any

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
    "t": 2**40,
}
_SIZE_RE = re.compile(r"\s*([0-9]{1,20}(?:\.[0-9]{1,12})?)\s*([A-Za-z]*)\s*")
MAX_SIZE = 2**63 - 1


class UnitError(ValueError):
    """A value that is not a size or a version; the message says where and what was wrong."""


def parse_size(value: Any, where: str) -> int:
    """Bytes from an int (bytes) or a string with a unit such as '24GiB', '500 GB', '1.5T' or '512B'.

    Text needs its unit: '64' is refused (64 bytes or 64 GB? a threshold that passes on any host is worse than an
    error). Sizes beyond 2**63 bytes, negative ones and garbage raise UnitError naming `where`.
    """
    if isinstance(value, bool) or value is None:
        raise UnitError("%s: expected a size such as '24GiB' or '500 GB', got %r" % (where, value))
    if isinstance(value, (int, float)):
        if math.isnan(value) or not 0 <= value <= MAX_SIZE:  # NaN, negative, infinite or beyond 2**63
            raise UnitError("%s: a size is 0 to 2**63 bytes, got %r" % (where, value))
        return int(value)
    text = str(value)
    match = _SIZE_RE.fullmatch(text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise UnitError("%s: expected a size such as '24GiB' or '500 GB', got %r" % (where, value[:40] if isinstance(value, str) else value))
    if not match.group(2):
        raise UnitError("%s: %r has no unit: write '%sGB', '%sGiB' or '%sB' (bytes)" % (where, text.strip(), *[match.group(1)] * 3))
    number = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if number > MAX_SIZE:
        raise UnitError("%s: %r is beyond 2**63 bytes" % (where, text.strip()))
    return int(number)


def format_size(value: Any) -> str | None:
    """A byte count as a short human string in binary units ('23.6 GiB')."""
    if value is None:
        return None
    number = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(number) < 1024 or unit == "TiB":
            return ("%d %s" % (number, unit)) if unit == "B" else ("%.1f %s" % (number, unit))
        number /= 1024.0
    return None  # pragma: no cover


def parse_version(value: Any, where: str) -> tuple[int, ...]:
    """A tuple of ints from '11.8', '535.104.05' or 12.4; garbage raises UnitError."""
    text = str(value).strip() if value is not None else ""
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", text):
        raise UnitError("%s: expected a dotted version such as '11.8', got %r" % (where, value))
    return tuple(int(part) for part in text.split("."))


def version_text(parts: Any) -> str | None:
    return ".".join(str(part) for part in parts) if parts is not None else None
