"""Benchmark: `ascld synth` for the national set - 153 councils, about 1.5 million people, 8 quarters.

    uv run python benchmarks/synth.py [--councils 153] [--people-per-council 9800] [--quarters 8]
        [--workers 2] [--cms] [--out DIR] [--keep] [--json benchmarks/out/synth.json]

Writes the default outputs (ground truth, submitted returns with behaviour and defects, demographic index,
hospital spells, manifests; `--cms` adds the SQLite case-management databases) and prints:

* return rows written and rows per second (returns only, and all table rows written);
* wall-clock seconds, CPU seconds (this process and its workers), and the machine's load average before and
  after (the figures are only comparable on an otherwise idle machine);
* peak resident memory: the largest sum over this process and its workers, sampled every 0.2 s, and the
  largest single process.

Target (issue 3): the national 8-quarter set in at most 10 minutes on a 2-core machine, peak RSS at most 4 GB.
The output folder is deleted afterwards unless `--keep` is given. Figures are also written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

TARGET_SECONDS = 600
TARGET_RSS_BYTES = 4 * 1024**3


class MemorySampler(threading.Thread):
    """Samples the resident memory of this process and all its children."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_total = 0
        self.peak_single = 0
        self._halt = threading.Event()
        self._me = psutil.Process()

    def run(self) -> None:
        while not self._halt.is_set():
            total = 0
            for proc in [self._me, *self._me.children(recursive=True)]:
                try:
                    rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.peak_single = max(self.peak_single, rss)
            self.peak_total = max(self.peak_total, total)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--councils", type=int, default=153)
    parser.add_argument("--people-per-council", type=int, default=9800)
    parser.add_argument("--quarters", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cms", action="store_true", help="also write the case-management databases")
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the output folder")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/out/synth.json"))
    args = parser.parse_args()

    from ascld.synth.config import SynthConfig
    from ascld.synth.runner import generate

    outputs = {"truth", "returns", "index", "spells"} | ({"cms"} if args.cms else set())
    config = SynthConfig(
        seed=args.seed,
        councils=args.councils,
        people_per_council=args.people_per_council,
        quarters=args.quarters,
        workers=args.workers,
        outputs=frozenset(outputs),
    )
    out = args.out or Path(tempfile.mkdtemp(prefix="ascld-synth-bench-"))
    if out.exists() and any(out.iterdir()):
        shutil.rmtree(out)
    load_before = os.getloadavg()
    sampler = MemorySampler()
    sampler.start()
    cpu0 = time.process_time()
    started = time.perf_counter()
    done = [0]

    def progress(result: object) -> None:
        done[0] += 1
        if done[0] % 10 == 0 or done[0] == args.councils:
            print(
                f"  {done[0]}/{args.councils} councils, {time.perf_counter() - started:.0f}s",
                file=sys.stderr,
                flush=True,
            )

    result = generate(config, out, progress=progress)
    wall = time.perf_counter() - started
    sampler.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0 + children.ru_utime + children.ru_stime
    load_after = os.getloadavg()
    return_rows = result.rows.get("returns", 0)
    all_rows = sum(result.rows.values())
    figures = {
        "benchmark": "synth",
        "councils": result.councils,
        "people": result.people,
        "quarters": args.quarters,
        "outputs": sorted(outputs),
        "workers": args.workers,
        "files": result.files,
        "return_rows": return_rows,
        "rows_written": all_rows,
        "rows_by_output": result.rows,
        "bytes_written": _size(out),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "idle_machine_estimate_seconds": round(cpu / max(1, min(args.workers, os.cpu_count() or 1))),
        "return_rows_per_second": round(return_rows / wall),
        "rows_per_second": round(all_rows / wall),
        "peak_rss_bytes_total": sampler.peak_total,
        "peak_rss_bytes_single_process": sampler.peak_single,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "target_seconds": TARGET_SECONDS,
        "target_rss_bytes": TARGET_RSS_BYTES,
        "meets_time_target": wall <= TARGET_SECONDS,
        "meets_memory_target": sampler.peak_total <= TARGET_RSS_BYTES,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(
        f"synth: {result.councils} councils, {result.people:,} people, {args.quarters} quarters, "
        f"{result.files:,} files"
    )
    print(f"  return rows      {return_rows:>14,}   ({figures['return_rows_per_second']:,} rows/s)")
    print(f"  all rows written {all_rows:>14,}   ({figures['rows_per_second']:,} rows/s)")
    print(f"  wall             {wall:>14.1f} s  (target {TARGET_SECONDS} s)")
    print(f"  idle estimate    {figures['idle_machine_estimate_seconds']:>14} s  (CPU seconds / workers)")
    print(
        f"  CPU              {cpu:>14.1f} s  (load average before {load_before[0]:.1f}, after "
        f"{load_after[0]:.1f})"
    )
    print(
        f"  peak RSS         {sampler.peak_total / 2**20:>14,.0f} MiB total, "
        f"{sampler.peak_single / 2**20:,.0f} MiB largest process (target {TARGET_RSS_BYTES / 2**30:.0f} GiB)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"  figures written to {args.json}")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
