"""The return reader: transport checks, Windows-1252 transcoding, gzip, spreadsheet row numbers, loading."""

from __future__ import annotations

import csv
import gc
import gzip
import io
from pathlib import Path

import duckdb
import pytest

from ascld.quality.sample import SampleGenerator, write_rows
from ascld.returns.reader import TransportError, check_header, open_return


@pytest.fixture
def rows(spec):
    return SampleGenerator(spec, seed=4).rows(6)


def _write(path: Path, header, rows, spec, encoding="cp1252") -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows([[r[c] for c in spec.columns] for r in rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def test_ascii_file_is_read_in_place(tmp_path, rows, spec):
    for r in rows:
        r["First_Name"], r["Last_Name"] = "Alex", "Smith"
    path = _write(tmp_path / "a.csv", spec.headers, rows, spec)
    with open_return(path) as ret:
        assert ret.encoding == "ascii" and ret.data_path == path and ret.compression == "none"


def test_windows_1252_is_transcoded_exactly(tmp_path, rows, spec):
    rows[0]["Event_Description"] = "Cost €12 – agreed"  # 0x80 and 0x96 are Windows-1252, not Latin-1
    rows[1]["First_Name"] = "Zoë"
    path = _write(tmp_path / "w.csv", spec.headers, rows, spec)
    assert b"\x80" in path.read_bytes() and b"\x96" in path.read_bytes()
    con = duckdb.connect()
    with open_return(path) as ret:
        assert ret.encoding == "windows-1252" and ret.data_path != path
        assert ret.to_duckdb(con, "ret") == 6
        copy = ret.data_path
    assert not copy.exists()  # the temporary copy is removed on close
    got = con.execute('SELECT "Event_Description", "First_Name" FROM ret ORDER BY __row LIMIT 2').fetchall()
    assert got[0][0] == "Cost €12 – agreed" and got[1][1] == "Zoë"


def test_accented_letters_above_0x9f_are_read_in_place_as_latin_1(tmp_path, rows, spec):
    rows[0]["First_Name"], rows[1]["Last_Name"] = "Zoë", "Núñez"
    path = _write(tmp_path / "l.csv", spec.headers, rows, spec)
    con = duckdb.connect()
    with open_return(path) as ret:
        assert (ret.encoding, ret.duckdb_encoding, ret.data_path) == ("windows-1252", "latin-1", path)
        ret.to_duckdb(con, "t")
    got = con.execute('SELECT "First_Name", "Last_Name" FROM t ORDER BY __row LIMIT 2').fetchall()
    assert got[0][0] == "Zoë" and got[1][1] == "Núñez"


def test_unclosed_file_still_removes_its_copy(tmp_path, rows, spec):
    rows[0]["First_Name"] = "Zoë €"
    ret = open_return(_write(tmp_path / "w.csv", spec.headers, rows, spec))
    copy = ret.data_path
    assert copy.exists()
    del ret
    gc.collect()
    assert not copy.exists()


def test_gzip_is_read_and_row_numbers_are_spreadsheet_rows(tmp_path, rows, spec):
    path = write_rows(tmp_path / "r.csv.gz", rows)
    assert gzip.decompress(path.read_bytes()).startswith(b"LA Code,")
    con = duckdb.connect()
    with open_return(path) as ret:
        assert ret.compression == "gzip"
        ret.to_duckdb(con, "t")
    assert [r[0] for r in con.execute("SELECT __row FROM t ORDER BY __row").fetchall()] == list(range(2, 8))


def test_line_breaks_inside_quotes_keep_one_row(tmp_path, rows, spec):
    rows[1]["Event_Description"] = "first line\r\nsecond line"
    rows[3]["Ethnicity"] = "Martian"
    path = write_rows(tmp_path / "r.csv", rows)
    con = duckdb.connect()
    with open_return(path) as ret:
        ret.to_duckdb(con, "t")
    assert con.execute("SELECT __row FROM t WHERE \"Ethnicity\" = 'Martian'").fetchone()[0] == 5
    from ascld.quality import validate_return

    result = validate_return(path)
    assert (5, "Ethnicity", "C002") in {(p.row, p.field, p.check_id) for p in result.problems}


def test_blanks_are_null_when_loaded(tmp_path, rows, spec):
    rows[0]["GP_Practice_Code"] = ""
    con = duckdb.connect()
    with open_return(write_rows(tmp_path / "r.csv", rows)) as ret:
        ret.to_duckdb(con, "t")
    assert con.execute('SELECT "GP_Practice_Code" IS NULL FROM t WHERE __row = 2').fetchone()[0]


def test_empty_lines_are_reported_not_silent(tmp_path, rows, spec):
    path = write_rows(tmp_path / "r.csv", rows)
    data = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join(data[:3] + [b""] + data[3:]))
    with open_return(path) as ret:
        assert [(w.check_id, w.row) for w in ret.warnings] == [("T016", 4)]


def test_header_near_misses_get_the_exact_name(spec):
    header = list(spec.headers)
    header[0] = "LA_Code"
    header[30] = "Request Route of Access"
    header[19] = "autism spectrum disorder (asd)"
    problems = check_header(header, spec, "r.csv")
    text = " | ".join(p.message for p in problems)
    assert "'LA_Code' instead of 'LA Code' (underscores instead of spaces)" in text
    assert "'Request Route of Access' instead of 'Request: Route of Access' (a missing colon)" in text
    assert "different capital letters" in text
    assert {p.check_id for p in problems} == {"T007"} and all(p.row == 1 for p in problems)


def test_ragged_row_refused_when_loading(tmp_path, rows, spec):
    path = write_rows(tmp_path / "r.csv", rows)
    lines = path.read_bytes().split(b"\r\n")
    lines[3] = lines[3] + b","
    path.write_bytes(b"\r\n".join(lines))
    with open_return(path) as ret, pytest.raises(TransportError) as err:
        ret.to_duckdb(duckdb.connect(), "t")
    assert [(p.check_id, p.row) for p in err.value.problems] == [("T009", 4)]
    assert "\n" not in str(err.value)


def test_negative_numbers_pass_formula_check_but_formulas_do_not(tmp_path, rows, spec):
    rows[0]["Unit_Cost"] = "-12.50"
    con = duckdb.connect()
    with open_return(write_rows(tmp_path / "ok.csv", rows)) as ret:
        ret.to_duckdb(con, "t")
    rows[1]["Event_Description"] = "-see notes"
    with open_return(write_rows(tmp_path / "bad.csv", rows)) as ret, pytest.raises(TransportError) as err:
        ret.to_duckdb(con, "t2")
    assert [(p.check_id, p.row, p.field) for p in err.value.problems] == [("T012", 3, "Event_Description")]


def test_missing_path_is_a_usage_error(tmp_path):
    from ascld.errors import UsageError

    with pytest.raises(UsageError):
        open_return(tmp_path / "nope.csv")


def test_empty_lines_across_read_chunks(tmp_path, rows, spec, monkeypatch):
    """An empty line split across two reads, or at the end of a read with content after, is still found."""
    import ascld.returns.reader as reader

    path = write_rows(tmp_path / "r.csv", rows)
    lines = path.read_bytes().split(b"\r\n")
    data = b"\r\n".join(lines[:3] + [b""] + lines[3:])
    path.write_bytes(data)
    at = data.index(b"\r\n\r\n")
    for cut in (at + 1, at + 2, at + 3, at + 4):  # the chunk ends inside or just after the empty line
        monkeypatch.setattr(reader, "READ_BYTES", cut)
        with open_return(path) as ret:
            assert [(w.check_id, w.row) for w in ret.warnings] == [("T016", 4)], cut
    # Empty lines at the very end of the file are harmless, whatever the chunking.
    path.write_bytes(b"\r\n".join(lines) + b"\r\n\r\n\r\n")
    for cut in (len(lines[0]), 7, 1 << 24):
        monkeypatch.setattr(reader, "READ_BYTES", cut)
        with open_return(path) as ret:
            assert ret.warnings == [], cut


# --- byte-scan checks that run before DuckDB, which would otherwise lose rows without a word


def _first_long_line(data: bytes, limit: int) -> int | None:
    start = 0
    for line in data.split(b"\n"):
        if len(line) > limit:
            return start
        start += len(line) + 1
    return None


@pytest.mark.parametrize("seed", range(30))
def test_long_line_scan_agrees_with_splitting_into_lines(seed, monkeypatch):
    import random

    from ascld.returns import reader

    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 64)
    rng = random.Random(seed)
    lengths = [rng.choice([0, 5, 31, 32, 33, 63, 64]) for _ in range(200)]
    lengths.insert(rng.randrange(len(lengths)), rng.choice([65, 66, 80, 100, 127, 130, 400]))
    data = b"\n".join(b"x" * n for n in lengths) + rng.choice([b"\n", b""])
    checker = reader._Checker(None)
    found = None
    pos = 0
    while pos < len(data) and found is None:
        size = rng.choice([1, 7, 40, 64, 65, 200])
        checker.feed(data[pos : pos + size])
        found = checker.scan.long_line_offset
        pos += size
    assert found == _first_long_line(data, 64)


