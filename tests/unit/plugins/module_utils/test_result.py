"""CheckResult: one constructor per status, the severity and remedy rules, the lowered copy, the dict modules return."""

from __future__ import annotations

import dataclasses

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._result import CheckResult


def test_each_status_has_its_constructor_and_severity():
    made = {
        "pass": CheckResult.passed("ram", "ram", "64 GiB", ">= 64 GiB", "64 GiB of RAM"),
        "fail": CheckResult.failed("ram", "ram", "8 GiB", ">= 64 GiB", "8 GiB of RAM", "add RAM"),
        "warn": CheckResult.warned("clock", "clock", "1.2 s", "<= 1 s", "off", "run chrony"),
        "skip": CheckResult.skipped("vram_fit", "vram_fit", "no models given"),
        "starting": CheckResult.starting("api", "api", "no answer", "answers", "starting"),
    }
    assert {status: r.status for status, r in made.items()} == {s: s for s in made}
    assert {s: r.severity for s, r in made.items()} == {"pass": "info", "fail": "critical", "warn": "warning", "skip": "info", "starting": "warning"}
    assert made["fail"].remedy == "add RAM" and made["warn"].remedy == "run chrony"
    assert CheckResult.of("pass", "ram", "ram", remedy="kept only for failures").remedy == ""
    assert made["skip"].labels == {"check": "vram_fit"}


def test_given_severity_and_labels_are_kept_and_the_dict_has_every_field():
    item = CheckResult.failed("api", "api", message="down", severity="warning", labels={"instance": "gpu0"})
    assert item.severity == "warning" and item.labels == {"instance": "gpu0", "check": "api"}
    assert list(item.to_dict()) == ["name", "check", "status", "observed", "expected", "message", "remedy", "severity", "labels"]


def test_lowered_is_a_new_result_and_a_bad_status_is_refused():
    item = CheckResult.failed("gpu_count", "gpu_count", 0, ">= 1", "no GPU", "install GPUs")
    low = item.lowered("warn", " (severity lowered to warn)")
    assert (item.status, low.status, low.severity, low.message) == ("fail", "warn", "warning", "no GPU (severity lowered to warn)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.status = "pass"
    with pytest.raises(ValueError, match="status 'ok' is not one of"):
        CheckResult.of("ok", "ram", "ram")
