"""The one tidy layout every measure (ASCOF, SALT, dashboard facts) is written in, and the national rounding.

Columns (in order) of every measure result table:

| column | meaning |
|---|---|
| measure | stable id, e.g. `ASCOF 2A`, `ASCOF 2B`, `SALT STS001` |
| description | the published description of the measure or table |
| reporting_period | label as published, e.g. `1 Apr 25 - 31 Mar 26` |
| period_start, period_end | the period as dates |
| la_code, la_name | council (`England` / NULL code for national totals) |
| breakdown | which breakdown this row belongs to (`Total`, `Age band`, `Gender`, `Sequel`, ...) |
| group | the value within the breakdown (`Total`, `18 to 64`, `Female`, `Long term support: Community`, ...) |
| numerator, denominator | whole counts (denominator NULL where a measure has none, e.g. SALT counts) |
| value | the published outcome (percentage, rate per 100,000, or the count itself), rounded as the method says |
| disclosure_flag | empty before disclosure control; set by `ascld.release` (`suppressed`, `rounded`, `national`) |
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MEASURE_COLUMNS = (
    "measure",
    "description",
    "reporting_period",
    "period_start",
    "period_end",
    "la_code",
    "la_name",
    "breakdown",
    "group",
    "numerator",
    "denominator",
    "value",
    "disclosure_flag",
)


def round_half_away(value: Decimal | int | float | str, places: int) -> Decimal:
    """Round half away from zero in decimal arithmetic, as SQL Server's ROUND does.

    Floats are converted through their shortest repr, so 100 * 9 / 16 = 56.25 rounds to 56.3 (Python's round()
    gives 56.2).

    Examples:
        >>> round_half_away(Decimal(100) * 9 / 16, 1)
        Decimal('56.3')
        >>> round_half_away(-2.5, 0)
        Decimal('-3')
    """
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percentage(numerator: int, denominator: int, places: int = 1) -> Decimal | None:
    """100 x numerator / denominator in exact decimal arithmetic, rounded half away from zero; None if no
    denominator."""
    if not denominator:
        return None
    return round_half_away(Decimal(100) * Decimal(numerator) / Decimal(denominator), places)
