"""The queries are read a batch of people at a time: what the people query does not return, returns twice,
or returns out of order is found wherever the batches fall, and stops the extract with nothing written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from extract_support import REQUEST_PEOPLE, REQUESTS, write_mapping

from ascld.extract import ExtractProblems, SourceOrderError, extract_return
from ascld.synth.cms import sqlite_url

PEOPLE_KEY = "SELECT c.client_id                   AS person_key,"
LA_CODE = "k.la_code                     AS la_code,"


def _query(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def _fails(db: Path, mapping: Path, period, out: Path, chunk_rows: int = 50) -> ExtractProblems:
    out.mkdir(exist_ok=True)
    with pytest.raises(ExtractProblems) as caught:
        extract_return(sqlite_url(db), mapping, *period, out / "r.csv", validate=False, chunk_rows=chunk_rows)
    assert list(out.iterdir()) == [], "nothing may be written when the extract stops"
    return caught.value


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_people_returned_twice_are_counted_across_batches(synth_sqlite, cms_copy, mapping_text, tmp_path) -> None:
    text = _replace_once(
        mapping_text,
        "    FROM client c\n",
        "    FROM client c\n    LEFT JOIN client_address twice ON twice.client_id = c.client_id\n",
    )
    repeated = _query(
        cms_copy, "SELECT count(*) FROM (SELECT client_id FROM client_address GROUP BY client_id HAVING count(*) > 1)"
    )[0][0]
    assert repeated > 1
    err = _fails(cms_copy, write_mapping(tmp_path, text), synth_sqlite.periods[-1], tmp_path / "out")
    assert any(f"returns {repeated} person keys more than once" in o for o in err.other), err.other


def test_records_with_no_person_key_are_counted(synth_sqlite, cms_copy, mapping_text, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    requests = [r[0] for r in _query(cms_copy, REQUESTS, period[0].isoformat(), period[1].isoformat())]
    assert len(requests) == 4
    text = _replace_once(
        mapping_text,
        "SELECT t.client_id                                 AS person_key,",
        f"SELECT CASE WHEN t.contact_id IN ({', '.join(map(str, requests))}) THEN NULL ELSE t.client_id END "
        "AS person_key,",
    )
    err = _fails(cms_copy, write_mapping(tmp_path, text), period, tmp_path / "out")
    orphans = [o for o in err.other if "records in scope belong to person keys" in o]
    assert len(orphans) == 1 and ": 4 requests records in scope" in orphans[0], err.other


def test_people_with_no_person_key_are_counted(synth_sqlite, cms_copy, mapping_text, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    person = _query(cms_copy, REQUEST_PEOPLE, period[0].isoformat(), period[1].isoformat())[0][0]
    text = _replace_once(
        mapping_text,
        PEOPLE_KEY,
        f"SELECT CASE WHEN c.client_id = {person} THEN NULL ELSE c.client_id END AS person_key,",
    )
    err = _fails(cms_copy, write_mapping(tmp_path, text), period, tmp_path / "out")
    assert any("the people query returns 1 people with no person_key" in o for o in err.other), err.other
    # The person's own records now belong to no one.
    assert any("requests records in scope belong to person keys" in o for o in err.other), err.other


def test_carer_links_of_carers_the_people_query_lacks_are_counted(synth_sqlite, cms_copy, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    cared_for = _query(cms_copy, REQUEST_PEOPLE, period[0].isoformat(), period[1].isoformat())[0][0]
    unknown = _query(cms_copy, "SELECT max(client_id) + 1000 FROM client")[0][0]
    with sqlite3.connect(cms_copy) as conn:
        conn.execute(
            "INSERT INTO carer_link (link_id, carer_client_id, cared_for_client_id, start_date, end_date) "
            "SELECT max(link_id) + 1, ?, ?, ?, NULL FROM carer_link",
            (unknown, cared_for, period[0].isoformat()),
        )
    from ascld.extract import example_mapping_path

    err = _fails(cms_copy, example_mapping_path(), period, tmp_path / "out")
    assert any("1 carer links name carers the people query does not return" in o for o in err.other), err.other


def test_more_than_one_la_code_stops_the_extract(synth_sqlite, mapping_text, tmp_path) -> None:
    db = Path(synth_sqlite.url.removeprefix("sqlite:///"))
    text = _replace_once(
        mapping_text, LA_CODE, "CASE WHEN c.client_id % 2 = 0 THEN k.la_code ELSE '999' END AS la_code,"
    )
    err = _fails(db, write_mapping(tmp_path, text), synth_sqlite.periods[-1], tmp_path / "out")
    assert any("gives 2 different LA codes" in o for o in err.other), err.other


@pytest.mark.parametrize(
    ("key", "match"),
    [
        # SQLite sorts this text without regard to case; Python puts capitals first.
        (
            "CASE WHEN c.client_id % 2 = 0 THEN 'a' ELSE 'B' END || c.client_id COLLATE NOCASE AS person_key,",
            "do not come back in the order Python sorts them",
        ),
        # SQLite sorts numbers before text; Python cannot compare them.
        (
            "CASE WHEN c.client_id % 2 = 0 THEN c.client_id ELSE CAST(c.client_id AS TEXT) END AS person_key,",
            "different types",
        ),
    ],
)
def test_people_keys_python_cannot_follow_are_explained(synth_sqlite, mapping_text, tmp_path, key, match) -> None:
    text = _replace_once(mapping_text, PEOPLE_KEY, "SELECT " + key)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SourceOrderError, match=match):
        extract_return(
            synth_sqlite.url, write_mapping(tmp_path, text), *synth_sqlite.periods[-1], out / "r.csv", validate=False
        )
    assert list(out.iterdir()) == []


def test_start_dates_of_different_types_are_ordered_as_dates() -> None:
    """Queries may give start dates of different types (a timestamp beside a date on PostgreSQL), which
    Python cannot compare: that person's rows are then ordered by the dates they hold, section order breaking
    ties, and a `known by association` row stays last."""
    import datetime as dt

    from ascld.extract.run import _sorted_by_person

    # (person, known by association, start as read, order read, line, problems)
    rows = [
        (1, 0, dt.date(2025, 1, 2), 0, "request, 2 January", None),
        (0, 0, "2025-03-01", 1, "other person", None),
        (1, 0, dt.datetime(2025, 1, 1, 9, 30), 2, "service, 1 January", None),
        (1, 0, dt.date(2025, 1, 1), 3, "review, 1 January", None),
        (1, 1, None, 4, "known by association", None),
    ]
    with pytest.raises(TypeError):
        sorted(rows)
    assert [r[4] for r in _sorted_by_person(rows)] == [
        "other person",
        "service, 1 January",
        "review, 1 January",
        "request, 2 January",
        "known by association",
    ]


def test_cost_histories_are_kept_per_service_in_the_order_read() -> None:
    """Rule X06 reads each service's cost history oldest first; the histories are cut from the cost query's
    rows, which the query orders by person, service and date (and gathered row by row should a service's rows
    not come together)."""
    import datetime as dt

    from ascld.extract.run import _Extractor

    extractor = _Extractor.__new__(_Extractor)
    extractor.c_key, extractor.c_from, extractor.c_cost = 1, 2, 3
    d1, d2 = dt.date(2024, 4, 1), dt.date(2025, 4, 1)

    def histories(costs):
        return {key: costs.history(key) for key in costs.last}

    together = [(7, 10, "2024-04-01", 5), (7, 10, "2025-04-01", 6), (7, 11, "2024-04-01", 8), (9, 10, "2024-04-01", 1)]
    assert histories(extractor._cost_history(together, {7: 0, 9: 1})) == {
        (7, 10): [(d1, 5), (d2, 6)],
        (7, 11): [(d1, 8)],
        (9, 10): [(d1, 1)],
    }
    apart = [(7, 10, "2024-04-01", 5), (7, 11, "2024-04-01", 8), (7, 10, "2025-04-01", 6)]
    assert histories(extractor._cost_history(apart, {7: 0})) == {(7, 10): [(d1, 5), (d2, 6)], (7, 11): [(d1, 8)]}
    assert histories(extractor._cost_history(together, {9: 0})) == {(9, 10): [(d1, 1)]}  # the batch's people only
    assert extractor._cost_history(together, {8: 0}) is None


@pytest.mark.parametrize(
    "rows",
    [
        # in order: a service's last cost is its latest
        [(7, 10, "2024-04-01", 5), (7, 10, "2025-04-01", 6), (7, 11, "2025-06-01", 8), (9, 10, "2024-04-01", 1)],
        # dates out of order within a service, a service's rows apart, a cost with no date
        [(7, 10, "2025-04-01", 6), (7, 10, "2024-04-01", 5), (7, 11, "2025-06-01", 8), (9, 10, "2024-04-01", 1)],
        [(7, 10, "2024-04-01", 5), (7, 11, "2025-06-01", 8), (7, 10, "2025-04-01", 6), (9, 10, "2024-04-01", 1)],
        [(7, 10, "2024-04-01", 5), (7, 10, None, 6), (7, 11, "2025-06-01", 8), (9, 10, "2024-04-01", 1)],
        [(7, 10, None, 6)],
    ],
)
def test_unit_cost_cells_are_the_cost_as_at_the_service_end(rows) -> None:
    """The Unit Cost cells (a service whose costs all took effect by its end takes its last one without
    going through its history) are rule X06's cost for every service, however the cost rows come."""
    import datetime as dt

    from ascld.extract import scope as sc
    from ascld.extract.run import _Extractor, _fmt_decimal

    extractor = _Extractor.__new__(_Extractor)
    extractor.c_key, extractor.c_from, extractor.c_cost = 1, 2, 3
    costs = extractor._cost_history(rows, {7: 0, 9: 1})
    pe = dt.date(2026, 3, 31)
    services = [(7, 10), (7, 11), (9, 10), (9, 12)]  # the last has no costs
    ends = [None, dt.date(2024, 1, 1), dt.date(2024, 4, 1), dt.date(2024, 12, 31), dt.date(2025, 5, 1), pe]
    for end in ends:
        as_at = [sc.service_as_at(end, pe)] * len(services)
        got = costs.cells([s[0] for s in services], [s[1] for s in services], as_at, pe)
        expected = [_fmt_decimal(sc.cost_as_at(costs.history(s), as_at[0][0], pe)) for s in services]
        assert got == expected, end
    assert costs.history((9, 12)) == [] and costs.cells([9], [12], [(None, True)], pe) == [""]


