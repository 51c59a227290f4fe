"""Benchmark: every measure (ASCOF, SALT and the DHSC LA dashboard tables with waiting times) on the national
main tables, with disclosure control and the report, as `ascld measures national --dashboard` runs them.

Two ways to make the input (setup: timed, not part of the figure):

* ``--generator sql`` (default; what the national figure uses): the synthetic national store of
  `benchmarks/national.py` (`make_store`: DuckDB SQL, journeys of three events per person, a third of the
  councils in Release 1 values), hospital spells made here from that store's traced NHS number pseudonyms
  (`make_spells`: discharges shortly before reablement starts, readmissions, other spells; seeded), and the
  joined main table of every quarter built by the real `build_main_tables` (`national.phase_build`). The store
  generator and the build each run in their own child process. ``--national`` is 153 councils, 1,500,000
  people, 8 quarters.
* ``--generator synth``: `ascld.synth` returns (submission behaviour off) ingested by the real
  `ascld national ingest` (fixed benchmark key), each imported the day after its stated period end, and the
  joined main table ASCOF needs. Too slow at national scale; for small checks of the whole path.

Measured, in a fresh child process so its peak RSS is its own: `run_measures_national(main_tables=...,
store=...)` with the synthetic population, LA and LSOA lookups and the spells: ASCOF (2A, 2B/2C, 2D, 2E,
3D), SALT, the dashboard tables and waiting times (``--no-dashboard`` leaves them out; their
single-submissions main table is built by the measured call, from the store), disclosure control, CSV/JSON,
manifest and report. DuckDB gets ``--memory-limit`` and a spill folder in the work folder.

Prints wall seconds, rows and peak RSS, and writes them to ``benchmarks/out/measures.json``. Run by hand:
``uv run python benchmarks/measures.py [--councils N --people N --quarters N | --national] [--work DIR]``
(``--people`` is the number of people in the store). Set ``ASCLD_BENCH_MEMORY_LIMIT`` for the store and
main-table steps (default 5GB, `benchmarks/national.py`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rss import peak_rss_mb  # benchmarks/rss.py (the script's own folder is on the path)

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "measures.json"
KEY_HEX = "be" * 32
SYNTH_PERIOD = ("2024-07-01", "2025-06-30")  # the last 12 months of 5 quarters from the generator's start
NATIONAL = {"councils": 153, "people": 1_500_000, "quarters": 8}

#: Hospital spells (codes of the NHS Data Model; weights are invented). Most are emergency admissions of
#: adults; a few carry codes ASCOF 2D excludes (maternity admission, death in hospital, care-home
#: destinations, excluded treatment functions).
ADMISSION_METHODS = ((70, "21"), (15, "11"), (5, "12"), (5, "22"), (3, "31"), (2, "81"))
DISCHARGE_METHODS = ((95, "1"), (3, "4"), (2, "2"))
DESTINATIONS = ((85, "19"), (5, "54"), (4, "29"), (2, "65"), (2, "79"), (2, "51"))
MANAGEMENT_TYPES = ((60, "EM"), (10, "NE"), (20, "EL"), (10, "DC"))
TREATMENT_FUNCTIONS = ((40, "300"), (25, "430"), (15, "110"), (10, "100"), (5, "320"), (3, "501"), (2, "650"))


def make_spells(store: Path, out: Path, seed: int = 7, memory_limit: str = "2GB") -> dict:
    """Hospital spells for the people of a synthetic store, keyed by the store's traced NHS number pseudonym.

    * before 60% of reablement (ST-Max) starts: a discharge 0-7 days before, after a 1-20 day stay; 15% of
      those people are readmitted (emergency) within 12 weeks;
    * half of all traced people: one other spell at a random date in the store's span, a fifth of them two.

    Birth year and month and sex come from the person's store rows, the LSOA from the synthetic LSOA lookup
    of their council. Seeded by hashes, so the same store and seed give the same spells. Written as Parquet
    in the documented discharge layout (docs/measures-ascof.md).
    """
    import duckdb

    from ascld.measures.ascof import synthetic_la_lookup_path
    from ascld.measures.ascof.synthetic import synthetic_lsoa_lookup

    national = _national()
    pick, days = national.pick_sql, national.days_sql
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    lsoa = synthetic_lsoa_lookup()
    con.register("lsoa_lookup", lsoa)
    con.execute("CREATE TABLE la AS SELECT * FROM read_csv(?, all_varchar = true)", [str(synthetic_la_lookup_path())])

    def u(tag: str, *keys: str) -> str:
        return f"((hash({', '.join(keys)}, '{tag}/{seed}') % 1000003) / 1000003.0)"

    files = f"read_parquet('{store.as_posix()}/**/*.parquet', union_by_name = true)"
    con.execute(f"""
        CREATE TABLE people AS
        SELECT Der_NHS_Number_Traced_Pseudo AS nhs, min(LA_Code) AS la_code, min(Der_Birth_Year) AS y,
               min(Der_Birth_Month) AS m, min(Gender) AS gender,
               min(Event_Start_Date) AS first_date, max(Event_Start_Date) AS last_date
        FROM {files} WHERE Der_NHS_Number_Traced_Pseudo IS NOT NULL GROUP BY 1
    """)
    con.execute(f"""
        CREATE TABLE reablement AS
        SELECT DISTINCT Der_NHS_Number_Traced_Pseudo AS nhs, Event_Start_Date AS s
        FROM {files}
        WHERE Der_NHS_Number_Traced_Pseudo IS NOT NULL AND lower(Event_Type) = 'service'
          AND lower(Service_Type) = 'short term support: st-max'
    """)
    con.execute("""
        CREATE TABLE areas AS
        SELECT la.LA_Code AS la_code, l.LSOA_Code_2011 AS lsoa,
               row_number() OVER (PARTITION BY la.LA_Code ORDER BY l.LSOA_Code_2011) - 1 AS i,
               count(*) OVER (PARTITION BY la.LA_Code) AS n
        FROM la JOIN lsoa_lookup l ON l.UTLA_Code_2023 = la.LA_Area_Code
    """)
    discharged = f"r.s - {days(u('before', 'r.nhs', 'r.s'), 0, 7)}"
    con.execute(f"""
        CREATE TABLE stays AS
        WITH linked AS (
            SELECT r.nhs, 'L' AS kind, r.s AS ref, {discharged} AS discharge_date,
                   {days(u("stay", "r.nhs", "r.s"), 1, 20)} AS stay
            FROM reablement r WHERE {u("link", "r.nhs", "r.s")} < 0.6
        ),
        readmitted AS (
            SELECT nhs, 'R' AS kind, ref, discharge_date + {days(u("back", "nhs", "ref"), 10, 84)}
                   + {days(u("stay2", "nhs", "ref"), 1, 10)} AS discharge_date,
                   {days(u("stay2", "nhs", "ref"), 1, 10)} AS stay
            FROM linked WHERE {u("readmit", "nhs", "ref")} < 0.15
        ),
        other AS (
            SELECT nhs, 'O' || CAST(k AS VARCHAR) AS kind, first_date AS ref,
                   first_date - 90 + {days(u("when", "nhs", "k"), 0, 900)} AS discharge_date,
                   {days(u("stay", "nhs", "k"), 1, 20)} AS stay
            FROM people, range(2) t(k)
            WHERE {u("other", "nhs")} < CASE k WHEN 0 THEN 0.5 ELSE 0.1 END
        )
        SELECT * FROM linked UNION ALL SELECT * FROM readmitted UNION ALL SELECT * FROM other
    """)
    key = "s.nhs", "s.kind", "s.ref"
    emergency = f"{u('emergency', *key)} < 0.8"
    con.execute(f"""
        COPY (
            SELECT s.nhs AS Der_DHSC_Pseudo_NHS_Number,
                   md5(s.nhs || s.kind || CAST(s.ref AS VARCHAR)) AS APCS_Ident,
                   CAST(CASE WHEN {u("last", *key)} < 0.97 THEN 1 ELSE 0 END AS BIGINT) AS APCS_Last_Ep_Ind,
                   s.discharge_date - s.stay AS Admission_Date,
                   s.discharge_date AS Discharge_Date,
                   CAST(p.m AS BIGINT) AS Month_of_Birth_SUS, CAST(p.y AS BIGINT) AS Year_of_Birth_SUS,
                   CASE lower(p.gender) WHEN 'male' THEN '1' WHEN 'female' THEN '2' ELSE '9' END AS Sex,
                   a.lsoa AS Der_Postcode_LSOA_2011_Code,
                   CASE WHEN s.kind = 'R' THEN '21' ELSE {pick(u("method", *key), ADMISSION_METHODS)}
                   END AS Admission_Method,
                   {pick(u("dmethod", *key), DISCHARGE_METHODS)} AS Discharge_Method,
                   {pick(u("dest", *key), DESTINATIONS)} AS Discharge_Destination,
                   CASE WHEN s.kind = 'R' OR {emergency} THEN 'EM'
                        ELSE {pick(u("mgmt", *key), MANAGEMENT_TYPES)} END AS Der_Management_Type,
                   {pick(u("tfc", *key), TREATMENT_FUNCTIONS)} AS Treatment_Function_Code
            FROM stays s JOIN people p ON p.nhs = s.nhs
            LEFT JOIN areas a ON a.la_code = p.la_code AND a.i = hash(s.nhs, 'lsoa/{seed}') % a.n
        ) TO '{out.as_posix()}' (FORMAT parquet)
    """)
    counts = dict(con.execute("SELECT kind[1], count(*) FROM stays GROUP BY 1").fetchall())
    con.close()
    return {
        "rows": sum(counts.values()),
        "before_reablement": counts.get("L", 0),
        "readmissions": counts.get("R", 0),
        "other": counts.get("O", 0),
    }


def _national():
    sys.path.insert(0, str(HERE))
    import national

    return national


def prepare_sql(work: Path, councils: int, people: int, quarters: int) -> dict:
    """Synthetic store (SQL) -> spells -> joined main table of every quarter. Paths, period and timings."""
    from ascld.measures.ascof import ascof_periods

    national = _national()
    store = work / "store"
    made = national.run_child("store", str(store), councils, people, quarters)
    ends = [dt.date.fromisoformat(x) for x in made["quarter_ends"]]
    last = ends[-1]
    period = ((dt.date(last.year - 1, last.month, 1) + dt.timedelta(days=32)).replace(day=1), last)
    as_of = last + dt.timedelta(days=90)
    t = time.perf_counter()
    spells = make_spells(store, work / "spells.parquet", memory_limit=national.MEMORY_LIMIT)
    spells["seconds"] = round(time.perf_counter() - t, 1)
    periods = ascof_periods(period)
    needed = min(p.start for p in (periods.latest, periods.previous, periods.latest_2d, periods.previous_2d))
    joined_start = min((dt.date(ends[0].year - 1, ends[0].month, 1) + dt.timedelta(days=32)).replace(day=1), needed)
    build = national.run_child(
        "build", str(store), str(work), "joined", joined_start.isoformat(), last.isoformat(), as_of.isoformat()
    )
    return {
        "store": str(store),
        "main": build["main_table"],
        "spells": str(work / "spells.parquet"),
        "period": [period[0].isoformat(), period[1].isoformat()],
        "as_of": as_of.isoformat(),
        "setup": {
            "store": {
                "rows": made["rows"],
                "bytes": made["bytes"],
                "quarter_ends": made["quarter_ends"],
                "seconds": round(made["seconds"], 1),
                "peak_rss_mb": round(made["peak_rss_mb"], 1),
            },
            "spells": spells,
            "main_table": {
                "table": build["table"],
                "period": [joined_start.isoformat(), last.isoformat()],
                "rows": build["row_counts"]["main_table"],
                "row_counts": build["row_counts"],
                "seconds": round(build["seconds"], 1),
                "peak_rss_mb": round(build["peak_rss_mb"], 1),
            },
        },
    }


def prepare_synth(work: Path, councils: int, people: int, quarters: int) -> dict:
    """Synthetic returns -> national store (real ingest) -> joined main table. Paths and setup timings."""
    from ascld.identity import PseudoKey
    from ascld.measures.run import _build_joined, _stated
    from ascld.national.ingest import ingest_files
    from ascld.synth.config import SynthConfig
    from ascld.synth.runner import generate

    setup = {}
    t = time.perf_counter()
    synth = work / "synth"
    per_council = max(1, people // max(1, councils))
    generate(
        SynthConfig(seed=1, councils=councils, people_per_council=per_council, quarters=quarters, behaviour=False),
        synth,
    )
    setup["synth_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    store = work / "store"
    key = PseudoKey.from_text(KEY_HEX)
    files = sorted(synth.glob("returns/*/*.csv"))
    for f in files:
        _, end = _stated(f)
        ingest_files(
            [f],
            store,
            key=key,
            index=synth / "demographic_index.parquet",
            import_date=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(9)),
        )
    setup["files"] = len(files)
    setup["ingest_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    period = tuple(dt.date.fromisoformat(x) for x in SYNTH_PERIOD)
    main = _build_joined(store, period, dt.date(2025, 7, 2), "duckdb", work / "main", None)
    setup["main_table_seconds"] = round(time.perf_counter() - t, 1)
    return {
        "store": str(store),
        "main": str(main),
        "spells": str(synth / "hospital_spells.parquet"),
        "period": list(SYNTH_PERIOD),
        "as_of": "2025-07-02",
        "setup": setup,
    }


def measure(paths: dict, out: Path, memory_limit: str, spill: Path, dashboard: bool = True) -> dict:
    """Run in a child process: every measure on the prepared inputs."""
    from ascld.measures.ascof import synthetic_la_lookup_path, synthetic_population_path
    from ascld.measures.ascof.synthetic import synthetic_lsoa_lookup
    from ascld.measures.run import run_measures_national

    os.environ["ASCLD_PSEUDO_KEY"] = KEY_HEX  # the synth store's key, for spells in its layout
    load_before = os.getloadavg()
    t, cpu = time.perf_counter(), time.process_time()
    run = run_measures_national(
        main_tables=paths["main"],
        store=paths["store"],
        period=paths["period"],
        as_of=paths["as_of"],
        out_dir=out,
        populations=synthetic_population_path(),
        la_lookup=synthetic_la_lookup_path(),
        lsoa_lookup=synthetic_lsoa_lookup(),
        discharges=paths["spells"],
        engine_options={"memory_limit": memory_limit, "temp_directory": str(spill)},
        dashboard=dashboard,
    )
    seconds = time.perf_counter() - t
    nonzero: dict[str, int] = {}
    for row in run.rows:
        n = row["numerator"]
        if n == "*" or (isinstance(n, int | float) and n > 0):
            nonzero[row["measure"]] = nonzero.get(row["measure"], 0) + 1
    counts = run.manifest["row_counts"]
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "step_seconds": {k: round(v, 1) for k, v in run.manifest["step_seconds"].items()},
        "rows": counts["total"],
        "ascof_rows": counts.get("ascof", 0),
        "salt_rows": counts.get("salt", 0),
        "dashboard_rows": counts.get("dashboard", 0),
        "dashboard_tables": run.manifest.get("row_counts", {}).get("dashboard_tables"),
        "rows_by_measure": counts["by_measure"],
        "rows_with_people_by_measure": nonzero,
        "skipped": list(run.skipped),
        "report_bytes": (out / "report.html").stat().st_size,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "duckdb_memory_limit": memory_limit,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def _rss_mb(pid: int) -> float:
    """Current resident memory of a process (Linux), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_measures_child(
    paths: dict, work: Path, memory_limit: str, max_rss_gb: float | None, dashboard: bool = True
) -> dict:
    """The measures step in a fresh process; stopped if its memory passes `max_rss_gb` (a shared machine)."""
    spill = work / "spill-measures"
    argument = json.dumps([paths, str(work / "out"), memory_limit, str(spill), dashboard])
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, __file__, "--child", argument], stdout=out, stderr=err, text=True)
        while child.poll() is None:
            if max_rss_gb and _rss_mb(child.pid) > max_rss_gb * 1024:
                child.kill()
                child.wait()
                raise SystemExit(f"measures step stopped: its memory passed {max_rss_gb} GB")
            time.sleep(1)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"measures step failed:\n{err.read()[-4000:]}")
        return json.loads(out.read().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=("sql", "synth"), default="sql")
    parser.add_argument("--councils", type=int, default=6)
    parser.add_argument("--people", type=int, default=3000, help="people in the store (all councils)")
    parser.add_argument("--quarters", type=int, default=8)
    parser.add_argument("--national", action="store_true", help="153 councils, 1,500,000 people, 8 quarters")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit of the measures step")
    parser.add_argument("--max-rss-gb", type=float, help="stop the measures step if its RSS passes this")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one); deleted at the end")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--reuse", action="store_true", help="reuse the setup already in --work (setup.json)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-dashboard", action="store_true", help="leave out the dashboard tables")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        paths, out, limit, spill, dashboard = json.loads(args.child)
        print(json.dumps(measure(paths, Path(out), limit, Path(spill), dashboard)))
        return
    if args.national:
        args.councils, args.people, args.quarters = NATIONAL.values()
    if args.reuse and not (args.work and (args.work / "setup.json").is_file()):
        raise SystemExit("--reuse needs --work DIR holding setup.json from an earlier --keep run")
    work = args.work or Path(tempfile.mkdtemp(prefix="ascld-bench-measures-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_start = os.getloadavg()
    try:
        if args.reuse:
            paths = json.loads((work / "setup.json").read_text())
        else:
            prepare = prepare_sql if args.generator == "sql" else prepare_synth
            paths = prepare(work, args.councils, args.people, args.quarters)
            paths["parameters"] = {
                "generator": args.generator,
                "councils": args.councils,
                "people": args.people,
                "quarters": args.quarters,
            }
            (work / "setup.json").write_text(json.dumps(paths, indent=1) + "\n")
        print(f"setup: {json.dumps(paths['setup'])}", flush=True)
        shutil.rmtree(work / "out", ignore_errors=True)
        shutil.rmtree(work / "spill-measures", ignore_errors=True)
        result = run_measures_child(paths, work, args.memory_limit, args.max_rss_gb, not args.no_dashboard)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    record = {
        "benchmark": "measures",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_start": [round(x, 2) for x in load_start],
        },
        "parameters": {
            **paths["parameters"],
            "period": paths["period"],
            "as_of": paths["as_of"],
            "engine": "duckdb",
            "setup_reused": args.reuse,
        },
        "setup": paths["setup"],
        "measures": result,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"all measures: {result['seconds']} s, {result['rows']:,} rows "
        f"(ASCOF {result['ascof_rows']:,}, SALT {result['salt_rows']:,}, dashboard {result['dashboard_rows']:,}), "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    print(f"rows by measure: {json.dumps(result['rows_by_measure'])}")
    print(f"rows with people by measure: {json.dumps(result['rows_with_people_by_measure'])}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
