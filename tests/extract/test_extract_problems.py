"""Problems in the data stop the extract with a complete list and write nothing: unmapped local codes
(code, field, count), free text Windows-1252 cannot hold (row and field, never the value), text that would run
as a spreadsheet formula, records of people the people query does not return. `--transliterate` replaces the
characters instead, and reports where."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from extract_support import REQUEST_PEOPLE, REQUESTS, line_of, read_return, write_mapping

from ascld.extract import ExtractProblems, SourceOrderError, example_mapping_path, extract_return
from ascld.spec import load_spec
from ascld.synth.cms import sqlite_url

COLUMNS = {c: i for i, c in enumerate(load_spec().columns)}


def _in_period(db: Path, sql: str, period) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute(sql, (period[0].isoformat(), period[1].isoformat()))]


def _update(db: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, params)


def _fails(db: Path, period, out: Path, mapping: Path | None = None) -> ExtractProblems:
    out.mkdir(exist_ok=True)
    with pytest.raises(ExtractProblems) as caught:
        extract_return(
            sqlite_url(db), mapping or example_mapping_path(), *period, out / "r.csv", validate=False
        )
    assert list(out.iterdir()) == [], "nothing may be written when the extract stops"
    return caught.value


def test_unmapped_codes_are_listed_with_field_count_and_mapping_line(
    synth_sqlite, cms_copy, tmp_path
) -> None:
    period = synth_sqlite.periods[-1]
    people = _in_period(cms_copy, REQUEST_PEOPLE, period)
    requests = _in_period(cms_copy, REQUESTS, period)
    assert len(people) == 3 and len(requests) == 4
    _update(
        cms_copy, f"UPDATE client SET gender_code = 'X9' WHERE client_id IN ({','.join(map(str, people))})"
    )
    _update(
        cms_copy,
        f"UPDATE contact SET outcome_code = 'NEWOUT' WHERE contact_id IN ({','.join(map(str, requests))})",
    )
    err = _fails(cms_copy, period, tmp_path / "out")
    found = {(u.section, u.field, u.code): u.count for u in err.unmapped}
    assert found == {("people", "Gender", "X9"): 3, ("requests", "Event_Outcome", "NEWOUT"): 4}
    text = example_mapping_path().read_text(encoding="utf-8")
    message = str(err)
    assert (
        f'line {line_of(text, "  Gender:")}: people query, Gender: local code "X9" has no mapping '
        "(3 people). "
        "Add it to the Gender value map." in message
    )
    assert (
        f'line {line_of(text, "  Event_Outcome:")}: requests query, Event_Outcome: local code "NEWOUT" '
        "has no "
        "mapping (4 records). Add it to the Event_Outcome value map, or list it under out_of_scope" in message
    )
    assert message.rstrip().endswith("Nothing was written.")


def test_unknown_status_and_type_codes_stop_the_extract(synth_sqlite, cms_copy, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    requests = _in_period(cms_copy, REQUESTS, period)
    _update(cms_copy, f"UPDATE contact SET status_code = 'PENDING' WHERE contact_id = {requests[0]}")
    _update(
        cms_copy,
        f"UPDATE contact SET contact_type_code = 'DUTY' WHERE contact_id IN ({requests[1]}, {requests[2]})",
    )
    err = _fails(cms_copy, period, tmp_path / "out")
    found = {(u.field, u.code, u.what): u.count for u in err.unmapped}
    assert found == {("status", "PENDING", "status"): 1, ("contact_type", "DUTY", "in_scope"): 2}
    assert "Add it under in_scope or out_of_scope for contact_type" in str(err)


def test_unmapped_codes_outside_the_period_do_not_matter(synth_sqlite, cms_copy, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    old = _in_period(
        cms_copy,
        "SELECT contact_id FROM contact WHERE completed_date < ? AND ? IS NOT NULL "
        "ORDER BY contact_id LIMIT 2",
        period,
    )
    assert old
    _update(
        cms_copy, f"UPDATE contact SET outcome_code = 'GONE' WHERE contact_id IN ({','.join(map(str, old))})"
    )
    result = extract_return(
        sqlite_url(cms_copy), example_mapping_path(), *period, tmp_path / "r.csv", validate=False
    )
    assert sorted(read_return(result.path)) == sorted(read_return(synth_sqlite.clean[period]))


def test_out_of_scope_codes_leave_their_records_out(synth_sqlite, cms_copy, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    requests = _in_period(cms_copy, REQUESTS, period)
    _update(cms_copy, f"UPDATE contact SET contact_type_code = 'SAFEG' WHERE contact_id = {requests[0]}")
    result = extract_return(
        sqlite_url(cms_copy), example_mapping_path(), *period, tmp_path / "r.csv", validate=False
    )
    refs = {r[COLUMNS["Event_Reference"]] for r in read_return(result.path)}
    assert f"C{requests[0]}" not in refs and f"C{requests[1]}" in refs


def _person_with_rows(db: Path, period) -> int:
    return _in_period(db, REQUEST_PEOPLE, period)[0]


def test_text_windows_1252_cannot_hold_is_reported_by_row_and_field_only(
    synth_sqlite, cms_copy, tmp_path
) -> None:
    period = synth_sqlite.periods[-1]
    person = _person_with_rows(cms_copy, period)
    _update(cms_copy, "UPDATE client SET forename = ? WHERE client_id = ?", "Łukasz", person)
    err = _fails(cms_copy, period, tmp_path / "out")
    assert (
        err.text
        and {t.field for t in err.text} == {"First_Name"}
        and {t.kind for t in err.text} == {"not_cp1252"}
    )
    message = str(err)
    assert "ukasz" not in message
    assert "field First_Name: has characters Windows-1252 cannot hold" in message
    assert "--transliterate" in message
    # The rows named are the person's rows in the file --transliterate writes.
    result = extract_return(
        sqlite_url(cms_copy),
        example_mapping_path(),
        *period,
        tmp_path / "t.csv",
        transliterate=True,
        validate=False,
    )
    rows = read_return(result.path)
    assert [(t.row, t.field) for t in result.transliterated] == [(t.row, t.field) for t in err.text]
    for t in result.transliterated:
        assert rows[t.row - 2][COLUMNS["First_Name"]] == "Lukasz"
    assert sum(r[COLUMNS["First_Name"]] == "Lukasz" for r in rows) == len(result.transliterated)


def test_characters_windows_1252_has_are_kept(synth_sqlite, cms_copy, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    person = _person_with_rows(cms_copy, period)
    _update(cms_copy, "UPDATE client SET surname = ? WHERE client_id = ?", "Ó Súilleabháin–Müller", person)
    result = extract_return(
        sqlite_url(cms_copy), example_mapping_path(), *period, tmp_path / "r.csv", validate=False
    )
    assert result.transliterated == ()
    assert any(r[COLUMNS["Last_Name"]] == "Ó Súilleabháin–Müller" for r in read_return(result.path))


def test_formula_text_is_reported(synth_sqlite, cms_copy, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    _update(
        cms_copy,
        "UPDATE lookup_code SET description = '=HYPERLINK(\"x\")' WHERE domain = 'contact_type' "
        "AND code = 'CONTACT'",
    )
    err = _fails(cms_copy, period, tmp_path / "out")
    assert err.text and {(t.field, t.kind) for t in err.text} == {("Event_Description", "formula")}
    assert "HYPERLINK" not in str(err)


def test_records_of_people_the_people_query_lacks_are_reported(synth_sqlite, cms_copy, tmp_path) -> None:
    period = synth_sqlite.periods[-1]
    person = _person_with_rows(cms_copy, period)
    _update(cms_copy, "DELETE FROM client WHERE client_id = ?", person)
    err = _fails(cms_copy, period, tmp_path / "out")
    assert any(
        "records in scope belong to person keys the people query does not return" in o for o in err.other
    )


def test_person_keys_of_different_types_are_explained(synth_sqlite, mapping_text, tmp_path) -> None:
    text = mapping_text.replace(
        "SELECT c.client_id                   AS person_key,",
        "SELECT CAST(c.client_id AS VARCHAR(12)) AS person_key,",
    )
    assert text != mapping_text
    (tmp_path / "out").mkdir()
    with pytest.raises(SourceOrderError, match="different types"):
        extract_return(
            synth_sqlite.url,
            write_mapping(tmp_path, text),
            *synth_sqlite.periods[-1],
            tmp_path / "out" / "r.csv",
            validate=False,
        )
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.postgres
def test_unmapped_code_on_postgres_stops_with_nothing_written(synth_postgres, tmp_path) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(synth_postgres.url)
    dsn = f"host={url.host} port={url.port} user={url.username} password={url.password} dbname={url.database}"
    start, end = synth_postgres.periods[-1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        people = [r[0] for r in conn.execute(REQUEST_PEOPLE.replace("?", "%s"), (start, end))]
        before = conn.execute(
            "SELECT client_id, gender_code FROM client WHERE client_id = ANY(%s)", (people,)
        ).fetchall()
        conn.execute("UPDATE client SET gender_code = 'X9' WHERE client_id = ANY(%s)", (people,))
    try:
        out = tmp_path / "out"
        out.mkdir()
        with pytest.raises(ExtractProblems) as caught:
            extract_return(
                synth_postgres.url, example_mapping_path(), start, end, out / "r.csv", validate=False
            )
        assert [(u.field, u.code, u.count) for u in caught.value.unmapped] == [("Gender", "X9", len(people))]
        assert list(out.iterdir()) == []
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for client_id, gender in before:
                conn.execute("UPDATE client SET gender_code = %s WHERE client_id = %s", (gender, client_id))


@pytest.mark.postgres
def test_query_failing_while_reading_leaves_no_file(synth_postgres, mapping_text, tmp_path) -> None:
    """The probe passes (it reads no rows); the error comes when the records are read."""
    from ascld.errors import AscldError

    start, end = synth_postgres.periods[-1]
    text = mapping_text.replace(
        "r.review_id                                 AS event_key,",
        "r.review_id / (r.review_id % 50)            AS event_key,",
    )
    assert text != mapping_text
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(
        AscldError,
        match=r"line \d+: the reviews query failed while reading the source: "
        r"division by zero\. Nothing was written\.",
    ):
        extract_return(
            synth_postgres.url, write_mapping(tmp_path, text), start, end, out / "r.csv", validate=False
        )
    assert list(out.iterdir()) == []


def test_failure_after_rows_were_written_leaves_no_file(
    synth_sqlite, cms_copy, tmp_path, monkeypatch
) -> None:
    """A late person's date of birth is not a date: rows were already going to the writer when it is met.
    The message names the query and column, never the value."""
    import ascld.extract.run as run
    from ascld.errors import UsageError

    period = synth_sqlite.periods[-1]
    last = _in_period(
        cms_copy, REQUEST_PEOPLE.replace("ORDER BY client_id", "ORDER BY client_id DESC"), period
    )[0]
    _update(cms_copy, "UPDATE client SET date_of_birth = '31/12/1950' WHERE client_id = ?", last)
    entered: list[int] = []

    class SpyWriter(run.ReturnWriter):
        def write_lines(self, lines) -> None:
            entered.extend(1 for _ in lines)
            super().write_lines(lines)

    monkeypatch.setattr(run, "ReturnWriter", SpyWriter)
    monkeypatch.setattr(run, "WRITE_LINES", 1)  # hand each batch's lines over at once
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(
        UsageError, match="the people query's date_of_birth column holds text that is not an ISO"
    ):
        extract_return(
            sqlite_url(cms_copy), example_mapping_path(), *period, out / "r.csv", validate=False, chunk_rows=100
        )
    assert len(entered) > 100, "the failure should come after rows were written"
    assert list(out.iterdir()) == []
