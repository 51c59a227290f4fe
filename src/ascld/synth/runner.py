"""Run the generator: build each council, write its outputs, then merge the national files.

Output folder layout (each part optional, see `SynthConfig.outputs`):

```
<out>/
  run_manifest.json            parameters, spec version, counts, timings, as-of dates
  councils.csv                 the councils generated, with their people counts
  submissions.csv              one row per submitted file (see SUBMISSION_COLUMNS)
  defects.csv                  file, row, field, kind, detail (every defect in every file written)
  behaviours.csv               la_code, file, behaviour (what each council did, file by file)
  demographic_index.parquet/.csv   the "true" national register (index)
  hospital_spells.parquet/.csv     hospital discharge spells keyed by NHS number (spells)
  truth/<table>/<la_code>.parquet  ground truth: persons, events, addresses, carer_links (truth)
  returns/<la_code>/<file>.csv     submitted returns with behaviour and defects (returns)
  clean/<la_code>/<file>.csv       a correct extraction: rolling 12 months, no injected defects (clean)
  transport/<la_code>/<file>.csv   unusable variants: a ragged row, a formula value (transport)
  cms/<la_code>.sqlite             case-management databases (cms; or any SQLAlchemy URL)
```

Councils are independent: they run in a process pool and each writes only its own files; the parent then
merges the national files in council order, so the output does not depend on the number of workers.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ascld import __version__
from ascld.errors import UsageError
from ascld.returns.writer import ReturnWriter, file_sha256
from ascld.synth.behaviour import plan_submissions
from ascld.synth.cms import sqlite_url, write_cms
from ascld.synth.config import TRANSPORT_DEFECT_KINDS, SynthConfig
from ascld.synth.defects import Defect, Defects
from ascld.synth.identities import identity_capacity
from ascld.synth.model import CouncilWorld
from ascld.synth.reference import Council, load_reference
from ascld.synth.returns import ReturnBuilder, Row
from ascld.synth.world import build_council, council_seed, people_in, select_councils, total_people

SUBMISSION_COLUMNS = (
    "file",
    "la_code",
    "la_name",
    "reporting_period_start",
    "reporting_period_end",
    "import_date",
    "import_id",
    "sha256",
)
DEFECT_COLUMNS = ("file", "row", "field", "kind", "detail")
INDEX_COLUMNS = (
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "gender",
    "postcode",
    "date_of_death",
)
EVENT_COLUMNS = (
    "la_code",
    "table",
    "record_id",
    "event_reference",
    "client_id",
    "client_role",
    "event_type",
    "type_code",
    "start_date",
    "end_date",
    "recorded_end_date",
    "status",
    "in_scope",
    "outcome",
    "route_of_access",
    "assessment_type",
    "service_type",
    "service_component",
    "delivery_mechanism",
    "review_reason",
    "unit_type",
    "planned_units",
    "latest_unit_cost",
)
EVENT_SCHEMA = pa.schema(
    [
        (
            name,
            pa.int64()
            if name in ("record_id", "client_id")
            else pa.date32()
            if name.endswith("_date")
            else pa.bool_()
            if name == "in_scope"
            else pa.string(),
        )
        for name in EVENT_COLUMNS
    ]
)
SPELL_COLUMNS = (
    "nhs_number",
    "la_code",
    "admission_date",
    "discharge_date",
    "discharge_method",
    "discharge_destination",
    "age_at_admission",
    "spell_id",
    "admission_method",
    "management_type",
    "treatment_function_code",
    "last_episode",
    "year_of_birth",
    "month_of_birth",
    "sex",
    "lsoa11",
)


@dataclass
class CouncilResult:
    la_code: str
    la_name: str
    people: int
    submissions: list[tuple[str, ...]] = field(default_factory=list)
    defects: list[tuple[str, ...]] = field(default_factory=list)
    behaviours: list[tuple[str, ...]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # rows written per output kind
    files: int = 0
    seconds: float = 0.0
    peak_rss: int = 0


@dataclass
class SynthResult:
    """What a run wrote: the folder, counts, and timings."""

    out: Path
    councils: int
    people: int
    rows: dict[str, int]
    files: int
    seconds: float
    peak_rss_bytes: int


def _iso(ordinal: int | None) -> str | None:
    return None if ordinal is None else dt.date.fromordinal(ordinal).isoformat()


EPOCH = dt.date(1970, 1, 1).toordinal()


def _day(ordinal: int | None) -> int | None:
    """Days since 1970-01-01 (Arrow's date32) for an ordinal."""
    return None if ordinal is None else ordinal - EPOCH


def _dates(values: list[int | None]) -> pa.Array:
    return pa.array(values, pa.date32())


# ---------------------------------------------------------------------- truth tables
def truth_tables(world: CouncilWorld) -> dict[str, pa.Table]:
    """The council's ground truth as Arrow tables (CLD values where a local code maps to one)."""
    ref = load_reference()
    v = ref.value
    la = world.council.la_code
    people = world.people
    persons = pa.table(
        {
            "la_code": [la] * len(people),
            "client_id": [p.client_id for p in people],
            "la_person_id": [p.la_person_id for p in people],
            "nhs_number": [p.nhs_true for p in people],
            "nhs_number_recorded": [p.nhs_recorded for p in people],
            "nhs_issue": [p.nhs_issue for p in people],
            "identity_key": [p.identity for p in people],
            "role": [p.role for p in people],
            "given_name": [p.given_name for p in people],
            "family_name": [p.family_name for p in people],
            "date_of_birth": _dates([_day(p.dob) for p in people]),
            "date_of_death": _dates([_day(p.death) for p in people]),
            "gender": [v("gender", p.gender) for p in people],
            "ethnicity": [v("ethnicity", p.ethnicity) for p in people],
            "primary_support_reason": [v("psr", p.psr) or None for p in people],
            "employment_status": [v("employment", p.employment) or None for p in people],
            "has_unpaid_carer": [v("has_carer", p.has_carer) for p in people],
            "client_funding_status": [v("funding", p.funding) or None for p in people],
            "gp_practice_code": [p.gp_code for p in people],
        }
    )
    cid = [p.client_id for p in people]
    scope = {key: code.in_scope for key, code in ref.codes.items()}
    ev: dict[str, list[Any]] = {k: [] for k in EVENT_COLUMNS}
    cld = ref.cld
    role_of = cld["client_role"]
    outcome_of = cld["outcome"]

    def extend(
        table: str,
        prefix: str,
        recs: list[Any],
        type_of: Callable[[Any], str],
        in_scope: Callable[[Any], bool],
        recorded: Callable[[Any], int | None],
        extra: dict[str, Callable[[Any], Any]],
    ) -> None:
        n = len(recs)
        ev["la_code"] += [la] * n
        ev["table"] += [table] * n
        ev["record_id"] += [r.id for r in recs]
        ev["event_reference"] += [f"{prefix}{r.id}" for r in recs]
        ev["client_id"] += [cid[r.pid] for r in recs]
        ev["client_role"] += [role_of[r.role] for r in recs]
        ev["event_type"] += [v("event_table", table)] * n
        ev["type_code"] += [type_of(r) for r in recs]
        ev["start_date"] += [_day(r.start) for r in recs]
        ev["end_date"] += [_day(r.end) for r in recs]
        ev["recorded_end_date"] += [_day(recorded(r)) for r in recs]
        ev["status"] += [r.status for r in recs]
        ev["in_scope"] += [in_scope(r) for r in recs]
        ev["outcome"] += [outcome_of.get(r.outcome) for r in recs]
        for key in EVENT_COLUMNS[14:]:
            fn = extra.get(key)
            ev[key] += [fn(r) for r in recs] if fn else [None] * n

    extend(
        "contact",
        "C",
        world.contacts,
        lambda r: r.type,
        lambda r: scope[("contact_type", r.type)] and r.status == "COMPLETE",
        lambda r: r.end,
        {"route_of_access": lambda r: cld["route"][r.route]},
    )
    extend(
        "assessment",
        "A",
        world.assessments,
        lambda r: r.type,
        lambda r: scope[("assessment_type", r.type)] and r.status == "COMPLETE",
        lambda r: r.end,
        {"assessment_type": lambda r: cld["assessment_type"][r.type] or None},
    )
    extend(
        "service_line",
        "S",
        world.lines,
        lambda r: r.component,
        lambda r: r.status != "CANCELLED",
        lambda r: r.cms_end,
        {
            "service_type": lambda r: cld["setting"][r.agreement.setting],
            "service_component": lambda r: cld["component"][r.component],
            "delivery_mechanism": lambda r: cld["delivery"].get(r.agreement.delivery),
            "unit_type": lambda r: cld["unit_type"].get(r.unit_type),
            "planned_units": lambda r: r.units,
            "latest_unit_cost": lambda r: r.costs[-1][1] if r.costs else None,
        },
    )
    extend(
        "review",
        "R",
        world.reviews,
        lambda r: r.type,
        lambda r: r.status == "COMPLETE",
        lambda r: r.end,
        {"review_reason": lambda r: cld["review_type"][r.type]},
    )
    events = pa.table(ev, schema=EVENT_SCHEMA)
    addresses = [(p.client_id, a) for p in people for a in p.addresses]
    links = world.links
    return {
        "persons": persons,
        "events": events,
        "addresses": pa.table(
            {
                "la_code": [la] * len(addresses),
                "client_id": [cid for cid, _ in addresses],
                "start_date": _dates([_day(a.start) for _, a in addresses]),
                "end_date": _dates([_day(a.end) for _, a in addresses]),
                "postcode": [a.postcode for _, a in addresses],
                "accommodation_status": [v("accommodation", a.accommodation) for _, a in addresses],
            }
        ),
        "carer_links": pa.table(
            {
                "la_code": [la] * len(links),
                "link_id": [k.id for k in links],
                "carer_client_id": [people[k.carer].client_id for k in links],
                "cared_for_client_id": [people[k.cared].client_id for k in links],
                "carer_la_person_id": [people[k.carer].la_person_id for k in links],
                "cared_for_la_person_id": [people[k.cared].la_person_id for k in links],
                "start_date": _dates([_day(k.start) for k in links]),
                "end_date": _dates([_day(k.end) for k in links]),
            }
        ),
    }


def index_table(world: CouncilWorld) -> pa.Table:
    reg = world.register
    return pa.table(
        {
            "nhs_number": [e.nhs_number for e in reg],
            "family_name": [e.family_name for e in reg],
            "given_name": [e.given_name for e in reg],
            "date_of_birth": [_iso(e.dob) for e in reg],
            "gender": [e.gender for e in reg],
            "postcode": [e.postcode for e in reg],
            "date_of_death": [_iso(e.death) for e in reg],
        },
        schema=pa.schema([(c, pa.string()) for c in INDEX_COLUMNS]),
    )


def spells_table(world: CouncilWorld) -> pa.Table:
    spells = sorted(world.spells, key=lambda s: (s.discharge, s.spell_id))
    la = world.council.la_code
    ages, years, months = [], [], []
    for s in spells:
        born = dt.date.fromordinal(s.dob)
        admitted = dt.date.fromordinal(s.admission)
        ages.append(admitted.year - born.year - ((admitted.month, admitted.day) < (born.month, born.day)))
        years.append(born.year)
        months.append(born.month)
    return pa.table(
        {
            "nhs_number": [s.nhs_number for s in spells],
            "la_code": [la] * len(spells),
            "admission_date": _dates([_day(s.admission) for s in spells]),
            "discharge_date": _dates([_day(s.discharge) for s in spells]),
            "discharge_method": [s.discharge_method for s in spells],
            "discharge_destination": [s.discharge_destination for s in spells],
            "age_at_admission": pa.array(ages, pa.int32()),
            "spell_id": [s.spell_id for s in spells],
            "admission_method": [s.admission_method for s in spells],
            "management_type": [s.management_type for s in spells],
            "treatment_function_code": [s.treatment_function for s in spells],
            "last_episode": pa.array([1] * len(spells), pa.int8()),
            "year_of_birth": pa.array(years, pa.int32()),
            "month_of_birth": pa.array(months, pa.int32()),
            "sex": [s.sex for s in spells],
            "lsoa11": [s.lsoa11 or None for s in spells],
        }
    )


# ---------------------------------------------------------------------- returns
def _write_rows(path: Path, rows: list[Row] | list[list[str]], raw: bool = False) -> tuple[str, int]:
    # Formula-like values are refused as each distinct value is quoted (ReturnBuilder.q), so the writer's
    # own scan of every chunk is not needed here; raw files carry one on purpose.
    with ReturnWriter(path, check_formulas=False) as writer:
        for row in rows:
            if isinstance(row, list):
                writer.write_raw_cells(row)
                continue
            line = row.line()
            if line is None:
                writer.write_cells(row.cells)
            else:
                writer.write_line(line)
    return file_sha256(path), writer.rows


def _manifest(rel: str, defects: list[Defect]) -> list[tuple[str, ...]]:
    return [
        (rel, str(d.index + 2), d.field, d.kind, d.detail) for d in sorted(defects, key=lambda d: d.index)
    ]


def run_council(config: SynthConfig, council: Council, out: Path) -> CouncilResult:
    """Build one council and write all of its outputs (the national files get parts merged later)."""
    started = time.perf_counter()
    # The records form no reference cycles worth collecting; the cyclic collector would otherwise rescan
    # millions of young objects again and again (a third of the run time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_council(config, council, out, started)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_council(config: SynthConfig, council: Council, out: Path, started: float) -> CouncilResult:
    world = build_council(config, council)
    la = council.la_code
    result = CouncilResult(la, council.la_name, len(world.people))
    outputs = config.outputs
    if "cms" in outputs:
        url = (config.cms_url or sqlite_url(out / "cms" / "{la_code}.sqlite")).replace("{la_code}", la)
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///") :])
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.unlink()
        counts = write_cms(world, url)
        result.rows["cms"] = sum(counts.values())
    if "truth" in outputs:
        for name, table in truth_tables(world).items():
            folder = out / "truth" / name
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / f"{la}.parquet")
            result.rows[f"truth_{name}"] = table.num_rows
    parts = out / ".parts"
    if "index" in outputs:
        parts.mkdir(exist_ok=True)
        table = index_table(world)
        pq.write_table(table, parts / f"index_{la}.parquet")
        result.rows["demographic_index"] = table.num_rows
    if "spells" in outputs:
        parts.mkdir(exist_ok=True)
        table = spells_table(world)
        pq.write_table(table, parts / f"spells_{la}.parquet")
        result.rows["hospital_spells"] = table.num_rows
    if outputs & {"returns", "clean", "transport"}:
        _write_returns(config, council, world, out, result)
    result.seconds = time.perf_counter() - started
    result.peak_rss = psutil.Process().memory_info().rss
    return result


