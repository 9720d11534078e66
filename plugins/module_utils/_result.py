# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One check's result, typed: what host validation (_checks) and health (_health) report, and alerts read.

Made with one constructor per status (``CheckResult.passed``, ``failed``, ``warned``, ``skipped``, ``starting``) or
``CheckResult.of(status, ...)`` where the status is computed; a remedy is kept only for a failure or a warning;
the severity follows the status unless given (fail: critical, warn or starting: warning, else info). Modules return
``to_dict()``: the keys users read (name, check, status, observed, expected, message, remedy, severity, labels).
"""

from __future__ import annotations

import dataclasses
from typing import Any

STATUSES = ("pass", "warn", "fail", "skip", "starting")
SEVERITY = {"fail": "critical", "warn": "warning", "starting": "warning", "pass": "info", "skip": "info"}


@dataclasses.dataclass(frozen=True)
class CheckResult:
    name: str
    check: str
    status: str
    observed: Any = None
    expected: Any = None
    message: str = ""
    remedy: str = ""
    severity: str = ""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError("check result %s: status %r is not one of %s" % (self.name, self.status, ", ".join(STATUSES)))
        if not self.severity:
            object.__setattr__(self, "severity", SEVERITY[self.status])
        if self.status not in ("fail", "warn"):
            object.__setattr__(self, "remedy", "")
        if "check" not in self.labels:
            object.__setattr__(self, "labels", dict(self.labels, check=self.check))

    @classmethod
    def of(
        cls, status: str, name: str, check: str, observed: Any = None, expected: Any = None, message: str = "", remedy: str = "", **more: Any
    ) -> CheckResult:
        return cls(name, check, status, observed, expected, message, remedy, **more)

    @classmethod
    def passed(cls, name: str, check: str, observed: Any = None, expected: Any = None, message: str = "", **more: Any) -> CheckResult:
        return cls(name, check, "pass", observed, expected, message, **more)

    @classmethod
    def failed(cls, name: str, check: str, observed: Any = None, expected: Any = None, message: str = "", remedy: str = "", **more: Any) -> CheckResult:
        return cls(name, check, "fail", observed, expected, message, remedy, **more)

    @classmethod
    def warned(cls, name: str, check: str, observed: Any = None, expected: Any = None, message: str = "", remedy: str = "", **more: Any) -> CheckResult:
        return cls(name, check, "warn", observed, expected, message, remedy, **more)

    @classmethod
    def skipped(cls, name: str, check: str, message: str = "", **more: Any) -> CheckResult:
        return cls(name, check, "skip", None, None, message, **more)

    @classmethod
    def starting(cls, name: str, check: str, observed: Any = None, expected: Any = None, message: str = "", **more: Any) -> CheckResult:
        return cls(name, check, "starting", observed, expected, message, **more)

    def lowered(self, status: str, note: str) -> CheckResult:
        """The same result with a lower status (a failure a site's severity turns into a warning)."""
        return dataclasses.replace(self, status=status, severity=SEVERITY[status], message=self.message + note)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
