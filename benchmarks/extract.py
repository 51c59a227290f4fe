"""Benchmark: `ascld extract` on a SQLite case-management database of 1,000,000 events.

    uv run python benchmarks/extract.py [--events 1000000] [--json benchmarks/out/extract.json]

The source is one synthetic council (ascld.synth, about 100,000 event records) copied into the same database
with shifted keys until it holds the number of events asked for (requests + assessments + service lines +
reviews). The extract runs with the shipped example mapping over the whole simulated history, so nearly every
event record is in scope and written (open, cancelled and out-of-scope records are not).

Baseline, in the same script and on the same database: a bare `SELECT *` of every table the mapping reads,
streamed through the same SQLAlchemy engine and driver. Each phase runs in a fresh process, so its peak RSS is
its own. A quarter-size database is measured too, to show memory staying flat as the source grows.

Prints the figures and writes them as JSON. The validator is not run (it has its own benchmark).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rss import peak_rss_mb  # benchmarks/rss.py (the script's own folder is on the path)

EVENT_TABLES = ("contact", "assessment", "service_line", "review")
ALL_TABLES = (
    "council",
    "lookup_code",
    "gp_practice",
    "provider",
    "client",
    "client_address",
    "contact",
    "assessment",
    "service_agreement",
    "service_line",
    "service_line_cost",
    "review",
    "carer_link",
)
OFFSET = 100_000_000  # key shift per copy; synthetic keys stay below 10,000,000
# (table, columns shifted by OFFSET per copy, text column given a copy suffix)
COPIES = (
    ("client", ("client_id",), "la_person_ref"),
    ("client_address", ("address_id", "client_id"), None),
    ("contact", ("contact_id", "client_id"), None),
    ("assessment", ("assessment_id", "client_id"), None),
    ("service_agreement", ("agreement_id", "client_id"), None),
    ("service_line", ("line_id", "agreement_id"), None),
    ("service_line_cost", ("line_id",), None),
    ("review", ("review_id", "client_id"), None),
    ("carer_link", ("link_id", "carer_client_id", "cared_for_client_id"), None),
)
SEED, LA, BASE_PEOPLE = 1, "103", 15000


def _events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in EVENT_TABLES)


def build_base(folder: Path) -> tuple[Path, dt.date, dt.date]:
    """One synthetic council's database; returns it and the simulated history's first and last day."""
    from ascld.synth import SynthConfig
    from ascld.synth.runner import generate

    config = SynthConfig(
        seed=SEED, councils=(LA,), people_per_council=BASE_PEOPLE, outputs=frozenset({"cms"})
    )
    generate(config, folder)
    return folder / "cms" / f"{LA}.sqlite", config.sim_start, config.sim_end


def build_scaled(base: Path, target: Path, copies: int) -> None:
    """`copies` copies of the base council in one database (keys shifted, LA person IDs suffixed)."""
    shutil.copyfile(base, target)
    with sqlite3.connect(target) as conn:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("ATTACH DATABASE ? AS base", (str(base),))
        for k in range(1, copies):
            for table, keys, suffixed in COPIES:
                columns = [r[1] for r in conn.execute(f"PRAGMA base.table_info({table})")]
                select = []
                for c in columns:
                    if c in keys:
                        select.append(f"{c} + {k * OFFSET}")
                    elif c == suffixed:
                        select.append(f"{c} || '-{k}'")
                    else:
                        select.append(c)
                conn.execute(
                    f"INSERT INTO main.{table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(select)} FROM base.{table}"
                )
        conn.commit()
        conn.execute("ANALYZE")


# ---------------------------------------------------------------------- phases (each in its own process)
def phase_baseline(db: Path) -> dict[str, float]:
    """A bare SELECT * of every table the mapping reads, streamed through SQLAlchemy."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{db}")
    rows = 0
    cpu = time.process_time()
    started = time.perf_counter()
    with engine.connect() as conn:
        for table in ALL_TABLES:
            result = conn.execution_options(stream_results=True, yield_per=5000).execute(
                text(f"SELECT * FROM {table}")
            )
            for part in result.partitions():
                rows += len(part)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_seconds": time.process_time() - cpu, "rows_read": rows}


def phase_extract(db: Path, start: str, end: str, out: Path) -> dict[str, float]:
    """The extract over the whole simulated history, without the validator."""
    from ascld.extract import example_mapping_path, extract_return

    cpu = time.process_time()
    started = time.perf_counter()
    result = extract_return(
        f"sqlite:///{db}",
        example_mapping_path(),
        dt.date.fromisoformat(start),
        dt.date.fromisoformat(end),
        out,
        validate=False,
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "rows_written": result.rows,
        "bytes": result.bytes,
    }


