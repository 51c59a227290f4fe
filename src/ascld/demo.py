"""The whole CLD path on synthetic councils, with embedded defaults (`ascld demo`).

synthetic councils (case-management databases) → extract each quarterly return through the shipped mapping →
validate (data-quality report) → ingest into a pseudonymised national store (ephemeral key) → national main
tables → ASCOF and SALT measures with disclosure control → one report that links every output.

Nothing real is used: people, NHS numbers (the 999 test range), postcodes and councils are synthetic.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascld import __version__
from ascld.report.builder import BarChart, Report, Section, Table


@dataclass
class DemoResult:
    """What a demo run wrote, and the figures it printed."""

    out: Path
    report: Path
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # step, outcome, seconds
    exit_code: int = 0


# Beside the national store the demo made (in --out): each run pseudonymises with a new ephemeral key, so a store
# left by an earlier run holds pseudonyms nobody can reproduce (its people would not link to this run's hospital
# spells), and the next run replaces it.
DEMO_STORE_MARK = ".ascld-demo-store"


def _fresh_demo_store(root: Path) -> Path:
    """The demo's national store folder in `root`, absent: an earlier demo run's store (marked by
    `DEMO_STORE_MARK` in `root`) is removed; any other non-empty folder there is refused, never touched."""
    import shutil

    from ascld.errors import UsageError

    store, mark = root / "national-store", root / DEMO_STORE_MARK
    if store.exists() and any(store.iterdir()):
        if not mark.is_file():
            raise UsageError(f"{store} already holds files the demo did not make. Give --out a new or empty folder.")
        shutil.rmtree(store)
    mark.write_text(
        "national-store/ here was made by `ascld demo` with an ephemeral key; the next demo run replaces it.\n",
        encoding="utf-8",
    )
    return store


def _submissions(folder: Path) -> list[dict[str, str]]:
    with open(folder / "submissions.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _quarters(subs: list[dict[str, str]]) -> list[dict[str, str]]:
    """One entry per council and reporting period: its last submission (what a council would extract)."""
    latest: dict[tuple[str, str, str], dict[str, str]] = {}
    for s in sorted(subs, key=lambda r: r["import_date"]):
        latest[(s["la_code"], s["reporting_period_start"], s["reporting_period_end"])] = s
    return [latest[k] for k in sorted(latest)]


def run_demo(
    out: str | Path,
    *,
    seed: int = 1,
    councils: int = 3,
    people: int = 1500,
    quarters: int = 5,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the whole path and write `out/report.html` with links to every output.

    Args:
        out: the output folder (created).
        seed: seed of the synthetic world (same seed, same data).
        councils: synthetic councils.
        people: people per council.
        quarters: quarterly returns per council (the main tables and measures use the latest 12 months).
        echo: where progress lines go.

    Returns:
        DemoResult with the report path and each step's outcome.
    """
    from ascld.extract import example_mapping_path, extract_return
    from ascld.identity.pseudonym import PseudoKey, generate_key_text
    from ascld.measures.ascof.synthetic import synthetic_lsoa_lookup
    from ascld.measures.run import run_measures_national
    from ascld.national.ingest import ingest_files
    from ascld.national.main_tables import BuildParams, build_main_tables
    from ascld.quality import validate_return
    from ascld.spec import load_spec
    from ascld.synth import SynthConfig
    from ascld.synth.runner import generate

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out=root, report=root / "report.html")
    store = _fresh_demo_store(root)  # before any work: a folder that is not the demo's is refused at once
    started = time.perf_counter()

    def step(name: str, outcome: str, since: float) -> None:
        seconds = time.perf_counter() - since
        result.steps.append((name, outcome, seconds))
        echo(f"[{name}] {outcome} ({seconds:.1f} s)")

    # 1. Synthetic councils: case-management databases, the national demographic index, hospital spells.
    t = time.perf_counter()
    synth_dir = root / "synthetic"
    config = SynthConfig(
        seed=seed,
        councils=councils,
        people_per_council=people,
        quarters=quarters,
        outputs=frozenset({"cms", "returns", "index", "spells"}),
    )
    generate(config, synth_dir)
    subs = _quarters(_submissions(synth_dir))
    step("synth", f"{councils} synthetic councils, {people:,} people each, {quarters} quarters", t)

    # 2. Extract every council's quarterly returns from its case-management database.
    t = time.perf_counter()
    returns_dir = root / "returns"
    returns_dir.mkdir(exist_ok=True)
    extracted: list[tuple[dict[str, str], Path]] = []
    rows = 0
    for s in subs:
        res = extract_return(
            f"sqlite:///{(synth_dir / 'cms' / (s['la_code'] + '.sqlite')).resolve()}",
            example_mapping_path(),
            dt.date.fromisoformat(s["reporting_period_start"]),
            dt.date.fromisoformat(s["reporting_period_end"]),
            returns_dir,
            validate=False,
        )
        extracted.append((s, Path(res.path)))
        rows += res.rows
    step("extract", f"{len(extracted)} returns, {rows:,} rows, through the shipped mapping", t)

    # 3. Validate the newest return of the first council against its previous quarter.
    t = time.perf_counter()
    first = extracted[0][0]["la_code"]
    mine = [(s, p) for s, p in extracted if s["la_code"] == first]
    latest_sub, latest_path = mine[-1]
    previous = mine[-2][1] if len(mine) > 1 else None
    dq = validate_return(
        latest_path,
        previous=previous,
        submission_date=dt.date.fromisoformat(latest_sub["import_date"][:10]),
    )
    dq_dir = root / "data-quality"
    dq_files = dq.write_outputs(dq_dir)
    totals = dq.summary["totals"]
    step(
        "validate",
        f"{latest_path.name}: {dq.row_count:,} rows, {totals['errors']:,} failures, "
        f"{totals['warnings']:,} warnings (exit code {dq.exit_code})",
        t,
    )

    # 4. Land and pseudonymise every return (an ephemeral key, held in memory only).
    t = time.perf_counter()
    key = PseudoKey.from_text(generate_key_text(), source="ephemeral demo key (memory only)")
    import_dates = {p.resolve(): dt.datetime.fromisoformat(s["import_date"]) for s, p in extracted}
    ingest = ingest_files(
        [p for _, p in extracted],
        store,
        key=key,
        import_date=lambda p: import_dates[Path(p).resolve()],
        index=synth_dir / "demographic_index.parquet",
        la_names={s["la_code"]: s["la_name"] for s, _ in extracted},
        report_dir=root / "refused",
    )
    step("ingest", f"{_ingest_summary(ingest)}; pseudonymised with an ephemeral key, never written", t)

    # 5. National main tables for the latest 12 months, as of the day after the last submission.
    t = time.perf_counter()
    period = (
        dt.date.fromisoformat(latest_sub["reporting_period_start"]),
        dt.date.fromisoformat(latest_sub["reporting_period_end"]),
    )
    as_of = max(import_dates.values()).date() + dt.timedelta(days=1)
    tables_dir = root / "main-tables"
    built: dict[str, Any] = {}
    for mode in ("single", "joined"):
        start = period[0] if mode == "single" else dt.date(2023, 4, 1)
        params = BuildParams(as_of=as_of, period_start=start, period_end=period[1], mode=mode)
        built[mode] = build_main_tables(store, params, out_dir=tables_dir / mode)
    tables = ", ".join(f"{m}: {b.steps[-1].rows:,} rows ({b.table_name})" for m, b in built.items())
    step("main tables", tables, t)

    # 6. Measures, nationally, with disclosure control.
    t = time.perf_counter()
    measures = run_measures_national(
        main_tables=tables_dir / "joined",
        store=store,
        period=period,
        as_of=as_of,
        discharges=_pseudonymised_spells(synth_dir / "hospital_spells.parquet", key),
        lsoa_lookup=synthetic_lsoa_lookup(),
        out_dir=root / "measures",
    )
    step("measures", f"{len(measures.rows):,} published rows (ASCOF and SALT; disclosure control applied)", t)

    # 7. One report linking everything.
    spec = load_spec()
    _write_report(
        result,
        dq=dq,
        dq_files=dq_files,
        measures=measures,
        built=built,
        spec_label=spec.version_label,
        total=time.perf_counter() - started,
    )
    echo(f"Report: {result.report.resolve()}")
    return result