def _write_returns(
    config: SynthConfig, council: Council, world: CouncilWorld, out: Path, result: CouncilResult
) -> None:
    ref = load_reference()
    spec = ref.spec
    la = council.la_code
    builder = ReturnBuilder(world, spec, ref)
    defects = Defects(spec, ref, random.Random(int(council_seed(config, council, 4).generate_state(1)[0])))
    plan_rng = random.Random(int(council_seed(config, council, 5).generate_state(1)[0]))
    plans = plan_submissions(config, council, world.behaviour, plan_rng)
    people = world.people

    def nhs_issue(pid: int) -> str | None:
        return people[pid].nhs_issue

    if "returns" in config.outputs:
        for plan in plans:
            rows = builder.rows(
                plan.data_start, plan.data_end, plan.tables, (plan.stated_start, plan.stated_end)
            )
            found = defects.inherited(rows, nhs_issue)
            if plan.release1_field:
                found += defects.release1_behaviour(rows, plan.release1_field)
            rates = {k: r * plan.defect_scale for k, r in config.defect_rates.items()}
            rows, found = defects.inject(rows, rates, plan.data_start, plan.data_end, found)
            rel = f"returns/{la}/{plan.name}"
            sha, n = _write_rows(out / rel, rows)
            result.rows["returns"] = result.rows.get("returns", 0) + n
            result.files += 1
            result.defects += _manifest(rel, found)
            result.submissions.append(
                (
                    rel,
                    la,
                    council.la_name,
                    plan.stated_start.isoformat(),
                    plan.stated_end.isoformat(),
                    plan.import_at.isoformat(timespec="milliseconds"),
                    plan.import_id,
                    sha,
                )
            )
            result.behaviours += [(la, rel, b) for b in plan.behaviours]
    if "clean" in config.outputs or "transport" in config.outputs:
        quarters = config.quarter_list
        for q in quarters:
            want_clean = "clean" in config.outputs
            want_transport = "transport" in config.outputs and q is quarters[-1]
            if not (want_clean or want_transport):
                continue
            rows = builder.rows(q.period_start, q.period_end)
            found = defects.inherited(rows, nhs_issue)
            name = f"{la}_CLD_{q.period_start:%Y%m%d}_{q.period_end:%Y%m%d}.csv"
            if want_clean:
                rel = f"clean/{la}/{name}"
                _, n = _write_rows(out / rel, rows)
                result.rows["clean"] = result.rows.get("clean", 0) + n
                result.files += 1
                result.defects += _manifest(rel, found)
            if want_transport:
                for kind in TRANSPORT_DEFECT_KINDS:
                    cells, defect = defects.transport_variant(rows, kind)
                    rel = f"transport/{la}/{name[:-4]}_{kind}.csv"
                    _, n = _write_rows(out / rel, cells, raw=True)
                    result.files += 1
                    result.defects += _manifest(rel, found + [defect])


