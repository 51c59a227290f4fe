"""`write_dq_file`: the DQ file written in one pass holds what the ingest's two passes wrote (values and schema,
NOT NULL marks included), over several row groups, with a NULL code (its fallback) and with no rows."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from ascld.national.store import DQ_ROW_GROUP_ROWS, PARQUET_OPTIONS, dq_select, write_dq_file

COLUMNS = ["cond_LA_Code", "chk_LA_Code", "cond_Gender", "chk_Gender"]


def _codes(con: duckdb.DuckDBPyConnection, tmp_path, n_rows: int, null_at: int | None) -> str:
    """A Parquet file of codes as the validator's scan view gives them (`__row` from 2, in order), read
    through a view whose `__row` DuckDB knows nothing of, as the scan's."""
    path = tmp_path / "scan.parquet"
    gender = "range % 7 - 2" if null_at is None else f"CASE WHEN range = {null_at} THEN NULL ELSE range % 7 - 2 END"
    con.execute(
        f"COPY (SELECT CAST(range % 3 AS TINYINT) AS c1, CAST(range % 5 - 1 AS TINYINT) AS c2, "
        f"CAST(range % 4 - 1 AS TINYINT) AS c3, CAST({gender} AS TINYINT) AS c4 FROM range({n_rows})) "
        f"TO '{path}' (FORMAT parquet)"
    )
    con.execute(
        "CREATE OR REPLACE VIEW scan AS SELECT CAST(file_index AS BIGINT) * 1000000 + file_row_number + 2 AS __row, "
        f"c1 AS cond_LA_Code, c2 AS chk_LA_Code, c3 AS cond_Gender, c4 AS chk_Gender "
        f"FROM read_parquet(['{path}'], file_row_number = true)"
    )
    return "(SELECT * FROM scan)"


def _two_passes(con, source: str, tmp_path) -> pq.ParquetFile:
    """What the ingest wrote before: the codes to a file (as the validator did), then `dq_select` over it."""
    codes, out = tmp_path / "codes.parquet", tmp_path / "two_passes.parquet"
    con.execute(f"COPY (SELECT * FROM {source} ORDER BY __row) TO '{codes}' (FORMAT parquet)")
    con.execute(f"COPY ({dq_select(f'read_parquet({chr(39)}{codes}{chr(39)})', '00000007', COLUMNS, 98)}) "
                f"TO '{out}' ({PARQUET_OPTIONS})")
    return pq.ParquetFile(out)


@pytest.mark.parametrize(("n_rows", "null_at"), [(2 * DQ_ROW_GROUP_ROWS + 1234, None), (70_000, 65_000), (0, None)])
def test_one_pass_writes_what_two_passes_wrote(tmp_path, n_rows, null_at):
    con = duckdb.connect()
    source = _codes(con, tmp_path, n_rows, null_at)
    path = tmp_path / "dq.parquet"
    write_dq_file(con, source, COLUMNS, "00000007", 98, path, work=tmp_path)
    got, want = pq.ParquetFile(path), _two_passes(con, source, tmp_path)
    assert got.schema_arrow == want.schema_arrow
    if n_rows:  # NOT NULL where the column holds no NULL
        assert got.schema_arrow.field("chk_Gender").nullable == (null_at is not None)
        assert not got.schema_arrow.field("Der_Unique_Record_ID").nullable
    assert got.read() == want.read()  # in row order: Der_Unique_Record_ID 100, 101, ...
    assert got.read().column("Der_Unique_Record_ID").to_pylist() == list(range(100, 100 + n_rows))
    if n_rows and null_at is None:
        assert [got.metadata.row_group(i).num_rows for i in range(got.metadata.num_row_groups)] == [
            DQ_ROW_GROUP_ROWS, DQ_ROW_GROUP_ROWS, 1234]
    assert not (tmp_path / "dq-codes.parquet").exists()


def test_a_file_for_another_import_is_not_stored(tmp_path):
    from ascld.national.ingest import _check_dq_file

    con = duckdb.connect()
    source = _codes(con, tmp_path, 10, None)
    path = tmp_path / "dq.parquet"
    write_dq_file(con, source, COLUMNS, "00000007", 98, path, work=tmp_path)
    _check_dq_file(con, path, "00000007", 100, 10, 109)
    for args in (("00000008", 100, 10, 109), ("00000007", 101, 10, 110), ("00000007", 100, 11, 110)):
        with pytest.raises(RuntimeError, match="not written for import"):
            _check_dq_file(con, path, *args)
