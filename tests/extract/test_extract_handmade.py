"""Scope rules and cells checked on small hand-made SQLite sources (not the synthetic councils' database), for
cases a generator does not make: dates with a time of day, status codes padded with other white space,
linked person IDs Windows-1252 cannot hold, unit costs that are not numbers."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from ascld.errors import UsageError
from ascld.extract import ExtractProblems, extract_return

PERIOD = (dt.date(2025, 4, 1), dt.date(2026, 3, 31))

MAPPING = """\
ascld_mapping: 1
people:
  sql: |
    SELECT id AS person_key, '131' AS la_code, ref AS la_person_unique_identifier
    FROM person
requests:
  sql: |
    SELECT pid AS person_key, id AS event_key, 'Q' || id AS event_reference, 'SU' AS client_type,
           s AS event_start_date, e AS event_end_date, st AS status
    FROM req
  status: {DONE: completed, OPEN: open, CANC: cancelled}
services:
  sql: |
    SELECT pid AS person_key, id AS event_key, 'S' || id AS event_reference, role AS client_type,
           s AS event_start_date, e AS event_end_date, st AS status, cost AS unit_cost
    FROM svc
  status: {ACT: active, END: ended, SUS: suspended, CANC: cancelled}
carer_links:
  sql: |
    SELECT carer AS carer_key, cared AS cared_for_key, s AS start_date, e AS end_date FROM link
values:
  Client_Type: {SU: "Service user", CARER: "Unpaid carer"}