def _child(args: list[str]) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_phase(argv: list[str]) -> None:
    name, db = argv[0], Path(argv[1])
    figures = phase_baseline(db) if name == "baseline" else phase_extract(db, argv[2], argv[3], Path(argv[4]))
    figures["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(figures))


def main() -> None:
    """Build the sources, run each phase in its own process, print the figures and write the JSON."""
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        _run_phase(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="event records in the source")
    parser.add_argument("--json", default="benchmarks/out/extract.json", help="where to write the figures")
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one, removed)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="ascld-bench-extract-"))
    work.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()  # other work on the machine inflates wall times (CPU times less)
    try:
        t = time.perf_counter()
        base, sim_start, sim_end = build_base(work / "base")
        base_events = _events(base)
        copies = math.ceil(args.events / base_events)
        sizes = {"full": copies, "quarter": max(1, round(copies / 4))}
        dbs = {}
        for label, n in sizes.items():
            dbs[label] = work / f"cms_{label}.sqlite"
            build_scaled(base, dbs[label], n)
        print(
            f"source built in {time.perf_counter() - t:.0f} s: {base_events:,} events per copy of "
            f"council {LA}"
        )
        results = {}
        for label, db in dbs.items():
            events = _events(db)
            baseline = _child(["baseline", str(db)])
            extract = _child(
                [
                    "extract",
                    str(db),
                    sim_start.isoformat(),
                    sim_end.isoformat(),
                    str(work / f"return_{label}.csv"),
                ]
            )
            results[label] = {
                "source_events": events,
                "source_bytes": db.stat().st_size,
                "baseline_seconds": round(baseline["seconds"], 3),
                "baseline_rows_read": int(baseline["rows_read"]),
                "baseline_peak_rss_mb": round(baseline["peak_rss_mb"], 1),
                "extract_seconds": round(extract["seconds"], 3),
                "rows_written": int(extract["rows_written"]),
                "extract_rows_per_second": round(extract["rows_written"] / extract["seconds"]),
                "source_events_per_second": round(events / extract["seconds"]),
                "extract_peak_rss_mb": round(extract["peak_rss_mb"], 1),
                "ratio_to_baseline": round(extract["seconds"] / baseline["seconds"], 2),
                "baseline_cpu_seconds": round(baseline["cpu_seconds"], 3),
                "extract_cpu_seconds": round(extract["cpu_seconds"], 3),
                "cpu_ratio_to_baseline": round(extract["cpu_seconds"] / baseline["cpu_seconds"], 2),
                "rss_ratio_to_baseline": round(extract["peak_rss_mb"] / baseline["peak_rss_mb"], 2),
            }
            r = results[label]
            print(
                f"{label:>7}: {events:,} events -> {r['rows_written']:,} rows in "
                f"{r['extract_seconds']:.1f} s, {r['extract_cpu_seconds']:.1f} s CPU "
                f"({r['extract_rows_per_second']:,} rows/s), peak RSS {r['extract_peak_rss_mb']:.0f} MB | "
                f"bare SELECT * of {r['baseline_rows_read']:,} rows {r['baseline_seconds']:.1f} s, "
                f"{r['baseline_cpu_seconds']:.1f} s CPU, {r['baseline_peak_rss_mb']:.0f} MB | "
                f"ratio {r['ratio_to_baseline']:.2f}, CPU ratio {r['cpu_ratio_to_baseline']:.2f} (target <= 3)"
            )
        full, quarter = results["full"], results["quarter"]
        summary = {
            "benchmark": "extract",
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "sqlite": sqlite3.sqlite_version,
                "load_average_at_start": load_at_start,
                "load_average_at_end": os.getloadavg(),
            },
            "source": {
                "council": LA,
                "seed": SEED,
                "people_per_council": BASE_PEOPLE,
                "copies": sizes,
                "period": [sim_start.isoformat(), sim_end.isoformat()],
            },
            "results": results,
            "target_ratio": 3.0,
            "ratio": full["ratio_to_baseline"],
            "cpu_ratio": full["cpu_ratio_to_baseline"],
            "rss_growth_quarter_to_full_mb": round(
                full["extract_peak_rss_mb"] - quarter["extract_peak_rss_mb"], 1
            ),
        }
        print(
            f"peak RSS {quarter['extract_peak_rss_mb']:.0f} MB at {quarter['source_events']:,} events, "
            f"{full['extract_peak_rss_mb']:.0f} MB at {full['source_events']:,} events; load average "
            f"{load_at_start[0]:.1f} at the start, {summary['machine']['load_average_at_end'][0]:.1f} at the end"
        )
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
