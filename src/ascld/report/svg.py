"""Inline SVG charts with no scripts and no external resources.

Charts are drawn in plain SVG with a `<title>` and `<desc>` (read by screen readers); the report always puts
a table with the same figures beside each chart, so nothing is available only as a picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

#: Colour-blind-safe palette (GOV.UK-like blues and contrasting hues) for series in line charts.
PALETTE = ("#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#b58840", "#28a197", "#6f72af")
BAR_COLOUR = "#1d70b8"
HIGHLIGHT_COLOUR = "#f47738"


def _nice_max(value: float) -> float:
    """The smallest 'nice' number (1, 2, 2.5, 5 x 10^k) at or above `value` (1 when value <= 0)."""
    if value <= 0 or math.isnan(value):
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exp
        if top >= value:
            return float(top)
    return float(10 ** (exp + 1))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.1f}"


def _label(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart_svg(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    description: str = "",
    unit: str = "",
    highlight: Sequence[str] = (),
    width: int = 720,
) -> str:
    """A horizontal bar chart (one bar per label) as an inline SVG string.

    Args:
        labels: category labels (e.g. council names), drawn at the left.
        values: one value per label; None (or a suppressed cell) draws no bar and writes "not shown".
        title: the chart's accessible title.
        description: the accessible description (what the chart shows).
        unit: suffix for the value labels (e.g. "%").
        highlight: labels drawn in the highlight colour (e.g. England).
        width: width in pixels; the height follows the number of bars.

    Returns:
        `<svg ...>...</svg>` text, safe to insert in HTML as it is (all text escaped).
    """
    bar_h, gap, left, right, top = 18, 6, 220, 70, 8
    height = top * 2 + len(labels) * (bar_h + gap) + 20
    numeric = [v for v in values if v is not None]
    top_value = _nice_max(max(numeric) if numeric else 0.0)
    plot_w = width - left - right
    parts = [
        f'<svg role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="chart">',
        f"<title>{escape(title)}</title><desc>{escape(description or title)}</desc>",
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_h + gap)
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h * 0.75:.1f}" text-anchor="end" class="lbl">'
            f"{escape(_label(str(label), 34))}</text>"
        )
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + bar_h * 0.75:.1f}" class="na">not shown</text>')
            continue
        w = max(0.0, plot_w * float(value) / top_value)
        colour = HIGHLIGHT_COLOUR if label in highlight else BAR_COLOUR
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        parts.append(
            f'<text x="{left + w + 4:.1f}" y="{y + bar_h * 0.75:.1f}" class="val">{_fmt(float(value))}'
            f"{escape(unit)}</text>"
        )
    axis_y = top + len(labels) * (bar_h + gap)
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" class="axis"/>')
    for frac in (0, 0.5, 1):
        x = left + plot_w * frac
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" class="tick">'
            f"{_fmt(top_value * frac)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart_svg(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    description: str = "",
    unit: str = "",
    width: int = 720,
    height: int = 300,
) -> str:
    """A line chart (one line per series over the x labels, e.g. councils over periods) as inline SVG.

    Args:
        x_labels: the points along the x axis, in order (e.g. reporting periods).
        series: name -> one value per x label (None leaves a gap).
        title: the chart's accessible title.
        description: the accessible description.
        unit: suffix for the axis labels.
        width: width in pixels.
        height: height in pixels (the legend is added below).

    Returns:
        `<svg ...>...</svg>` text with every text escaped.
    """
    left, right, top, bottom = 60, 20, 12, 48
    legend_h = 16 * len(series)
    total_h = height + legend_h
    numeric = [v for vals in series.values() for v in vals if v is not None]
    top_value = _nice_max(max(numeric) if numeric else 0.0)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(x_labels), 1)

    def x_at(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y_at(v: float) -> float:
        return top + plot_h * (1 - float(v) / top_value)

    parts = [
        f'<svg role="img" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" class="chart">',
        f"<title>{escape(title)}</title><desc>{escape(description or title)}</desc>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>',
    ]
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{_fmt(top_value * frac)}{escape(unit)}</text>"
        )
    for i, label in enumerate(x_labels):
        parts.append(
            f'<text x="{x_at(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">'
            f"{escape(_label(str(label), 28))}</text>"
        )
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = [(x_at(i), y_at(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        ly = height + 16 * k
        parts.append(f'<rect x="{left}" y="{ly - 9}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{left + 18}" y="{ly - 4}" class="lbl">{escape(_label(str(name), 60))}</text>')
    parts.append("</svg>")
    return "".join(parts)
