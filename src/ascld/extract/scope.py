"""The national scope rules the extractor applies itself, whatever the council's system (spec README §4).

The rules are rows of `ascld/extract/data/scope_rules.csv` (id, rule type, what it applies to, parameters, a
plain-English description and its source), so a reviewer reads and changes them as data. This module holds the
rule *types*: small functions, each tested once.

* `completed_in_period` (requests, assessments, reviews): status completed and end date inside the period.
* `active_in_period` (services): not cancelled, started by the period end, not ended before its start.
* `open_at_period_end`, `cost_as_at`, `death_as_at_period_end`, `address_as_at_period_end`: the return
  describes each person and service as at the period end.
* `not_applicable_person_fields`: blanks person fields the spec's status rules make Not applicable for a row's
  client type (read from the spec, never restated).
* `carers_linked`, `known_by_association`: the carer block and the carers known by association.

Scope filters become SQL (SQLAlchemy Core) so the source database does the filtering and the extractor never
holds more than one person's records; the as-at rules are plain Python on one person's records.

Examples:
    >>> rules = load_scope_rules()
    >>> event_scope("Request").include, event_scope("Service").exclude
    (frozenset({'completed'}), frozenset({'cancelled'}))
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, or_

from ascld.errors import SpecError
from ascld.spec import Spec

RULE_TYPES = (
    "completed_in_period",
    "active_in_period",
    "open_at_period_end",
    "cost_as_at",
    "death_as_at_period_end",
    "address_as_at_period_end",
    "not_applicable_person_fields",
    "carers_linked",
    "known_by_association",
)


@dataclass(frozen=True)
class ScopeRule:
    """One row of scope_rules.csv."""

    id: str
    rule: str
    applies_to: str
    params: dict[str, str]
    description: str
    source: str

    def values(self, key: str) -> frozenset[str]:
        """A `|`-separated parameter as a set ('' gives the empty set)."""
        text = self.params.get(key, "")
        return frozenset(v for v in text.split("|") if v)


@dataclass(frozen=True)
class EventScope:
    """Which records of one event type are in the return.

    Attributes:
        event_type: the Release 2 Event Type value.
        rule: `completed_in_period` or `active_in_period`.
        statuses: the status vocabulary a mapping may map local status codes to for this event type.
        include: statuses that are in (completed_in_period); empty means "all but `exclude`".
        exclude: statuses that are out.
        rule_id: the rule's id, for messages.
    """

    event_type: str
    rule: str
    statuses: frozenset[str]
    include: frozenset[str]
    exclude: frozenset[str]
    rule_id: str

    @property
    def open_end_allowed(self) -> bool:
        """Only services may be written with no end date (spec README §6.3)."""
        return self.rule == "active_in_period"

    def excluded_statuses(self) -> frozenset[str]:
        """The statuses whose records are left out."""
        if self.include:
            return self.statuses - self.include
        return self.exclude


def _parse_params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(";"):
        if part.strip():
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


@functools.cache
def load_scope_rules() -> tuple[ScopeRule, ...]:
    """The scope rules shipped with ascld, in file order.

    Raises:
        SpecError: a rule names an unknown rule type, or ids repeat.
    """
    text = (resources.files("ascld.extract") / "data" / "scope_rules.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    rules = []
    seen: set[str] = set()
    for r in rows:
        if r["rule"] not in RULE_TYPES:
            raise SpecError(f"scope_rules.csv {r['id']}: unknown rule type {r['rule']!r}")
        if r["id"] in seen:
            raise SpecError(f"scope_rules.csv: rule id {r['id']} is used twice")
        seen.add(r["id"])
        rules.append(
            ScopeRule(
                r["id"], r["rule"], r["applies_to"], _parse_params(r["params"]), r["description"], r["source"]
            )
        )
    return tuple(rules)


def event_client_types() -> tuple[str, str]:
    """The Client Type values of event rows: (service user, unpaid carer), from rule X10.

    Examples:
        >>> event_client_types()
        ('Service user', 'Unpaid carer')
    """
    r = rule("carers_linked")
    return r.params["cared_for"], r.params["carer"]


def rule(rule_type: str, applies_to: str | None = None) -> ScopeRule:
    """The rule of a type (and, for event rules, an event type)."""
    for r in load_scope_rules():
        if r.rule == rule_type and (applies_to is None or r.applies_to == applies_to):
            return r
    raise SpecError(f"scope_rules.csv has no {rule_type} rule" + (f" for {applies_to}" if applies_to else ""))


@functools.cache
def event_scope(event_type: str) -> EventScope:
    """The scope rule of an event type (`Request`, `Assessment`, `Service`, `Review`)."""
    for r in load_scope_rules():
        if r.applies_to == event_type and r.rule in ("completed_in_period", "active_in_period"):
            return EventScope(
                event_type, r.rule, r.values("statuses"), r.values("include"), r.values("exclude"), r.id
            )
    raise SpecError(f"scope_rules.csv has no scope rule for event type {event_type!r}")


def check_rules_against_spec(spec: Spec) -> None:
    """Every list value a rule writes is a Release 2 value of its list.

    Raises:
        SpecError: naming the rule and the value.
    """
    checks = (
        ("open_at_period_end", "outcome", "Event_Outcome"),
        ("known_by_association", "client_type", "Client_Type"),
        ("carers_linked", "carer", "Client_Type"),
        ("carers_linked", "cared_for", "Client_Type"),
    )
    for rule_type, key, column in checks:
        r = rule(rule_type)
        lst = spec.list_for(column)
        if lst is None or r.params.get(key) not in lst.r2_values:
            raise SpecError(
                f"scope_rules.csv {r.id}: {r.params.get(key)!r} is not a Release 2 {column} value"
            )
    event_types = spec.list_for("Event_Type")
    assert event_types is not None
    for value in event_types.r2_values:
        event_scope(value)


# ---------------------------------------------------------------------- SQL: which records are in scope
def scope_filter(
    scope: EventScope,
    start: ColumnElement[Any],
    end: ColumnElement[Any],
    period_start: ColumnElement[Any],
    after_end: ColumnElement[Any],
    not_a_date: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None = None,
) -> ColumnElement[bool]:
    """The date part of an event type's scope rule as a SQL condition.

    Args:
        scope: the event type's rule.
        start, end: the event's start and end date columns.
        period_start: the period start's bound parameter.
        after_end: the bound parameter of the day after the period end. "On or before the period end" is
            written "before the day after it", so that a date column holding a time of day (a datetime, or
            ISO text with a time on SQLite) still counts on the period's last day: `2026-03-31 14:00` is not
            `<= 2026-03-31`, in SQL as in text, but is inside a period ending that day.
        not_a_date: where the source compares values that are not dates without complaint (SQLite, whose
            columns hold any type), the condition for a value the comparisons cannot place: such records
            are let through, so that the extractor stops on them instead of the filter leaving them out
            unseen (`15/06/2025` sorts before `2025-04-01` as text).

    Returns:
        `completed_in_period`: end date present and inside the period, start on or before the period end
            or not recorded (the record is written with a blank start, for the validator to report).
        `active_in_period`: start on or before the period end and no end date or an end on or after its start.
    """
    if scope.rule == "completed_in_period":
        started = or_(start.is_(None), start < after_end)
        found = and_(end.is_not(None), end >= period_start, end < after_end, started)
    elif scope.rule == "active_in_period":
        found = and_(start < after_end, or_(end.is_(None), end >= period_start))
    else:
        raise SpecError(f"{scope.rule_id}: {scope.rule} is not an event scope rule")
    return found if not_a_date is None else or_(found, not_a_date(start), not_a_date(end))


def link_active_filter(
    start: ColumnElement[Any],
    end: ColumnElement[Any],
    period_start: ColumnElement[Any],
    after_end: ColumnElement[Any],
    not_a_date: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None = None,
) -> ColumnElement[bool]:
    """A carer link counts when it is active at any time in the period (rule carers_linked); `after_end` and
    `not_a_date` are as in `scope_filter`."""
    found = and_(start < after_end, or_(end.is_(None), end >= period_start))
    return found if not_a_date is None else or_(found, not_a_date(start), not_a_date(end))


# ---------------------------------------------------------------------- Python: as at the period end
class NotADate(ValueError):
    """A date column held something that is not a date (the value itself is never shown)."""


# Source value -> date, for the values `as_date` has read (hot paths look values up here first).
DATE_OF: dict[Any, dt.date | None] = {None: None}


def as_date(value: Any) -> dt.date | None:
    """A date from a database value: a date, a datetime (the time is dropped), or ISO text as SQLite holds
    dates (`2025-04-01`, optionally with a time). None stays None.

    Raises:
        NotADate: for anything else (the message never repeats the value: dates of birth are identifying).

    Examples:
        >>> as_date("2025-04-01"), as_date(dt.datetime(2025, 4, 1, 9, 30))
        (datetime.date(2025, 4, 1), datetime.date(2025, 4, 1))
    """
    found = DATE_OF.get(value) if type(value) in _CACHED else None
    if found is not None or value is None:
        return found
    if type(value) is dt.date:
        found = value
    elif isinstance(value, str):
        try:
            found = dt.date.fromisoformat(value[:10])
        except ValueError:
            if not value.strip():
                raise NotADate("empty text, which is not a date (return NULL where there is none)") from None
            raise NotADate("text that is not an ISO date (yyyy-mm-dd)") from None
    elif isinstance(value, dt.datetime):
        found = value.date()
    elif isinstance(value, dt.date):
        found = value
    else:
        raise NotADate(f"a value of type {type(value).__name__}")
    if type(value) in _CACHED and len(DATE_OF) < 200_000:
        DATE_OF[value] = found
    return found


_CACHED = (str, dt.date, dt.datetime)


def service_as_at(end: dt.date | None, period_end: dt.date) -> tuple[dt.date | None, bool]:
    """Rule open_at_period_end: the end date written and whether the service is open at the period end.

    Examples:
        >>> service_as_at(dt.date(2026, 5, 1), dt.date(2026, 3, 31))
        (None, True)
        >>> service_as_at(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
        (datetime.date(2026, 1, 1), False)
    """
    if end is None or end > period_end:
        return None, True
    return end, False


def cost_as_at(costs: Sequence[tuple[dt.date, Any]], end: dt.date | None, period_end: dt.date) -> Any:
    """Rule cost_as_at: the unit cost in force on the service's end date (or the period end).

    Args:
        costs: (effective from, unit cost) in ascending date order.
        end: the service's end date as written (None: open at the period end).
        period_end: the period end.

    Returns:
        The latest cost effective on or before the as-at day, the earliest cost if none was, None if no costs.

    Examples:
        >>> c = [(dt.date(2024, 1, 1), 10), (dt.date(2025, 4, 1), 11)]
        >>> cost_as_at(c, None, dt.date(2025, 3, 31)), cost_as_at(c, None, dt.date(2025, 6, 30))
        (10, 11)
    """
    if not costs:
        return None
    as_at = end if end is not None and end <= period_end else period_end
    chosen = costs[0][1]
    for effective, amount in costs:
        if effective is not None and effective <= as_at:
            chosen = amount
        else:
            break
    return chosen


def pick_as_at(
    rows: Sequence[Sequence[Any]], start_index: int, day: dt.date, end_index: int | None = None
) -> Sequence[Any] | None:
    """Rule address_as_at_period_end: the row current on `day`.

    Current means started on or before `day` and not ended before it (no end, or an end on or after it);
    among several, the latest start (the last of equal starts, rows being in start order). When no row is
    current: the latest row started by `day`; when none had started: the first row. None for no rows.

    Examples:
        >>> rows = [(1, dt.date(2020, 1, 1), None, "A"), (1, dt.date(2025, 1, 1), None, "B")]
        >>> pick_as_at(rows, 1, dt.date(2024, 12, 31), 2)[3], pick_as_at(rows, 1, dt.date(2019, 1, 1), 2)[3]
        ('A', 'A')
        >>> day = dt.date(2022, 2, 28)
        >>> overlapping = [(1, dt.date(2021, 1, 1), None, "A"), (1, day, day, "B")]
        >>> pick_as_at(overlapping, 1, dt.date(2026, 3, 31), 2)[3]
        'A'
    """
    if not rows:
        return None
    current = started = None
    for row in rows:
        v = row[start_index]
        start = DATE_OF[v] if v in DATE_OF else as_date(v)
        if start is None or start > day:
            continue
        started = row
        v = row[end_index] if end_index is not None else None
        end = DATE_OF[v] if v in DATE_OF else as_date(v)
        if end is None or end >= day:
            current = row
    return current or started or rows[0]


def death_as_at(death: dt.date | None, period_end: dt.date) -> dt.date | None:
    """Rule death_as_at_period_end: a date of death after the period end is not written."""
    return death if death is not None and death <= period_end else None


def not_applicable_person_fields(spec: Spec, client_type: str) -> frozenset[str]:
    """Rule not_applicable_person_fields: person fields Not applicable for every row of a client type.

    A field's rules are tried in order with only the Client Type known; a rule that cannot be decided without
    the row's other fields stops the search (the field is kept), so only fields that are Not applicable for
    every row of that client type are blanked.

    Examples:
        >>> from ascld.spec import load_spec
        >>> sorted(not_applicable_person_fields(load_spec(), "Unpaid carer"))[:2]
        ['Autism_Spectrum_Disorder_ASD', 'Client_Funding_Status']
    """
    key = (id(spec), client_type)
    found = _NOT_APPLICABLE.get(key)
    if found is None or found[0] is not spec:
        found = _NOT_APPLICABLE[key] = (spec, _not_applicable(spec, client_type))
    return found[1]


# The modules of the fields a row takes from its person rather than its record: the person details, and the
# carer block (Total Hrs Caring per week from the people query; the count and linked IDs from rule X10), which
# the status rules make Not applicable on Service user rows (spec README §6.1).
PERSON_MODULES = ("Person details", "Carers and linked service users")

# Spec objects hold mapping proxies (not hashable): the cache is keyed by identity and keeps the spec alive.
_NOT_APPLICABLE: dict[tuple[int, str], tuple[Spec, frozenset[str]]] = {}


def _not_applicable(spec: Spec, client_type: str) -> frozenset[str]:
    out = set()

    def lookup(column: str) -> object:
        return client_type if column == "Client_Type" else None

    person = [f.column for f in spec.fields if f.module in PERSON_MODULES and f.column != "Client_Type"]
    for column in person:
        for status_rule in spec.status_rules.get(column, ()):
            decided = status_rule.condition.evaluate(lookup)
            if decided is None:
                break
            if decided:
                if status_rule.status == "not_applicable":
                    out.add(column)
                break
    return frozenset(out)


class CarerBlock(NamedTuple):
    """What rule carers_linked gives one carer: the count of adults cared for and the linked person IDs (a
    named tuple: an extract makes one for every carer, and tuples are made faster than dataclasses)."""

    adults: int
    linked: tuple[str, ...]


def carer_block(links: Sequence[Sequence[Any]], max_linked: int) -> CarerBlock:
    """Rule carers_linked for one carer's active links.

    Args:
        links: rows (carer key, link start, cared-for key, cared-for has a Service user row in the file,
            cared-for LA person ID), oldest link first.
        max_linked: how many linked IDs a row holds (3).

    Examples:
        >>> rows = [(7, dt.date(2024, 1, 1), 1, True, "P1"), (7, dt.date(2024, 2, 1), 2, False, "P2")]
        >>> carer_block(rows, 3)
        CarerBlock(adults=2, linked=('P1',))
    """
    cared: set[Any] = set()
    linked: list[str] = []
    for row in links:
        key = row[2]
        if key in cared:
            continue
        cared.add(key)
        if row[3] and row[4] is not None and len(linked) < max_linked:
            linked.append(str(row[4]).strip())
    return CarerBlock(len(cared), tuple(linked))