def test_keys_out_of_order_across_chunks_are_found() -> None:
    """The order is checked across chunks too, also once the rows before have been handed out."""
    from ascld.extract.source import KeyedStream

    stream = KeyedStream("requests", 1, iter([[(1, "a"), (2, "b")], [(2, "c"), (5, "d")], [(3, "e")]]))
    assert stream.upto(2) == [(1, "a"), (2, "b"), (2, "c")]
    assert stream.upto(4) == []
    with pytest.raises(SourceOrderError, match="do not come back in the order"):
        stream.upto(9)


def test_rows_with_no_key_are_orphans_first_or_last() -> None:
    from ascld.extract.source import KeyedStream

    stream = KeyedStream("carer_links", 1, iter([[(None, 0, 0, True), (1, 0, 0, True)], [(2, 0, 0, False)]]))
    assert [r[0] for r in stream.upto(5)] == [1, 2]
    assert (stream.orphans, stream.orphan_flagged) == (1, 1)
    stream = KeyedStream("carer_links", 1, iter([[(1, 0, 0, True)], [(None, 0, 0, False), (None, 0, 0, True)]]))
    assert [r[0] for r in stream.upto(5)] == [1]
    stream.drain()
    assert (stream.orphans, stream.orphan_flagged) == (2, 1)