def test_a_line_of_exactly_the_limit_is_not_too_long(monkeypatch):
    from ascld.returns import reader

    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 64)
    checker = reader._Checker(None)
    checker.feed(b"y" * 64 + b"\n" + b"z" * 64)
    assert checker.scan.long_line_offset is None


@pytest.mark.parametrize(
    ("text", "opened"),
    [
        (b'a,"b ""quoted"" c",d\n1,2,3\n', None),
        (b'a,b"c,d\n1,2,"3"\n', None),  # a quote inside an unquoted value is part of it, as DuckDB reads it
        (b'a,"b\nc",d\n', None),  # a line break inside a closed quoted value
        (b'a,b,c\n1,"2,3\n4,5,6\n', 8),
        (b'a,b,c\n1,2,""""\n"x', 15),
        (b'a,b,c\n1,2,"x"""\n', None),
    ],
)
def test_unclosed_quote_is_found_as_duckdb_reads_quotes(tmp_path, monkeypatch, text, opened):
    from ascld.returns import reader

    path = tmp_path / "q.csv"
    path.write_bytes(text)
    for chunk in (1, 2, 3, 1 << 20):  # a doubled quote split across chunks is still one quote
        monkeypatch.setattr(reader, "READ_BYTES", chunk)
        assert reader._unclosed_quote(path) == opened, chunk


def test_header_cells_that_look_like_values_are_never_shown(spec):
    header = list(spec.headers)
    header[3] = "9434765919"
    header[11] = "01/02/1950"
    header[15] = "LS1 4AP"
    text = " | ".join(p.message for p in check_header(header, spec, "r.csv"))
    assert "9434765919" not in text and "01/02/1950" not in text and "LS1 4AP" not in text
    assert text.count("(a value, not shown)") == 3, text
