"""Benchmark: national ingest (validate, trace, pseudonymise, store) against a plain CSV -> Parquet copy.

    uv run python benchmarks/ingest.py [--rows 1000000] [--national] [--people-per-council 9800]

Part 1 - one council return of ``--rows`` rows (a clean return from the validator's sample generator; the
demographic index is made from the file's own people, so every row is traced):
  * baseline: DuckDB reads the same CSV with every column as text and writes it to Parquet;
  * ingest: `ingest_files` on the file: validation, tracing, pseudonymisation, postcode areas, atomic write;
  * stage: the same trace-pseudonymise-store work on the rows as the ingest reads them (Parquet files of the
    values, as the validator's scan writes them; the part this step adds to the validator, which has its own
    benchmark, benchmarks/validate.py);
  * ratios to the baseline in wall and CPU seconds (target <= 3).
Part 2 (``--national``) - the national 8-quarter set from the synthetic generator (`ascld.synth`: 153
  councils, rolling 12-month returns with realistic behaviour and defects for 8 quarters;
  ``--people-per-council 9800`` is the national scale of about 1.5 million people), ingested in one run in
  submission order, each file with its own import date: total seconds and peak RSS of the ingesting process.

Every measured step runs in a fresh child process so its peak RSS is its own. Figures are printed and written
to ``benchmarks/out/ingest.json`` with the load average (the machine may be shared; CPU seconds are steadier).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "ingest.json"
KEY_HEX = "b3" * 32  # benchmark-only key; a real store's key comes from ASCLD_PSEUDO_KEY or a key file
# The single return covers 01/10/2024-30/09/2025 (the sample generator): imported after its period ends, as
# a real submission is (an earlier date would flag every later event as "after the submission date").
SINGLE_IMPORT_DATE = "2025-10-20"


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- child phases (each runs in its own process) ---------------------------------------------------------

def phase_baseline(csv_path: str, out_dir: str) -> dict:
    import duckdb

    started, cpu = time.perf_counter(), _cpu()
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_csv('{csv_path}', header=true, all_varchar=true, encoding='latin-1')) "
        f"TO '{Path(out_dir) / 'plain.parquet'}' (FORMAT parquet)"
    )
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu}


def phase_ingest(csv_paths: list[str], store: str, index: str, la_names: str | None,
                 import_dates: dict[str, str] | None) -> dict:
    from ascld.identity import PseudoKey
    from ascld.national.ingest import ingest_files, read_la_names

    started, cpu = time.perf_counter(), _cpu()
    report = ingest_files(
        csv_paths, store, key=PseudoKey.from_text(KEY_HEX), index=index,
        import_date=(lambda p: import_dates[p.name]) if import_dates else SINGLE_IMPORT_DATE,
        la_names=read_la_names(la_names) if la_names else None,
    )
    out = report.outcomes
    return {
        "seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu, "files": len(out),
        "stored": sum(o.status == "stored" for o in out), "refused": sum(o.status == "refused" for o in out),
        "rows": sum(o.record.row_count for o in out if o.record and o.status == "stored"),
        "trace_outcomes": _sum_counts(
            o.record.details.get("trace_outcomes", {}) for o in out if o.record and o.status == "stored"
        ),
    }


def _scan_sizes() -> tuple[int, int]:
    try:
        from ascld.quality.validate import SCAN_BATCH_ROWS, SCAN_ROWS_PER_FILE
    except ImportError:  # a version without the values files: the sizes its scan had
        return 122_880, 1_000_000
    return SCAN_BATCH_ROWS, SCAN_ROWS_PER_FILE


def phase_values(csv_path: str, folder: str) -> dict:
    """Write the file's values as the validator's scan does with `load_into` (text, blank as NULL; lz4, row
    groups of its scan batches, files of its size), for `phase_stage`. Its own process, so the stage's peak
    RSS is the stage's."""
    import duckdb

    from ascld.returns.reader import open_return

    batch_rows, rows_per_file = _scan_sizes()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    with open_return(csv_path) as ret:
        ret.to_duckdb(con, "loaded", check=False)
    n_rows = con.execute("SELECT count(*) FROM loaded").fetchone()[0]
    files = []
    for i in range(max(1, -(-n_rows // rows_per_file))):
        files.append(str(out / f"values-{i:04d}.parquet"))
        con.execute(
            f"COPY (SELECT * EXCLUDE (__row) FROM loaded WHERE __row - 2 >= {i * rows_per_file} "
            f"AND __row - 2 < {(i + 1) * rows_per_file} ORDER BY __row) TO '{files[-1]}' "
            f"(FORMAT parquet, COMPRESSION lz4, ROW_GROUP_SIZE {batch_rows})"
        )
    return {"files": files}


def phase_stage(csv_path: str, store: str, index: str, files: list[str]) -> dict:
    """The trace-pseudonymise-store step alone, on the rows as `ingest_files` gives them to it: a view over
    the Parquet files of the values the validator's scan writes (`phase_values`), read through
    `ReturnFile.load_scanned`.

    Reading them from an in-memory table instead (as this phase did before) measures another thing: DuckDB
    works some expressions out once per dictionary entry of a Parquet column, so a change can be cheaper on
    the table and dearer in the ingest (docs/national-store.md)."""
    import duckdb

    from ascld.identity import PseudoKey, Pseudonymiser, load_demographic_index, load_postcode_lookup
    from ascld.national.ingest import ingest_table
    from ascld.national.store import NationalStore
    from ascld.returns.reader import ReturnFile

    con = duckdb.connect()
    started, cpu = time.perf_counter(), _cpu()
    ReturnFile.load_scanned(con, "raw", [Path(f) for f in files], rows_per_file=_scan_sizes()[1])
    loaded, load_cpu = time.perf_counter(), _cpu()
    _, record = ingest_table(
        con, "raw", NationalStore(store), pseudonymiser=Pseudonymiser(PseudoKey.from_text(KEY_HEX)),
        sha256=f"bench-{time.time()}", load_file_name=Path(csv_path).name, import_date=SINGLE_IMPORT_DATE,
        index=load_demographic_index(index), postcodes=load_postcode_lookup(None),
    )
    return {"load_seconds": loaded - started, "load_cpu_seconds": load_cpu - cpu,
            "seconds": time.perf_counter() - loaded, "cpu_seconds": _cpu() - load_cpu,
            "rows": record.row_count, "trace_outcomes": record.details["trace_outcomes"]}


def _sum_counts(dicts) -> dict:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


PHASES = {"baseline": phase_baseline, "ingest": phase_ingest, "values": phase_values, "stage": phase_stage}


def run_child(phase: str, *args: object) -> dict:
    """Run a phase in a fresh Python process; return its figures plus its own peak RSS."""
    # The arguments go through stdin: the national set's 1,495 file names are too long for a command line.
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import ingest as b; "
        "r = b.PHASES[sys.argv[2]](*json.load(sys.stdin)); "
        "from rss import peak_rss_mb; r['peak_rss_mb'] = peak_rss_mb(); print(json.dumps(r))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(HERE), phase], input=json.dumps(list(args)),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark phase {phase} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- data ----------------------------------------------------------------------------------------------

def make_single(work: Path, rows: int) -> tuple[Path, Path]:
    """A clean return of `rows` rows and a demographic index of its people (Parquet)."""
    import duckdb

    from ascld.quality.sample import write_sample_return
    from ascld.returns.reader import open_return

    path = work / f"return_{rows}.csv"
    if not path.exists():
        write_sample_return(path.with_suffix(".tmp"), rows, seed=2025)
        path.with_suffix(".tmp").rename(path)
    index = work / f"index_{rows}.parquet"
    if not index.exists():
        con = duckdb.connect()
        with open_return(path) as ret:
            ret.to_duckdb(con, "r", check=False)
        con.execute(
            f"""COPY (SELECT DISTINCT ON (NHS_Number) NHS_Number AS nhs_number, Last_Name AS family_name,
                       First_Name AS given_name,
                       strftime(try_strptime(Date_of_Birth, '%d/%m/%Y'), '%Y-%m-%d') AS date_of_birth,
                       Gender AS gender, Postcode AS postcode, '' AS date_of_death
                FROM r WHERE NHS_Number <> '') TO '{index}' (FORMAT parquet)"""
        )
    return path, index


def make_national(
    work: Path, councils: int, people_per_council: int, quarters: int
) -> tuple[list[Path], dict, Path, Path]:
    """The synthetic national set: returns in submission order, their import dates, the index, LA names."""
    from ascld.synth.config import SynthConfig
    from ascld.synth.runner import generate

    out = work / f"national_{councils}_{people_per_council}_{quarters}"
    if not (out / "submissions.csv").exists():
        started = time.perf_counter()
        result = generate(SynthConfig(seed=2025, councils=councils, people_per_council=people_per_council,
                                      quarters=quarters, outputs=frozenset({"returns", "index"}),
                                      workers=os.cpu_count() or 1), out)
        print(f"generated {result.files} files for {result.people:,} people in "
              f"{time.perf_counter() - started:.0f}s")
    with (out / "submissions.csv").open() as fh:
        subs = sorted(csv.DictReader(fh), key=lambda s: (s["import_date"], s["file"]))
    files = [out / s["file"] for s in subs]
    dates = {Path(s["file"]).name: s["import_date"] for s in subs}
    names = out / "la_names.csv"
    with names.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["LA_Code", "LA_Name"])
        w.writerows(sorted({(s["la_code"], s["la_name"]) for s in subs}))
    return files, dates, out / "demographic_index.parquet", names


# ---- parts ---------------------------------------------------------------------------------------------

def _fresh(store: Path) -> Path:
    """An empty store folder: a store left by an earlier run (--work) would hold the file already."""
    import shutil

    shutil.rmtree(store, ignore_errors=True)
    return store


def part_single(work: Path, rows: int) -> dict:
    path, index = make_single(work, rows)
    size = path.stat().st_size
    print(f"single return: {rows:,} rows, {size / 1e6:.0f} MB")
    base = run_child("baseline", str(path), str(work))
    print(f"  baseline CSV -> Parquet      {base['seconds']:7.2f}s  cpu {base['cpu_seconds']:6.2f}s  "
          f"peak RSS {base['peak_rss_mb']:6.0f} MB")
    values = run_child("values", str(path), str(work / f"values_{rows}"))
    stage = run_child("stage", str(path), str(_fresh(work / "store_stage")), str(index), values["files"])
    stage_total = stage["seconds"] + stage["load_seconds"]
    stage_cpu = stage["cpu_seconds"] + stage["load_cpu_seconds"]
    print(f"  load + trace/pseudonymise/store {stage_total:7.2f}s  cpu {stage_cpu:6.2f}s  "
          f"peak RSS {stage['peak_rss_mb']:6.0f} MB  (traces: {stage['trace_outcomes']})")
    print(f"    of which trace/pseudonymise/store {stage['seconds']:7.2f}s  cpu {stage['cpu_seconds']:6.2f}s")
    full = run_child("ingest", [str(path)], str(_fresh(work / "store_full")), str(index), None, None)
    print(f"  ingest (validate + all)      {full['seconds']:7.2f}s  cpu {full['cpu_seconds']:6.2f}s  "
          f"peak RSS {full['peak_rss_mb']:6.0f} MB")
    result = {
        "rows": rows, "csv_mb": round(size / 1e6, 1), "baseline": base, "stage": stage, "ingest": full,
        "ratio_stage_wall": round(stage_total / base["seconds"], 2),
        "ratio_stage_cpu": round(stage_cpu / base["cpu_seconds"], 2),
        "ratio_ingest_wall": round(full["seconds"] / base["seconds"], 2),
        "ratio_ingest_cpu": round(full["cpu_seconds"] / base["cpu_seconds"], 2),
    }
    print(f"  ratio stage / baseline: wall {result['ratio_stage_wall']}, cpu {result['ratio_stage_cpu']} "
          f"(target <= 3)")
    print(f"  ratio ingest / baseline: wall {result['ratio_ingest_wall']}, cpu {result['ratio_ingest_cpu']}")
    return result


def part_national(work: Path, councils: int, people_per_council: int, quarters: int) -> dict:
    files, dates, index, names = make_national(work, councils, people_per_council, quarters)
    mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"national set: {len(files)} files, {mb:.0f} MB")
    store = _fresh(work / f"store_national_{councils}_{people_per_council}")
    res = run_child("ingest", [str(f) for f in files], str(store), str(index), str(names), dates)
    print(f"  ingested {res['stored']} files ({res['refused']} refused), {res['rows']:,} rows in "
          f"{res['seconds']:.0f}s (cpu {res['cpu_seconds']:.0f}s), peak RSS {res['peak_rss_mb']:.0f} MB; "
          f"traces {res['trace_outcomes']}")
    return {"councils": councils, "quarters": quarters, "people_per_council": people_per_council,
            "csv_mb": round(mb, 1), **res}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--national", action="store_true", help="also ingest the national 8-quarter set")
    ap.add_argument("--people-per-council", type=int, default=9800,
                    help="9800 gives about 1.5 million people")
    ap.add_argument("--quarters", type=int, default=8)
    ap.add_argument("--councils", type=int, default=153, help="the first N councils (153: all)")
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ascld-bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    import duckdb

    report: dict = {"benchmark": "national ingest", "machine": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "duckdb": duckdb.__version__,
                    "load_average_start": os.getloadavg()}
    if not args.skip_single:
        report["single"] = part_single(work, args.rows)
    if args.national:
        report["national"] = part_national(work, args.councils, args.people_per_council, args.quarters)
    report["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
