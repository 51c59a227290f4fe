"""Build the national main table on an engine: run the steps, count rows at each, write Parquet, a run
manifest and a readable summary of what each step removed and why."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from ascld import __version__
from ascld.engine import connect
from ascld.engine import run_step as _engine_run_step
from ascld.errors import AscldError, EngineError, UnusableInput
from ascld.methodology import MainTablesMethod
from ascld.national.main_tables.filter import DROP_REASONS, drop_reasons
from ascld.national.main_tables.mapping import unmapped_values
from ascld.national.main_tables.pipeline import RAW, BuildParams, Context, Step, make_context, pipeline_steps
from ascld.national.main_tables.reader import read_store, sha256_file, store_files
from ascld.national.main_tables.schema import SUBMISSION_KEYS
from ascld.national.main_tables.select import LA_KEY
from ascld.national.main_tables.sql import ci
from ascld.spec import Spec

log = logging.getLogger(__name__)

MAX_VALUES_LISTED = 20


@dataclass
class StepRecord:
    """Rows after one step, what it removed (reason -> rows) and notes for the summary."""

    name: str
    description: str
    rows: int
    removed: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    """Everything a build produced. `tables` holds the materialised steps only when `keep_tables=True`."""

    params: BuildParams
    engine: str
    table_name: str
    steps: list[StepRecord]
    selected: list[dict[str, Any]]
    unmapped: list[dict[str, Any]]
    warnings: list[str]
    manifest: dict[str, Any]
    summary: str
    outputs: dict[str, Path]
    tables: dict[str, ir.Table]

    @property
    def row_counts(self) -> dict[str, int]:
        return {s.name: s.rows for s in self.steps}


def table_name(params: BuildParams, min_start: Any = None, max_end: Any = None) -> str:
    """The table name of §6.4.

    CLD_<yyMMdd of MIN(Ref_Period_Start_Date)>_<yyMMdd of MAX(Ref_Period_End_Date)>_<kind>, where kind is
    SingleSubmissions or JoinedSubmissions.

    Examples:
        >>> from datetime import date
        >>> table_name(BuildParams("single", date(2025, 4, 1), date(2026, 3, 31), date(2026, 5, 5)))
        'CLD_250401_260331_SingleSubmissions'
    """
    start = min_start or params.period_start
    end = max_end or params.period_end
    kind = "SingleSubmissions" if params.mode == "single" else "JoinedSubmissions"
    return f"CLD_{start:%y%m%d}_{end:%y%m%d}_{kind}"


def run_step(step: str, engine: str, fn: Any) -> Any:
    """`ascld.engine.run_step`, except that ascld's own errors (e.g. a store that breaks the contract) keep
    their type instead of becoming an EngineError."""
    try:
        return _engine_run_step(step, engine, fn)
    except EngineError as err:
        if isinstance(err.__cause__, AscldError):
            raise err.__cause__ from None
        raise


class _Runner:
    """Runs the steps on one connection, materialising the big or reused ones as `__ascld_<step>_<run>`."""

    def __init__(self, con: Any, engine: str, ctx: Context) -> None:
        self.con, self.engine, self.ctx = con, engine, ctx
        self.run_id = uuid.uuid4().hex[:8]
        self.created: list[str] = []
        self.tables: dict[str, ir.Table] = {}
        self.records: dict[str, StepRecord] = {}

    def execute(self, step_name: str, expr: ir.Expr) -> Any:
        return run_step(step_name, self.engine, lambda: self.con.execute(expr))

    def run(self, step: Step) -> ir.Table:
        expr = run_step(step.name, self.engine, lambda: step.fn(*(self.tables[i] for i in step.inputs)))
        if step.materialise:
            name = f"__ascld_{step.name}_{self.run_id}"
            expr = run_step(step.name, self.engine, lambda: self.con.create_table(name, expr))
            self.created.append(name)
        self.tables[step.name] = expr
        rows = int(self.execute(step.name, expr.count()))
        self.records[step.name] = StepRecord(step.name, step.description, rows)
        log.info("step %s: %d rows", step.name, rows)
        return expr

    def drop_all(self) -> None:
        for name in self.created:
            try:
                self.con.raw_sql(f"DROP TABLE IF EXISTS {name}")
            except Exception:  # noqa: BLE001 - cleanup must not hide the real result
                log.warning("could not drop intermediate table %s", name)


def _check_store(runner: _Runner) -> None:
    """Submission keys are never NULL and Der_Unique_Record_ID (the load record ID) is unique and present, as
    in the national raw table; refuse a store where they are not (counts only, never values)."""
    store = runner.tables["store"]
    checks = store.aggregate(
        rows=store.count(),
        no_key=ibis.or_(*(store[k].isnull() for k in SUBMISSION_KEYS)).sum(),
        no_id=store.Der_Unique_Record_ID.isnull().sum(),
        ids=store.Der_Unique_Record_ID.nunique(),
    )
    got = _one_row(runner, "store", checks)
    rows, no_key, no_id, ids = (int(got[k] or 0) for k in ("rows", "no_key", "no_id", "ids"))
    if no_key:
        raise UnusableInput(
            f"the national store has {no_key} rows with no {', '.join(SUBMISSION_KEYS)}; every row must name "
            "its submission. Re-run ingest for those files."
        )
    if no_id or ids != rows - no_id:
        raise UnusableInput(
            f"Der_Unique_Record_ID must be present and unique across the national store: {no_id} rows have "
            f"none and {rows - no_id - ids} repeat another row's. Re-run ingest (it numbers rows in load "
            "order)."
        )


def _note_periods(runner: _Runner) -> None:
    rp = runner.tables["reporting_periods"]
    no_period = int(
        runner.execute("reporting_periods", rp.filter(rp.Der_Reporting_Period_Start_Date.isnull()).count())
    )
    rec = runner.records["reporting_periods"]
    rec.notes.append(
        f"{rec.rows} submissions in the store; {no_period} have no derived period (never selectable)"
    )


def _coverage_warnings(runner: _Runner) -> list[str]:
    """LAs in the store with no qualifying file for a reference period (a warning only, §3.1)."""
    rp, ch = runner.tables["reporting_periods"], runner.tables["period_choices"]
    names_expr = rp.group_by(la=ci(rp.LA_Name)).aggregate(name=rp.LA_Name.min())
    names = {r["la"]: r["name"] for r in _rows(runner, "period_choices", names_expr)}
    have = {
        (r[LA_KEY], r["Ref_Period_Start_Date"])
        for r in _rows(runner, "period_choices", ch.select(LA_KEY, "Ref_Period_Start_Date"))
    }
    out = []
    for start, end in runner.ctx.ref_periods:
        missing = sorted(names[la] for la in names if (la, start) not in have)
        if missing:
            out.append(f"no qualifying file for {start}..{end}: {', '.join(missing)}")
    return out


def _rows(runner: _Runner, step: str, expr: ir.Table) -> list[dict[str, Any]]:
    """A small result as Python rows (dates as date, NULL as None)."""
    return run_step(step, runner.engine, lambda: runner.con.to_pyarrow(expr).to_pylist())


def _selected_files(runner: _Runner) -> list[dict[str, Any]]:
    sel, rp = runner.tables["selected_submissions"], runner.tables["reporting_periods"]
    rpk = rp.mutate(_k=ci(rp.LA_Name))
    joined = sel.join(rpk, [sel[LA_KEY] == rpk._k, sel.ImportDate == rpk.ImportDate])
    cols = joined.select(
        "LA_Code",
        rpk.LA_Name,
        sel.ImportDate,
        "ImportFileId",
        "Ref_Period_Start_Date",
        "Ref_Period_End_Date",
        "Der_Reporting_Period_Start_Date",
        "Der_Reporting_Period_End_Date",
    ).order_by(["LA_Code", "LA_Name", "ImportDate"])
    return [{k: _iso(v) for k, v in row.items()} for row in _rows(runner, "selected_submissions", cols)]


def _iso(value: Any) -> Any:
    """Dates as YYYY-MM-DD, datetimes to the millisecond (ImportDate identifies a file)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    return value.isoformat() if isinstance(value, date) else value


