"""How a synthetic council submits its returns: which files, for which stated periods, and when.

Behaviours (drawn per council in `world.draw_behaviour`, all off with `behaviour=False`):

* **initial submission** of every quarter, 10–32 days after the quarter end;
* **resubmissions** of some quarters (the council fixes data-quality problems: half the injected defect rate),
  3–60 days after the first file, so some land after the "as of" date national selection uses (quarter end +
  45 days);
* **partial top-up files**: only the service rows, or only the requests, assessments and reviews, sent
  after the main file for the same period (a later file that national selection would wrongly prefer);
* **financial-year start-date resets**: the council states (and extracts) the period from 1 April of the
  financial year to the quarter end instead of a rolling 12 months;
* **stated periods longer than the data**: the stated start is three months before the data's start;
* **Release 1 values still sent after October 2025** in one column (each cell is a `release1_value` defect);
* **open services left without end dates** (in the case-management data itself; see world.py).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from ascld.synth.config import Quarter, SynthConfig, add_months
from ascld.synth.model import Behaviour
from ascld.synth.reference import Council

RELEASE2_FROM = dt.date(2025, 10, 1)  # submissions from October 2025 are Release 2 (spec README §1)


@dataclass(frozen=True)
class FilePlan:
    """One file a council submits."""

    quarter: Quarter
    kind: str  # initial | resubmission | topup
    seq: int  # 1 for the first file of the quarter, then 2, 3 ...
    stated_start: dt.date
    stated_end: dt.date
    data_start: dt.date
    data_end: dt.date
    import_at: dt.datetime
    import_id: str
    defect_scale: float
    tables: tuple[str, ...] | None  # None: every event kind
    release1_field: str | None
    name: str  # file name

    @property
    def behaviours(self) -> list[str]:
        out = []
        if self.kind != "initial":
            out.append(self.kind)
        if self.stated_start != self.data_start:
            out.append("stated_period_longer_than_data")
        if self.data_start != self.quarter.period_start:
            out.append("financial_year_reset")
        if self.release1_field:
            out.append(f"release1_values:{self.release1_field}")
        if self.import_at.date() > self.quarter.as_of:
            out.append("after_as_of_date")
        return out


def financial_year_start(day: dt.date) -> dt.date:
    """1 April of the financial year containing `day`."""
    return dt.date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def _stamp(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime(
        day.year,
        day.month,
        day.day,
        rng.randint(8, 18),
        rng.randint(0, 59),
        rng.randint(0, 59),
        rng.randint(0, 999) * 1000,
    )


def plan_submissions(
    config: SynthConfig, council: Council, behaviour: Behaviour, rng: random.Random
) -> list[FilePlan]:
    """Every file the council submits over the run, in import order within each quarter."""
    plans: list[FilePlan] = []
    la = council.la_code
    for q in config.quarter_list:
        data_start = financial_year_start(q.period_end) if behaviour.fy_reset else q.period_start
        stated_start = add_months(data_start, -3) if behaviour.long_stated else data_start
        first = _stamp(q.period_end + dt.timedelta(days=rng.randint(10, 32)), rng)
        files: list[tuple[str, dt.datetime, float, tuple[str, ...] | None]] = [("initial", first, 1.0, None)]
        if config.behaviour and rng.random() < behaviour.resubmit:
            files.append(
                ("resubmission", _stamp(first.date() + dt.timedelta(days=rng.randint(3, 60)), rng), 0.5, None)
            )
        if config.behaviour and rng.random() < behaviour.topup:
            kinds: tuple[str, ...] = (
                ("service_line",) if rng.random() < 0.6 else ("contact", "assessment", "review")
            )
            files.append(
                ("topup", _stamp(first.date() + dt.timedelta(days=rng.randint(2, 25)), rng), 1.0, kinds)
            )
        files.sort(key=lambda f: f[1])
        for seq, (kind, at, scale, tables) in enumerate(files, start=1):
            r1 = behaviour.release1_field if at.date() >= RELEASE2_FROM else None
            suffix = {"initial": "", "resubmission": f"_v{seq}", "topup": f"_topup{seq}"}[kind]
            name = f"{la}_CLD_{stated_start:%Y%m%d}_{q.period_end:%Y%m%d}{suffix}.csv"
            plans.append(
                FilePlan(
                    q,
                    kind,
                    seq,
                    stated_start,
                    q.period_end,
                    data_start,
                    q.period_end,
                    at,
                    f"{la}-{q.period_end:%Y%m}-{seq:02d}",
                    scale,
                    tables,
                    r1,
                    name,
                )
            )
    return plans
