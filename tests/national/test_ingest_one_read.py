"""The ingest reads a return once: the validator's scan carries the values (`validate_return(load_into=...)`).

What it loads must be exactly what a separate read of the file gave (`ReturnFile.to_duckdb`: `__row`, every
column text, blanks NULL), for every kind of file the reader handles: Windows-1252 read in place or through a
transcoded copy, gzip, values with line breaks (read again by one thread), small files (streamed by the quicker
route) and files written in several parts. The values are written only when asked for, only in the working
folder, and never outlive the call or the ingest. Every identifier here is synthetic.
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from pathlib import Path

import duckdb
import ingest_fixtures as fx
import pyarrow.parquet as pq
import pytest

import ascld.national.ingest as ingest_module
import ascld.quality.validate as validate_module
from ascld.identity import PseudoKey, Pseudonymiser, load_demographic_index, load_postcode_lookup
from ascld.national.ingest import ingest_files, ingest_table
from ascld.national.store import NationalStore
from ascld.quality import validate_return
from ascld.returns.reader import ReturnFile, open_return
from ascld.spec import load_spec

KEY = PseudoKey.from_text("4d" * 32)
IMPORT_DATE = "2025-04-20"
SUBMITTED = fx.dt.date(2025, 4, 20)


def _rows(kind: str, n_people: int = 12, seed: int = 3) -> list[dict[str, str]]:
    people = fx.make_people(n_people, seed=seed, la_code="503")
    rows = fx.return_rows(people, "503")
    rows[0]["NHS_Number"] = "9990000017"  # a field failure: stored with its DQ code
    rows[1]["Event_Description"] = "  "  # white space only: kept as submitted (not '' -> NULL)
    if kind == "transcoded":
        # Bytes 0x80-0x9F (curly quote, en dash, euro sign): the reader makes a UTF-8 copy.
        rows[2]["Event_Description"] = "Visit \u2013 O\u2019Brien\u2019s \u20ac12"
    if kind == "line_breaks":
        rows[2]["Event_Description"] = "Home visit\r\nsecond line"
        rows[5]["Event_Description"] = 'said "fine",\nthen left'
    if kind == "ascii":
        for r in rows:
            r["First_Name"] = r["First_Name"].replace("\u00e2", "a")
    return rows


def _write(path: Path, kind: str, rows: list[dict[str, str]]) -> Path:
    plain = fx.write_return_csv(path.with_suffix(".csv"), rows)
    if kind != "gzip":
        return plain
    gz = path.with_suffix(".csv.gz")
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return gz


KINDS = ["latin1", "ascii", "transcoded", "line_breaks", "gzip"]
# (SMALL_FILE_BYTES, SCAN_ROWS_PER_FILE): the small route in one file, the large route in one file and in
# parts of 7 rows.
ROUTES = {"small": (10_000_000, 1_000_000), "large": (0, 1_000_000), "large-parts": (0, 7)}


@pytest.fixture(params=list(ROUTES))
def route(request, monkeypatch):
    small, per_file = ROUTES[request.param]
    monkeypatch.setattr(validate_module, "SMALL_FILE_BYTES", small)
    monkeypatch.setattr(validate_module, "SCAN_ROWS_PER_FILE", per_file)
    return request.param


def _expected(path: Path) -> list[tuple]:
    """The file's data rows as Python's csv module reads them: (row number, value or None for blank, ...)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = list(csv.reader(io.StringIO(data.decode("cp1252"), newline="")))
    assert len(lines[0]) == len(load_spec().columns)
    return [(i + 2, *[v if v != "" else None for v in r]) for i, r in enumerate(lines[1:])]


