"""The main-tables pipeline as an ordered list of steps, each a pure function of Ibis tables.

The same steps run materialised on an engine (`build.py`), as one lazy expression (`main_table_expr`, for
tests and small inputs) and over unbound tables to emit SQL (`sqlemit.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime

import ibis.expr.types as ir

from ascld.errors import UsageError
from ascld.methodology import MainTablesMethod, load_main_tables_method
from ascld.national.main_tables.dedup import deduplicate
from ascld.national.main_tables.derive import (
    add_ages,
    add_person_ids,
    add_unique_event_refs,
    crop_services,
    review_type,
)
from ascld.national.main_tables.filter import filter_events_in_period
from ascld.national.main_tables.mapping import UNMAPPED_POLICIES, FieldMapping, apply_mappings, field_mappings
from ascld.national.main_tables.periods import derive_reporting_periods
from ascld.national.main_tables.schema import conform_store
from ascld.national.main_tables.select import (
    choose_submissions,
    collapse_choices,
    load_submission_rows,
    reference_periods,
)
from ascld.spec import Spec, load_spec

MODES = ("single", "joined")
BASES = ("derived", "stated")
RAW = "raw"


@dataclass(frozen=True)
class BuildParams:
    """What to build.

    Attributes:
        mode: "single" (latest 12-month file per council) or "joined" (latest file per quarterly reference
            period).
        period_start, period_end: the period (S, E), e.g. 2025-04-01 and 2026-03-31.
        as_of: files imported on a later date are ignored (normally 1-2 weeks after the submission deadline).
        basis: "derived" reporting periods (the national pipeline) or "stated" ones.
        unmapped: what a raw value in no mapping row becomes: "auto", "invalid" or "null" (see mapping.py).
        excluded_imports: import datetimes of files with known major issues; None = the methodology table.
    """

    mode: str
    period_start: date
    period_end: date
    as_of: date
    basis: str = "derived"
    unmapped: str = "auto"
    excluded_imports: tuple[datetime, ...] | None = None

    def check(self) -> None:
        """Raises UsageError naming the first parameter that cannot be used."""
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}. Choose one of: {', '.join(MODES)}.")
        if self.basis not in BASES:
            raise UsageError(f"unknown period basis {self.basis!r}. Choose one of: {', '.join(BASES)}.")
        if self.unmapped not in UNMAPPED_POLICIES:
            raise UsageError(
                f"unknown unmapped policy {self.unmapped!r}. Choose one of: {', '.join(UNMAPPED_POLICIES)}."
            )
        if self.period_end < self.period_start:
            raise UsageError(f"the period ends ({self.period_end}) before it starts ({self.period_start}).")
        # A file qualifies when imported after midnight at the start of the period end and on or before the
        # as-of date (§0, §3.1), so the as-of date may be the period end itself but not earlier. A joined table
        # calls GetSubmissions once per quarter (§3.3): quarters ending on or before the as-of date can still get
        # files, later ones have none (a warning only), so make_context checks it against the first quarter.
        if self.mode == "single" and self.as_of < self.period_end:
            raise UsageError(
                f"as-of date {self.as_of} is before the period end {self.period_end}: only files imported "
                "after the period end can be chosen. Give a later --as-of."
            )

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, date | datetime):
                out[key] = value.isoformat()
        if self.excluded_imports is not None:
            out["excluded_imports"] = [
                x.isoformat(sep=" ", timespec="milliseconds") for x in self.excluded_imports
            ]
        return out


@dataclass(frozen=True)
class Step:
    """One pipeline step: a pure function of named input tables.

    Attributes:
        name: the step id; intermediate tables are called `__ascld_<name>`.
        inputs: names of the tables the function takes, in order ("raw" is the store).
        fn: builds the step's Ibis expression.
        materialise: whether a build stores the result (big or reused results) or leaves it lazy.
        description: one line for the summary and the emitted SQL.
    """

    name: str
    inputs: tuple[str, ...]
    fn: Callable[..., ir.Table]
    materialise: bool
    description: str


@dataclass(frozen=True)
class Context:
    """Everything the steps read besides tables: parameters, spec, method tables and mapping tables."""

    params: BuildParams
    spec: Spec
    method: MainTablesMethod
    mappings: tuple[FieldMapping, ...]
    ref_periods: tuple[tuple[date, date], ...]
    excluded: tuple[datetime, ...]


def make_context(
    params: BuildParams, spec: Spec | None = None, method: MainTablesMethod | None = None
) -> Context:
    """Check the parameters and assemble the context (reference periods, mapping tables)."""
    params.check()
    spec = spec or load_spec()
    method = method or load_main_tables_method()
    months = method.param("joined.reference_period_months")
    excluded = method.excluded_imports if params.excluded_imports is None else params.excluded_imports
    ref_periods = reference_periods(params.mode, params.period_start, params.period_end, months)
    if params.as_of < ref_periods[0][1]:
        raise UsageError(
            f"as-of date {params.as_of} is before the end of the first reference period {ref_periods[0][1]}: "
            "only files imported after a reference period ends can be chosen for it. Give a later --as-of."
        )
    return Context(
        params=params,
        spec=spec,
        method=method,
        mappings=field_mappings(spec, method, params.unmapped),
        ref_periods=ref_periods,
        excluded=tuple(excluded),
    )


def _first_pass(t: ir.Table, ctx: Context) -> ir.Table:
    mapped = apply_mappings(t, ctx.spec, ctx.mappings, 1)
    with_review = mapped.mutate(Review_Type=review_type(mapped, ctx.method))
    return add_person_ids(with_review, ctx.method)


def pipeline_steps(ctx: Context) -> tuple[Step, ...]:
    """The steps of main-tables.md §2-§6 in order."""
    p, m = ctx.params, ctx.method
    return (
        Step(
            "store",
            (RAW,),
            conform_store,
            False,
            "national store, conformed to the contract; empty text is a value, not NULL (§0, §1)",
        ),
        Step(
            "reporting_periods",
            ("store",),
            lambda s: derive_reporting_periods(s, m),
            True,
            "one row per submission with its stated and derived reporting periods (§2)",
        ),
        Step(
            "period_choices",
            ("reporting_periods",),
            lambda rp: choose_submissions(rp, ctx.ref_periods, p.as_of, p.basis, ctx.excluded),
            True,
            "latest qualifying file per LA_Name for each reference period (§3.1-3.3)",
        ),
        Step(
            "selected_submissions",
            ("period_choices",),
            collapse_choices,
            True,
            "one row per chosen file with MIN/MAX of its reference periods (§3.3)",
        ),
        Step(
            "submission_rows",
            ("store", "selected_submissions"),
            load_submission_rows,
            False,
            "all rows of the chosen files with their reference period (§3.4)",
        ),
        Step(
            "events_in_period",
            ("submission_rows",),
            lambda r: filter_events_in_period(r, m),
            True,
            "death-corrected end dates; events in each file's own reference period (§4)",
        ),
        Step(
            "person_ids",
            ("events_in_period",),
            lambda t: _first_pass(t, ctx),
            False,
            "first-pass mappings, review type, combined person ID; rows with no ID dropped (§5.1-5.2)",
        ),
        Step(
            "event_refs",
            ("person_ids",),
            lambda t: add_unique_event_refs(t, m),
            True,
            "unique event reference per LA_Code (§5.3)",
        ),
        Step(
            "cropped",
            ("event_refs",),
            crop_services,
            False,
            "services open at the end of a prior reference period cropped (§5.4)",
        ),
        Step(
            "derived",
            ("cropped",),
            lambda t: apply_mappings(add_ages(t, m), ctx.spec, ctx.mappings, 2),
            True,
            "ages, age bands and second-pass mappings (§5.5, §5.1)",
        ),
        Step(
            "main_table",
            ("derived",),
            lambda t: deduplicate(t, p.mode, m),
            True,
            "one record per unique event by the national sort order; output columns (§6)",
        ),
    )


def main_table_expr(
    raw: ir.Table, params: BuildParams, spec: Spec | None = None, method: MainTablesMethod | None = None
) -> dict[str, ir.Table]:
    """Every step as one lazy Ibis expression over `raw` (nothing is materialised).

    Args:
        raw: a table with the national store's columns (see `national_store_schema`).
        params: what to build.
        spec, method: override the shipped specification and methodology tables.

    Returns:
        Step name -> expression; `["main_table"]` is the result. Execute with the engine that holds `raw`.
    """
    ctx = make_context(params, spec, method)
    tables: dict[str, ir.Table] = {RAW: raw}
    for step in pipeline_steps(ctx):
        tables[step.name] = step.fn(*(tables[i] for i in step.inputs))
    return tables
