"""The HTML report builder: self-contained (no external URLs), accessible (headings, a table for every
chart), escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ascld.report import BarChart, LineChart, Report, Section, Table, render_report
from ascld.report.measures import measures_report

EXTERNAL = re.compile(r"""(src|href|xlink:href|url)\s*[=(]\s*["']?\s*(https?:)?//""", re.IGNORECASE)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_heading = tag in ("h1", "h2", "h3", "h4")

    def handle_endtag(self, tag):
        self._in_heading = False

    def handle_data(self, data):
        if self._in_heading and data.strip():
            self.headings.append(data.strip())


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def _report() -> Report:
    return Report(
        "Measures <test>",
        facts=[("Period", "2024-07-01 to 2025-06-30")],
        sections=[
            Section(
                "Reablement",
                paragraphs=["A & B"],
                items=[
                    BarChart("2A by council", ["Penholme", "England"], [56.3, None], unit="%",
                             highlight=["England"]),
                    LineChart("2A over periods", ["Q1", "Q2"], {"Penholme": [50.0, 56.3]}),
                    Table(["Council", "Count"], [["Penholme", 10]], caption="Counts"),
                ],
                subsections=[Section("Detail")],
            ),
            Section("Notes", paragraphs=["See https://example.org/method as a citation."]),
        ],
        footer=["ascld 0.1"],
    )


def test_report_has_no_external_resources_and_no_scripts():
    html = render_report(_report())
    assert not EXTERNAL.search(html)
    parsed = _parse(html)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert "<style>" in html and html.count("<svg") == 2
    # A plain-text citation is allowed.
    assert "https://example.org/method as a citation." in html


def test_every_chart_has_a_table_alternative_and_headings_nest():
    html = render_report(_report())
    parsed = _parse(html)
    assert parsed.headings[:1] == ["Measures <test>"]
    assert {"Reablement", "Detail", "Notes", "Contents"} <= set(parsed.headings)
    assert html.count("<details>") == 2  # one table per chart
    assert html.count("<table>") == 3
    # The bar chart's table holds the figures; the missing value is an empty cell, the chart says so.
    assert "not shown" in html and '<td class="num">56.3</td>' in html
    assert '<h3 id="s1-1">Detail</h3>' in html


def test_text_is_escaped():
    html = render_report(_report())
    assert "Measures &lt;test&gt;" in html and "A &amp; B" in html
    assert "<test>" not in html


def _row(la_code, la_name, value, period="1 Apr 24 - 31 Mar 25", end="2025-03-31", measure="ASCOF 2A"):
    return {
        "measure": measure, "description": "Reablement", "reporting_period": period, "period_start": None,
        "period_end": end, "la_code": la_code, "la_name": la_name, "breakdown": "Total", "group": "Total",
        "numerator": 10, "denominator": 15, "value": value, "disclosure_flag": "rounded",
    }


def test_measures_report_contains_every_measure_and_a_line_over_periods():
    rows = [
        _row("101", "Penholme", 66.7),
        _row("102", "Tarnwick", "*"),
        _row("101", "Penholme", 60.0, period="1 Jan 24 - 31 Dec 24", end="2024-12-31"),
        _row("101", "Penholme", 12.0, measure="SALT STS001"),
    ]
    manifest = {"mode": "national", "parameters": {"period": ["2024-04-01", "2025-03-31"]},
                "disclosure_control": {"applied": True, "rules": []}, "skipped": ["ASCOF 2D: no spells"]}
    html = render_report(measures_report(rows, manifest, title="Measures"))
    headings = _parse(html).headings
    assert {"ASCOF 2A", "SALT STS001", "Not run"} <= set(headings)
    assert "over reporting periods" in html  # two periods for ASCOF 2A
    assert "internal use only" not in html
    assert not EXTERNAL.search(html)


def test_measures_report_warns_when_disclosure_control_is_off():
    manifest = {"mode": "council", "parameters": {"period": ["2024-04-01", "2025-03-31"]},
                "disclosure_control": "disabled (internal use)"}
    html = render_report(measures_report([_row("101", "Penholme", 56.25)], manifest, title="Penholme"))
    assert "Do not release" in html