"""


def _source(folder: Path, people, requests=(), services=(), links=()) -> tuple[str, Path]:
    db = folder / "cms.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE person (id INTEGER, ref TEXT)")
        conn.execute("CREATE TABLE req (id INTEGER, pid INTEGER, s TEXT, e TEXT, st TEXT)")
        conn.execute("CREATE TABLE svc (id INTEGER, pid INTEGER, role TEXT, s TEXT, e TEXT, st TEXT, cost)")
        conn.execute("CREATE TABLE link (carer INTEGER, cared INTEGER, s TEXT, e TEXT)")
        conn.executemany("INSERT INTO person VALUES (?, ?)", people)
        conn.executemany("INSERT INTO req VALUES (?, ?, ?, ?, ?)", requests)
        conn.executemany("INSERT INTO svc VALUES (?, ?, ?, ?, ?, ?, ?)", services)
        conn.executemany("INSERT INTO link VALUES (?, ?, ?, ?)", links)
    mapping = folder / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return f"sqlite:///{db}", mapping


def _extract(folder: Path, *tables, **options) -> list[dict[str, str]]:
    url, mapping = _source(folder, *tables)
    result = extract_return(url, mapping, *PERIOD, folder / "r.csv", validate=False, **options)
    with result.path.open(encoding="cp1252", newline="") as fh:
        return list(csv.DictReader(fh))


def test_events_with_a_time_of_day_on_the_period_s_last_day_are_in(tmp_path: Path) -> None:
    """Spec README §4 (completed in the period; services active at any time in it) and main-tables.md §4
    (`RS <= end <= RE`, `start <= RE`, inclusive): a date column holding a time of day counts by its day."""
    rows = _extract(
        tmp_path,
        [(1, "P1"), (2, "P2"), (3, "P3")],
        [
            (10, 1, "2026-03-30 09:00:00", "2026-03-31 14:30:00", "DONE"),  # completed on the last day
            (11, 1, "2026-03-31 09:00:00", "2026-04-01 00:00:00", "DONE"),  # the day after: out
            (12, 1, "2025-03-01 09:00:00", "2025-04-01 16:00:00", "DONE"),  # the first day
        ],
        [(20, 2, "SU", "2026-03-31 09:00:00", None, "ACT", 10), (21, 2, "SU", "2026-04-01 09:00:00", None, "ACT", 10)],
        [(3, 2, "2026-03-31 12:00:00", None)],
    )
    written = {(r["Event Reference"], r["Event Start Date"], r["Event End Date"]) for r in rows}
    assert written == {
        ("Q10", "30/03/2026", "31/03/2026"),
        ("Q12", "01/03/2025", "01/04/2025"),
        ("S20", "31/03/2026", ""),
        ("", "", ""),  # carer 3: linked from the last day on, known by association
    }


@pytest.mark.parametrize("padded", ["CANC\t", "CANC\n", "CANC\u00a0", " CANC "])
def test_a_cancelled_status_padded_with_white_space_never_slips_in(tmp_path: Path, padded: str) -> None:
    """Spec README §4: cancelled events are excluded. The database leaves out the codes mapped to cancelled
    (trimming spaces, as padded CHAR columns need); a code padded with other white space must not then pass
    the status check as a known code and be written."""
    requests = [(10, 1, "2025-05-01", "2025-05-02", padded), (11, 1, "2025-05-01", "2025-05-02", "DONE")]
    url, mapping = _source(tmp_path, [(1, "P1")], requests)
    out = tmp_path / "out"
    out.mkdir()
    try:
        result = extract_return(url, mapping, *PERIOD, out / "r.csv", validate=False)
    except ExtractProblems as err:  # the padding is not a status the mapping knows: reported, nothing written
        assert [(u.field, u.what, u.count) for u in err.unmapped] == [("status", "status", 1)]
        assert err.unmapped[0].code == padded.strip(" ").encode("unicode_escape").decode("ascii")
        assert list(out.iterdir()) == []
        return
    assert padded == " CANC "  # only space padding is matched as the code
    with result.path.open(encoding="cp1252", newline="") as fh:
        assert [r["Event Reference"] for r in csv.DictReader(fh)] == ["Q11"]


def test_linked_person_ids_windows_1252_cannot_hold_are_reported_and_transliterated_alike(tmp_path: Path) -> None:
    """Issue 5: characters outside Windows-1252 are reported with row and field, and replaced only with
    --transliterate. A carer's Adult 1 Linked Person_ID is the cared-for person's LA Person Unique Identifier
    (spec README §4, §6.3: linked IDs must match a Service user row in the file), so it is reported, and
    replaced, as that person's own cell is."""
    people = [(1, "PŁ1"), (2, "P2"), (3, "P3")]
    services = [(20, 1, "SU", "2025-05-01", None, "ACT", 10), (21, 3, "CARER", "2025-05-01", None, "ACT", 5)]
    links = [(2, 1, "2024-01-01", None), (3, 1, "2024-01-01", None)]
    (tmp_path / "a").mkdir()
    with pytest.raises(ExtractProblems) as caught:
        _extract(tmp_path / "a", people, (), services, links)
    found = {(t.row, t.field) for t in caught.value.text}
    assert found == {
        (2, "LA_Person_Unique_Identifier"),  # the cared-for person's own row
        (3, "Adult_1_Linked_Person_ID"),  # the carer known by association (key 2)
        (4, "Adult_1_Linked_Person_ID"),  # the carer with a service of their own (key 3)
    }
    assert list((tmp_path / "a").glob("*.csv")) == []
    (tmp_path / "b").mkdir()
    url, mapping = _source(tmp_path / "b", people, (), services, links)
    result = extract_return(url, mapping, *PERIOD, tmp_path / "b" / "r.csv", validate=False, transliterate=True)
    assert {(t.row, t.field) for t in result.transliterated} == found
    with result.path.open(encoding="cp1252", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["LA Person Unique Identifier"], r["Client Type"], r["Adult 1 Linked Person_ID"]) for r in rows] == [
        ("PL1", "Service user", ""),
        ("P2", "Unpaid carer known by association", "PL1"),
        ("P3", "Unpaid carer", "PL1"),
    ]


@pytest.mark.parametrize("cost", ["abc", "12,50", "1e30", float("inf")])
def test_a_unit_cost_that_is_not_a_number_stops_with_its_field(tmp_path: Path, cost: object) -> None:
    """Spec README §3, §6.2: Unit Cost is "Numeric (0.00)". A value that is not a number two decimals can
    hold stops the extract with the query and field named (not an unexpected error), and nothing is written."""
    url, mapping = _source(tmp_path, [(1, "P1")], (), [(20, 1, "SU", "2025-05-01", None, "ACT", cost)])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError, match="the services query's unit_cost column holds a value that is not a number"):
        extract_return(url, mapping, *PERIOD, out / "r.csv", validate=False)
    assert list(out.iterdir()) == []


def test_unit_costs_have_two_decimals_and_no_exponent(tmp_path: Path) -> None:
    """Spec README §3: "Numeric (0.00)"; docs/extract.md: rounded half away from zero."""
    services = [
        (20, 1, "SU", "2025-05-01", None, "ACT", c)
        for c in ["1E+2", 1e-7, 2.675, "-0.005", 7, " 18.505 ", 100000000.0]
    ]
    services = [(i, *row[1:]) for i, row in enumerate(services, 20)]
    rows = _extract(tmp_path, [(1, "P1")], (), services)
    assert [r["Unit Cost"] for r in rows] == ["100.00", "0.00", "2.68", "-0.01", "7.00", "18.51", "100000000.00"]