def _note_filter(runner: _Runner) -> None:
    reasons = runner.execute(
        "events_in_period", drop_reasons(runner.tables["submission_rows"], runner.ctx.method)
    )
    labels = dict(DROP_REASONS)
    runner.records["events_in_period"].removed = {
        labels[r]: int(n) for r, n in sorted(zip(reasons["reason"], reasons["rows"], strict=True))
    }


def _note_derived(runner: _Runner) -> list[dict[str, Any]]:
    d = runner.tables["derived"]
    cropped = int(runner.execute("cropped", d.filter(d.Der_Cropped == 1).count()))
    runner.records["cropped"].notes.append(
        f"{cropped} rows had their end date cropped to their reference period end"
    )
    bad_month = d.filter(
        d.Der_Birth_Year.notnull() & ~d.Der_Birth_Month.between(1, 12).fill_null(False)
    ).count()
    n_bad = int(runner.execute("derived", bad_month))
    if n_bad:
        runner.records["derived"].notes.append(
            f"{n_bad} rows have a birth year but no valid birth month: age NULL"
        )
    values = runner.execute("derived", unmapped_values(d, runner.ctx.mappings))
    values = values.sort_values(["field", "rows", "value"], ascending=[True, False, True])
    return [{"field": f, "value": v, "rows": int(n)} for f, v, n in values.itertuples(index=False)]


