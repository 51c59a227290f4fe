"""The scope rules: the data file is well formed and each rule type does what its row says."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
)

from ascld.extract import scope as sc
from ascld.spec import load_spec

D = dt.date


def test_rules_are_well_formed_and_agree_with_the_spec() -> None:
    rules = sc.load_scope_rules()
    assert len({r.id for r in rules}) == len(rules)
    assert {r.rule for r in rules} == set(sc.RULE_TYPES)
    assert all(r.description and r.source for r in rules)
    sc.check_rules_against_spec(load_spec())
    for event_type in load_spec().list_for("Event_Type").r2_values:
        scope = sc.event_scope(event_type)
        assert scope.excluded_statuses() <= scope.statuses
        assert "cancelled" in scope.excluded_statuses()


def test_only_services_may_stay_open() -> None:
    assert [
        t for t in ("Request", "Assessment", "Service", "Review") if sc.event_scope(t).open_end_allowed
    ] == ["Service"]


PERIOD = (D(2025, 4, 1), D(2026, 3, 31))


@pytest.mark.parametrize(
    ("event_type", "start", "end", "included"),
    [
        ("Request", D(2025, 1, 1), D(2025, 4, 1), True),  # started before, completed on the first day
        ("Request", D(2026, 3, 31), D(2026, 3, 31), True),
        ("Request", D(2025, 1, 1), D(2025, 3, 31), False),  # completed the day before
        ("Request", D(2026, 3, 1), D(2026, 4, 1), False),  # completed after the period
        ("Request", D(2026, 3, 1), None, False),  # open
        ("Request", None, D(2025, 6, 1), True),  # completed in the period, no start: written (blank) for the
        ("Assessment", None, D(2025, 3, 31), False),  # validator to report; completed before: out
        ("Review", D(2025, 6, 1), D(2025, 6, 2), True),
        ("Service", D(2020, 1, 1), None, True),  # open, started long before
        ("Service", D(2020, 1, 1), D(2025, 4, 1), True),  # ended on the first day
        ("Service", D(2020, 1, 1), D(2025, 3, 31), False),  # ended the day before
        ("Service", D(2026, 3, 31), None, True),  # started on the last day
        ("Service", D(2026, 4, 1), None, False),  # starts after
        ("Service", D(2026, 1, 1), D(2026, 12, 1), True),  # ends after: written open
    ],
)
def test_scope_filter_on_a_database(event_type, start, end, included) -> None:
    meta = MetaData()
    events = Table(
        "events",
        meta,
        Column("id", Integer, primary_key=True),
        Column("start_date", Date),
        Column("end_date", Date),
    )
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(events), [{"id": 1, "start_date": start, "end_date": end}])
        where = sc.scope_filter(
            sc.event_scope(event_type),
            events.c.start_date,
            events.c.end_date,
            bindparam("ps", PERIOD[0], type_=Date),
            bindparam("after_end", PERIOD[1] + dt.timedelta(days=1), type_=Date),
        )
        found = conn.execute(select(events.c.id).where(where)).scalars().all()
    assert (found == [1]) is included


@pytest.mark.parametrize("column_type", [DateTime, String])
@pytest.mark.parametrize(
    ("event_type", "start", "end", "included"),
    [
        ("Request", "2026-03-31 09:00:00", "2026-03-31 14:30:00", True),  # completed on the last day
        ("Request", "2025-01-01 09:00:00", "2025-04-01 00:00:00", True),  # completed on the first day
        ("Request", "2025-01-01 09:00:00", "2025-03-31 23:59:59", False),
        ("Request", "2026-03-01 09:00:00", "2026-04-01 00:00:00", False),
        ("Service", "2026-03-31 09:00:00", None, True),  # started on the last day
        ("Service", "2026-04-01 00:00:00", None, False),
        ("Service", "2020-01-01 00:00:00", "2025-04-01 08:00:00", True),  # ended on the first day
        ("Service", "2020-01-01 00:00:00", "2025-03-31 23:59:59", False),
    ],
)
def test_scope_filter_counts_dates_with_a_time_by_their_day(event_type, start, end, included, column_type) -> None:
    """Case-management systems often hold datetimes (and SQLite holds them as ISO text with a time): an event
    completed at 14:30 on the period's last day is completed in the period (spec README §4; main-tables.md
    §4: `RS <= end <= RE`, inclusive)."""
    meta = MetaData()
    events = Table(
        "events",
        meta,
        Column("id", Integer, primary_key=True),
        Column("start_date", column_type),
        Column("end_date", column_type),
    )
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    if column_type is DateTime:
        start = dt.datetime.fromisoformat(start)
        end = dt.datetime.fromisoformat(end) if end else None
    with engine.begin() as conn:
        conn.execute(insert(events), [{"id": 1, "start_date": start, "end_date": end}])
        ps = bindparam("ps", PERIOD[0], type_=Date)
        after_end = bindparam("after_end", PERIOD[1] + dt.timedelta(days=1), type_=Date)
        where = sc.scope_filter(sc.event_scope(event_type), events.c.start_date, events.c.end_date, ps, after_end)
        found = conn.execute(select(events.c.id).where(where)).scalars().all()
        if event_type == "Service":  # a carer link's dates are read the same way
            link = sc.link_active_filter(events.c.start_date, events.c.end_date, ps, after_end)
            assert conn.execute(select(events.c.id).where(link)).scalars().all() == found
    assert (found == [1]) is included


def test_service_as_at_period_end() -> None:
    assert sc.service_as_at(None, PERIOD[1]) == (None, True)
    assert sc.service_as_at(D(2026, 4, 1), PERIOD[1]) == (None, True)
    assert sc.service_as_at(D(2026, 3, 31), PERIOD[1]) == (D(2026, 3, 31), False)


def test_cost_as_at() -> None:
    costs = [(D(2024, 1, 10), "10.00"), (D(2025, 4, 1), "10.40"), (D(2026, 4, 1), "10.80")]
    pe = PERIOD[1]
    assert sc.cost_as_at(costs, None, pe) == "10.40"  # open: in force at the period end
    assert sc.cost_as_at(costs, D(2025, 3, 31), pe) == "10.00"  # ended: in force on the end date
    assert sc.cost_as_at(costs, D(2025, 4, 1), pe) == "10.40"
    assert sc.cost_as_at(costs[2:], None, pe) == "10.80"  # none in force yet: the earliest
    assert sc.cost_as_at([], None, pe) is None


def test_address_as_at() -> None:
    rows = [
        (1, D(2010, 1, 1), D(2024, 5, 1), "A"),
        (1, D(2024, 5, 2), None, "B"),
        (1, D(2026, 5, 1), None, "C"),
    ]
    assert sc.pick_as_at(rows, 1, D(2026, 3, 31), 2)[3] == "B"
    assert sc.pick_as_at(rows, 1, D(2020, 3, 31), 2)[3] == "A"
    assert sc.pick_as_at(rows, 1, D(2000, 1, 1), 2)[3] == "A"  # none started: the earliest
    # A history whose later-recorded address starts earlier and is the one still current.
    odd = [(1, D(2021, 1, 11), None, "current"), (1, D(2022, 2, 28), D(2022, 2, 28), "one day")]
    assert sc.pick_as_at(odd, 1, D(2026, 3, 31), 2)[3] == "current"
    # Ended with nothing after it: still the last address known.
    assert sc.pick_as_at([(1, D(2020, 1, 1), D(2021, 1, 1), "X")], 1, D(2026, 3, 31), 2)[3] == "X"
    assert sc.pick_as_at([], 1, D(2026, 3, 31), 2) is None


@pytest.mark.parametrize("dates_known", [False, True])
def test_addresses_of_a_batch_are_picked_as_pick_as_at_picks(dates_known: bool) -> None:
    """A batch's addresses (text dates as SQLite gives them, in person and start order): each person's is the
    one `pick_as_at` picks, whether found from their last address (every date already read as a date) or
    from all of them (a date not read before)."""
    import itertools

    from ascld.extract.run import _addresses_as_at

    rows = [
        (1, "2019-01-01", None, "only"),
        (2, "2010-01-01", "2024-05-01", "moved"),
        (2, "2024-05-02", None, "current, last"),
        (3, "2010-01-01", None, "current, first"),
        (3, "2026-05-01", None, "starts later"),
        (4, "2021-01-11", None, "current"),
        (4, "2022-02-28", "2022-02-28", "one day"),
        (5, "2020-01-01", "2021-01-01", "ended"),
        (5, "2021-01-01", "2026-03-30", "ended the day before"),
        (6, "2026-04-01", None, "not started"),
        (6, "2026-05-01", None, "not started either"),
        (7, "2020-01-01", "2026-03-31", "ends on the day"),
        (8, "2020-01-01", None, "not in the batch"),
        (8, "2021-01-01", "2021-02-01", "not in the batch either"),
    ]
    pe = PERIOD[1]
    if dates_known:
        for row in rows:
            sc.as_date(row[1]), sc.as_date(row[2])
    else:
        rows = [(k, f"{s} 00:00:0{k}", e, x) for k, s, e, x in rows]  # text with a time, not read before
    pidx = {k: k - 1 for k in range(1, 8)}
    expected = [
        (pidx[key], sc.pick_as_at(list(group), 1, pe, 2))
        for key, group in itertools.groupby(rows, lambda r: r[0])
        if key in pidx
    ]
    assert [r[3] for _, r in expected] == [
        "only",
        "current, last",
        "current, first",
        "current",
        "ended the day before",
        "not started",
        "ends on the day",
    ]
    chosen_p, chosen = _addresses_as_at(rows, pidx, 1, 2, pe)
    assert list(zip(chosen_p, chosen, strict=True)) == expected


def test_death_as_at() -> None:
    assert sc.death_as_at(D(2026, 3, 31), PERIOD[1]) == D(2026, 3, 31)
    assert sc.death_as_at(D(2026, 4, 1), PERIOD[1]) is None


def test_not_applicable_person_fields_come_from_the_status_rules() -> None:
    spec = load_spec()
    carer = sc.not_applicable_person_fields(spec, "Unpaid carer")
    assert carer == {
        "Autism_Spectrum_Disorder_ASD",
        "Visual_Impairment",
        "Hearing_Impairment",
        "Dementia",
        "Client_Funding_Status",
    }
    assert sc.not_applicable_person_fields(spec, "Unpaid carer known by association") == carer
    # The carer block is Not applicable on Service user rows (spec README §6.1; status rule S084 and its
    # neighbours), including Total Hrs Caring per week, which the people query gives.
    assert sc.not_applicable_person_fields(spec, "Service user") == {
        "Total_Hrs_Caring_per_week",
        "No_of_adults_being_cared_for",
        "Adult_1_Linked_Person_ID",
        "Adult_2_Linked_Person_ID",
        "Adult_3_Linked_Person_ID",
    }


def test_carer_block() -> None:
    links = [
        (7, D(2024, 1, 1), 3, True, "P3"),
        (7, D(2024, 2, 1), 1, False, "P1"),  # cared-for person with no Service user row: counted, not linked
        (7, D(2024, 3, 1), 3, True, "P3"),  # the same person again: counted once
        (7, D(2024, 4, 1), 4, True, "P4"),
        (7, D(2024, 5, 1), 5, True, "P5"),
        (7, D(2024, 6, 1), 6, True, "P6"),
    ]
    assert sc.carer_block(links, 3) == sc.CarerBlock(5, ("P3", "P4", "P5"))