def test_a_client_type_padded_with_a_tab_is_not_a_service_user_in_one_place_only(tmp_path: Path) -> None:
    """Spec README §4: a carer known by association links to adults who are service users in the submission.
    Which cared-for people have a Service user row is decided in the database (TRIM removes spaces); the row
    itself must not then be made a Service user row from a code the database did not match, which would
    leave its carer out. Such a code is unmapped: listed, and nothing is written."""
    url, mapping = _source(
        tmp_path,
        [(1, "P1"), (2, "P2")],
        (),
        [(20, 1, "SU\t", "2025-05-01", None, "ACT", 10)],
        [(2, 1, "2024-01-01", None)],
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExtractProblems) as caught:
        extract_return(url, mapping, *PERIOD, out / "r.csv", validate=False)
    assert [(u.field, u.code, u.count) for u in caught.value.unmapped] == [("Client_Type", "SU\\t", 1)]
    assert list(out.iterdir()) == []


def test_a_client_type_padded_with_spaces_links_its_carer(tmp_path: Path) -> None:
    rows = _extract(
        tmp_path,
        [(1, "P1"), (2, "P2")],
        (),
        [(20, 1, " SU ", "2025-05-01", None, "ACT", 10)],
        [(2, 1, "2024-01-01", None)],
    )
    assert [(r["Client Type"], r["Adult 1 Linked Person_ID"]) for r in rows] == [
        ("Service user", ""),
        ("Unpaid carer known by association", "P1"),
    ]


def test_total_hours_caring_is_blank_on_service_user_rows(tmp_path: Path) -> None:
    """Spec README §6.1: the carer block (Total Hrs Caring per week, No. of adults being cared for, the
    linked IDs) is applicable on unpaid-carer rows and not applicable to service users (rule X09 blanks what
    the status rules make Not applicable). A person who is both gets the hours on their carer row only."""
    from ascld.spec import load_spec

    overlay = tmp_path / "lists.csv"
    overlay.write_text("list,value,r1_value\ntotal_hrs_caring_per_week,20-49 hours,\n", encoding="utf-8")
    spec = load_spec(overlay)
    url, mapping = _source(
        tmp_path,
        [(1, "P1"), (2, "P2")],
        (),
        [(20, 1, "SU", "2025-05-01", None, "ACT", 10), (21, 2, "SU", "2025-05-01", None, "ACT", 10)]
        + [(22, 2, "CARER", "2025-05-01", None, "ACT", 5)],
        [(2, 1, "2024-01-01", None)],
    )
    text = mapping.read_text(encoding="utf-8")
    hours = "ref AS la_person_unique_identifier, '20-49 hours' AS total_hrs_caring_per_week"
    text = text.replace("ref AS la_person_unique_identifier", hours)
    text = text.replace("values:\n", "values:\n  Total_Hrs_Caring_per_week: as_is\n")
    mapping.write_text(text, encoding="utf-8")
    result = extract_return(url, mapping, *PERIOD, tmp_path / "r.csv", validate=False, spec=spec)
    with result.path.open(encoding="cp1252", newline="") as fh:
        columns = ("LA Person Unique Identifier", "Client Type", "Total Hrs Caring per week")
        rows = [(*map(r.get, columns), r["No. of adults being cared for"]) for r in csv.DictReader(fh)]
    assert rows == [
        ("P1", "Service user", "", ""),
        ("P2", "Service user", "", ""),
        ("P2", "Unpaid carer", "20-49 hours", "1"),
    ]


