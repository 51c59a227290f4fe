"""Benchmark: the landing service end to end, with the server's peak memory.

Part 1 - one council return of 1,000,000 rows (``--rows``), and a tenth of it for comparison:
  * upload + check + encrypt: `ascld submit`'s client against `ascld serve` on loopback (worker off), wall
    seconds and the server's peak RSS for each file; the target is a peak that does not grow with the file
    (and stays under 500 MB);
  * ingest: the server restarted with its worker on (the queued jobs survive the restart); wall seconds until
    the national store holds the file, and the server's peak RSS during ingest;
Part 2 - 20 councils uploading a 50,000-row return each at the same moment (``--councils``,
``--council-rows``): wall seconds until all 20 are accepted (received, checked, encrypted; worker off), MB/s
and rows/s, the server's peak RSS; then the server restarted with its worker, seconds to ingest all 20, peak RSS.

Peak RSS is the kernel's high-water mark for the server process (VmHWM), reset before each phase by writing 5
to /proc/<pid>/clear_refs. Figures are printed and written to ``benchmarks/out/landing.json``. Run by hand:
``uv run python benchmarks/landing.py [--rows N] [--db URL]``.

The returns are the validator's seeded sample rows (clean, synthetic), made once for 50,000 rows and repeated
to reach larger sizes; each council's copy carries its own LA code.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' harness for `ascld serve` (tests/support)
from support.landing_server import LandingServer  # noqa: E402

OUT = HERE / "out" / "landing.json"
BASE_ROWS = 50_000
SAMPLE_LA = "901"
MB = 1024 * 1024


def make_files(folder: Path, rows: int, small_rows: int, councils: int, council_rows: int) -> dict[str, Path]:
    """The returns: `rows` and `small_rows` rows for council 101, `council_rows` for each other council."""
    from ascld.quality.sample import write_sample_return

    base = write_sample_return(folder / "base.csv", BASE_ROWS, seed=2025, la_code=SAMPLE_LA)
    header, body = base.read_bytes().split(b"\r\n", 1)
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()

    def write(path: Path, n: int, la: str) -> Path:
        block = re.sub(rb"(?m)^" + SAMPLE_LA.encode() + rb",", la.encode() + b",", b"\r\n".join(lines) + b"\r\n")
        with open(path, "wb") as fh:
            fh.write(header + b"\r\n")
            whole, part = divmod(n, len(lines))
            for _ in range(whole):
                fh.write(block)
            if part:
                fh.write(b"\r\n".join(ln for ln in block.split(b"\r\n")[:part]) + b"\r\n")
        return path

    files = {
        "big": write(folder / f"big_{rows}.csv", rows, "101"),
        "small": write(folder / f"small_{small_rows}.csv", small_rows, "101"),
    }
    for i in range(councils):
        la = str(201 + i)
        files[la] = write(folder / f"council_{la}.csv", council_rows, la)
    return files


def server_for(root: Path, db_url: str, councils: list[str]) -> LandingServer:
    """`ascld serve` in a child process (the tests' harness), with a council account per LA code."""
    accounts = {f"c{la}": ("council_submitter", la) for la in councils}
    accounts["processor"] = ("processor_operator", None)
    return LandingServer(root, db_url, accounts, settings={"worker_threads": 0})


def restart(server: LandingServer, worker_threads: int) -> None:
    server.stop()
    server.settings = {"worker_threads": worker_threads}
    server.start(timeout=120)


def reset_peak(server: LandingServer) -> None:
    Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")


def peak_mb(server: LandingServer) -> float:
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def wait_ingested(server: LandingServer, token: str, want: set[str], timeout: float = 7200) -> dict[str, float]:
    """Poll until every submission in `want` is ingested; returns id -> seconds from the start of waiting."""
    started = time.perf_counter()
    done: dict[str, float] = {}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        while set(done) != want:
            for sub in c.get("/api/v1/submissions").json()["submissions"]:
                if sub["id"] in want and sub["id"] not in done:
                    if sub["status"] == "failed":
                        raise RuntimeError(f"ingest failed for {sub['id']}")
                    if sub["status"] == "ingested":
                        done[sub["id"]] = time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise RuntimeError("ingest timed out")
            time.sleep(0.25)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=100_000)
    parser.add_argument("--councils", type=int, default=20)
    parser.add_argument("--council-rows", type=int, default=50_000)
    parser.add_argument("--db", default=None, help="metadata database for part 1 (default: SQLite in the store)")
    parser.add_argument("--db2", default=None, help="an empty database for part 2 (default: SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()

    from ascld.landing.client import SubmitClient

    work = Path(tempfile.mkdtemp(prefix="ascld-bench-landing-"))
    print(f"working in {work}")
    t = time.perf_counter()
    (work / "files").mkdir()
    files = make_files(work / "files", args.rows, args.small_rows, args.councils, args.council_rows)
    print(f"made the returns in {time.perf_counter() - t:.1f} s")
    results: dict[str, object] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "rows": args.rows,
        "small_rows": args.small_rows,
    }

    # Part 1: one council, a small and a big file; upload + check + encrypt with the worker off.
    root1 = work / "part1"
    root1.mkdir()
    server = server_for(root1, args.db or f"sqlite:///{root1 / 'landing.sqlite'}", ["101"])
    tokens = server.tokens
    server.start(timeout=120)
    part1: dict[str, dict[str, float]] = {}
    ids = {}
    try:
        for name in ("small", "big"):
            path = files[name]
            reset_peak(server)
            with SubmitClient(server.url, tokens["c101"], allow_http=True, timeout=3600) as client:
                started = time.perf_counter()
                result = client.submit(path)
                wall = time.perf_counter() - started
            assert result.outcome == "accepted", result
            ids[name] = result.submission["id"]
            size = path.stat().st_size
            part1[name] = {
                "rows": result.submission["rows"],
                "bytes": size,
                "upload_check_encrypt_s": round(wall, 2),
                "server_peak_rss_mb": round(peak_mb(server), 1),
                "mb_per_s": round(size / MB / wall, 1),
            }
            print(
                f"{name:>5}: {result.submission['rows']:>9,} rows, {size / MB:7.1f} MB: upload+check+encrypt "
                f"{wall:6.1f} s ({size / MB / wall:5.1f} MB/s), server peak RSS {peak_mb(server):6.1f} MB"
            )
        # Ingest: restart with the worker on; the jobs queued above run now.
        restart(server, worker_threads=1)
        reset_peak(server)
        times = wait_ingested(server, tokens["processor"], set(ids.values()))
        ingest_peak = peak_mb(server)
    finally:
        server.stop()
    big_ingest = (
        times[ids["big"]] - times[ids["small"]] if times[ids["big"]] > times[ids["small"]] else times[ids["big"]]
    )
    part1["big"]["ingest_s"] = round(big_ingest, 2)
    part1["big"]["end_to_end_s"] = round(part1["big"]["upload_check_encrypt_s"] + big_ingest, 2)
    part1["ingest_server_peak_rss_mb"] = round(ingest_peak, 1)  # type: ignore[assignment]
    print(
        f"ingest of the {args.rows:,}-row file: {big_ingest:.1f} s; server peak RSS during ingest {ingest_peak:.1f} MB"
    )
    print(f"end to end (upload, check, encrypt, ingest) for {args.rows:,} rows: {part1['big']['end_to_end_s']:.1f} s")
    ratio = part1["big"]["server_peak_rss_mb"] / part1["small"]["server_peak_rss_mb"]
    print(f"upload+check peak RSS, big / small file: {ratio:.2f} (file {args.rows / args.small_rows:.0f}x larger)")
    results["one_council"] = part1
    results["upload_check_peak_ratio_big_to_small"] = round(ratio, 2)

    # Part 2: 20 councils at once.
    root2 = work / "part2"
    root2.mkdir()
    councils = [str(201 + i) for i in range(args.councils)]
    server = server_for(root2, args.db2 or f"sqlite:///{root2 / 'landing.sqlite'}", councils)
    tokens2 = server.tokens
    server.start(timeout=120)  # uploads first, as in part 1; then the worker on its own
    try:
        reset_peak(server)
        total_bytes = sum(files[la].stat().st_size for la in councils)
        barrier = threading.Barrier(len(councils))

        def submit(la: str) -> tuple[str, str]:
            with SubmitClient(server.url, tokens2[f"c{la}"], allow_http=True, timeout=3600) as client:
                barrier.wait()
                r = client.submit(files[la])
                return r.outcome, r.submission["id"]

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(councils)) as pool:
            outcomes = list(pool.map(submit, councils))
        accepted_s = time.perf_counter() - started
        upload_peak = peak_mb(server)
        assert all(o == "accepted" for o, _ in outcomes), outcomes
        restart(server, worker_threads=1)
        reset_peak(server)
        done = wait_ingested(server, tokens2["processor"], {i for _, i in outcomes})
        ingest_s = max(done.values())
        ingest_peak = peak_mb(server)
    finally:
        server.stop()
    rows_total = args.councils * args.council_rows
    part2 = {
        "councils": args.councils,
        "rows_each": args.council_rows,
        "bytes_total": total_bytes,
        "all_accepted_s": round(accepted_s, 2),
        "mb_per_s": round(total_bytes / MB / accepted_s, 1),
        "rows_per_s": round(rows_total / accepted_s),
        "ingest_all_s": round(ingest_s, 2),
        "server_peak_rss_mb_uploads": round(upload_peak, 1),
        "server_peak_rss_mb_ingest": round(ingest_peak, 1),
    }
    print(
        f"{args.councils} councils x {args.council_rows:,} rows at once: all accepted (checked, encrypted) in "
        f"{accepted_s:.1f} s ({part2['mb_per_s']} MB/s, {part2['rows_per_s']:,} rows/s), server peak RSS "
        f"{upload_peak:.1f} MB; then the worker ingested all {args.councils} in {ingest_s:.1f} s, peak RSS "
        f"{ingest_peak:.1f} MB"
    )
    results["concurrent"] = part2
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
