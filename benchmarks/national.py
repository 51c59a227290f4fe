"""Benchmark: building the national main tables (joined and single) from a national store.

* store: a synthetic national store made here in DuckDB SQL (seeded): ``--councils`` councils,
  ``--people`` people, rolling 12-month files for ``--quarters`` quarters (each event repeated in every file
  whose window it falls in, as councils' rolling extracts do). `ascld.synth` was being written alongside this
  benchmark, so it makes its own simple rows; swap in the synthetic generator's national store when it exists.
* baseline: a bare scan of the same store in DuckDB (every column read: MIN of each column);
* builds: `build_main_tables` for the joined table (all quarters) and the single table (the last 12 months),
  each in a fresh child process so its peak RSS is its own, DuckDB backed by a file in the work folder.

Prints wall seconds, the ratio to the baseline scan and peak RSS (target <= 8 GB) and writes them to
``benchmarks/out/national.json``. Run by hand: ``uv run python benchmarks/national.py [--people N]``; the
national scale of DESIGN.md is ``--councils 153 --people 1500000 --quarters 8``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "national.json"
LAST_QUARTER_END = dt.date(2026, 3, 31)
MEMORY_LIMIT = os.environ.get("ASCLD_BENCH_MEMORY_LIMIT", "5GB")

TYPES = "['Request','Request','Request','Assessment','Assessment','Service','Service','Service','Review']"
OUTCOMES = (
    "['NFA: Other','Progress to support planning or services','Continuation of support or services',"
    "'NFA: Support ended as planned','Progress to assessment, review or reassessment','NFA - Deceased',"
    "'Admitted to hospital','nfa: support declined']"
)
SERVICES = (
    "[['Long term support: Community','Home support or domiciliary care'],"
    "['Long term support: Residential care','Long term residential care'],"
    "['Short term support: ST-Max','Reablement'],['Short Term Support: Other Short Term','Equipment'],"
    "['Long term support: Nursing care','Long term nursing care']]"
)


def quarter_ends(quarters: int) -> list[dt.date]:
    from ascld.national.main_tables.sql import add_months

    ends = []
    for k in range(quarters):
        first_of_next = add_months(dt.date(2026, 4, 1), -3 * k)
        ends.append(first_of_next - dt.timedelta(days=1))
    return sorted(ends)


def _column_sql(name: str, kind: str) -> str:
    """The SELECT expression of one store column over the events table `e`."""
    known = {
        "LA_Code": "lpad(CAST(e.la AS VARCHAR), 3, '0')",
        "LA_Name": "'Council ' || CAST(e.la AS VARCHAR)",
        "ImportDate": "q.imported",
        "ImportFileId": "lpad(CAST(e.la AS VARCHAR), 3, '0') || '-' || CAST(q.k AS VARCHAR)",
        "Reporting_Period_Start_Date": "q.window_start",
        "Reporting_Period_End_Date": "q.quarter_end",
        "Der_NHS_Number_Traced_Pseudo": "CASE WHEN e.person % 10 < 8 THEN md5('t' || e.person::VARCHAR) END",
        "Der_NHS_Number_Pseudo": "CASE WHEN e.person % 10 = 8 THEN md5('n' || e.person::VARCHAR) END",
        "LA_Person_Unique_Identifier": "md5('p' || CAST(e.person AS VARCHAR))",
        "Der_Birth_Year": "CAST(1925 + e.person % 80 AS INTEGER)",
        "Der_Birth_Month": "CAST(1 + e.person % 12 AS INTEGER)",
        "Date_of_Death": "CASE WHEN e.person % 50 = 0 THEN e.start_date + 200 END",
        "Gender": "CASE e.person % 3 WHEN 0 THEN 'Male' WHEN 1 THEN 'Female' ELSE 'Unknown' END",
        "Ethnicity": (
            "CASE e.person % 4 WHEN 0 THEN 'White: Irish' "
            "WHEN 1 THEN 'White - English, Welsh, Scottish, Northern Irish or British' "
            "WHEN 2 THEN 'Asian or Asian British: Indian' ELSE 'No data: Refused' END"
        ),
        "Client_Type": "CASE WHEN e.person % 7 = 0 THEN 'Unpaid carer' ELSE 'Service user' END",
        "Accommodation_Status": "'Owner occupier or shared ownership scheme'",
        "Event_Type": "e.event_type",
        "Event_Start_Date": "e.start_date",
        "Event_End_Date": "CASE WHEN e.end_date <= q.quarter_end THEN e.end_date END",
        "Event_Outcome": "CASE WHEN e.end_date <= q.quarter_end THEN e.outcome END",
        "Service_Type": "CASE WHEN e.event_type = 'Service' THEN e.service[1] END",
        "Service_Component": "CASE WHEN e.event_type = 'Service' THEN e.service[2] END",
        "Delivery_Mechanism": "CASE WHEN e.event_type = 'Service' THEN 'CASSR commissioned support' END",
        "Unit_Cost": "CASE WHEN e.event_type = 'Service' THEN round(e.u * 500, 3) END",
        "Cost_Frequency_Unit_Type": "CASE WHEN e.event_type = 'Service' THEN 'Weekly' END",
        "Planned_units_per_week": "CASE WHEN e.event_type = 'Service' THEN 1.0 END",
        "Der_Unique_Record_ID": "q.first_record_id + row_number() OVER ()",
        "Der_Conversation": "CAST(e.person % 2 AS INTEGER)",
    }
    sql_type = {
        "string": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "int32": "INTEGER",
        "int64": "BIGINT",
        "float64": "DOUBLE",
    }[kind]
    return f'CAST({known.get(name, "NULL")} AS {sql_type}) AS "{name}"'


def make_store(folder: Path, councils: int, people: int, quarters: int, seed: float = 0.42) -> dict:
    """Write the synthetic store (one Parquet file per quarter's files) and return its size figures."""
    from ascld.national.main_tables import national_store_schema

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SELECT setseed({seed})")
    ends = quarter_ends(quarters)
    first = ends[0].replace(day=1) - dt.timedelta(days=365 * 2)
    span = (ends[-1] - first).days
    con.execute(f"""
        CREATE TABLE e AS
        SELECT p AS person, p % {councils} AS la, ev,
               {TYPES}[1 + CAST(floor(random() * 9) AS INTEGER)] AS event_type,
               DATE '{first}' + CAST(floor(random() * {span}) AS INTEGER) AS start_date,
               random() AS u, {OUTCOMES}[1 + CAST(floor(random() * 8) AS INTEGER)] AS outcome,
               {SERVICES}[1 + CAST(floor(random() * 5) AS INTEGER)] AS service
        FROM range({people}) t(p), range(3) s(ev)
    """)
    con.execute("""
        ALTER TABLE e ADD COLUMN end_date DATE;
        UPDATE e SET end_date = CASE WHEN event_type = 'Service' AND u < 0.6 THEN NULL
                                     ELSE start_date + CAST(floor(u * 90) AS INTEGER) END;
    """)
    select = ", ".join(_column_sql(n, str(t).split("(")[0]) for n, t in national_store_schema().items())
    rows = 0
    for k, qe in enumerate(ends):
        window = dt.date(qe.year - 1, qe.month, 1) + dt.timedelta(days=32)
        window = window.replace(day=1)
        imported = dt.datetime(qe.year, qe.month, 1) + dt.timedelta(days=75, hours=9)
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW q AS SELECT {k} AS k, DATE '{qe}' AS quarter_end,
                DATE '{window}' AS window_start, TIMESTAMP '{imported}' AS imported,
                {rows} AS first_record_id
        """)
        path = folder / f"quarter_{k}.parquet"
        con.execute(f"""
            COPY (SELECT {select} FROM e, q
                  WHERE e.start_date <= q.quarter_end
                    AND (e.end_date IS NULL OR e.end_date >= q.window_start))
            TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
        """)
        rows += con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
    size = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    return {"rows": rows, "bytes": size, "quarter_ends": [str(x) for x in ends]}


def phase_scan(store: str) -> dict:
    """Bare scan: read every column of every row once."""
    from ascld.national.main_tables import national_store_schema

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    cols = ", ".join(f'min("{c}")' for c in national_store_schema().names)
    t = time.perf_counter()
    con.execute(f"SELECT count(*), {cols} FROM read_parquet('{store}/*.parquet')").fetchall()
    return {"seconds": time.perf_counter() - t}


def phase_build(store: str, work: str, mode: str, start: str, end: str, as_of: str) -> dict:
    from ascld.engine import connect
    from ascld.national.main_tables import BuildParams, build_main_tables

    work_dir = Path(work) / mode
    work_dir.mkdir(parents=True, exist_ok=True)
    con = connect(
        "duckdb", path=work_dir / "build.duckdb", memory_limit=MEMORY_LIMIT, temp_directory=work_dir / "spill"
    )
    params = BuildParams(
        mode, dt.date.fromisoformat(start), dt.date.fromisoformat(end), dt.date.fromisoformat(as_of)
    )
    t = time.perf_counter()
    result = build_main_tables(store, params, con=con, out_dir=work_dir / "out", hash_inputs=False)
    return {"seconds": time.perf_counter() - t, "row_counts": result.row_counts, "table": result.table_name}


PHASES = {"scan": phase_scan, "build": phase_build}


def run_child(phase: str, *args: object) -> dict:
    """Run a phase in a fresh Python process; return its figures plus its own peak RSS."""
    code = (
        "import json, resource, sys; sys.path.insert(0, sys.argv[1]); import national as b; "
        "r = b.PHASES[sys.argv[2]](*json.loads(sys.argv[3])); "
        "r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(r))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(HERE), phase, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark phase {phase} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--councils", type=int, default=153)
    ap.add_argument("--people", type=int, default=150_000, help="people in the store (national: 1,500,000)")
    ap.add_argument("--quarters", type=int, default=8)
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ascld-bench-national-"))
    store = work / "store"

    t = time.perf_counter()
    made = make_store(store, args.councils, args.people, args.quarters)
    made["seconds"] = time.perf_counter() - t
    print(
        f"store: {made['rows']:,} rows, {made['bytes'] / 1e6:.0f} MB, {args.councils} councils, "
        f"{args.people:,} people, {args.quarters} quarters (made in {made['seconds']:.1f}s)"
    )

    scan = run_child("scan", str(store))
    print(f"baseline bare scan: {scan['seconds']:.2f}s, peak RSS {scan['peak_rss_mb']:.0f} MB")

    ends = [dt.date.fromisoformat(x) for x in made["quarter_ends"]]
    last = ends[-1]
    as_of = (last + dt.timedelta(days=90)).isoformat()
    single_start = (dt.date(last.year - 1, last.month, 1) + dt.timedelta(days=32)).replace(day=1)
    joined_start = (dt.date(ends[0].year - 1, ends[0].month, 1) + dt.timedelta(days=32)).replace(day=1)
    builds = {}
    for mode, start in (("joined", joined_start), ("single", single_start)):
        res = run_child("build", str(store), str(work), mode, start.isoformat(), last.isoformat(), as_of)
        res["ratio_to_scan"] = res["seconds"] / scan["seconds"]
        builds[mode] = res
        print(
            f"{mode:<6} {res['table']}: {res['seconds']:.2f}s = {res['ratio_to_scan']:.1f} x scan, "
            f"peak RSS {res['peak_rss_mb']:.0f} MB ({res['peak_rss_mb'] / 1024:.2f} GB; target <= 8 GB), "
            f"{res['row_counts']['main_table']:,} rows out"
        )

    report = {
        "benchmark": "national main tables",
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "duckdb_memory_limit": MEMORY_LIMIT,
        "store": made,
        "parameters": vars(args) | {"work": str(work)},
        "baseline_scan": scan,
        "builds": builds,
        "peak_rss_mb_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "target_peak_rss_gb": 8,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
