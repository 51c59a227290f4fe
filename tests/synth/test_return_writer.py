"""The return writer: exact headers and order, dd/mm/yyyy, two decimals, Windows-1252 without BOM, atomic."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascld.returns import ReturnWriter, write_return
from ascld.spec import load_spec


def _read(path, opener=open):
    with opener(path, "rb") as fh:
        return fh.read()


def test_headers_are_the_spec_headers_in_order(tmp_path):
    written = write_return([], tmp_path / "r.csv")
    data = _read(written.path)
    header = data.split(b"\r\n")[0].decode("cp1252")
    assert next(csv.reader([header])) == list(load_spec().headers)
    assert written.rows == 0


def test_values_are_formatted_and_encoded(tmp_path):
    row = {
        "LA_Code": "501",
        "Reporting_Period_Start_Date": dt.date(2024, 7, 1),
        "First_Name": "Zoë",
        "Unit_Cost": decimal.Decimal("18.505"),
        "Planned_units_per_week": 7,
        "No_of_adults_being_cared_for": 2,
        "Event_Description": 'Day centre, "Oaks"',
        "Event_End_Date": None,
    }
    written = write_return([row], tmp_path / "r.csv")
    data = _read(written.path)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 2
    assert "Zoë".encode("cp1252") in data
    cells = next(csv.reader(io.StringIO(data.decode("cp1252").split("\r\n")[1])))
    by_column = dict(zip(load_spec().columns, cells, strict=True))
    assert by_column["Reporting_Period_Start_Date"] == "01/07/2024"
    assert by_column["Unit_Cost"] == "18.51"
    assert by_column["Planned_units_per_week"] == "7.00"
    assert by_column["No_of_adults_being_cared_for"] == "2"
    assert by_column["Event_Description"] == 'Day centre, "Oaks"'
    assert by_column["Event_End_Date"] == ""
    assert b'"Day centre, ""Oaks"""' in data  # minimal quoting, doubled quotes


def test_unknown_column_and_formula_are_refused_and_nothing_is_left_behind(tmp_path):
    with pytest.raises(KeyError):
        write_return([{"Not_A_Column": "x"}], tmp_path / "r.csv")
    with pytest.raises(ValueError, match="formula"):
        write_return([{"Event_Description": "=HYPERLINK(1)"}], tmp_path / "r.csv")
    assert list(tmp_path.iterdir()) == []
    written = write_return(
        [{"Unit_Cost": "-45.50"}], tmp_path / "r.csv"
    )  # a negative number is not a formula
    assert written.rows == 1


def test_characters_outside_windows_1252_are_refused(tmp_path):
    with pytest.raises(UnicodeEncodeError):
        write_return([{"First_Name": "Łukasz"}], tmp_path / "r.csv")
    assert list(tmp_path.iterdir()) == []


def test_gzip_output_is_deterministic(tmp_path):
    rows = [{"LA_Code": "501", "Event_Start_Date": dt.date(2025, 1, 31)}]
    a = write_return(rows, tmp_path / "a.csv.gz", gzip=True)
    b = write_return(rows, tmp_path / "b.csv.gz", gzip=True)
    assert a.sha256 == b.sha256
    plain = write_return(rows, tmp_path / "c.csv")
    assert gzip.decompress(_read(a.path)) == _read(plain.path)


def test_newline_option_and_cells_path(tmp_path):
    spec = load_spec()
    with ReturnWriter(tmp_path / "r.csv", newline="\n") as writer:
        writer.write_cells(["x"] * len(spec.columns))
    data = _read(tmp_path / "r.csv")
    assert b"\r" not in data and data.count(b"\n") == 2


def test_formula_error_names_the_row_even_after_many_rows(tmp_path, monkeypatch):
    import ascld.returns.writer as writer_module

    monkeypatch.setattr(writer_module, "CHUNK", 200)  # force several chunks
    rows = [{"Event_Description": f"row {i}"} for i in range(50)]
    rows.append({"Event_Description": "@SUM(1,1)"})
    with pytest.raises(ValueError, match=r"row 52, field Event_Description"):
        write_return(rows, tmp_path / "r.csv")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.text(alphabet=st.sampled_from('ab ,"\r\n-é£'), max_size=6), min_size=50, max_size=50),
        min_size=1,
        max_size=5,
    )
)
def test_quoting_matches_the_csv_module(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("q") / "r.csv"
    with ReturnWriter(path, check_formulas=False) as writer:
        for cells in rows:
            writer.write_cells(cells)
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(
        [load_spec().headers, *rows]
    )
    assert path.read_bytes() == expected.getvalue().encode("cp1252")
