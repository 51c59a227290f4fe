"""The measures report (`report.html` of `ascld measures`): every measure by council, and over periods.

For each measure and description, the headline breakdown (`Total` where there is one, else the first) is
charted by council for the latest period, with a line over the periods when the run has several (ASCOF
runs the latest and the previous period). Every chart has its table; `measures.csv` holds every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ascld.report.builder import BarChart, LineChart, Report, Section, Table

ENGLAND = "England"
MAX_GROUPS = 4  # charts per description: the headline breakdown's first groups
MAX_LINES = 8  # councils drawn as lines; more councils -> England only (the table has them all)


# The dashboard's waiting-time medians (measure names `Dashboard WT1`, ...; dashboard_measures.csv).
DASHBOARD_PREFIX = "Dashboard "


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None  # missing, or suppressed (`*`)
    return float(value)


def _unit(measure: str, rows: Sequence[dict[str, Any]]) -> str:
    if measure in ("ASCOF 2B", "ASCOF 2C"):
        return " per 100,000"
    if measure.startswith(DASHBOARD_PREFIX):
        return " (days)"
    if any(r["denominator"] not in (None, "") for r in rows):
        return "%"
    return ""


def _council(r: dict[str, Any]) -> str:
    return r["la_name"] or r["la_code"] or ENGLAND


def _headline(rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    breakdowns = list(dict.fromkeys(r["breakdown"] for r in rows if r["breakdown"] != "Count"))
    if not breakdowns:
        breakdowns = list(dict.fromkeys(r["breakdown"] for r in rows))
    breakdown = "Total" if "Total" in breakdowns else breakdowns[0]
    groups = list(dict.fromkeys(r["group"] for r in rows if r["breakdown"] == breakdown))
    return breakdown, groups


def _measure_section(measure: str, rows: list[dict[str, Any]]) -> Section:
    periods = sorted({(r["period_end"] or "", r["reporting_period"]) for r in rows})
    latest_end, latest_label = periods[-1]
    items: list[Any] = []
    paragraphs = []
    for description in dict.fromkeys(r["description"] for r in rows):
        d_rows = [r for r in rows if r["description"] == description]
        breakdown, groups = _headline(d_rows)
        unit = _unit(measure, d_rows)
        for group in groups[:MAX_GROUPS]:
            cells = [r for r in d_rows if r["breakdown"] == breakdown and r["group"] == group]
            latest = [r for r in cells if r["reporting_period"] == latest_label]
            if not latest:
                continue
            latest.sort(key=lambda r: (r["la_code"] is None, _council(r)))
            name = description if group in ("Total", "") else f"{description}: {group}"
            title = f"{name} ({latest_label})"
            table = Table(
                ["Council", "Numerator", "Denominator", "Value", "Disclosure"],
                [
                    [_council(r), r["numerator"], r["denominator"], r["value"], r["disclosure_flag"]]
                    for r in latest
                ],
                caption=title,
                numeric=(1, 2, 3),
            )
            items.append(
                BarChart(
                    title,
                    [_council(r) for r in latest],
                    [_number(r["value"]) for r in latest],
                    unit=unit if unit == "%" else "",
                    description=f"{measure}, {name}, by council, {latest_label}. Values{unit}.",
                    highlight=(ENGLAND,),
                    table=table,
                )
            )
            labels = [label for _, label in periods if any(r["reporting_period"] == label for r in cells)]
            if len(labels) > 1:
                councils = list(
                    dict.fromkeys(_council(r) for r in sorted(cells, key=lambda r: r["la_code"] or ""))
                )
                if len(councils) > MAX_LINES:
                    councils = [c for c in councils if c == ENGLAND]
                series: dict[str, Sequence[float | None]] = {
                    c: [
                        next(
                            (
                                _number(r["value"])
                                for r in cells
                                if _council(r) == c and r["reporting_period"] == p
                            ),
                            None,
                        )
                        for p in labels
                    ]
                    for c in councils
                }
                if series:
                    items.append(
                        LineChart(
                            f"{name} over reporting periods",
                            labels,
                            series,
                            description=f"{measure}, {name}: value{unit} by reporting period.",
                        )
                    )
    if not items:
        paragraphs.append("No figures for this measure in this run.")
    paragraphs.insert(0, f"Latest period: {latest_label}. Figures for every breakdown are in measures.csv.")
    return Section(measure, paragraphs=paragraphs, items=items)


def measures_report(rows: Sequence[dict[str, Any]], manifest: dict[str, Any], *, title: str) -> Report:
    """Build the report of one `ascld measures` run.

    Args:
        rows: the published rows (MEASURE_COLUMNS dicts, as written to measures.csv).
        manifest: the run's manifest (mode, period, disclosure control, versions, skipped measures).
        title: the report title (names England or the council).

    Returns:
        A Report; `.write(path)` writes it.
    """
    disclosure = manifest.get("disclosure_control")
    controlled = isinstance(disclosure, dict) and disclosure.get("applied")
    councils = sorted({r["la_code"] for r in rows if r["la_code"]})
    params = manifest.get("parameters", {})
    period = params.get("period") or ["", ""]
    facts = [
        ("Reporting period", f"{period[0]} to {period[1]}"),
        ("Mode", "national (every council)" if manifest.get("mode") == "national" else "one council"),
        ("Councils", f"{len(councils):,}"),
        ("Measures", f"{len({r['measure'] for r in rows}):,}"),
        (
            "Disclosure control",
            "applied (see the rules below)" if controlled else "switched off: internal use only",
        ),
        ("Engine", str(manifest.get("engine", ""))),
    ]
    by_measure: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_measure.setdefault(r["measure"], []).append(r)
    ascof = [m for m in by_measure if m.startswith("ASCOF") and "Release 1" not in m]
    waiting = [m for m in by_measure if m.startswith(DASHBOARD_PREFIX)]
    salt = [m for m in by_measure if m not in ascof and m not in waiting]
    about = [
        "ASCOF measures follow the DHSC Release 2 method on the joined main table; SALT tables follow NHS "
        "England's Release 1 replication on the raw store (docs/measures-ascof.md, docs/measures-salt.md).",
    ]
    if controlled:
        about.append(
            "Disclosure control: counts from 1 to 7 are shown as *, council counts are rounded to the "
            "nearest 5, and values are recomputed from the published counts. A chart shows no bar where "
            "the value is *."
        )
    else:
        about.append("Disclosure control was switched off for this run. These figures must not be released.")
    sections = [Section("About these figures", paragraphs=about)]
    if ascof:
        sections.append(Section("ASCOF", subsections=[_measure_section(m, by_measure[m]) for m in ascof]))
    if salt:
        sections.append(Section("SALT", subsections=[_measure_section(m, by_measure[m]) for m in salt]))
    if waiting:
        sections.append(
            Section(
                "Waiting times",
                paragraphs=[
                    "Median days from the start of a request to its first response (WT1) and to its first "
                    "service (WT2), by council, age band and statistical quarter, as DHSC's LA dashboard "
                    "computes them (docs/measures-dashboard.md). The numerator is the number of waits; a "
                    "median is shown only where that count is published."
                ],
                subsections=[_measure_section(m, by_measure[m]) for m in waiting],
            )
        )
    skipped = manifest.get("skipped") or []
    if skipped:
        sections.append(Section("Not run", paragraphs=list(skipped)))
    warnings = manifest.get("warnings") or []
    if warnings:
        sections.append(Section("Warnings", paragraphs=list(warnings)))
    if controlled:
        rules = disclosure.get("rules", [])  # type: ignore[union-attr]
        sections.append(
            Section(
                "Disclosure rules in force",
                items=[
                    Table(
                        ["Rule", "Applies to", "Scope", "Measure", "Action", "Parameters"],
                        [
                            [
                                r["rule_id"],
                                r["applies_to"],
                                r["scope"],
                                r["measure"],
                                r["action"],
                                r["parameters"],
                            ]
                            for r in rules
                        ],
                        caption="Disclosure rules",
                        numeric=(),
                    )
                ],
            )
        )
    return Report(
        title,
        subtitle=f"{'ASCOF, SALT and waiting times' if waiting else 'ASCOF and SALT'}, {period[0]} to {period[1]}",
        facts=facts,
        sections=sections,
        warning="" if controlled else "Disclosure control switched off: internal use only. Do not release.",
        footer=[
            f"ascld {manifest.get('ascld_version', '')}, specification {manifest.get('spec_version') or ''}.",
            "Sources (as text): DHSC ASC-CLD-LA-Dashboard ASCOF_measures; NHS England "
            "ASC-Client-Level-Data-SALT-ASCOF-transformations.",
        ],
    )
