"""Benchmark: the landing service end to end, with the memory of the service and of its checker process.

Part 1 - one council return of 1,000,000 rows (``--rows``), a tenth of it for comparison (``--small-rows``), and
optionally larger ones (``--more-rows 2000000``):
  * upload + check + encrypt: `ascld submit`'s client against `ascld serve` on loopback (worker off), wall
    seconds and its stages (hash and upload on the client, the check as the service timed it, the rest:
    encrypting, recording, answering), and memory for each file: the service process's peak RSS, the
    checker process's peak RSS during the check (the checker measures itself; the audit event records it),
    and the peak of the two together (their RSS summed, sampled every 50 ms). The target is a peak that does
    not grow with the file and stays under 500 MB;
  * ingest: the server restarted with its worker on (the queued jobs survive the restart); wall seconds until
    the national store holds the file, and the server's peak RSS during ingest. The larger files of
    ``--more-rows`` go to a second server and are not ingested; ``--skip-ingest`` leaves this step out;
Part 2 - 20 councils uploading a 50,000-row return each at the same moment (``--councils``,
``--council-rows``): wall seconds until all 20 are accepted (received, checked, encrypted; worker off), MB/s
and rows/s, the peaks as above; then the server restarted with its worker, seconds to ingest all 20, peak RSS.

Peak RSS of the service process is the kernel's high-water mark (VmHWM), reset before each phase by writing 5
to /proc/<pid>/clear_refs; the checker resets its own before each check. Every figure is recorded with the
load average at the time (the machine may be shared). Figures are printed and written to
``benchmarks/out/landing.json``. Run by hand: ``uv run python benchmarks/landing.py [--rows N] [--db URL]``.

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
from support.landing_server import LandingServer, child_pids  # noqa: E402

OUT = HERE / "out" / "landing.json"
BASE_ROWS = 50_000
SAMPLE_LA = "901"
MB = 1024 * 1024


def make_files(
    folder: Path, rows: int, small_rows: int, councils: int, council_rows: int, more_rows: tuple[int, ...] = ()
) -> dict[str, Path]:
    """The returns: `rows`, `small_rows` and each of `more_rows` rows for council 101, `council_rows` for
    each other council."""
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

    files = {}
    if rows:
        files["big"] = write(folder / f"big_{rows}.csv", rows, "101")
    if small_rows:
        files["small"] = write(folder / f"small_{small_rows}.csv", small_rows, "101")
    for n in more_rows:
        files[f"rows_{n}"] = write(folder / f"more_{n}.csv", n, "101")
    for i in range(councils):
        la = str(201 + i)
        files[la] = write(folder / f"council_{la}.csv", council_rows, la)
    return files


def server_for(root: Path, db_url: str, councils: list[str], settings: dict[str, str] | None = None) -> LandingServer:
    """`ascld serve` in a child process (the tests' harness), with a council account per LA code."""
    accounts: dict[str, tuple[str, str | None]] = {f"c{la}": ("council_submitter", la) for la in councils}
    accounts["processor"] = ("processor_operator", None)
    accounts["dpo"] = ("data_protection_officer", None)
    return LandingServer(root, db_url, accounts, settings={**(settings or {}), "worker_threads": 0})


def restart(server: LandingServer, worker_threads: int) -> None:
    server.stop()
    server.settings = {**server.settings, "worker_threads": worker_threads}
    server.start(timeout=120)


def reset_peak(server: LandingServer) -> None:
    Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")


def peak_mb(server: LandingServer) -> float:
    return status_mb(server.proc.pid, "VmHWM")


def status_mb(pid: int, key: str) -> float:
    """A memory figure of /proc/<pid>/status in MB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class TreeSampler:
    """Samples, every 50 ms, the resident memory of the service process plus its children (the checker) and
    keeps the peak of the sum (pages the two share, such as library code, count twice: an upper bound)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_total = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid, *child_pids(self.pid)]
            self.peak_total = max(self.peak_total, sum(status_mb(p, "VmRSS") for p in pids))
            self._stop.wait(0.05)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def check_figures(server: LandingServer, token: str, ids: set[str]) -> dict[str, dict[str, float]]:
    """Submission id -> the check's seconds and the checker's peak RSS, from the upload audit events."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        events = c.get("/api/v1/audit", params={"action": "upload", "limit": 1000}).json()["events"]
    return {
        e["object_id"]: {
            "check_s": e["detail"].get("check_seconds"),
            "checker_peak_rss_mb": e["detail"].get("check_peak_rss_mb"),
        }
        for e in events
        if e["object_id"] in ids and e["outcome"] == "ok"
    }


def upload_one(server: LandingServer, tokens: dict[str, str], path: Path) -> tuple[str, dict[str, object]]:
    """Submit `path` as council 101 and measure it (see the module docstring)."""
    from ascld.landing.client import SubmitClient

    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault(f"{stage}_start", now)
        if done >= total:
            marks.setdefault(f"{stage}_end", now)

    reset_peak(server)
    with (
        TreeSampler(server.proc.pid) as sampler,
        SubmitClient(server.url, tokens["c101"], allow_http=True, timeout=3600) as client,
    ):
        started = time.perf_counter()
        result = client.submit(path, progress=progress)
        wall = time.perf_counter() - started
    assert result.outcome == "accepted", result
    sub_id = result.submission["id"]
    check = check_figures(server, tokens["dpo"], {sub_id})[sub_id]
    size = path.stat().st_size
    hash_s = marks.get("hash_end", started) - started
    upload_s = marks.get("upload_end", started) - marks.get("upload_start", started)
    figures: dict[str, object] = {
        "rows": result.submission["rows"],
        "bytes": size,
        "upload_check_encrypt_s": round(wall, 2),
        "stages_s": {
            "hash_on_client": round(hash_s, 2),
            "upload": round(upload_s, 2),
            "check": check["check_s"],
            "encrypt_record_answer": round(wall - hash_s - upload_s - (check["check_s"] or 0), 2),
        },
        "server_peak_rss_mb": round(peak_mb(server), 1),
        "checker_peak_rss_mb": check["checker_peak_rss_mb"],
        "together_peak_rss_mb_sampled": round(sampler.peak_total, 1),
        "mb_per_s": round(size / MB / wall, 1),
        "load_average": load(),
    }
    print(
        f"{result.submission['rows']:>9,} rows, {size / MB:7.1f} MB: upload+check+encrypt {wall:6.1f} s "
        f"({size / MB / wall:5.1f} MB/s; check {check['check_s']} s); peak RSS: service "
        f"{figures['server_peak_rss_mb']} MB, checker {check['checker_peak_rss_mb']} MB, together "
        f"{figures['together_peak_rss_mb_sampled']} MB (load {figures['load_average']})"
    )
    return sub_id, figures


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
    parser.add_argument(
        "--more-rows", type=int, nargs="*", default=[], help="larger files to check too (not ingested), e.g. 2000000"
    )
    parser.add_argument("--councils", type=int, default=20)
    parser.add_argument("--council-rows", type=int, default=50_000)
    parser.add_argument("--db", default=None, help="metadata database for part 1 (default: SQLite in the store)")
    parser.add_argument("--db2", default=None, help="an empty database for part 2 (default: SQLite)")
    parser.add_argument("--skip-concurrent", action="store_true", help="part 1 only")
    parser.add_argument(
        "--skip-ingest", action="store_true", help="part 1: upload, check and encrypt only (no ingest)"
    )
    parser.add_argument("--only-concurrent", action="store_true", help="part 2 only")
    parser.add_argument(
        "--setting", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="a service setting"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    settings = dict(args.setting)

    work = Path(tempfile.mkdtemp(prefix="ascld-bench-landing-"))
    print(f"working in {work}")
    t = time.perf_counter()
    (work / "files").mkdir()
    councils_n = 0 if args.skip_concurrent else args.councils
    one = not args.only_concurrent
    files = make_files(
        work / "files",
        args.rows if one else 0,
        args.small_rows if one else 0,
        councils_n,
        args.council_rows,
        tuple(args.more_rows) if one else (),
    )
    print(f"made the returns in {time.perf_counter() - t:.1f} s")
    results: dict[str, object] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "rows": args.rows,
        "small_rows": args.small_rows,
        "more_rows": args.more_rows,
        "started_load_average": load(),
        "settings": settings,
    }

    if not args.only_concurrent:
        results["one_council"] = part_one(args, work, files, settings, results)
    if args.skip_concurrent:
        write_results(results, work, args.keep)
        return
    results["concurrent"] = part_two(args, work, files, settings)
    write_results(results, work, args.keep)


def part_one(
    args: argparse.Namespace,
    work: Path,
    files: dict[str, Path],
    settings: dict[str, str],
    results: dict[str, object],
) -> dict[str, dict[str, object]]:
    """One council, a small and a big file (and any larger ones); upload + check + encrypt, then ingest."""
    root1 = work / "part1"
    root1.mkdir()
    server = server_for(root1, args.db or f"sqlite:///{root1 / 'landing.sqlite'}", ["101"], settings)
    tokens = server.tokens
    server.start(timeout=120)
    part1: dict[str, dict[str, object]] = {}
    ids = {}
    try:
        results["server_idle_rss_mb"] = round(status_mb(server.proc.pid, "VmRSS"), 1)
        for name in ("small", "big"):
            ids[name], part1[name] = upload_one(server, tokens, files[name])
        if not args.skip_ingest:
            # Ingest: restart with the worker on; the jobs queued above run now.
            restart(server, worker_threads=1)
            reset_peak(server)
            times = wait_ingested(server, tokens["processor"], set(ids.values()))
            ingest_peak = peak_mb(server)
            ingest_load = load()
    finally:
        server.stop()
    if not args.skip_ingest:
        big_ingest = (
            times[ids["big"]] - times[ids["small"]] if times[ids["big"]] > times[ids["small"]] else times[ids["big"]]
        )
        part1["big"]["ingest_s"] = round(big_ingest, 2)
        part1["big"]["end_to_end_s"] = round(float(part1["big"]["upload_check_encrypt_s"]) + big_ingest, 2)  # type: ignore[arg-type]
        part1["ingest"] = {"server_peak_rss_mb": round(ingest_peak, 1), "load_average": ingest_load}
        print(
            f"ingest of the {args.rows:,}-row file: {big_ingest:.1f} s; server peak RSS during ingest "
            f"{ingest_peak:.1f} MB (load {ingest_load})"
        )
        print(
            f"end to end (upload, check, encrypt, ingest) for {args.rows:,} rows: "
            f"{part1['big']['end_to_end_s']:.1f} s"
        )

    # Larger files: checked on a second server, not ingested.
    if args.more_rows:
        root1b = work / "part1b"
        root1b.mkdir()
        server = server_for(root1b, f"sqlite:///{root1b / 'landing.sqlite'}", ["101"], settings)
        server.start(timeout=120)
        try:
            for n in args.more_rows:
                _, part1[f"rows_{n}"] = upload_one(server, server.tokens, files[f"rows_{n}"])
        finally:
            server.stop()
    sizes = {k: v for k, v in part1.items() if "rows" in v}
    for key in ("server_peak_rss_mb", "checker_peak_rss_mb", "together_peak_rss_mb_sampled"):
        if not sizes["big"][key]:
            continue  # checks ran in the service process (`check_process` false)
        ratio = float(sizes["big"][key]) / float(sizes["small"][key])  # type: ignore[arg-type]
        results[f"{key}_ratio_big_to_small"] = round(ratio, 2)
        print(f"{key}, big / small file: {ratio:.2f} (file {args.rows / args.small_rows:.0f}x larger)")
    return part1


def part_two(
    args: argparse.Namespace, work: Path, files: dict[str, Path], settings: dict[str, str]
) -> dict[str, object]:
    """20 councils uploading at once: all accepted, then all ingested."""
    from ascld.landing.client import SubmitClient

    root2 = work / "part2"
    root2.mkdir()
    councils = [str(201 + i) for i in range(args.councils)]
    server = server_for(root2, args.db2 or f"sqlite:///{root2 / 'landing.sqlite'}", councils, settings)
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

        with TreeSampler(server.proc.pid) as sampler:
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=len(councils)) as pool:
                outcomes = list(pool.map(submit, councils))
            accepted_s = time.perf_counter() - started
        upload_peak = peak_mb(server)
        upload_load = load()
        assert all(o == "accepted" for o, _ in outcomes), outcomes
        checks = check_figures(server, tokens2["dpo"], {i for _, i in outcomes})
        restart(server, worker_threads=1)
        reset_peak(server)
        done = wait_ingested(server, tokens2["processor"], {i for _, i in outcomes})
        ingest_s = max(done.values())
        ingest_peak = peak_mb(server)
        ingest_load = load()
    finally:
        server.stop()
    rows_total = args.councils * args.council_rows
    checker_peak = max(float(c["checker_peak_rss_mb"] or 0) for c in checks.values())  # 0: no checker
    part2 = {
        "councils": args.councils,
        "rows_each": args.council_rows,
        "bytes_total": total_bytes,
        "all_accepted_s": round(accepted_s, 2),
        "mb_per_s": round(total_bytes / MB / accepted_s, 1),
        "rows_per_s": round(rows_total / accepted_s),
        "check_s_each_median": sorted(float(c["check_s"] or 0) for c in checks.values())[len(checks) // 2],
        "ingest_all_s": round(ingest_s, 2),
        "server_peak_rss_mb_uploads": round(upload_peak, 1),
        "checker_peak_rss_mb_uploads": round(checker_peak, 1),
        "together_peak_rss_mb_uploads_sampled": round(sampler.peak_total, 1),
        "load_average_uploads": upload_load,
        "server_peak_rss_mb_ingest": round(ingest_peak, 1),
        "load_average_ingest": ingest_load,
    }
    print(
        f"{args.councils} councils x {args.council_rows:,} rows at once: all accepted (checked, encrypted) in "
        f"{accepted_s:.1f} s ({part2['mb_per_s']} MB/s, {part2['rows_per_s']:,} rows/s); peak RSS: service "
        f"{upload_peak:.1f} MB, checker {checker_peak:.1f} MB, together {sampler.peak_total:.1f} MB (load "
        f"{upload_load}); then the worker ingested all {args.councils} in {ingest_s:.1f} s, peak RSS "
        f"{ingest_peak:.1f} MB (load {ingest_load})"
    )
    return part2


def write_results(results: dict[str, object], work: Path, keep: bool) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")
    if not keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
