"""Self-contained HTML reports: sections of text, tables and inline SVG charts. Re-exports only.

Used by `ascld measures` (report.html); generic enough for the validator's DQ report and the demo.
"""

from ascld.report.builder import BarChart, LineChart, Report, Section, Table, render_report
from ascld.report.svg import bar_chart_svg, line_chart_svg

__all__ = [
    "BarChart",
    "LineChart",
    "Report",
    "Section",
    "Table",
    "bar_chart_svg",
    "line_chart_svg",
    "render_report",
]
