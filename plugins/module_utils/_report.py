# Copyright (c) comfyops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of validate.yml and health.yml as one self-contained HTML page.

``fleet_report_html(report, kind)`` takes the report the playbooks write as JSON (``{"generated": ..., "hosts":
{host: result}}``, where a result is ``gpu_host_validation`` for ``kind="validate"`` or ``comfyui_health``'s
result for ``kind="health"``) and returns a page with a summary, then a table per host: hosts in order of how
bad they are, and in each table the failing checks first, each row coloured by its status. Every value is
escaped (host names, messages and versions come from hosts and servers); the page loads nothing: its style is
inline and it has no script, image, font or link to anywhere.
"""

from __future__ import annotations

import html
from typing import Any

# worst first; a status not listed sorts after these
ORDER = ("unreachable", "fail", "failed", "starting", "warn", "degraded", "skip", "pass", "healthy")
COLOURS = {
    "unreachable": "#7a1f1f",
    "fail": "#c62828",
    "failed": "#c62828",
    "starting": "#1565c0",
    "warn": "#e65100",
    "degraded": "#e65100",
    "skip": "#616161",
    "pass": "#2e7d32",
    "healthy": "#2e7d32",
}
KINDS = {"validate": "ComfyUI host validation", "health": "ComfyUI fleet health"}

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #212121; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .4em 0 1em; min-width: 40em; }
th, td { border: 1px solid #bdbdbd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eeeeee; }
.status { color: #fff; font-weight: 600; border-radius: 3px; padding: .1em .5em; white-space: nowrap; }
tr.fail td, tr.failed td, tr.unreachable td { background: #ffebee; }
tr.warn td, tr.degraded td { background: #fff3e0; }
tr.starting td { background: #e3f2fd; }
"""


class ReportError(ValueError):
    """The report is not what validate.yml or health.yml writes."""


def rank(status: str) -> int:
    return ORDER.index(status) if status in ORDER else len(ORDER)


def badge(status: str) -> str:
    colour = COLOURS.get(status, "#424242")
    return '<span class="status" style="background:%s">%s</span>' % (colour, html.escape(status))


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return html.escape(", ".join(str(item) for item in value))
    return html.escape(str(value))


def host_status(kind: str, result: dict[str, Any]) -> str:
    if result.get("unreachable") or result.get("state") == "unreachable":
        return "unreachable"
    if kind == "validate":
        return str((result.get("summary") or {}).get("status", "unreachable"))
    return str(result.get("state", "unreachable"))


def check_rows(kind: str, result: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """(status, cells) per check, failing first; health checks carry their instance."""
    rows: list[tuple[str, list[Any]]] = []
    if kind == "validate":
        for item in result.get("checks") or []:
            rows.append((str(item.get("status")), [item.get("name"), item.get("observed"), item.get("expected"), item.get("message") or item.get("remedy")]))
    else:
        for inst in result.get("instances") or []:
            for item in inst.get("checks") or []:
                rows.append((str(item.get("status")), [inst.get("name"), item.get("name"), item.get("observed"), item.get("message")]))
    return sorted(rows, key=lambda row: rank(row[0]))  # stable: the module's order within a status


def instance_rows(result: dict[str, Any]) -> list[str]:
    out = []
    for inst in sorted(result.get("instances") or [], key=lambda i: rank(str(i.get("state")))):
        p50 = (inst.get("trend") or {}).get("latency_p50")
        latency = "%.1f ms" % (float(p50) * 1000) if isinstance(p50, (int, float)) else ""
        state = str(inst.get("state"))
        cells = "".join("<td>%s</td>" % c for c in (cell(inst.get("name")), badge(state), cell(inst.get("comfyui_version")), cell(inst.get("failed")), latency))
        out.append('<tr class="%s">%s</tr>' % (html.escape(state, quote=True), cells))
    return out


def host_section(kind: str, host: str, result: dict[str, Any]) -> str:
    status = host_status(kind, result)
    parts = ['<section id="host-%s"><h2>%s %s</h2>' % (html.escape(host, quote=True), html.escape(host), badge(status))]
    if status == "unreachable":
        parts.append("<p>The host could not be reached: no checks ran.</p></section>")
        return "\n".join(parts)
    if kind == "health" and result.get("instances"):
        parts.append("<table><tr><th>instance</th><th>state</th><th>version</th><th>failed checks</th><th>latency p50</th></tr>")
        parts.extend(instance_rows(result))
        parts.append("</table>")
    heads = ["check", "observed", "expected", "message"] if kind == "validate" else ["instance", "check", "observed", "message"]
    parts.append("<table><tr><th>status</th>%s</tr>" % "".join("<th>%s</th>" % h for h in heads))
    for status_, cells in check_rows(kind, result):
        parts.append('<tr class="%s"><td>%s</td>%s</tr>' % (html.escape(status_, quote=True), badge(status_), "".join("<td>%s</td>" % cell(c) for c in cells)))
    parts.append("</table></section>")
    return "\n".join(parts)


def fleet_report_html(report: dict[str, Any], kind: str) -> str:
    """The page for ``report`` (see the module's docstring); raises ReportError on a report of another shape."""
    if kind not in KINDS:
        raise ReportError("fleet report: kind %r is not one of %s" % (kind, ", ".join(KINDS)))
    if not isinstance(report, dict) or not isinstance(report.get("hosts"), dict):
        raise ReportError("fleet report: expected a dict with a 'hosts' map (host -> result), got %s" % type(report).__name__)
    hosts: dict[str, Any] = {str(h): (r if isinstance(r, dict) else {"unreachable": True}) for h, r in report["hosts"].items()}
    statuses = {host: host_status(kind, result) for host, result in hosts.items()}
    ordered = sorted(hosts, key=lambda h: (rank(statuses[h]), h))
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    title = "%s — %s" % (KINDS[kind], report.get("generated", ""))
    summary_rows = "".join(
        '<tr class="%s"><td><a href="#host-%s">%s</a></td><td>%s</td></tr>'
        % (html.escape(statuses[h], quote=True), html.escape(h, quote=True), html.escape(h), badge(statuses[h]))
        for h in ordered
    )
    totals = ", ".join("%d %s" % (counts[s], html.escape(s)) for s in sorted(counts, key=rank))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
            "<title>%s</title><style>%s</style></head><body>" % (html.escape(title), STYLE),
            "<h1>%s</h1>" % html.escape(title),
            "<p>%d hosts: %s.</p>" % (len(hosts), totals or "none"),
            "<table><tr><th>host</th><th>status</th></tr>%s</table>" % summary_rows,
            *(host_section(kind, h, hosts[h]) for h in ordered),
            "</body></html>",
            "",
        ]
    )