@pytest.mark.postgres
def test_timestamps_on_the_period_s_last_day_are_in_on_postgres(pg_cluster, tmp_path: Path) -> None:
    """The scope filters on PostgreSQL, where `timestamp <= date` compares with midnight: a request completed
    at 14:30 on the last day, and a service and a carer link starting that day, are in the period."""
    from sqlalchemy import create_engine, text

    url = pg_cluster.create_database("cms_timestamps")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE person (id INTEGER, ref TEXT)"))
        conn.execute(text("CREATE TABLE req (id INTEGER, pid INTEGER, s TIMESTAMP, e TIMESTAMP, st TEXT)"))
        svc = "id INTEGER, pid INTEGER, role TEXT, s TIMESTAMP, e TIMESTAMP, st TEXT, cost NUMERIC"
        conn.execute(text(f"CREATE TABLE svc ({svc})"))
        conn.execute(text("CREATE TABLE link (carer INTEGER, cared INTEGER, s TIMESTAMP, e TIMESTAMP)"))
        conn.execute(text("INSERT INTO person VALUES (1, 'P1'), (2, 'P2'), (3, 'P3')"))
        conn.execute(
            text(
                "INSERT INTO req VALUES (10, 1, '2026-03-30 09:00', '2026-03-31 14:30', 'DONE'), "
                "(11, 1, '2026-03-31 09:00', '2026-04-01 00:00', 'DONE')"
            )
        )
        conn.execute(text("INSERT INTO svc VALUES (20, 2, 'SU', '2026-03-31 09:00', NULL, 'ACT', 10)"))
        conn.execute(text("INSERT INTO link VALUES (3, 2, '2026-03-31 12:00', NULL)"))
    engine.dispose()
    mapping = tmp_path / "mapping.yaml"
    text_ = MAPPING.replace("'Q' || id", "'Q' || CAST(id AS TEXT)").replace("'S' || id", "'S' || CAST(id AS TEXT)")
    mapping.write_text(text_, encoding="utf-8")
    result = extract_return(url, mapping, *PERIOD, tmp_path / "r.csv", validate=False)
    with result.path.open(encoding="cp1252", newline="") as fh:
        written = {(r["Event Reference"], r["Event End Date"], r["Client Type"]) for r in csv.DictReader(fh)}
    assert written == {
        ("Q10", "31/03/2026", "Service user"),
        ("S20", "", "Service user"),
        ("", "", "Unpaid carer known by association"),
    }


COSTED = """\
addresses:
  sql: |
    SELECT pid AS person_key, s AS start_date, e AS end_date, pc AS postcode FROM addr
service_costs:
  sql: |
    SELECT pid AS person_key, sid AS event_key, f AS effective_from, cost AS unit_cost FROM svc_cost
"""


@pytest.mark.parametrize(
    ("address", "cost_from", "column"),
    [
        (("01/01/2020", None), "2025-01-01", "addresses query's start_date"),
        (("2020-01-01", ""), "2025-01-01", "addresses query's end_date"),
        (("2020-01-01", None), 45658, "service_costs query's effective_from"),
    ],
)
def test_address_and_cost_dates_that_are_not_dates_stop_with_their_column(
    tmp_path: Path, address: tuple[object, object], cost_from: object, column: str
) -> None:
    """docs/extract.md: dates must be SQL dates (on SQLite, ISO text). An address or unit cost date that is
    not one stops the extract with the query and column named, as an event date does, instead of an
    unexpected error; nothing is written."""
    url, mapping = _source(tmp_path, [(1, "P1")], (), [(20, 1, "SU", "2025-05-01", None, "ACT", None)])
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("CREATE TABLE addr (pid INTEGER, s, e, pc TEXT)")
        conn.execute("CREATE TABLE svc_cost (pid INTEGER, sid INTEGER, f, cost)")
        conn.execute("INSERT INTO addr VALUES (1, ?, ?, 'AB1 2CD')", address)
        conn.execute("INSERT INTO svc_cost VALUES (1, 20, ?, 12.5)", (cost_from,))
    text = MAPPING.replace(", cost AS unit_cost", "").replace("carer_links:", COSTED + "carer_links:")
    mapping.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError, match=f"the {column} column holds .* Return dates as dates"):
        extract_return(url, mapping, *PERIOD, out / "r.csv", validate=False)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("end", ["2025-09-31", "2025-6-15", "2025-06-1"])
def test_a_service_end_date_that_is_not_a_date_stops_with_its_column(tmp_path: Path, end: str) -> None:
    """docs/extract.md: dates must be SQL dates (on SQLite, ISO text). A service's end date that is not one
    stops the extract with the query and column named (not an unexpected error), and nothing is written."""
    url, mapping = _source(tmp_path, [(1, "P1")], (), [(20, 1, "SU", "2025-05-01", end, "ACT", 10)])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError, match="the services query's event_end_date column holds text that is not an"):
        extract_return(url, mapping, *PERIOD, out / "r.csv", validate=False)
    assert list(out.iterdir()) == []


OPEN_SERVICE = (20, 1, "SU", "2025-01-01", None, "ACT", 10)


