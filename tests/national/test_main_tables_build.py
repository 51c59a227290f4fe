"""The build as a product: manifest, summary, command line, bad input, store layouts, clean-up."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_main_tables_scenarios import mt6_records

from ascld.cli import cli
from ascld.engine import connect
from ascld.errors import EngineError, UnusableInput
from ascld.methodology import load_main_tables_method
from ascld.national.main_tables import BuildParams, build_main_tables, read_store, store_table_from_records
from ascld.spec import load_spec
from conftest import D, T, covering_rows, submission, write_store

STEPS = [
    "store",
    "reporting_periods",
    "period_choices",
    "selected_submissions",
    "submission_rows",
    "events_in_period",
    "person_ids",
    "event_refs",
    "cropped",
    "derived",
    "main_table",
]
ARGS = ["--as-of", "2025-11-05", "--period", "2024-04-01:2025-09-30", "--mode", "joined"]


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mt6_store(tmp_path):
    return write_store(tmp_path / "store", mt6_records())


def test_cli_build_writes_table_manifest_and_summary(mt6_store, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["national", "build", "--store", str(mt6_store), *ARGS, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = out / "CLD_240401_250930_JoinedSubmissions.parquet"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["spec_version"] == load_spec().version_label
    assert manifest["method_version"] == load_main_tables_method().version
    assert manifest["engine"] == "duckdb"
    assert manifest["parameters"] == {
        "mode": "joined",
        "period_start": "2024-04-01",
        "period_end": "2025-09-30",
        "as_of": "2025-11-05",
        "basis": "derived",
        "unmapped": "auto",
        "excluded_imports": None,
    }
    assert manifest["inputs"]["files"] == [
        {
            "path": "part-0.parquet",
            "bytes": (mt6_store / "part-0.parquet").stat().st_size,
            "sha256": sha(mt6_store / "part-0.parquet"),
        }
    ]
    assert [s["ImportFileId"] for s in manifest["selected_submissions"]] == ["F1", "F3", "F4"]
    assert list(manifest["row_counts"]) == STEPS
    assert manifest["outputs"] == [
        {"path": table.name, "rows": pq.read_metadata(table).num_rows, "sha256": sha(table)}
    ]
    assert manifest["row_counts"]["main_table"] == pq.read_metadata(table).num_rows
    summary = (out / "summary.md").read_text(encoding="utf-8")
    for step in STEPS:
        assert f"| {step} |" in summary
    assert "request, assessment or review not ending in the reference period: 1" in summary  # R1-F4


def test_summary_removals_add_up_to_row_counts(mt6_store):
    result = build_main_tables(
        mt6_store, BuildParams("joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 11, 5)), hash_inputs=False
    )
    counts = result.row_counts
    removed = {s.name: sum(s.removed.values()) for s in result.steps}
    assert counts["submission_rows"] - removed["events_in_period"] == counts["events_in_period"]
    assert counts["events_in_period"] - removed["person_ids"] == counts["person_ids"]
    assert counts["derived"] - removed["main_table"] == counts["main_table"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2024-04-01"], "needs START:END"),
        (["--period", "2024-04-01:2025-13-01"], "is not a date"),
        # Joined: an as-of date inside the period still chooses files for the earlier quarters (§3.3); only
        # one before the first quarter's end leaves every quarter without a file.
        (["--as-of", "2024-06-29"], "as-of date 2024-06-29 is before the end of the first reference period"),
        (["--as-of", "2025-09-29", "--mode", "single"], "as-of date 2025-09-29 is before the period end"),
        (["--period", "2024-04-01:2024-05-31"], "shorter than one 3-month reference period"),
    ],
)
def test_cli_usage_errors_exit_2_with_the_fix(mt6_store, tmp_path, args, message):
    base = dict(zip(ARGS[::2], ARGS[1::2], strict=True))
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["national", "build", "--store", str(mt6_store), "--out", str(tmp_path / "o")]
    for k, v in base.items():
        argv += [k, v]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_store_missing_columns_is_refused_naming_them(tmp_path):
    table = store_table_from_records(
        [
            {
                "LA_Code": "318",
                "LA_Name": "X",
                "ImportDate": T(2025, 5, 1),
                "LA_Person_Unique_Identifier": "SECRET-ID-1",
            }
        ]
    )
    folder = tmp_path / "bad"
    folder.mkdir()
    pq.write_table(table.drop_columns(["Event_Type", "Der_Birth_Month"]), folder / "p.parquet")
    result = CliRunner().invoke(
        cli, ["national", "build", "--store", str(folder), *ARGS, "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "missing columns: `Der_Birth_Month`, `Event_Type`" in result.output
    assert "SECRET-ID-1" not in result.output


def test_store_wrong_type_is_refused(tmp_path):
    table = store_table_from_records([{"LA_Code": "318"}])
    folder = tmp_path / "bad"
    folder.mkdir()
    as_text = table.set_column(
        table.schema.get_field_index("Event_Start_Date"), "Event_Start_Date", pa.array(["2024-01-01"])
    )
    pq.write_table(as_text, folder / "p.parquet")
    with pytest.raises(UnusableInput, match=r"`Event_Start_Date` is string \(expected date\)"):
        build_main_tables(folder, BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5)))


def test_rows_without_submission_keys_are_refused_without_echoing_values(tmp_path):
    rows = [
        {
            "LA_Code": "318",
            "LA_Name": None,
            "ImportDate": T(2025, 5, 1),
            "LA_Person_Unique_Identifier": "SECRET",
        }
    ]
    store = write_store(tmp_path / "s", rows)
    with pytest.raises(UnusableInput, match="1 rows with no LA_Code, LA_Name, ImportDate") as err:
        build_main_tables(store, BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5)))
    assert "SECRET" not in str(err.value)


@pytest.mark.parametrize(
    ("ids", "message"),
    [((1, 1), "0 rows have none and 1 repeat"), ((1, None), "1 rows have none and 0 repeat")],
)
def test_record_ids_must_be_present_and_unique(tmp_path, ids, message):
    rows = [
        {"LA_Code": "318", "LA_Name": "X", "ImportDate": T(2025, 5, 1), "Der_Unique_Record_ID": i}
        for i in ids
    ]
    store = write_store(tmp_path / "s", rows)
    with pytest.raises(UnusableInput, match=message):
        build_main_tables(store, BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5)))


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(UnusableInput, match="no Parquet row files"):
        build_main_tables(tmp_path, BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5)))


def test_engine_failure_names_step_and_engine(mt6_store):
    con = connect("duckdb")
    con.disconnect()
    with pytest.raises(EngineError, match="Step `store` failed on duckdb"):
        build_main_tables(
            mt6_store, BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5)), con=con
        )


def test_intermediate_tables_are_dropped_after_the_build(mt6_store):
    con = connect("duckdb")
    build_main_tables(
        mt6_store,
        BuildParams("joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 11, 5)),
        con=con,
        hash_inputs=False,
    )
    names = [r[0] for r in con.raw_sql("SELECT table_name FROM information_schema.tables").fetchall()]
    assert not [n for n in names if n.startswith("__ascld_")]


def test_build_accepts_an_ibis_table(duck):
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)), imported=T(2025, 4, 20), file_id="F")
    records = [dict(r, Der_Unique_Record_ID=n) for n, r in enumerate(records)]
    raw = ibis.memtable(store_table_from_records(records))
    result = build_main_tables(
        raw, BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5)), con=duck
    )
    assert result.row_counts["main_table"] == 12
    assert result.manifest["inputs"]["files"] == []


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_hive_partition_values_keep_leading_zeros(tmp_path, engine, request):
    con = request.getfixturevalue("spark_con" if engine == "spark" else "duck")
    table = store_table_from_records([{"LA_Name": "X", "ImportDate": T(2025, 5, 1)}]).drop_columns(
        ["LA_Code"]
    )
    folder = tmp_path / "hive" / "LA_Code=001"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part.parquet")
    from ascld.national.main_tables import conform_store

    got = con.to_pyarrow(conform_store(read_store(con, tmp_path / "hive", engine)).select("LA_Code"))
    assert got.column("LA_Code").to_pylist() == ["001"]


def test_reads_only_registered_imports_of_an_ingest_store(tmp_path):
    fx = pytest.importorskip("ingest_fixtures")
    from ascld.identity import PseudoKey, Pseudonymiser
    from ascld.national import ingest as ing
    from ascld.national.store import NationalStore

    store = NationalStore(tmp_path / "store")
    con = duckdb.connect()
    rows = fx.return_rows(fx.make_people(3))
    fx.load_rows(con, rows)
    ing.ingest_table(
        con,
        "raw",
        store,
        pseudonymiser=Pseudonymiser(PseudoKey.from_text("11" * 32)),
        sha256="s",
        load_file_name="s.csv",
    )
    stray = tmp_path / "store" / "data" / "stray.parquet"  # not registered: must not be read
    pq.write_table(pq.read_table(store.row_files()[0]), stray)
    imported = store.imports()[0].import_datetime.date()
    as_of = max(imported, D(2025, 4, 1)) + dt.timedelta(days=1)
    params = BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), as_of)
    result = build_main_tables(tmp_path / "store", params, hash_inputs=False)
    assert result.row_counts["store"] == len(rows)
    assert result.row_counts["reporting_periods"] == 1


def test_spec_overlay_completes_a_mapping_table(tmp_path):
    from test_main_tables_scenarios import mt7_records

    store = write_store(tmp_path / "store", mt7_records())
    overlay = tmp_path / "overlay.csv"
    overlay.write_text(
        "list,value,r1_value\nrequest_route_of_access,Discharge from hospital,Discharge from Hospital\n",
        encoding="utf-8",
    )
    args = [
        "national",
        "build",
        "--store",
        str(store),
        "--as-of",
        "2025-05-05",
        "--period",
        "2024-04-01:2025-03-31",
        "--mode",
        "single",
    ]
    routes = {}
    for name, extra in (("plain", []), ("overlaid", ["--spec-overlay", str(overlay)])):
        out = tmp_path / name
        result = CliRunner().invoke(cli, [*args, "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        table = pq.read_table(out / "CLD_240401_250331_SingleSubmissions.parquet").to_pylist()
        routes[name] = {
            r["Request_Route_of_Access_Cleaned"] for r in table if r["Der_NHS_LA_Combined_Person_ID"] == "Y"
        }
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert ("overlay.csv" in manifest["spec_version"]) is (name == "overlaid")
    # The spec's list has no Release 2 values, so by default the raw value is kept; the overlay completes the
    # list, and a value outside it becomes invalid.
    assert routes == {"plain": {"Community / Other route"}, "overlaid": {"Invalid and not mapped"}}