def test_a_persons_records_are_ordered_by_start_date_then_key(synth_sqlite, cms_copy, tmp_path) -> None:
    """The event queries are sorted by person and record key only; the rows of a person still come out by
    start date, records starting the same day in key order, whatever order their keys are in."""
    import datetime as dt

    from extract_support import read_return

    from ascld.extract import example_mapping_path
    from ascld.spec import load_spec

    start, end = synth_sqlite.periods[-1]
    client, = _query(
        cms_copy,
        "SELECT client_id FROM contact WHERE status_code = 'COMPLETE' AND contact_type_code = 'CONTACT' "
        "AND client_role = 'SU' GROUP BY client_id HAVING count(*) >= 3 ORDER BY client_id LIMIT 1",
    )[0]
    ids = [r[0] for r in _query(
        cms_copy,
        "SELECT contact_id FROM contact WHERE client_id = ? AND status_code = 'COMPLETE' "
        "AND contact_type_code = 'CONTACT' AND client_role = 'SU' ORDER BY contact_id LIMIT 3",
        client,
    )]
    day = start + dt.timedelta(days=20)
    later, earlier = (day + dt.timedelta(days=2)).isoformat(), day.isoformat()
    with sqlite3.connect(cms_copy) as conn:  # keys in order, start dates not: later, earlier, earlier
        for contact_id, started in zip(ids, (later, earlier, earlier), strict=True):
            conn.execute(
                "UPDATE contact SET contact_date = ?, completed_date = ? WHERE contact_id = ?",
                (started, (day + dt.timedelta(days=5)).isoformat(), contact_id),
            )
    result = extract_return(
        sqlite_url(cms_copy), example_mapping_path(), start, end, tmp_path / "r.csv", validate=False, chunk_rows=50
    )
    col = {c: i for i, c in enumerate(load_spec().columns)}
    refs = [r[col["Event_Reference"]] for r in read_return(result.path)]
    assert [refs.index(f"C{i}") for i in (ids[1], ids[2], ids[0])] == sorted(refs.index(f"C{i}") for i in ids)


