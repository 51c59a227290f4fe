"""The data-quality report: one self-contained HTML file (inline CSS and SVG charts, no scripts, no network).

Everything in it comes from the JSON summary, which never holds an identifying value, so the report is safe to
forward as the summary is.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import markupsafe

VALIDITY_COLOURS = {
    "Passed: Valid": "#2e7d32",
    "Passed: Blank (Not Mandatory)": "#b0bec5",
    "Failed: Blank (Mandatory)": "#ef6c00",
    "Failed: Invalid": "#c62828",
    "Failed: Release 1": "#6a1b9a",
}
EVENT_COLOURS = {"Request": "#1565c0", "Assessment": "#00897b", "Service": "#f9a825", "Review": "#8e24aa"}
OTHER_COLOUR = "#757575"
MAX_HTML_PROBLEMS = 500


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def validity_chart(fields: Sequence[Mapping[str, Any]], width: int = 900) -> str:
    """Horizontal stacked bars: for each field, the share of rows in each validity result."""
    if not fields:
        return ""
    label_w, bar_w, row_h = 260, width - 260 - 70, 16
    height = row_h * len(fields) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Validity by field">'
    ]
    for i, f in enumerate(fields):
        y = 10 + i * row_h
        totals: dict[str, int] = defaultdict(int)
        for c in f["counts"]:
            totals[c["validity"]] += c["count"]
        total = sum(totals.values()) or 1
        failed = sum(n for k, n in totals.items() if k.startswith("Failed"))
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 11}" text-anchor="end" font-size="11">{_esc(f["header"])}'
            f"</text>"
        )
        x = float(label_w)
        for label, colour in VALIDITY_COLOURS.items():
            n = totals.get(label, 0)
            if not n:
                continue
            w = bar_w * n / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{max(w, 0.5):.1f}" height="{row_h - 4}" '
                f'fill="{colour}"><title>{_esc(f["header"])}: {_esc(label)} {n:,}</title></rect>'
            )
            x += w
        if failed:
            parts.append(
                f'<text x="{label_w + bar_w + 6}" y="{y + 11}" font-size="11" fill="#c62828">'
                f"{failed:,}</text>"
            )
    y = 10 + len(fields) * row_h + 12
    x = 10
    for label, colour in VALIDITY_COLOURS.items():
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y + 9}" font-size="11">{_esc(label)}</text>'
        )
        x += 14 + int(6.2 * len(label)) + 14
    parts.append("</svg>")
    return "".join(parts)


def events_chart(
    events: Sequence[Mapping[str, Any]],
    months_info: Sequence[Mapping[str, Any]] | None,
    stated: Mapping[str, Any] | None,
    width: int = 900,
    height: int = 260,
) -> str:
    """Vertical stacked bars of events ending per month, by event type; months the national method would
    leave out of the derived period are drawn faded."""
    if not events:
        return ""
    by_month: dict[str, dict[str, int]] = defaultdict(dict)
    for e in events:
        by_month[e["month"]][e["event_type"] or "No event type"] = e["events"]
    months = sorted(by_month)
    included = {m["month"]: m["included"] for m in (months_info or [])}
    top = max(sum(v.values()) for v in by_month.values()) or 1
    left, bottom, plot_h = 50, 40, height - 70
    step = (width - left - 10) / len(months)
    bar = max(step * 0.8, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Events by month">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{height - bottom - plot_h + 4}" text-anchor="end" font-size="10">'
        f"{top:,}</text>",
    ]
    stated_start = (stated or {}).get("start") or ""
    stated_end = (stated or {}).get("end") or ""
    for i, m in enumerate(months):
        x = left + i * step + (step - bar) / 2
        y = float(height - bottom)
        faded = included.get(m) is False
        in_stated = stated_start[:7] <= m <= stated_end[:7] if stated_start and stated_end else True
        for etype, n in sorted(by_month[m].items()):
            h = plot_h * n / top
            y -= h
            colour = EVENT_COLOURS.get(etype, OTHER_COLOUR)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}" '
                f'opacity="{0.35 if faded else 1}"><title>{m} {_esc(etype)}: {n:,}</title></rect>'
            )
        if len(months) <= 40 or i % max(1, len(months) // 20) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 12}" font-size="9" '
                f'text-anchor="middle">{m[2:]}</text>'
            )
        if not in_stated:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 24}" font-size="9" '
                f'text-anchor="middle" fill="#c62828">out</text>'
            )
    x = left
    for etype, colour in EVENT_COLOURS.items():
        parts.append(
            f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{height - 5}" font-size="11">{etype}</text>'
        )
        x += 100
    parts.append(
        f'<text x="{x}" y="{height - 5}" font-size="11">faded: month outside the derived period</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def comparison_chart(rows: Sequence[Mapping[str, Any]], width: int = 600, height: int = 240) -> str:
    """Grouped bars: rows per event type in this return and in the previous one."""
    if not rows:
        return ""
    top = max(max(r["current"], r["previous"]) for r in rows) or 1
    left, bottom, plot_h = 50, 40, height - 70
    step = (width - left - 10) / len(rows)
    bar = step * 0.35
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Rows by event type, this return and the previous one">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#999"/>',
    ]
    for i, r in enumerate(rows):
        x = left + i * step + step * 0.1
        for j, (key, colour) in enumerate((("previous", "#90a4ae"), ("current", "#1565c0"))):
            h = plot_h * r[key] / top
            parts.append(
                f'<rect x="{x + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{_esc(r["event_type"])} {key}: '
                f"{r[key]:,}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{height - bottom + 14}" font-size="11" text-anchor="middle">'
            f"{_esc(r['event_type'])}</text>"
        )
    parts.append(
        f'<rect x="{left}" y="{height - 14}" width="10" height="10" fill="#90a4ae"/>'
        f'<text x="{left + 14}" y="{height - 5}" font-size="11">previous return</text>'
        f'<rect x="{left + 130}" y="{height - 14}" width="10" height="10" fill="#1565c0"/>'
        f'<text x="{left + 144}" y="{height - 5}" font-size="11">this return</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


_TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("ascld.quality", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def render_report(summary: Mapping[str, Any]) -> str:
    """The HTML report for a JSON summary (`ValidationResult.summary`)."""
    charts = {
        "validity": validity_chart(summary.get("fields") or []),
        "events": events_chart(
            summary.get("events_by_month") or [],
            (summary.get("derived_period") or {}).get("months"),
            summary.get("stated_period"),
        ),
        "comparison": comparison_chart((summary.get("comparison") or {}).get("rows_by_event_type") or []),
    }
    return _TEMPLATE.get_template("report.html.j2").render(
        s=summary,
        charts={k: markupsafe.Markup(v) for k, v in charts.items()},
        problems=(summary.get("problems") or [])[:MAX_HTML_PROBLEMS],
        max_html=MAX_HTML_PROBLEMS,
    )