def _note_dedup(runner: _Runner) -> None:
    before, after = runner.records["derived"].rows, runner.records["main_table"].rows
    rec = runner.records["main_table"]
    rec.removed = {"duplicate of a kept record of the same unique event": before - after}
    if runner.ctx.params.mode == "single":
        from ascld.national.main_tables.dedup import fits_cost

        places = runner.ctx.method.param("dedup.cost_decimal_places")
        d = runner.tables["derived"]
        too_big = (d.Unit_Cost.notnull() & ~fits_cost(d.Unit_Cost, places)) | (
            d.Planned_units_per_week.notnull() & ~fits_cost(d.Planned_units_per_week, places)
        )
        n = int(runner.execute("main_table", d.filter(too_big).count()))
        if n:
            rec.notes.append(
                f"{n} rows (before de-duplication) have a unit cost or planned units per week too large for "
                "NUMERIC(18,2): read as NULL"
            )


def _note_person_ids(runner: _Runner) -> None:
    before, after = runner.records["events_in_period"].rows, runner.records["person_ids"].rows
    runner.records["person_ids"].removed = {"no NHS number and no LA person identifier": before - after}


def _write_table(con: Any, table: ir.Table, path: Path) -> str:
    """Write Parquet: one file (DuckDB) or a folder of part files (Spark). Returns a SHA-256 of the output."""
    con.to_parquet(table, str(path))
    if path.is_file():
        return sha256_file(path)
    parts = "".join(sha256_file(p) for p in sorted(path.rglob("*.parquet")))
    return hashlib.sha256(parts.encode()).hexdigest()


def _one_row(runner: _Runner, step: str, expr: ir.Table) -> dict[str, Any]:
    """The single row of an aggregate, with NULL as None (not NaN)."""
    return _rows(runner, step, expr)[0]


def _open(
    store: str | Path | ir.Table, engine: str, con: Any, work_dir: str | Path | None
) -> tuple[Any, ir.Table, list[Path], Path | None]:
    """The connection, the raw store table, the store's files and the scratch database file we created."""
    if isinstance(store, ir.Table):
        return con or store._find_backend(), store, [], None
    files = store_files(store)
    scratch = None
    if con is None:
        options: dict[str, Any] = {}
        if work_dir and engine == "duckdb":
            Path(work_dir).mkdir(parents=True, exist_ok=True)
            scratch = Path(work_dir) / f"ascld-build-{uuid.uuid4().hex[:8]}.duckdb"
            options = {"path": scratch, "temp_directory": Path(work_dir) / "spill"}
        con = connect(engine, **options)
    raw = run_step("store", engine, lambda: read_store(con, store, engine))
    return con, raw, files, scratch


def _run_all(runner: _Runner) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Run every step and collect the summary facts: warnings, chosen files, unmapped values."""
    for step in pipeline_steps(runner.ctx):
        runner.run(step)
        if step.name == "store":
            _check_store(runner)
    _note_periods(runner)
    warnings = _coverage_warnings(runner)
    selected = _selected_files(runner)
    _note_filter(runner)
    _note_person_ids(runner)
    unmapped = _note_derived(runner)
    _note_dedup(runner)
    return warnings, selected, unmapped


def _write_outputs(runner: _Runner, out: Path, name: str, emit: tuple[str, ...]) -> tuple[dict, list]:
    """The main table as Parquet (and the SQL when asked); returns output paths and their manifest rows."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.parquet"
    digest = run_step(
        "write", runner.engine, lambda: _write_table(runner.con, runner.tables["main_table"], path)
    )
    outputs: dict[str, Path] = {"main_table": path}
    meta = [{"path": path.name, "rows": runner.records["main_table"].rows, "sha256": digest}]
    if emit:
        from ascld.national.main_tables.sqlemit import write_sql

        ctx = runner.ctx
        for dialect in emit:
            for p in write_sql(out / "sql" / dialect, dialect, ctx.params, spec=ctx.spec, method=ctx.method):
                outputs[f"sql:{dialect}:{p.stem}"] = p
    return outputs, meta


