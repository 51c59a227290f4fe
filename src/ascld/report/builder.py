"""A small report model (sections of paragraphs, tables and charts) rendered to one self-contained HTML file.

The output needs no network to open: CSS is inline, charts are inline SVG, there are no scripts, fonts or
images to fetch. Every chart is followed by a table of the same figures (inside a `<details>` element), and
headings form a contents list, so the report reads well with a screen reader and prints cleanly.

Example:
    >>> report = Report("Measures", sections=[Section("A", paragraphs=["Text."],
    ...     items=[Table(["Council", "Value"], [["Penholme", 12.5]], caption="Values")])])
    >>> html = render_report(report)
    >>> "<h2 id=\\"s1\\">A</h2>" in html and "http" not in html.split("<body")[1]
    True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ascld.report.svg import bar_chart_svg, line_chart_svg


@dataclass
class Table:
    """A data table.

    Attributes:
        columns: column headings.
        rows: one sequence of cell values per row (None shows as an empty cell).
        caption: the table's caption (its accessible name).
        numeric: indices of right-aligned (numeric) columns; default: columns whose values are all numbers.
    """

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""
    numeric: Sequence[int] | None = None

    def numeric_columns(self) -> set[int]:
        """Indices of columns to right-align."""
        if self.numeric is not None:
            return set(self.numeric)
        out = set()
        for i in range(len(self.columns)):
            cells = [r[i] for r in self.rows if r[i] not in (None, "")]
            if cells and all(isinstance(c, int | float) and not isinstance(c, bool) for c in cells):
                out.add(i)
        return out


@dataclass
class BarChart:
    """A horizontal bar chart, one bar per label, with its table alternative.

    Attributes:
        title: chart title (also its accessible name).
        labels: categories (e.g. councils).
        values: one value per label; None draws no bar ("not shown", e.g. a suppressed figure).
        unit: suffix for value labels, e.g. "%".
        description: what the chart shows, for screen readers.
        highlight: labels drawn in the highlight colour.
        table: the table alternative; default: label and value columns from the chart's own data.
    """

    title: str
    labels: Sequence[str]
    values: Sequence[float | None]
    unit: str = ""
    description: str = ""
    highlight: Sequence[str] = ()
    table: Table | None = None

    def svg(self) -> str:
        """The chart as inline SVG."""
        return bar_chart_svg(
            self.labels, self.values, title=self.title, description=self.description, unit=self.unit,
            highlight=self.highlight,
        )

    def alternative(self) -> Table:
        """The table with the chart's figures."""
        if self.table is not None:
            return self.table
        return Table(["", "Value"], [[label, v] for label, v in zip(self.labels, self.values, strict=True)],
                     caption=self.title)


@dataclass
class LineChart:
    """A line chart of series over ordered x labels (e.g. councils over quarters), with its table alternative.

    Attributes:
        title: chart title.
        x_labels: points along the x axis, in order.
        series: series name -> one value per x label (None for a gap).
        unit: suffix for axis labels.
        description: what the chart shows, for screen readers.
        table: the table alternative; default: one row per series, one column per x label.
    """

    title: str
    x_labels: Sequence[str]
    series: dict[str, Sequence[float | None]]
    unit: str = ""
    description: str = ""
    table: Table | None = None

    def svg(self) -> str:
        """The chart as inline SVG."""
        return line_chart_svg(
            self.x_labels, self.series, title=self.title, description=self.description, unit=self.unit
        )

    def alternative(self) -> Table:
        """The table with the chart's figures."""
        if self.table is not None:
            return self.table
        return Table(["", *self.x_labels], [[name, *vals] for name, vals in self.series.items()],
                     caption=self.title)


@dataclass
class Section:
    """A headed section: paragraphs, then items (tables and charts), then subsections.

    Attributes:
        title: the heading.
        paragraphs: plain-text paragraphs (escaped; no HTML).
        items: tables and charts in order.
        subsections: nested sections (one heading level down).
    """

    title: str
    paragraphs: Sequence[str] = ()
    items: Sequence[Table | BarChart | LineChart] = ()
    subsections: Sequence[Section] = ()


@dataclass
class Report:
    """A whole report.

    Attributes:
        title: the page title and top heading.
        subtitle: a line under the title.
        facts: key facts shown as a summary list under the title (e.g. period, councils, disclosure).
        sections: the body.
        warning: a prominent warning shown above the body (e.g. "not for release").
        footer: plain-text lines at the end (versions, generated time, citations as text).
        generated: when the report was made (default: now, UTC).
    """

    title: str
    subtitle: str = ""
    facts: Sequence[tuple[str, str]] = ()
    sections: Sequence[Section] = ()
    warning: str = ""
    footer: Sequence[str] = ()
    generated: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def write(self, path: str | Path) -> Path:
        """Render and write the report as UTF-8 HTML; returns the path."""
        path = Path(path)
        path.write_text(render_report(self), encoding="utf-8")
        return path


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ascld.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:,g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numbered(sections: Sequence[Section], prefix: str = "s") -> list[dict[str, Any]]:
    out = []
    for i, s in enumerate(sections, 1):
        anchor = f"{prefix}{i}"
        out.append({"section": s, "anchor": anchor, "children": _numbered(s.subsections, f"{anchor}-")})
    return out


def render_report(report: Report) -> str:
    """The report as one self-contained HTML document (inline CSS and SVG, no scripts, no external URLs)."""
    template = _ENV.get_template("report.html.j2")
    return template.render(
        report=report,
        sections=_numbered(report.sections),
        cell=_cell,
        svg=lambda chart: Markup(chart.svg()),  # noqa: S704 - SVG built from escaped text only
        is_chart=lambda item: isinstance(item, BarChart | LineChart),
        generated=report.generated.strftime("%d %B %Y %H:%M UTC"),
    )