@pytest.mark.parametrize(
    "col",
    [
        ("Smith", "Jones-Lee", "O'Neil", "van der Berg"),  # plain: the cells are the values
        ("Smith", "", "Jones"),  # empty text takes the blank's cell
        ("Smith", None, "Jones"),
        ("Smith", 12, "Jones"),  # not text
        ("Smith", " Jones"),  # spaces to strip
        ("Smith", "Jones "),
        ("Smith", "=SUM(A1)"),  # would run as a formula
        ("Smith", "-1"),
        ("Smith, John", "Jones"),  # needs quoting
        ('Say "hi"', "Jones"),
        ("Smith\tJones", "Jones"),  # not printable
        ("Smith\x7f", "Jones"),
        ("Siobhán", "Jones"),  # not ASCII, Windows-1252 has it
        ("Łukasz", "Jones"),  # Windows-1252 cannot hold it
        (),
    ],
)
def test_free_text_columns_give_the_cells_made_one_value_at_a_time(col) -> None:
    """A free-text column done at once (every value plain) gives the cells, and the problems, that making
    them one value at a time gives."""
    from ascld.extract.run import _Extractor

    def made(at_once: bool) -> tuple[list[str], dict[int, list[tuple[str, str, bool]]]]:
        extractor = _Extractor.__new__(_Extractor)
        extractor._issues, extractor.transliterate = [], False
        known = {None: "blank", "": "blank"}
        owners: dict[int, list[tuple[str, str, bool]]] = {}
        make = extractor._text_column if at_once else extractor._text_values
        return list(make(col, known, "Last_Name", owners)), owners

    assert made(True) == made(False)