def _make_manifest(runner: _Runner, facts: dict[str, Any]) -> dict[str, Any]:
    ctx = runner.ctx
    records = [runner.records[s.name] for s in pipeline_steps(ctx)]
    return {
        "ascld_version": __version__,
        "spec_version": ctx.spec.version_label,
        "method_version": ctx.method.version,
        "method_data_sha256": ctx.method.data_sha256,
        "engine": runner.engine,
        "parameters": ctx.params.as_dict(),
        "reference_periods": [[s.isoformat(), e.isoformat()] for s, e in ctx.ref_periods],
        "table_name": facts["name"],
        "started_at": facts["started"].isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - facts["t0"], 3),
        "inputs": facts["inputs"],
        "selected_submissions": facts["selected"],
        "row_counts": {r.name: r.rows for r in records},
        "steps": [
            {
                "name": r.name,
                "description": r.description,
                "rows": r.rows,
                "removed": r.removed,
                "notes": r.notes,
            }
            for r in records
        ],
        "mapping": _mapping_meta(ctx, facts["unmapped"]),
        "warnings": facts["warnings"],
        "outputs": facts["outputs"],
    }


def build_main_tables(
    store: str | Path | ir.Table,
    params: BuildParams,
    *,
    engine: str = "duckdb",
    con: Any = None,
    out_dir: str | Path | None = None,
    work_dir: str | Path | None = None,
    spec: Spec | None = None,
    method: MainTablesMethod | None = None,
    keep_tables: bool = False,
    hash_inputs: bool = True,
    emit_sql: tuple[str, ...] = (),
) -> BuildResult:
    """Build a national main table (main-tables.md §2-§6) and, with `out_dir`, write it with its manifest.

    Args:
        store: the national store folder / Parquet file, or an Ibis table with its columns (then `con` may be
            omitted and the table's own backend is used).
        params: mode, period, as-of date and options.
        engine: "duckdb" or "spark"; recorded in the manifest and named in errors.
        con: an open connection; by default one is opened (DuckDB in a file under `work_dir` when given,
            removed afterwards).
        out_dir: where to write `<table name>.parquet`, `manifest.json` and `summary.md`.
        work_dir: scratch folder for DuckDB's database file and spill files (large stores).
        spec, method: override the shipped specification / methodology tables.
        keep_tables: leave the intermediate tables on the connection and return them in `result.tables`.
        hash_inputs: record the SHA-256 of each store file in the manifest.
        emit_sql: also write each step's SQL in these dialects ("mssql", "duckdb", "pyspark") under
            out_dir/sql.

    Returns:
        BuildResult with row counts per step, the chosen files, unmapped values, warnings, manifest and
        summary.

    Raises:
        UsageError: bad parameters. UnusableInput: the store breaks the contract.
        EngineError: a step failed on the engine (the message names the step and engine).
    """
    facts: dict[str, Any] = {"started": datetime.now(UTC), "t0": time.perf_counter()}
    ctx = make_context(params, spec, method)
    con, raw, files, scratch = _open(store, engine, con, work_dir)
    runner = _Runner(con, engine, ctx)
    runner.tables[RAW] = raw
    try:
        facts["warnings"], facts["selected"], facts["unmapped"] = _run_all(runner)
        facts["name"] = _table_name_from_data(runner, params)
        outputs: dict[str, Path] = {}
        facts["outputs"] = []
        if out_dir is not None:
            outputs, facts["outputs"] = _write_outputs(runner, Path(out_dir), facts["name"], emit_sql)
        facts["inputs"] = _inputs(store, files, hash_inputs)
        manifest = _make_manifest(runner, facts)
        summary = render_summary(manifest, facts["unmapped"])
        if out_dir is not None:
            out = Path(out_dir)
            (out / "manifest.json").write_text(
                json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8"
            )
            (out / "summary.md").write_text(summary, encoding="utf-8")
            outputs["manifest"], outputs["summary"] = out / "manifest.json", out / "summary.md"
        return BuildResult(
            params=params,
            engine=engine,
            table_name=facts["name"],
            steps=[runner.records[s.name] for s in pipeline_steps(ctx)],
            selected=facts["selected"],
            unmapped=facts["unmapped"],
            warnings=facts["warnings"],
            manifest=manifest,
            summary=summary,
            outputs=outputs,
            tables=dict(runner.tables) if keep_tables else {},
        )
    finally:
        if not keep_tables:
            runner.drop_all()
        if scratch is not None:
            con.disconnect()
            for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
                leftover.unlink(missing_ok=True)