def _loaded(con, name: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {name} ORDER BY __row").fetchall()


def _reader_took(monkeypatch) -> dict[str, list]:
    """Record how the reader read each file (in parallel or not) and whether it used a transcoded copy."""
    seen: dict[str, list] = {"parallel": [], "copy": []}
    real = ReturnFile.read_csv_sql

    def spy(self, rejects=None, *, parallel=None):
        seen["parallel"].append(self.parallel if parallel is None else parallel)
        seen["copy"].append(self.data_path != self.path)
        return real(self, rejects, parallel=parallel)

    monkeypatch.setattr(ReturnFile, "read_csv_sql", spy)
    return seen


@pytest.mark.parametrize("kind", KINDS)
def test_loaded_rows_are_the_file_as_read(tmp_path, monkeypatch, route, kind):
    path = _write(tmp_path / f"la503_{kind}", kind, _rows(kind))
    took = _reader_took(monkeypatch)
    con = duckdb.connect()
    work = tmp_path / "work"
    work.mkdir()
    result = validate_return(path, submission_date=SUBMITTED, temp_dir=str(work), load_into=(con, "raw"))
    assert result.usable and result.exit_code == 1  # the bad NHS number
    # each kind went the way it is meant to exercise
    assert took["parallel"][-1] is (kind != "line_breaks")
    assert any(took["copy"]) is (kind in ("transcoded", "gzip"))

    described = con.execute("DESCRIBE raw").fetchall()
    assert [(r[0], r[1]) for r in described] == [("__row", "BIGINT")] + [
        (c, "VARCHAR") for c in load_spec().columns
    ]
    expected = _expected(path)
    assert _loaded(con, "raw") == expected
    # ... which is what the reader's own separate read gives
    with open_return(path) as ret:
        ret.to_duckdb(con, "separate", check=False)
    assert _loaded(con, "separate") == expected

    files = [Path(p) for (p,) in con.execute('SELECT path FROM "raw__files"').fetchall()]
    assert len(files) == (4 if route == "large-parts" else 1)
    assert all(f.is_file() and f.is_relative_to(work) for f in files)
    ReturnFile.drop_loaded(con, "raw")
    assert not any(f.exists() for f in files)
    assert con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'raw__files'"
    ).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'raw'").fetchone()[0] == 0
    ReturnFile.drop_loaded(con, "raw")  # nothing left to drop: no error


def _value_columns(folder: Path) -> list[str]:
    """Files under `folder` that hold a column named as a sensitive submitted column (a file of values).
    (The scan's files have a column `gender`, which DuckDB names `Gender`: not sensitive.)"""
    spec = load_spec()
    columns = {c for c in spec.columns if spec.field(c).sensitive}
    assert {"NHS_Number", "Date_of_Birth", "Postcode", "First_Name"} <= columns
    return [
        str(p.relative_to(folder))
        for p in folder.rglob("*.parquet")
        if columns & set(pq.read_schema(p).names) or "values" in p.name
    ]


def test_a_plain_validation_writes_no_values(tmp_path, monkeypatch):
    monkeypatch.setattr(validate_module, "SMALL_FILE_BYTES", 0)
    monkeypatch.setattr(validate_module, "SCAN_ROWS_PER_FILE", 7)
    path = _write(tmp_path / "la503", "latin1", _rows("latin1"))
    work = tmp_path / "work"
    work.mkdir()
    result = validate_return(path, submission_date=SUBMITTED, temp_dir=str(work))
    assert result.usable
    folder = Path(result._workdir)
    assert sorted(p.name for p in folder.glob("dq-*.parquet")) == [f"dq-{i:04d}.parquet" for i in range(4)]
    assert _value_columns(folder) == []
    # the same call with load_into writes them, beside the scan's files
    con = duckdb.connect()
    loaded = validate_return(path, submission_date=SUBMITTED, temp_dir=str(work), load_into=(con, "raw"))
    assert sorted(_value_columns(Path(loaded._workdir))) == [f"dq-values-{i:04d}.parquet" for i in range(4)]
    ReturnFile.drop_loaded(con, "raw")
    assert _value_columns(Path(loaded._workdir)) == []


@pytest.mark.parametrize("refusal", ["two_councils", "unsplittable"])
def test_nothing_is_kept_when_the_file_is_refused(tmp_path, refusal):
    rows = _rows("latin1")
    if refusal == "two_councils":  # found after the scan, from its codes (T013)
        rows[3]["LA_Code"] = "504"
        path = _write(tmp_path / "la503", "latin1", rows)
    else:  # rows DuckDB cannot split (T009): found by the scan's read itself
        path = _write(tmp_path / "la503", "latin1", rows)
        text = path.read_text(encoding="cp1252").splitlines(keepends=True)
        text[4] = text[4].rstrip("\r\n") + ",surplus\r\n"
        path.write_text("".join(text), encoding="cp1252")
    work = tmp_path / "work"
    work.mkdir()
    con = duckdb.connect()
    result = validate_return(path, submission_date=SUBMITTED, temp_dir=str(work), load_into=(con, "raw"))
    assert not result.usable
    assert list(work.iterdir()) == []
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'raw'").fetchone()[0] == 0


def test_nothing_is_kept_when_the_validation_fails_after_loading(tmp_path, monkeypatch):
    path = _write(tmp_path / "la503", "latin1", _rows("latin1"))

    def broken(*args, **kwargs):
        raise RuntimeError("a step after the load failed")

    monkeypatch.setattr(validate_module, "_field_counts", broken)
    work = tmp_path / "work"
    work.mkdir()
    con = duckdb.connect()
    with pytest.raises(RuntimeError, match="after the load"):
        validate_return(path, submission_date=SUBMITTED, temp_dir=str(work), load_into=(con, "raw"))
    assert list(work.iterdir()) == []
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'raw'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'raw__files'").fetchone()[0] == 0


