"""Parameters of a synthetic run and the calendar they imply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ascld.errors import UsageError

# Row-level defects: the file stays usable, each gives exactly one failure on its row and field.
ROW_DEFECT_KINDS = (
    "invalid_list_value",
    "miscased_list_value",
    "release1_value",
    "missing_mandatory",
    "impossible_date",
    "bad_date_format",
    "bad_nhs_check_digit",
    "end_before_start",
    "duplicate_row",
    "negative_unit_cost",
    "too_many_decimals",
    "invalid_postcode",
)
# File-level defects: the file becomes unusable; written only as separate variant files.
TRANSPORT_DEFECT_KINDS = ("ragged_row", "formula_value")

DEFAULT_DEFECT_RATE = 0.0003  # per kind, per row: about 0.4% of rows carry one injected defect


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day-of-month `months` later, for first-of-month dates (the only ones the calendar uses)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, day.day)


@dataclass(frozen=True)
class Quarter:
    """One quarterly return: the quarter and its rolling 12-month reporting period."""

    number: int  # 1..n
    quarter_start: dt.date
    period_end: dt.date  # quarter end
    period_start: dt.date  # 12 months before the quarter end, plus one day

    @property
    def as_of(self) -> dt.date:
        """The "as of" date national selection would use: 45 days after the quarter end (the deadline plus
        two weeks)."""
        return self.period_end + dt.timedelta(days=45)


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides a synthetic run. The same config and seed give byte-identical outputs.

    Args:
        seed: master seed; each council derives its own generators from it and its LA code.
        councils: how many councils (the first n of councils.csv), or an explicit tuple of LA codes.
        people_per_council: people (clients and carers) in a council of average adult population; councils
            are scaled by their population. 9,800 gives about 1.5 million people for all 153.
        quarters: number of quarterly returns.
        start: first day of the first quarter returned (a quarter start; the first file covers the 12
            months to that quarter's end).
        defect_rates: injected defect rate per row for each row-level kind (0 switches a kind off).
        behaviour: realistic submission behaviour (resubmissions, top-ups, period resets, Release 1
            values...).
        nhs_missing_rate / nhs_invalid_rate: average share of people whose NHS number is not recorded / is
            mis-keyed in the council's case-management system (varies by council around this value).
        hospital_background_rate: hospital spells per person-year of people unknown to social care, per
            person in the council (the general population that ASCOF 2D part 2 counts).
        outputs: which outputs to write (see OUTPUTS).
        cms_url: SQLAlchemy URL template for the case-management databases; `{la_code}` is replaced. Default:
            SQLite files `cms/<la_code>.sqlite` under the output folder.
        workers: processes to use (councils are generated independently).
    """

    seed: int = 0
    councils: int | tuple[str, ...] = 3
    people_per_council: int = 2000
    quarters: int = 8
    start: dt.date = dt.date(2024, 4, 1)
    defect_rates: Mapping[str, float] = field(
        default_factory=lambda: dict.fromkeys(ROW_DEFECT_KINDS, DEFAULT_DEFECT_RATE)
    )
    behaviour: bool = True
    nhs_missing_rate: float = 0.01
    nhs_invalid_rate: float = 0.002
    hospital_background_rate: float = 0.3
    outputs: frozenset[str] = frozenset({"truth", "returns", "index", "spells"})
    cms_url: str | None = None
    workers: int = 1

    OUTPUTS = ("truth", "cms", "returns", "clean", "transport", "index", "spells")

    def __post_init__(self) -> None:
        if self.start.day != 1 or self.start.month not in (1, 4, 7, 10):
            raise UsageError(
                f"start must be the first day of a quarter (1 Jan/Apr/Jul/Oct), not {self.start}"
            )
        if self.quarters < 1 or self.people_per_council < 1:
            raise UsageError("quarters and people per council must be at least 1")
        unknown = set(self.defect_rates) - set(ROW_DEFECT_KINDS)
        if unknown:
            raise UsageError(
                f"unknown defect kinds: {', '.join(sorted(unknown))}. Known: {', '.join(ROW_DEFECT_KINDS)}"
            )
        bad = set(self.outputs) - set(self.OUTPUTS)
        if bad:
            raise UsageError(f"unknown outputs: {', '.join(sorted(bad))}. Known: {', '.join(self.OUTPUTS)}")

    def with_(self, **changes: object) -> SynthConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def quarter_list(self) -> tuple[Quarter, ...]:
        out = []
        for k in range(self.quarters):
            q_start = add_months(self.start, 3 * k)
            period_end = add_months(q_start, 3) - dt.timedelta(days=1)
            out.append(Quarter(k + 1, q_start, period_end, add_months(q_start, -9)))
        return tuple(out)

    @property
    def sim_start(self) -> dt.date:
        """Journeys are simulated from 12 months before the first reporting period (long-term clients already
        in support then have earlier start dates)."""
        return add_months(self.quarter_list[0].period_start, -12)

    @property
    def sim_end(self) -> dt.date:
        """The last quarter end: the case-management databases are snapshots at this date."""
        return self.quarter_list[-1].period_end
