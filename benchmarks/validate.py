"""Benchmark: `validate_return` on a 1,000,000-row return against DuckDB reading the same file as text.

    uv run python benchmarks/validate.py [--rows 1000000] [--gzip] [--repeat 2]

Makes (once, cached in benchmarks/out/) a clean synthetic return with the validator's sample generator, then
runs, each in its own process so peak memory is the run's own:

* baselines, DuckDB reading the file with every column as text, default settings, all threads (a file with
  accented letters is read with DuckDB's own `encoding='latin-1'`, which reads Windows-1252 letters above 0x9F
  the same way; DuckDB has no Windows-1252 reader):
  - `count`: `SELECT count(*) FROM read_csv(path, all_varchar=true)` (a bare scan);
  - `columns`: `SELECT count(COLUMNS(*)) FROM read_csv(...)`, every column read;
  - `load`: `CREATE TABLE t AS SELECT * FROM read_csv(...)`, every column read and kept;
* `validate`: `validate_return(path)` (transport checks, the full scan, checks across rows, counts, listing,
  problems.csv), timed around the call, plus the whole process.

Prints wall seconds, CPU seconds, the ratio to each baseline and peak RSS, and writes them to
benchmarks/out/validate.json. Run on an otherwise idle machine: the load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

BASELINES = {
    "count": "SELECT count(*) FROM read_csv('{path}', all_varchar=true{encoding})",
    "columns": "SELECT count(COLUMNS(*)) FROM read_csv('{path}', all_varchar=true{encoding})",
    "load": "CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar=true{encoding})",
}

CHILD_BASELINE = """
import json, sys, time
import duckdb
from rss import peak_rss_mb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
sql = sys.argv[1]
w, c = time.perf_counter(), time.process_time()
con.execute(sql).fetchall()
print(json.dumps({"wall": time.perf_counter() - w, "cpu": time.process_time() - c,
                  "peak_rss_mb": peak_rss_mb()}))
"""

CHILD_VALIDATE = """
import datetime as dt, json, sys, time
start = time.perf_counter()
from rss import peak_rss_mb
from ascld.quality import validate_return
w, c = time.perf_counter(), time.process_time()
r = validate_return(sys.argv[1], submission_date=dt.date(2025, 10, 20), max_problems=1000)
wall, cpu = time.perf_counter() - w, time.process_time() - c
print(json.dumps({"wall": wall, "cpu": cpu, "process_wall": time.perf_counter() - start,
                  "peak_rss_mb": peak_rss_mb(),
                  "rows": r.row_count, "exit_code": r.exit_code, "problems": r.summary["totals"]["problems"],
                  "steps": r.timings}))
"""


def _run(code: str, *args: str) -> dict:
    # (the child finds benchmarks/rss.py through PYTHONPATH)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _is_ascii(path: Path) -> bool:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        while chunk := fh.read(1 << 24):
            if not chunk.isascii():
                return False
    return True


def make_return(rows: int, compress: bool) -> Path:
    from ascld.quality.sample import write_sample_return

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"return_{rows}.csv{'.gz' if compress else ''}"
    if not path.exists():
        started = time.perf_counter()
        tmp = path.with_suffix(path.suffix + ".part")
        write_sample_return(tmp, rows, seed=2025) if not compress else None
        if compress:
            import gzip
            import shutil

            plain = make_return(rows, False)
            with open(plain, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 24)
        tmp.replace(path)
        print(f"made {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--gzip", action="store_true", help="benchmark a gzip-compressed return")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best wall time is kept")
    args = parser.parse_args()
    path = make_return(args.rows, args.gzip)
    size = path.stat().st_size

    def best(runs: list[dict]) -> dict:
        return min(runs, key=lambda r: r["wall"])

    encoding = ", encoding='latin-1'" if not _is_ascii(path) else ""
    baselines = {}
    for name, sql in BASELINES.items():
        query = sql.format(path=path, encoding=encoding)
        baselines[name] = best([_run(CHILD_BASELINE, query) for _ in range(args.repeat)])
    validate = best([_run(CHILD_VALIDATE, str(path)) for _ in range(args.repeat)])
    result = {
        "file": path.name,
        "rows": args.rows,
        "bytes": size,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "baselines": baselines,
        "validate": validate,
        "ratio_wall": {k: round(validate["wall"] / b["wall"], 2) for k, b in baselines.items()},
        "ratio_cpu": {k: round(validate["cpu"] / b["cpu"], 2) for k, b in baselines.items() if b["cpu"]},
        "targets": {"ratio": 3, "peak_rss_mb": 1024},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"validate{'_gzip' if args.gzip else ''}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{path.name}: {args.rows:,} rows, {size / 1e6:,.0f} MB, {os.cpu_count()} CPUs, "
        f"load average {result['load_average'][0]:.1f}"
    )
    for name, b in baselines.items():
        print(
            f"  baseline {name:<8} wall {b['wall']:6.2f} s  cpu {b['cpu']:6.2f} s  "
            f"peak RSS {b['peak_rss_mb']:6.0f} MB"
        )
    v = validate
    print(
        f"  validate         wall {v['wall']:6.2f} s  cpu {v['cpu']:6.2f} s  "
        f"peak RSS {v['peak_rss_mb']:6.0f} MB"
        f"  (process {v['process_wall']:.2f} s; {v['problems']:,} problems, exit {v['exit_code']})"
    )
    print("  steps: " + ", ".join(f"{k} {s:.2f} s" for k, s in v["steps"].items()))
    print("  ratio (wall): " + ", ".join(f"{k} {r}" for k, r in result["ratio_wall"].items()))
    print("  ratio (cpu):  " + ", ".join(f"{k} {r}" for k, r in result["ratio_cpu"].items()))


if __name__ == "__main__":
    main()