def _pseudonymised_spells(path: Path, key: Any) -> Any:
    """Hospital discharge spells with NHS numbers replaced by the store's pseudonyms, as the processor links
    them for ASCOF 2D; the clear numbers never leave this function."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ascld.identity.pseudonym import NHS_DOMAIN, Pseudonymiser
    from ascld.measures.ascof.synthetic import discharges_from_spells

    spells = pq.read_table(path)
    nhs = spells.column("nhs_number").cast(pa.string())
    spells = spells.set_column(spells.column_names.index("nhs_number"), "nhs_number", nhs)
    pseudo = Pseudonymiser(key)
    return discharges_from_spells(spells, lambda values: pseudo.pseudonyms(values, NHS_DOMAIN))


def _ingest_summary(report: Any) -> str:
    by_status: dict[str, int] = {}
    for outcome in report.outcomes:
        by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))


def _failures_by_field(summary: dict[str, Any]) -> list[tuple[str, int]]:
    """(header, rows failing) for the fields with most failures; validity codes below 0 are failures."""
    out = []
    for entry in summary.get("fields", []):
        failed = sum(c["count"] for c in entry["counts"] if c["validity_code"] < 0)
        if failed:
            out.append((entry["header"], failed))
    return sorted(out, key=lambda kv: -kv[1])[:12]


def _write_report(
    result: DemoResult,
    *,
    dq: Any,
    dq_files: dict[str, Path],
    measures: Any,
    built: dict[str, Any],
    spec_label: str,
    total: float,
) -> None:
    root = result.out

    def rel(path: Path) -> str:
        return str(Path(path).resolve().relative_to(root.resolve()))

    steps = Table(
        columns=("Step", "Outcome", "Seconds"),
        rows=[(name, outcome, round(seconds, 1)) for name, outcome, seconds in result.steps],
        caption="The path, step by step",
    )
    failing = _failures_by_field(dq.summary)
    dq_items: list[Any] = []
    if failing:
        dq_items.append(
            BarChart(
                title="Fields with the most failures",
                labels=[k for k, _ in failing],
                values=[v for _, v in failing],
                unit=" rows",
            )
        )
    published = [r for r in measures.rows if r.get("la_code") in (None, "")]
    head = Table(
        columns=("Measure", "Breakdown", "Group", "Numerator", "Denominator", "Value"),
        rows=[
            (r["measure"], r["breakdown"], r["group"], r["numerator"], r["denominator"], r["value"])
            for r in published[:60]
        ],
        caption="England figures (first 60 rows; every row is in measures/measures.csv)",
    )
    outputs = Table(
        columns=("Output", "Where"),
        rows=[
            ("Data-quality report of the newest return", rel(dq_files["report.html"])),
            ("Problems found (CSV)", rel(dq_files["problems.csv"])),
            ("Measures report", rel(measures.outputs["report"])),
            ("Measures (CSV, tidy)", rel(measures.outputs["measures_csv"])),
            ("Measures manifest", rel(measures.outputs["manifest"])),
            ("National store (pseudonymised Parquet)", "national-store/"),
            ("Main tables (Parquet, manifest, summary)", "main-tables/"),
        ],
        caption="Everything this run wrote",
    )
    report = Report(
        title="ascld demo: the whole CLD path on synthetic councils",
        subtitle="extract → validate → land and pseudonymise → main tables → measures",
        facts=(("ascld", __version__), ("Specification", spec_label), ("Total time", f"{total:.0f} s")),
        warning="Synthetic data only: no real person, council or figure appears here.",
        sections=(
            Section(
                "The path",
                paragraphs=(
                    "Each step used the embedded defaults: SQLite case-management databases, DuckDB, local folders.",
                ),
                items=(steps,),
            ),
            Section(
                "Data quality of the newest return",
                paragraphs=(
                    f"{dq.file}: {dq.row_count:,} rows; exit code {dq.exit_code}. Like a real council's "
                    "records, some synthetic people have no NHS number or a mis-keyed one; "
                    "the data-quality report lists every problem by row and field.",
                ),
                items=tuple(dq_items),
            ),
            Section(
                "National measures",
                paragraphs=(
                    "After disclosure control: counts 1 to 7 are shown as *, other council "
                    "counts rounded to the nearest 5.",
                ),
                items=(head,),
            ),
            Section("Outputs", items=(outputs,)),
        ),
        footer=("Main tables: " + "; ".join(f"{m} {b.table_name}" for m, b in built.items()),),
    )
    report.write(result.report)
