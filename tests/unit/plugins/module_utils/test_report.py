"""The fleet report page: worst hosts and failing checks first, every value escaped, and, looked at in headless
Chromium, it renders, runs nothing and asks for nothing outside itself (screenshots: tests/output/artifacts/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ansible_collections.comfyops.comfyui.plugins.module_utils._report import ReportError, fleet_report_html
from ansible_collections.comfyops.comfyui.plugins.module_utils._result import CheckResult
from chromium import look, png_size
from conftest import REPO

ARTIFACTS = REPO / "tests" / "output" / "artifacts"
HOSTILE = '<script>document.title="owned"</script><img src="http://127.0.0.1:9/beacon.png">'


def validation(*checks: CheckResult) -> dict:
    results = [c.to_dict() for c in checks]
    failed = [c["name"] for c in results if c["status"] == "fail"]
    return {"checks": results, "summary": {"status": "fail" if failed else "pass", "fail": len(failed), "failed": failed}}


VALIDATE = {
    "generated": "2026-12-05T10:00:00+00:00",
    "hosts": {
        "gpu-01": validation(CheckResult.passed("disk:/srv/comfyui", "disk", "1.2 TiB", ">= 100 GiB"), CheckResult.passed("driver", "driver", "570.86")),
        "gpu-02": validation(
            CheckResult.passed("driver", "driver", "570.86"),
            CheckResult.warned("ram", "ram", "48 GiB", ">= 64 GiB", "less RAM than recommended"),
            CheckResult.failed("disk:/srv/comfyui", "disk", "37.5 GiB", ">= 1 TiB", "not enough free disk", "free space or grow the volume"),
        ),
        "gpu-03": {"unreachable": True},
        "gpu-04": validation(CheckResult.failed("python", "python", HOSTILE, "3.11", HOSTILE)),
    },
}

HEALTH = {
    "generated": "2026-12-05T10:00:00+00:00",
    "hosts": {
        "gpu-01": {
            "state": "healthy",
            "instances": [
                {
                    "name": "default",
                    "state": "healthy",
                    "comfyui_version": "0.8.0",
                    "failed": [],
                    "checks": [CheckResult.passed("api", "api", "200").to_dict()],
                    "trend": {"latency_p50": 0.0123},
                }
            ],
        },
        "gpu-02": {
            "state": "failed",
            "instances": [
                {"name": "a", "state": "healthy", "comfyui_version": "0.8.0", "failed": [], "checks": [CheckResult.passed("api", "api", "200").to_dict()]},
                {
                    "name": "b",
                    "state": "failed",
                    "comfyui_version": "0.8.0",
                    "failed": ["workflow"],
                    "checks": [
                        CheckResult.passed("api", "api", "200").to_dict(),
                        CheckResult.failed("workflow", "workflow", "error", "success", "KSampler: CUDA out of memory").to_dict(),
                    ],
                    "trend": {"latency_p50": 0.5},
                },
            ],
        },
        "gpu-03": {"state": "unreachable", "instances": []},
    },
}


def positions(page: str, *needles: str) -> list[int]:
    found = [page.find(n) for n in needles]
    assert all(p >= 0 for p in found), "missing from the page: %s" % [n for n, p in zip(needles, found, strict=False) if p < 0]
    return found


def test_hosts_worst_first_and_failing_checks_first_in_each_table():
    page = fleet_report_html(VALIDATE, "validate")
    sections = positions(page, '<section id="host-gpu-03">', '<section id="host-gpu-02">', '<section id="host-gpu-04">', '<section id="host-gpu-01">')
    assert sections[0] < min(sections[1:]) and max(sections[1:3]) < sections[3]
    gpu02 = page[sections[1] : page.index("</section>", sections[1])]
    disk, ram, driver = positions(gpu02, "disk:/srv/comfyui", "<td>ram</td>", "<td>driver</td>")
    assert disk < ram < driver, "fail, then warn, then pass"
    assert "37.5 GiB" in gpu02 and "&gt;= 1 TiB" in gpu02
    assert "4 hosts: 1 unreachable, 2 fail, 1 pass." in page


def test_health_names_the_failing_instance_and_check_first():
    page = fleet_report_html(HEALTH, "health")
    gpu02 = page[page.index('<section id="host-gpu-02">') :]
    gpu02 = gpu02[: gpu02.index("</section>")]
    rows = re.findall(r'<tr class="(\w+)"><td>', gpu02)
    assert rows[:2] == ["failed", "healthy"], rows  # the instance table: b (failed) before a
    checks = gpu02[gpu02.index("<th>instance</th><th>check</th>") :]
    assert checks.index("KSampler: CUDA out of memory") < checks.index("<td>api</td>")
    assert "500.0 ms" in gpu02


def test_every_value_is_escaped_and_the_page_names_no_asset():
    page = fleet_report_html(VALIDATE, "validate")
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert not re.search(r"<(script|img|link|iframe|object|embed)\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page), "only in-page anchors"
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page


@pytest.mark.parametrize("bad", [{"hosts": []}, [], {"generated": "x"}])
def test_a_report_of_another_shape_is_refused_saying_what_is_expected(bad):
    with pytest.raises(ReportError, match="expected a dict with a 'hosts' map"):
        fleet_report_html(bad, "health")


def test_an_unknown_kind_is_refused():
    with pytest.raises(ReportError, match="kind 'backup' is not one of validate, health"):
        fleet_report_html(VALIDATE, "backup")


@pytest.mark.parametrize("kind,report", [("validate", VALIDATE), ("health", HEALTH)])
def test_headless_chromium_renders_it_runs_nothing_and_fetches_nothing(kind, report, tmp_path: Path):
    page = tmp_path / ("%s.html" % kind)
    page.write_text(fleet_report_html(report, kind), encoding="utf-8")
    screenshot = ARTIFACTS / ("fleet-report-%s.png" % kind)
    dom, urls = look(page, screenshot)
    assert urls <= {page.resolve().as_uri()}, "the page asked for %s" % sorted(urls - {page.resolve().as_uri()})
    assert "<title>%s" % ("ComfyUI host validation" if kind == "validate" else "ComfyUI fleet health") in dom, "the hostile title script did not run"
    assert 'id="host-gpu-03"' in dom and "could not be reached" in dom
    width, height = png_size(screenshot)
    assert (width, height) == (1280, 1000) and screenshot.stat().st_size > 20_000, "a screenshot with the tables on it"