@pytest.mark.parametrize(
    ("requests", "services", "links", "column", "what"),
    [
        ([(10, 1, "2025-06-01", "15/06/2025", "DONE")], [], [], "requests query's event_end_date", "text"),
        ([(10, 1, "2025-06-01", 1749945600, "DONE")], [], [], "requests query's event_end_date", "text"),
        ([], [(20, 1, "SU", "2025-01-01", "", "ACT", 10)], [], "services query's event_end_date", "empty text"),
        ([], [(20, 1, "SU", "2025-01-01", 2460841.5, "END", 10)], [], "services query's event_end_date", "text"),
        ([], [(20, 1, "SU", "01/01/2025", "20/06/2025", "END", 10)], [], "services query's event_", "text"),
        ([], [OPEN_SERVICE], [(2, 1, "2024-01-01", "")], "carer_links query's end_date", "empty"),
        ([], [OPEN_SERVICE], [(2, 1, "15/03/2025", None)], "carer_links query's start_date", "text"),
    ],
)
def test_dates_sqlite_cannot_compare_as_dates_stop_instead_of_being_left_out(
    tmp_path: Path, requests: list, services: list, links: list, column: str, what: str
) -> None:
    """docs/extract.md: dates must be SQL dates; on SQLite, ISO text. SQLite compares anything else without
    complaint and places it wrongly: `15/06/2025` sorts before the period start `2025-04-01` as text, a
    number sorts before any text, and an empty end is not NULL. Such a completed request, an open service
    with an empty end, a service ended in the period with dd/mm/yyyy dates, or a carer link, was left out
    of the return (or counted) with nothing said. Each stops the extract with its query and column named
    (the value is not shown), and nothing is written."""
    url, mapping = _source(tmp_path, [(1, "P1"), (2, "P2")], requests, services, links)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError, match=f"the {column}[a-z_]* column holds {what}"):
        extract_return(url, mapping, *PERIOD, out / "r.csv", validate=False)
    assert list(out.iterdir()) == []


def test_nul_characters_and_binary_values_in_free_text_are_reported_not_written(tmp_path: Path) -> None:
    """Bad input loses nothing and gives a clear error: a NUL character would make the file binary data,
    which the return reader refuses (T002), and a BLOB was written as Python's `b'...'` text. Both are
    reported by row and field (the value is not shown), and nothing is written."""
    people = [(1, "P\x001"), (2, b"P2"), (3, "P3")]
    services = [(20 + k, k, "SU", "2025-05-01", None, "ACT", 10) for k in (1, 2, 3)]
    url, mapping = _source(tmp_path, people, (), services)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExtractProblems) as caught:
        extract_return(url, mapping, *PERIOD, out / "r.csv", validate=False, transliterate=True)
    found = [(t.row, t.field, t.kind) for t in caught.value.text]
    assert found == [(2, "LA_Person_Unique_Identifier", "nul"), (3, "LA_Person_Unique_Identifier", "binary")]
    message = str(caught.value)
    assert "NUL character" in message and "binary data (a BLOB)" in message and "P2" not in message
    assert list(out.iterdir()) == []


def test_a_cost_rounding_to_zero_is_written_without_a_minus_sign(tmp_path: Path) -> None:
    """Spec README §3: Unit Cost is "Numeric (0.00)". A tiny negative cost (a refund rounding to nothing,
    or -0.0 from a float column) rounds to 0.00; it was written "-0.00"."""
    services = [(20 + k, 1, "SU", "2025-05-01", None, "ACT", c) for k, c in enumerate([-0.004, "-0.001", -0.0])]
    rows = _extract(tmp_path, [(1, "P1")], (), services)
    assert [r["Unit Cost"] for r in rows] == ["0.00", "0.00", "0.00"]


def test_a_completed_request_with_no_start_date_is_written_not_left_out(tmp_path: Path) -> None:
    """Rule X01 (docs/extract.md): a request is in when completed with an end date inside the period; the
    start may be earlier. One with no start date recorded was left out with nothing said; it is written
    with a blank Event Start Date (mandatory: the validator reports it, C001), before the person's dated
    rows."""
    requests = [(10, 1, None, "2025-06-02", "DONE"), (11, 1, "2025-05-01", "2025-05-02", "DONE")]
    services = [(20, 1, "SU", "2025-01-01", None, "ACT", 10)]
    rows = _extract(tmp_path, [(1, "P1")], requests, services)
    assert [(r["Event Reference"], r["Event Start Date"], r["Event End Date"]) for r in rows] == [
        ("Q10", "", "02/06/2025"),
        ("S20", "01/01/2025", ""),
        ("Q11", "01/05/2025", "02/05/2025"),
    ]
