"""Extracting a synthetic council's database gives exactly the rows of the generator's own return for the same
period (same multiset of rows after sorting), on SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from pathlib import Path

import pytest
from extract_support import read_return

from ascld.extract import example_mapping_path, extract_return
from ascld.spec import load_spec


def _diff(expected: list[tuple[str, ...]], got: list[tuple[str, ...]]) -> str:
    """A readable account of the first differences (identifiers left out: the rows are synthetic anyway, but
    the reference and event type are enough to find them)."""
    columns = load_spec().columns
    missing, extra = Counter(expected) - Counter(got), Counter(got) - Counter(expected)
    lines = [f"{sum(missing.values())} rows missing, {sum(extra.values())} extra"]
    for row in sorted(missing)[:5]:
        twin = next((x for x in extra if x[4] == row[4] and x[25] == row[25] and x[13] == row[13]), None)
        if twin is None:
            lines.append(f"missing: {row[13]} {row[24]} {row[25]}")
        else:
            lines.append(
                f"{row[25]} differs: "
                + ", ".join(
                    f"{columns[i]} expected {row[i]!r} got {twin[i]!r}"
                    for i in range(len(row))
                    if row[i] != twin[i]
                )
            )
    lines += [f"extra: {x[13]} {x[24]} {x[25]}" for x in sorted(extra)[:5]]
    return "\n".join(lines)


def _check_period(council, period, tmp_path: Path) -> None:
    start, end = period
    result = extract_return(
        council.url, example_mapping_path(), start, end, tmp_path / "out.csv", validate=False
    )
    expected = read_return(council.clean[period])
    got = read_return(result.path)
    assert result.rows == len(got)
    assert sorted(got) == sorted(expected), _diff(expected, got)


def test_sqlite_extract_equals_generator_return_every_quarter(synth_sqlite, tmp_path: Path) -> None:
    assert len(synth_sqlite.periods) == 8
    for period in synth_sqlite.periods:
        _check_period(synth_sqlite, period, tmp_path)


@pytest.mark.postgres
def test_postgres_extract_equals_generator_return(synth_postgres, tmp_path: Path) -> None:
    periods = synth_postgres.periods
    for period in (periods[0], periods[3], periods[-1]):
        _check_period(synth_postgres, period, tmp_path)


def test_extract_covers_every_kind_of_row(synth_sqlite, tmp_path: Path) -> None:
    """The test council exercises what the mapping must handle: conversations, stale open services, carers
    known by association, services written open at the period end, and events left out of scope."""
    start, end = synth_sqlite.periods[-1]
    result = extract_return(
        synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "r.csv", validate=False
    )
    rows = read_return(result.path)
    col = {c: i for i, c in enumerate(load_spec().columns)}
    assert all(result.rows_by_type[k] > 0 for k in result.rows_by_type), result.rows_by_type
    assert any(r[col["Event_Description"]] == "Initial conversation" for r in rows)
    open_services = [r for r in rows if r[col["Event_Type"]] == "Service" and not r[col["Event_End_Date"]]]
    assert open_services and all(
        r[col["Event_Outcome"]] == "Continuation of support or services" for r in open_services
    )
    kba = [r for r in rows if r[col["Client_Type"]] == "Unpaid carer known by association"]
    assert kba and all(r[col["Adult_1_Linked_Person_ID"]] and not r[col["Event_Type"]] for r in kba)
    assert all(r[col["Reporting_Period_Start_Date"]] == f"{start:%d/%m/%Y}" for r in rows)


def test_file_is_in_submission_form(synth_sqlite, tmp_path: Path) -> None:
    start, end = synth_sqlite.periods[-1]
    result = extract_return(synth_sqlite.url, example_mapping_path(), start, end, tmp_path, validate=False)
    assert result.path.name == f"131_CLD_{start:%Y%m%d}_{end:%Y%m%d}.csv"
    data = result.path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == result.rows + 1 and data.count(b"\n") == result.rows + 1
    assert data.split(b"\r\n")[0].decode("cp1252") == ",".join(
        f'"{h}"' if "," in h else h for h in load_spec().headers
    )


def test_lf_and_gzip_variants_hold_the_same_rows(synth_sqlite, tmp_path: Path) -> None:
    start, end = synth_sqlite.periods[-1]
    plain = extract_return(
        synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "a.csv", validate=False
    )
    lf = extract_return(
        synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "b.csv", newline="\n", validate=False
    )
    packed = extract_return(
        synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "c.csv.gz", gzip=True, validate=False
    )
    crlf_bytes = plain.path.read_bytes()
    for result in (plain, lf, packed):  # the writer hashes what it writes
        assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
        assert result.bytes == result.path.stat().st_size
    assert b"\r" not in lf.path.read_bytes()
    assert lf.path.read_bytes().replace(b"\n", b"\r\n") == crlf_bytes
    assert gzip.decompress(packed.path.read_bytes()) == crlf_bytes
    assert (
        plain.sha256
        == extract_return(
            synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "d.csv", validate=False
        ).sha256
    )  # deterministic


def test_extract_runs_the_validator(synth_sqlite, tmp_path: Path) -> None:
    start, end = synth_sqlite.periods[-1]
    result = extract_return(synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "v.csv")
    assert result.validation is not None, result.validator_note
    assert result.validation.row_count == result.rows
    assert result.validation.usable
    # The synthetic system holds a few unrecorded or mis-keyed NHS numbers (defects the generator inherits);
    # nothing else in an extract of it is a failure.
    errors = [p for p in result.validation.problems if p.severity == "error"]
    assert len(errors) == result.validation.errors
    assert {p.field for p in errors} <= {"NHS_Number"}, {(p.check_id, p.field) for p in errors}


def test_cells_made_value_by_value_and_in_small_batches_give_the_same_file(
    synth_sqlite, tmp_path: Path, monkeypatch
) -> None:
    """The column-at-a-time shortcuts (whole columns through value maps and caches, free-text columns
    checked at once) and the value-at-a-time paths they fall back to make the same cells; batches of a few
    people (keys split across chunks) make the same file as large ones."""
    import ascld.extract.run as run

    start, end = synth_sqlite.periods[-1]
    usual = extract_return(
        synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "a.csv", validate=False
    )
    small = extract_return(
        synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "b.csv", validate=False, chunk_rows=7
    )
    assert small.path.read_bytes() == usual.path.read_bytes()

    def codes(self, col, d, section, field_):
        return [d[v] if v in d else self.map_code(d, v, section, field_) for v in col]

    def texts(self, col, known, field_, owners):
        return self._text_values(col, {None: known[None], "": known[""]}, field_, owners)

    def dates(col, section, field_):
        return [run._fmt_date(v, section, field_) for v in col]

    def decimals(col, section, field_):
        return [run._fmt_decimal(v, section, field_) for v in col]

    monkeypatch.setattr(run._Extractor, "_code_column", codes)
    monkeypatch.setattr(run._Extractor, "_text_column", texts)
    monkeypatch.setattr(run._Extractor, "_date_column", staticmethod(dates))
    monkeypatch.setattr(run._Extractor, "_decimal_column", staticmethod(decimals))
    one_by_one = extract_return(
        synth_sqlite.url, example_mapping_path(), start, end, tmp_path / "c.csv", validate=False
    )
    assert one_by_one.path.read_bytes() == usual.path.read_bytes()
