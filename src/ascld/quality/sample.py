"""A small, seeded generator of clean CLD return rows, for the validator's tests, benchmark and demo.

This is not the synthetic world of `ascld.synth` (people, journeys, case-management systems); it only makes
rows
that satisfy every check the validator runs, so tests can mutate one field and see exactly one problem. Values
come from the specification (Release 2 lists), statuses from the specification's status rules, NHS numbers
from
the test range (999...), and postcodes in valid formats. Nothing here resembles a real person.

Examples:
    >>> rows = sample_rows(5, seed=1)
    >>> len(rows), rows[0]["LA_Code"]
    (5, '901')
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ascld.identity.nhs_number import make_nhs_number
from ascld.quality.checks import national_age
from ascld.quality.sqlgen import evaluate_status, python_lookup_value
from ascld.spec import load_spec
from ascld.spec.conditions import literals
from ascld.spec.model import Spec

DEFAULT_PERIOD_END = date(2025, 9, 30)
_FIRST = ("Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Zoë", "Siân", "Renée", "Kim", "Lee", "Ash")
_LAST = ("Smith", "Jones", "Brontë", "Taylor", "Brown", "O'Neil", "Williams", "Davies", "Evans", "Núñez")
_DESCRIPTIONS = (
    "Home care package",
    "Care Act assessment",
    "Annual review",
    "Contact via front door",
    "Residential placement",
    "Equipment and adaptations",
    "Carer support conversation",
)
_AREAS = ("LS", "M", "B", "SW", "N", "BS", "YO", "NE", "L", "S")
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_PREFERRED = {
    # Values a clean row uses where a list has no confirmed Release 2 values (they are reported as
    # unverified).
    "request_route_of_access": "Community / Other route",
    "method_of_assessment": "Service user only",
    "method_of_review": "Service user only",
}
_KEEP = frozenset(
    {
        "Date_of_Death",
        "Adult_1_Linked_Person_ID",
        "Adult_2_Linked_Person_ID",
        "No_of_adults_being_cared_for",
        "Event_Reference",
    }
)
_FIELDS_THAT_DRIVE_STATUS = frozenset(
    {
        "Client_Type",
        "Event_Type",
        "Assessment_Type",
        "Date_of_Death",
        "Review_Reason",
        "Delivery_Mechanism",
        "Service_Type",
        "Service_Component",
        "Primary_Support_Reason",
        "Date_of_Birth",
        "Reporting_Period_End_Date",
    }
)


def fmt(d: date) -> str:
    """A date as the return writes it (dd/mm/yyyy)."""
    return d.strftime("%d/%m/%Y")


def period_start_for(period_end: date) -> date:
    """The first day of the rolling 12 months that end on `period_end`."""
    try:
        return period_end.replace(year=period_end.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        return period_end.replace(year=period_end.year - 1, day=28) + timedelta(days=1)


@dataclass
class _Person:
    pid: str
    nhs: str
    dob: date
    gender: str
    ethnicity: str
    postcode: str
    first: str
    last: str
    gp: str
    accommodation: str
    dod: date | None
    psr: str


def _postcode(rng: random.Random) -> str:
    if rng.random() < 0.02:
        return "ZZ99 3VZ"
    return (
        f"{rng.choice(_AREAS)}{rng.randint(1, 9)} {rng.randint(0, 9)}"
        f"{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
    )


def _age_on(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


class SampleGenerator:
    """Makes clean rows for one council and one rolling 12-month period."""

    def __init__(
        self,
        spec: Spec | None = None,
        *,
        seed: int = 0,
        la_code: str = "901",
        period_end: date = DEFAULT_PERIOD_END,
        people: int | None = None,
    ):
        self.spec = spec or load_spec()
        self.rng = random.Random(seed)
        self.la_code = la_code
        self.period_end = period_end
        self.period_start = period_start_for(period_end)
        self._people_hint = people
        self._stem = seed * 1_000_003 % 900_000
        self._people: list[_Person] = []
        self._service_user_ids: list[str] = []
        self._ref = seed * 10_000_000
        self._drivers = sorted(
            {c for rules in self.spec.status_rules.values() for r in rules for c in r.condition.columns()}
        )
        self._status_memo: dict[tuple[object, ...], list[int]] = {}
        self._thresholds = sorted(
            {
                float(v)
                for rules in self.spec.status_rules.values()
                for r in rules
                for c, v in literals(r.condition)
                if isinstance(v, float)
            }
        )

    def _key_part(self, column: str, value: object) -> object:
        """What a driver value contributes to the status memo key (numbers only by threshold)."""
        if isinstance(value, float):
            return tuple(value >= t for t in self._thresholds) + tuple(value <= t for t in self._thresholds)
        return value if value is None or isinstance(value, str) else "<invalid>"

    def _next_ref(self) -> int:
        self._ref += 1
        return self._ref

    def _value(self, list_name: str) -> str:
        lst = self.spec.lists[list_name]
        if list_name in _PREFERRED:
            return _PREFERRED[list_name]
        if lst.r2_values:
            return self.rng.choice(lst.r2_values)
        if lst.r1_values:
            return self.rng.choice(lst.r1_values)
        return ""

    def _new_person(self) -> _Person:
        rng = self.rng
        while True:
            self._stem = (self._stem + 1) % 1_000_000
            nhs = make_nhs_number(self._stem)
            if nhs is not None:
                break
        age = rng.randint(22, 95)  # 22+: services may start up to three years before the period
        dob = self.period_end - timedelta(days=age * 365 + rng.randint(0, 360))
        dod = None
        if rng.random() < 0.02:
            dod = self.period_end - timedelta(days=rng.randint(0, 90))
        return _Person(
            pid=f"P{len(self._people) + 1:07d}",
            nhs=nhs,
            dob=dob,
            gender=rng.choice(("Male", "Female")),
            ethnicity=self._value("ethnicity"),
            postcode=_postcode(rng),
            first=rng.choice(_FIRST),
            last=rng.choice(_LAST),
            gp=f"{rng.choice('ABCDEFGHJKLMNPY')}{rng.randint(0, 99999):05d}",
            accommodation=rng.choice(
                [v for v in self.spec.lists["accommodation_status"].r2_values if "Prison" not in v]
            ),
            dod=dod,
            psr=rng.choice(
                [v for v in self.spec.lists["primary_support_reason"].r2_values if v != "Unknown"]
            ),
        )

    def _new_person_added(self) -> _Person:
        person = self._new_person()
        person.dod = None
        self._people.append(person)
        return person

    def _person(self) -> _Person:
        # About three rows per person: reuse someone already made two times in three.
        if self._people and self.rng.random() < 0.66:
            return self.rng.choice(self._people)
        person = self._new_person()
        self._people.append(person)
        return person

    def _event_dates(
        self, event_type: str, person: _Person, open_service: bool | None = None
    ) -> tuple[date, date | None]:
        rng, rs, re_ = self.rng, self.period_start, self.period_end
        last_day = min(re_, person.dod) if person.dod else re_
        span = (last_day - rs).days
        if event_type == "Service":
            start = rs - timedelta(days=rng.randint(-span, 900))
            is_open = rng.random() < 0.45 if open_service is None else open_service
            if person.dod is None and is_open:
                return start, None
            low = max(start, rs)
            end = low + timedelta(days=rng.randint(0, max(0, (last_day - low).days)))
            return start, end
        end = rs + timedelta(days=rng.randint(0, span))
        return end - timedelta(days=rng.randint(0, 60)), end

    def row(
        self,
        *,
        client_type: str | None = None,
        event_type: str | None = None,
        new_person: bool = False,
        open_service: bool | None = None,
    ) -> dict[str, str]:
        """One clean row, keyed by national column name.

        Args:
            client_type, event_type: force these (Release 2 values) instead of drawing them.
            new_person: use a person who has no other row yet.
            open_service: for a service, force it open (True) or ended (False).
        """
        rng, spec = self.rng, self.spec
        drawn = rng.choices(spec.lists["client_type"].r2_values, weights=(85, 10, 5))[0]
        person = self._new_person_added() if new_person else self._person()
        others = [p for p in self._service_user_ids[-50:] if p != person.pid]
        if client_type is None:
            client_type = drawn if others else "Service user"
        elif client_type != "Service user" and not others:
            raise ValueError("make a service-user row first: carers link to service users")
        row = {f.column: "" for f in spec.fields}
        row.update(
            {
                "LA_Code": self.la_code,
                "Reporting_Period_Start_Date": fmt(self.period_start),
                "Reporting_Period_End_Date": fmt(self.period_end),
                "NHS_Number": person.nhs,
                "LA_Person_Unique_Identifier": person.pid,
                "First_Name": person.first,
                "Last_Name": person.last,
                "GP_Practice_Code": person.gp,
                "Gender": person.gender,
                "Ethnicity": person.ethnicity,
                "Date_of_Birth": fmt(person.dob),
                "Date_of_Death": fmt(person.dod) if person.dod else "",
                "Client_Type": client_type,
                "Primary_Support_Reason": person.psr,
                "Postcode": person.postcode,
                "Accommodation_Status": person.accommodation,
                "Employment_Status": self._value("employment_status"),
                "Has_Unpaid_Carer": self._value("has_unpaid_carer"),
                "Autism_Spectrum_Disorder_ASD": self._value("autism_spectrum_disorder_asd"),
                "Visual_Impairment": self._value("visual_impairment"),
                "Hearing_Impairment": self._value("hearing_impairment"),
                "Dementia": self._value("dementia"),
                "Client_Funding_Status": self._value("client_funding_status"),
            }
        )
        if client_type == "Service user":
            self._service_user_ids.append(person.pid)
        if client_type != "Unpaid carer known by association":
            if event_type is None:
                event_type = rng.choices(spec.lists["event_type"].r2_values, weights=(30, 25, 30, 15))[0]
            start, end = self._event_dates(event_type, person, open_service)
            row.update(
                {
                    "Event_Type": event_type,
                    "Event_Reference": f"E{self._next_ref():09d}",
                    "Event_Start_Date": fmt(start),
                    "Event_End_Date": fmt(end) if end else "",
                    "Event_Description": rng.choice(_DESCRIPTIONS),
                    "Event_Outcome": (
                        "Continuation of support or services" if end is None else self._value("event_outcome")
                    ),
                }
            )
            if event_type == "Request":
                row["Request_Route_of_Access"] = self._value("request_route_of_access")
            elif event_type == "Assessment":
                row.update(
                    {
                        "Assessment_Type": self._value("assessment_type"),
                        "Eligible_Needs_Identified": self._value("eligible_needs_identified"),
                        "Method_of_Assessment": self._value("method_of_assessment"),
                    }
                )
            elif event_type == "Review":
                row.update(
                    {
                        "Review_Reason": self._value("review_reason"),
                        "Review_Outcomes_Achieved": self._value("review_outcomes_achieved"),
                        "Method_of_Review": self._value("method_of_review"),
                    }
                )
            else:
                row.update(
                    {
                        "Service_Type": rng.choice(
                            [v for v in spec.lists["service_type"].r2_values if "Prison" not in v]
                        ),
                        "Service_Component": self._value("service_component"),
                        "Delivery_Mechanism": self._value("delivery_mechanism"),
                        "Provider_CQC_Location_ID": f"1-{rng.randint(10**8, 10**9 - 1)}",
                        "Provider_CQC_Location_Name": "Sunrise Care Ltd",
                        "Unit_Cost": f"{rng.randint(500, 150000) / 100:.2f}",
                        "Cost_Frequency_Unit_Type": self._value("cost_frequency_unit_type"),
                        "Planned_units_per_week": f"{rng.randint(1, 4000) / 100:.2f}",
                    }
                )
        if client_type != "Service user":
            linked = rng.sample(others, k=min(len(others), rng.randint(1, 2)))
            row.update(
                {
                    "Total_Hrs_Caring_per_week": self._value("total_hrs_caring_per_week"),
                    "No_of_adults_being_cared_for": str(len(linked) + rng.randint(0, 1)),
                    "Adult_1_Linked_Person_ID": linked[0] if linked else "",
                    "Adult_2_Linked_Person_ID": linked[1] if len(linked) > 1 else "",
                }
            )
        return self._apply_status(row)

    def _apply_status(self, row: dict[str, str]) -> dict[str, str]:
        """Blank every field the status rules make not applicable (and a few optional ones)."""
        lookup = row_lookup(self.spec, row)
        key = tuple(self._key_part(c, lookup(c)) for c in self._drivers)
        statuses = self._status_memo.get(key)
        if statuses is None:
            statuses = [evaluate_status(self.spec.status_rules[f.column], lookup) for f in self.spec.fields]
            self._status_memo[key] = statuses
        for f, status in zip(self.spec.fields, statuses, strict=True):
            if status == 0 or (
                status == 1
                and f.column not in _FIELDS_THAT_DRIVE_STATUS
                and f.column not in _KEEP
                and self.rng.random() < 0.1
            ):
                row[f.column] = ""
        return row

    def rows(self, n: int) -> list[dict[str, str]]:
        return [self.row() for _ in range(n)]


_LOOKUP_CACHE: dict[tuple[int, str, str | None], object] = {}


def row_lookup(spec: Spec, row: Mapping[str, str]):  # noqa: ANN201 - a lookup callable for Condition.evaluate
    """The Condition lookup for one row.

    Release 2 values folded, None for blank, INVALID when unrecognised (as the scan's SQL computes them).
    """
    from ascld.quality.dates import parse_date

    def lookup(column: str) -> object:
        if column == "age_at_period_end":
            dob = parse_date(row.get("Date_of_Birth"))
            end = parse_date(row.get("Reporting_Period_End_Date"))
            if dob is None or end is None:
                return None
            return float(national_age(dob, end))
        raw = row.get(column)
        key = (id(spec), column, raw)
        if key not in _LOOKUP_CACHE:
            if len(_LOOKUP_CACHE) > 100_000:
                _LOOKUP_CACHE.clear()
            _LOOKUP_CACHE[key] = python_lookup_value(raw, spec.list_for(column))
        return _LOOKUP_CACHE[key]

    return lookup


def sample_rows(
    n: int, *, seed: int = 0, spec: Spec | None = None, **options: object
) -> list[dict[str, str]]:
    """`n` clean rows keyed by national column name (see `SampleGenerator`)."""
    return SampleGenerator(spec, seed=seed, **options).rows(n)  # type: ignore[arg-type]


def write_rows(
    path: str | Path,
    rows: Iterable[Mapping[str, str]],
    *,
    spec: Spec | None = None,
    compress: bool | None = None,
    encoding: str = "cp1252",
    header: Sequence[str] | None = None,
) -> Path:
    """Write rows as a return file: spec headers, CRLF line ends, Windows-1252, gzip if the name ends .gz."""
    spec = spec or load_spec()
    path = Path(path)
    compress = path.suffix == ".gz" if compress is None else compress
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header or spec.headers)
    for r in rows:
        writer.writerow([r.get(c, "") for c in spec.columns])
    data = buffer.getvalue().encode(encoding)
    if compress:
        data = gzip.compress(data, compresslevel=1, mtime=0)
    path.write_bytes(data)
    return path


def write_sample_return(
    path: str | Path,
    n: int,
    *,
    seed: int = 0,
    spec: Spec | None = None,
    chunk_rows: int = 50_000,
    **options: object,
) -> Path:
    """Write an `n`-row clean return in chunks, so large benchmark files need little memory."""
    spec = spec or load_spec()
    gen = SampleGenerator(spec, seed=seed, **options)  # type: ignore[arg-type]
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as raw:  # type: ignore[operator]
        out = io.TextIOWrapper(raw, encoding="cp1252", newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(spec.headers)
        done = 0
        while done < n:
            take = min(chunk_rows, n - done)
            writer.writerows([r[c] for c in spec.columns] for r in gen.rows(take))
            done += take
        out.flush()
        out.detach()
    return path