def _table_name_from_data(runner: _Runner, params: BuildParams) -> str:
    sel = runner.tables["selected_submissions"]
    bounds = _one_row(
        runner,
        "selected_submissions",
        sel.aggregate(s=sel.Ref_Period_Start_Date.min(), e=sel.Ref_Period_End_Date.max()),
    )
    return table_name(params, bounds["s"], bounds["e"])


def _inputs(store: Any, files: list[Path], hash_inputs: bool) -> dict[str, Any]:
    if not files:
        return {"store": "(an Ibis table passed by the caller)", "files": []}
    root = Path(store)
    base = root if root.is_dir() else root.parent
    return {
        "store": str(root),
        "files": [
            {
                "path": str(p.relative_to(base)),
                "bytes": p.stat().st_size,
                "sha256": sha256_file(p) if hash_inputs else None,
            }
            for p in files
        ],
    }


def _mapping_meta(ctx: Context, unmapped: list[dict[str, Any]]) -> dict[str, Any]:
    fields = []
    for m in ctx.mappings:
        rows = [u for u in unmapped if u["field"] == m.field.field]
        fields.append(
            {
                "field": m.field.field,
                "list": m.field.list_name,
                "list_complete": m.list_complete,
                "unmapped_become": {"invalid": m.invalid, "keep": "the raw value", "null": "NULL"}[
                    m.fallback
                ],
                "unmapped_rows": sum(u["rows"] for u in rows),
                "unmapped_distinct_values": len(rows),
            }
        )
    return {"policy": ctx.params.unmapped, "fields": fields}


def render_summary(manifest: dict[str, Any], unmapped: list[dict[str, Any]]) -> str:
    """A readable account of the build: parameters, rows after each step, what was removed and why."""
    p = manifest["parameters"]
    lines = [
        f"# {manifest['table_name']}",
        "",
        f"ascld {manifest['ascld_version']}, spec {manifest['spec_version']}, "
        f"method {manifest['method_version']}, engine {manifest['engine']}.",
        f"Mode {p['mode']}, period {p['period_start']} to {p['period_end']}, as of {p['as_of']}, "
        f"{p['basis']} reporting periods, unmapped values: {p['unmapped']}.",
        f"{len(manifest['selected_submissions'])} files chosen for {len(manifest['reference_periods'])} "
        "reference period(s).",
        "",
        "## Rows after each step",
        "",
        "| step | rows | removed | why |",
        "|---|---:|---:|---|",
    ]
    for s in manifest["steps"]:
        removed = sum(s["removed"].values())
        why = "; ".join(f"{reason}: {n}" for reason, n in s["removed"].items() if n) or "-"
        lines.append(f"| {s['name']} | {s['rows']} | {removed if s['removed'] else '-'} | {why} |")
    lines += ["", "Steps:", ""]
    lines += [
        f"* `{s['name']}`: {s['description']}" + (f". {'; '.join(s['notes'])}." if s["notes"] else "")
        for s in manifest["steps"]
    ]
    if manifest["warnings"]:
        lines += ["", "## Warnings", ""] + [f"* {w}" for w in manifest["warnings"]]
    if unmapped:
        lines += [
            "",
            "## Raw values in no mapping row",
            "",
            "Add them to the mapping (or overlay the official workbook) and rebuild.",
            "",
        ]
        for f in manifest["mapping"]["fields"]:
            rows = [u for u in unmapped if u["field"] == f["field"]]
            if not rows:
                continue
            shown = ", ".join(f"`{u['value'][:60]}` ({u['rows']})" for u in rows[:MAX_VALUES_LISTED])
            more = len(rows) - MAX_VALUES_LISTED
            lines.append(
                f"* {f['field']} (list {'complete' if f['list_complete'] else 'incomplete'}; "
                f"became {f['unmapped_become']}): {shown}" + (f", and {more} more" if more > 0 else "")
            )
    return "\n".join(lines) + "\n"


__all__ = ["BuildResult", "StepRecord", "build_main_tables", "render_summary", "table_name"]
