"""Benchmark: every measure (ASCOF and SALT) on the national main tables, with disclosure control and the
report, as `ascld measures national` runs them.

* data: `ascld.synth` (``--councils`` councils, ``--people`` people per council, ``--quarters`` quarters,
  submission behaviour off), ingested into a national store (fixed benchmark key) with each return imported
  the day after its stated period end;
* setup (timed, not part of the figure): the joined main table, built by `ascld national build`'s library
  call for the periods ASCOF needs;
* measured: `run_measures_national(main_tables=..., store=...)` with the synthetic references (population,
  LA and LSOA lookups) and the generator's hospital spells, in a fresh child process so its peak RSS is its
  own.

Prints wall seconds, rows and peak RSS, and writes them to ``benchmarks/out/measures.json``. Run by hand:
``uv run python benchmarks/measures.py [--councils N --people N]``.
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

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "measures.json"
KEY_HEX = "be" * 32
PERIOD = ("2024-07-01", "2025-06-30")  # the last 12 months of 5 quarters from the generator's default start


def prepare(work: Path, councils: int, people: int, quarters: int) -> dict:
    """Synthetic returns -> national store -> joined main table. Returns paths and setup timings."""
    from ascld.identity import PseudoKey
    from ascld.measures.run import _build_joined, _stated
    from ascld.national.ingest import ingest_files
    from ascld.synth.config import SynthConfig
    from ascld.synth.runner import generate

    timings = {}
    t = time.perf_counter()
    synth = work / "synth"
    generate(
        SynthConfig(seed=1, councils=councils, people_per_council=people, quarters=quarters, behaviour=False),
        synth,
    )
    timings["synth_seconds"] = round(time.perf_counter() - t, 1)
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
    timings["ingest_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    main = _build_joined(
        store,
        (dt.date.fromisoformat(PERIOD[0]), dt.date.fromisoformat(PERIOD[1])),
        dt.date(2025, 7, 2),
        "duckdb",
        work / "main",
        None,
    )
    timings["main_table_seconds"] = round(time.perf_counter() - t, 1)
    return {
        "store": str(store),
        "main": str(main),
        "spells": str(synth / "hospital_spells.parquet"),
        "files": len(files),
        **timings,
    }


def measure(paths: dict, out: Path) -> dict:
    """Run in a child process: every measure on the prepared inputs."""
    from ascld.measures.ascof import synthetic_la_lookup_path, synthetic_population_path
    from ascld.measures.ascof.synthetic import synthetic_lsoa_lookup
    from ascld.measures.run import run_measures_national

    os.environ["ASCLD_PSEUDO_KEY"] = KEY_HEX
    t = time.perf_counter()
    run = run_measures_national(
        main_tables=paths["main"],
        store=paths["store"],
        period=PERIOD,
        as_of="2025-07-02",
        out_dir=out,
        populations=synthetic_population_path(),
        la_lookup=synthetic_la_lookup_path(),
        lsoa_lookup=synthetic_lsoa_lookup(),
        discharges=paths["spells"],
    )
    seconds = time.perf_counter() - t
    return {
        "seconds": round(seconds, 1),
        "rows": run.manifest["row_counts"]["total"],
        "ascof_rows": run.manifest["row_counts"].get("ascof", 0),
        "salt_rows": run.manifest["row_counts"].get("salt", 0),
        "skipped": list(run.skipped),
        "report_bytes": (out / "report.html").stat().st_size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--councils", type=int, default=3)
    parser.add_argument("--people", type=int, default=400, help="people per council of average size")
    parser.add_argument("--quarters", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        paths, out = json.loads(args.child)
        print(json.dumps(measure(paths, Path(out))))
        return
    with tempfile.TemporaryDirectory(prefix="ascld-bench-measures-") as tmp:
        work = Path(tmp)
        paths = prepare(work, args.councils, args.people, args.quarters)
        child = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps([paths, str(work / "out")])],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
    record = {
        "benchmark": "measures",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "parameters": {
            "councils": args.councils,
            "people_per_council": args.people,
            "quarters": args.quarters,
            "period": list(PERIOD),
            "engine": "duckdb",
        },
        "setup": {k: v for k, v in paths.items() if k.endswith("seconds") or k == "files"},
        "measures": result,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"all measures: {result['seconds']} s, {result['rows']:,} rows "
        f"(ASCOF {result['ascof_rows']:,}, SALT {result['salt_rows']:,}), peak RSS {result['peak_rss_mb']} MB"
    )
    print(f"setup: {record['setup']}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