# ---------------------------------------------------------------------- the whole run
def _task(args: tuple[SynthConfig, Council, str]) -> CouncilResult:
    config, council, out = args
    return run_council(config, council, Path(out))


def _results(config: SynthConfig, councils: list[Council], out: Path) -> Iterator[CouncilResult]:
    tasks = [(config, c, str(out)) for c in councils]
    if config.workers <= 1 or len(councils) == 1:
        for t in tasks:
            yield _task(t)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=config.workers) as pool:
        yield from pool.imap(_task, tasks, chunksize=1)


def _check_cms_url(template: str) -> None:
    """Refuse, before anything is written, a --cms-url SQLAlchemy cannot parse (`cms/{la_code}.sqlite`, a path
    rather than a URL); a URL naming a database that cannot be reached is found when it is written to."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(template.replace("{la_code}", "000"))
    except (ArgumentError, ValueError):
        raise UsageError(
            "--cms-url is not an SQLAlchemy URL. Give one with {la_code} in it, e.g. "
            "sqlite:////data/cms/{la_code}.sqlite or postgresql+psycopg://user@host/cms_{la_code}."
        ) from None


def generate(
    config: SynthConfig, out: str | os.PathLike[str], progress: Callable[[CouncilResult], None] | None = None
) -> SynthResult:
    """Generate synthetic councils and write the requested outputs under `out`.

    Args:
        config: the run's parameters (the same config gives byte-identical files).
        out: output folder (created; existing files of the same names are replaced).
        progress: called with each council's result as it finishes (in council order).

    Returns:
        SynthResult with counts, wall time and the peak resident memory seen (parent and workers).

    Raises:
        UsageError: unknown councils, or a CMS URL without `{la_code}` for several councils.
    """
    started = time.perf_counter()
    councils = select_councils(config)
    if config.cms_url and "cms" in config.outputs and len(councils) > 1 and "{la_code}" not in config.cms_url:
        raise UsageError("--cms-url must contain {la_code} when more than one council is generated")
    if config.cms_url and "cms" in config.outputs:
        _check_cms_url(config.cms_url)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / ".parts", ignore_errors=True)
    rows: dict[str, int] = {}
    files = 0
    people = 0
    peak = 0
    with (
        open(root / "submissions.csv", "w", encoding="utf-8", newline="") as subs,
        open(root / "defects.csv", "w", encoding="utf-8", newline="") as defs,
        open(root / "behaviours.csv", "w", encoding="utf-8", newline="") as behs,
        open(root / "councils.csv", "w", encoding="utf-8", newline="") as cncl,
    ):
        sub_w, def_w, beh_w, cn_w = (csv.writer(f, lineterminator="\n") for f in (subs, defs, behs, cncl))
        sub_w.writerow(SUBMISSION_COLUMNS)
        def_w.writerow(DEFECT_COLUMNS)
        beh_w.writerow(("la_code", "file", "behaviour"))
        cn_w.writerow(
            ("la_code", "la_name", "ons_code", "region", "population_18_64", "population_65_plus", "people")
        )
        by_code = {c.la_code: c for c in councils}
        for result in _results(config, councils, root):
            c = by_code[result.la_code]
            cn_w.writerow(
                (
                    c.la_code,
                    c.la_name,
                    c.ons_code,
                    c.region,
                    c.population_18_64,
                    c.population_65_plus,
                    result.people,
                )
            )
            sub_w.writerows(result.submissions)
            def_w.writerows(result.defects)
            beh_w.writerows(result.behaviours)
            for k, n in result.rows.items():
                rows[k] = rows.get(k, 0) + n
            files += result.files
            people += result.people
            peak = max(peak, result.peak_rss)
            if progress:
                progress(result)
    if "index" in config.outputs:
        _merge(root, councils, "index", "demographic_index")
    if "spells" in config.outputs:
        _merge(root, councils, "spells", "hospital_spells")
    shutil.rmtree(root / ".parts", ignore_errors=True)
    seconds = time.perf_counter() - started
    peak = max(peak, psutil.Process().memory_info().rss)
    _write_run_manifest(root, config, councils, people, rows, files, seconds)
    return SynthResult(root, len(councils), people, rows, files, seconds, peak)


def _merge(root: Path, councils: list[Council], part: str, name: str) -> None:
    """Concatenate per-council parts, in council order, into one Parquet and one CSV file."""
    paths = [root / ".parts" / f"{part}_{c.la_code}.parquet" for c in councils]
    schema = pq.read_schema(paths[0])
    tmp_parquet = root / f".{name}.parquet.tmp"
    tmp_csv = root / f".{name}.csv.tmp"
    with pq.ParquetWriter(tmp_parquet, schema) as writer, open(tmp_csv, "wb") as fh:
        header = True
        for path in paths:
            table = pq.read_table(path)
            writer.write_table(table)
            sink = pa.BufferOutputStream()
            pacsv.write_csv(
                table, sink, write_options=pacsv.WriteOptions(include_header=header, quoting_style="needed")
            )
            fh.write(sink.getvalue().to_pybytes())
            header = False
    os.replace(tmp_parquet, root / f"{name}.parquet")
    os.replace(tmp_csv, root / f"{name}.csv")


def _write_run_manifest(
    root: Path,
    config: SynthConfig,
    councils: list[Council],
    people: int,
    rows: dict[str, int],
    files: int,
    seconds: float,
) -> None:
    spec = load_reference().spec
    capacity = identity_capacity(config.seed)
    national = total_people(config)
    manifest = {
        "ascld_version": __version__,
        "spec_version": spec.version_label,
        "config": {
            k: (
                sorted(v)
                if isinstance(v, frozenset)
                else v.isoformat()
                if isinstance(v, dt.date)
                else dict(v)
                if k == "defect_rates"
                else v
            )
            for k, v in asdict(config).items()
            if k != "workers"
        },
        "quarters": [
            {
                "number": q.number,
                "period_start": q.period_start.isoformat(),
                "period_end": q.period_end.isoformat(),
                "as_of": q.as_of.isoformat(),
            }
            for q in config.quarter_list
        ],
        "simulation": {"start": config.sim_start.isoformat(), "snapshot": config.sim_end.isoformat()},
        "councils": [c.la_code for c in councils],
        "people": people,
        "identities": {
            "capacity": capacity,
            "people_all_153_councils": national,
            "shared_by_two_councils": max(0, national - capacity),
        },
        "rows": rows,
        "files": files,
    }
    del seconds  # timings vary run to run; they are reported by the CLI and the benchmark, not written here
    (root / "run_manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


__all__ = [
    "CouncilResult",
    "SynthResult",
    "generate",
    "run_council",
    "select_councils",
    "truth_tables",
    "people_in",
]