# ---- the whole ingest: the one-read store against a store made from a separate read -----------------------


def _separate_read_ingest(paths: list[Path], store: NationalStore, index: Path) -> None:
    """The ingest as it was before the values rode on the scan: validate (DQ codes only), then read the file
    again into a table (`ReturnFile.to_duckdb`) and store that. Same arguments as `_ingest_one` gives."""
    con = duckdb.connect()
    idx = load_demographic_index(index)
    postcodes = load_postcode_lookup(None)  # as ingest_files uses by default
    when = ingest_module._as_import_datetime(IMPORT_DATE)
    for path in paths:
        with tempfile.TemporaryDirectory(dir=store.root.parent) as work:
            dq_path = Path(work) / "dq_rows.parquet"
            result = validate_return(path, dq_out=dq_path, submission_date=when.date(), temp_dir=work)
            assert result.usable
            with open_return(path) as ret:
                ret.to_duckdb(con, "separate_rows", check=False)
            # `__row` as the ingest's table had it: computed by a view (a stored column would make the rows
            # file's Der_Unique_Record_ID NOT NULL; the ingest's never was).
            con.execute(
                "CREATE OR REPLACE VIEW separate AS SELECT CAST(rowid + 2 AS BIGINT) AS __row, "
                "* EXCLUDE (__row) FROM separate_rows"
            )
            assert con.execute("SELECT bool_and(__row = rowid + 2) FROM separate_rows").fetchone()[0]
            con.execute(f"CREATE OR REPLACE VIEW dq AS SELECT * FROM read_parquet('{dq_path}')")
            ingest_table(
                con, "separate", store, pseudonymiser=Pseudonymiser(KEY), sha256=ingest_module.file_sha256(path),
                load_file_name=path.name, import_date=when, index=idx, postcodes=postcodes,
                la_names={"503": "Northam"},
                dq_table="dq",
            )
            con.execute("DROP VIEW dq; DROP VIEW separate; DROP TABLE separate_rows")


def _stored(store: NationalStore) -> list[tuple]:
    out = []
    for rec in store.imports():
        rows = pq.read_table(store.root / rec.rows_file)
        dq = pq.read_table(store.root / rec.dq_file)
        # (the rows file's order comes from DuckDB's parallel joins, so rows are compared by record ID)
        by_id = "Der_Unique_Record_ID"
        out.append((rec.import_id, rec.la_code, rec.row_count, rec.first_record_id, rec.last_record_id,
                    rows.schema, rows.sort_by(by_id).to_pylist(), dq.schema, dq.sort_by(by_id).to_pylist()))
    return out


def test_ingest_stores_what_a_separate_read_stores(tmp_path, monkeypatch, route):
    paths = []
    for i, kind in enumerate(KINDS):
        rows = _rows(kind, n_people=6 + i, seed=10 + i)
        paths.append(_write(tmp_path / f"f{i}_{kind}", kind, rows))
    people = fx.make_people(40, seed=3, la_code="503")
    index = fx.write_index(tmp_path / "index.csv", people)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    seen: list[list[Path]] = []
    real_ingest_table = ingest_module.ingest_table

    def watching(con, table, *args, **kwargs):
        seen.append([Path(p) for (p,) in con.execute(f'SELECT path FROM "{table}__files"').fetchall()])
        assert all(p.is_file() for p in seen[-1])
        return real_ingest_table(con, table, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "ingest_table", watching)
    one_read = NationalStore(tmp_path / "one_read")
    report = ingest_files(paths, one_read, key=KEY, index=index, import_date=IMPORT_DATE,
                          la_names={"503": "Northam"})
    assert [o.status for o in report.outcomes] == ["stored"] * len(paths)
    # the values were read from files in the ingest's working folder, and nothing of it is left
    assert len(seen) == len(paths)
    assert all(p.is_relative_to(tmp_path / "tmp") and p.name.startswith("dq-values-") for ps in seen for p in ps)
    assert list((tmp_path / "tmp").iterdir()) == []

    monkeypatch.setattr(ingest_module, "ingest_table", real_ingest_table)
    separate = NationalStore(tmp_path / "separate")
    _separate_read_ingest(paths, separate, index)
    got, want = _stored(one_read), _stored(separate)
    assert len(got) == len(paths)
    assert sum(r[2] for r in got) == sum(len(_expected(p)) for p in paths)
    for g, w in zip(got, want, strict=True):
        assert g == w
