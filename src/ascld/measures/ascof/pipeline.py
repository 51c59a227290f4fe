"""Run every ASCOF measure for a reporting period and assemble the tidy output (`ascld.measures.output`).

The counting is Ibis (the same on DuckDB and Spark); the small final step — the grid of every council ×
group, and the rounding half away from zero in exact decimal arithmetic — is done here in Python on the
aggregated counts, so it cannot differ between engines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from ascld.engine import connect, resolve_engine_name, run_step
from ascld.errors import UnusableInput, UsageError
from ascld.measures.ascof.ascof_2a import ascof_2a_clusters, ascof_2a_disaggregated
from ascld.measures.ascof.ascof_2bc import BAND_18_64, BAND_65, ascof_2bc_numerators
from ascld.measures.ascof.ascof_2d import COMBOS, SLICES, TOTAL, ascof_2d_tables
from ascld.measures.ascof.ascof_2e import ascof_2e_counts, ascof_2e_people, ascof_2e_unknown_counts
from ascld.measures.ascof.ascof_3d import (
    ascof_3d_carer_counts,
    ascof_3d_carer_unknown_counts,
    ascof_3d_carers,
    ascof_3d_client_counts,
    ascof_3d_clients,
)
from ascld.measures.ascof.common import (
    AscofPeriods,
    ReportingPeriod,
    Stage,
    ascof_periods,
    engine_stage,
    fold_literal,
    prepare_main_table,
)
from ascld.measures.ascof.inputs import (
    la_list_from_main,
    read_discharges,
    read_la_lookup,
    read_lsoa_lookup,
    read_population,
    table_on,
)
from ascld.measures.ascof.person_details import build_person_details
from ascld.measures.ascof.reference import MeasureInfo, load_reference
from ascld.measures.output import MEASURE_COLUMNS, round_half_away

ENGLAND = "England"
FAMILIES = ("2A", "2BC", "2D", "2E", "3D")
AGE_GROUPS = (BAND_18_64, BAND_65, TOTAL)
GENDER_GROUPS = ("Male", "Female", TOTAL)

#: Column types of the tidy output (MEASURE_COLUMNS order).
MEASURE_SCHEMA = pa.schema(
    [
        ("measure", pa.string()),
        ("description", pa.string()),
        ("reporting_period", pa.string()),
        ("period_start", pa.date32()),
        ("period_end", pa.date32()),
        ("la_code", pa.string()),
        ("la_name", pa.string()),
        ("breakdown", pa.string()),
        ("group", pa.string()),
        ("numerator", pa.int64()),
        ("denominator", pa.int64()),
        ("value", pa.float64()),
        ("disclosure_flag", pa.string()),
    ]
)
assert tuple(MEASURE_SCHEMA.names) == MEASURE_COLUMNS


@dataclass(frozen=True)
class AscofResult:
    """Everything one ASCOF run produces.

    Attributes:
        measures: the tidy table (MEASURE_COLUMNS): every published ASCOF figure and the excluded/unknown
            counts (breakdown `Count`), for every council in the LA list, plus England for 2D.
        disaggregated_2a: `ASCOF_2A_Disaggregated` (clusters by LA, band, sequel type, final outcome, flags).
        part1_2d: 2D part 1 with the Died, Readmitted and Entered_LT_ResNurs counts.
        venn_2d: 2D clusters by combination of outcomes.
        bcf_2c: the Better Care Fund extract of 2C (`LA_PBI_ASCOF_2C_BCF`, ascof.md §0.3).
        periods: the periods that were run.
        skipped: measures not run and why (e.g. 2D without discharge spells).
    """

    measures: pa.Table
    disaggregated_2a: pa.Table
    part1_2d: pa.Table
    venn_2d: pa.Table
    bcf_2c: pa.Table
    periods: AscofPeriods
    skipped: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------------
# Exact arithmetic


def rate(numerator: int, denominator: int, scale: int, places: int) -> Decimal:
    """scale × numerator / denominator rounded half away from zero in decimal arithmetic (denominator > 0)."""
    return round_half_away(Decimal(scale) * Decimal(numerator) / Decimal(denominator), places)


def _value(info: MeasureInfo, numerator: int | None, denominator: int | None, *, zero: bool) -> float | None:
    """The outcome; `zero` gives 0 rather than NULL without a denominator or numerator (ascof.md §0.3)."""
    if numerator is None or not denominator:
        return 0.0 if zero else None
    return float(rate(numerator, denominator, info.scale, info.places))


# --------------------------------------------------------------------------------------------------
# Engine and inputs


_IBIS_NAMES = {"duckdb": "duckdb", "spark": "pyspark"}


def _connection(main_table: Any, engine: Any) -> Any:
    """The engine to run on: an explicit connection; else the main table's own engine when it is bound to one
    (and `engine` names the same engine or nothing); else a new connection by name (default DuckDB)."""
    if engine is not None and not isinstance(engine, str):
        return engine
    if isinstance(main_table, ir.Table):
        try:
            bound = main_table._find_backend(use_default=False)
        except Exception:  # noqa: BLE001 - an unbound expression (memtable) has no engine of its own
            bound = None
        if bound is not None and (
            engine is None or _IBIS_NAMES.get(resolve_engine_name(engine)) == bound.name
        ):
            return bound
    return connect(engine)


def _la_list(la_lookup: Any, main: ir.Table, con: Any) -> pa.Table:
    if la_lookup is not None:
        return read_la_lookup(la_lookup)
    seen = con.to_pyarrow(main.select("LA_Code", "LA_Name").distinct())
    return la_list_from_main(
        list(zip(seen.column("LA_Code").to_pylist(), seen.column("LA_Name").to_pylist(), strict=True))
    )


def _in_lookup_spelling(table: pa.Table, las: Sequence[dict[str, Any]]) -> pa.Table:
    """A step's council codes (`LA_Code`, 2D's `Area_Code`) written as the LA list writes them: SQL Server joins
    the main table's codes to the lookup case-insensitively and ignoring trailing spaces (main-tables.md §0), so
    rows coded `318 ` are the lookup's council `318` (ascof.md §0.1)."""
    by_fold = {fold_literal(la["LA_Code"]): la["LA_Code"] for la in las if la["LA_Code"] is not None}
    for name in ("LA_Code", "Area_Code"):
        if name not in table.column_names:
            continue
        values = [v if v is None else by_fold.get(fold_literal(v), v) for v in table.column(name).to_pylist()]
        i = table.column_names.index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    return table


def _population_denominators(populations: Any, las: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(LA_Code, band) -> population, from rows with Gender `All`, Geography `Local Authority` (§0.1)."""
    pop = read_population(populations)
    bands = {b.casefold(): b for b in (BAND_18_64, BAND_65)}
    by_code: dict[tuple[str, str], int] = {}
    for row in pop.to_pylist():
        if (row["Gender"] or "").rstrip().casefold() != "all":
            continue
        if (row["Geography"] or "").rstrip().casefold() != "local authority":
            continue
        band = bands.get((row["Age_Band"] or "").rstrip().casefold())
        if band is None or row["Code"] is None:
            continue
        key = (row["Code"].rstrip().casefold(), band)
        if key in by_code:
            raise UnusableInput(
                f"population: two rows for area {row['Code']}, band {band} (Gender All, Local Authority). "
                "Keep one row per area and band."
            )
        by_code[key] = int(row["Population"])
    out = {}
    for la in las:
        area = la["LA_Area_Code"] if la["LA_Area_Code"] is not None else la["LA_Code"]
        for band in (BAND_18_64, BAND_65):
            value = by_code.get((area.rstrip().casefold(), band))
            if value is not None:
                out[(la["LA_Code"], band)] = value
    return out


# --------------------------------------------------------------------------------------------------
# Assembly


class _Rows:
    def __init__(self, period: ReportingPeriod) -> None:
        self.period = period
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        info: MeasureInfo,
        la_code: str | None,
        la_name: str | None,
        breakdown: str,
        group: str,
        numerator: int | None,
        denominator: int | None,
        value: float | None,
        description: str | None = None,
    ) -> None:
        self.rows.append(
            {
                "measure": info.measure,
                "description": description or info.description,
                "reporting_period": self.period.label,
                "period_start": self.period.start,
                "period_end": self.period.end,
                "la_code": la_code,
                "la_name": la_name,
                "breakdown": breakdown,
                "group": group,
                "numerator": numerator,
                "denominator": denominator,
                "value": value,
                "disclosure_flag": "",
            }
        )


def _age_breakdown(group: str) -> str:
    return "Total" if group == TOTAL else "Age band"


def _assemble_2a(out: _Rows, disagg: pa.Table, las: Sequence[dict[str, Any]]) -> None:
    info = load_reference().measures["2A"]
    num: dict[tuple[str, str], int] = {}
    den: dict[tuple[str, str], int] = {}
    for r in disagg.to_pylist():
        for group in (r["Age_Band"], TOTAL):
            key = (r["LA_Code"], group)
            if r["Included_In_Num"] == "Y":
                num[key] = num.get(key, 0) + r["ST_Max_Count"]
            if r["Included_In_Denom"] == "Y":
                den[key] = den.get(key, 0) + r["ST_Max_Count"]
    for la in las:
        for group in AGE_GROUPS:
            n, d = num.get((la["LA_Code"], group), 0), den.get((la["LA_Code"], group), 0)
            out.add(
                info,
                la["LA_Code"],
                la["LA_Name"],
                _age_breakdown(group),
                group,
                n,
                d,
                _value(info, n, d, zero=True),
            )


def _assemble_2bc(
    out: _Rows, numerators: pa.Table, population: Mapping[tuple[str, str], int], las: Sequence[dict[str, Any]]
) -> None:
    ref = load_reference()
    num = {(r["LA_Code"], r["Age_Band"]): r["Numerator"] for r in numerators.to_pylist()}
    for la in las:
        for band, mid in ((BAND_18_64, "2B"), (BAND_65, "2C")):
            pop = population.get((la["LA_Code"], band))
            if pop is None:
                continue  # LAs without a population row are not output (§2 step 5)
            info = ref.measures[mid]
            n = num.get((la["LA_Code"], band), 0)
            out.add(
                info, la["LA_Code"], la["LA_Name"], "Age band", band, n, pop, _value(info, n, pop, zero=True)
            )


def _assemble_2e(
    out: _Rows, counts: pa.Table, unknown: pa.Table, las: Sequence[dict[str, Any]], *, ld: bool
) -> None:
    ref = load_reference()
    rows = counts.to_pylist()
    present = [g for g in GENDER_GROUPS if any(r["Gender"] == g for r in rows)]
    by_key = {(r["LA_Code"], r["Age_Band"], r["Gender"]): r for r in rows}
    bands = ((BAND_18_64, "2E_LD"),) if ld else ((BAND_18_64, "2E_18_64"), (BAND_65, "2E_65"))
    unknown_by_la = {r["LA_Code"]: r["Count"] for r in unknown.to_pylist()}
    unk_info = ref.measures["2E_LD_UNKNOWN" if ld else "2E_UNKNOWN"]
    for la in las:
        for band, mid in bands:
            info = ref.measures[mid]
            for gender in present:
                r = by_key.get((la["LA_Code"], band, gender))
                n, d = (r["Numerator"], r["Denominator"]) if r else (0, 0)
                breakdown = "Total" if gender == TOTAL else "Gender"
                out.add(
                    info, la["LA_Code"], la["LA_Name"], breakdown, gender, n, d, _value(info, n, d, zero=True)
                )
        c = unknown_by_la.get(la["LA_Code"], 0)
        out.add(unk_info, la["LA_Code"], la["LA_Name"], "Count", TOTAL, c, None, float(c))


def _assemble_3d(
    out: _Rows, clients: pa.Table, carers: pa.Table, carer_unknown: pa.Table, las: Sequence[dict[str, Any]]
) -> None:
    ref = load_reference()
    found: dict[tuple[str, str, str], tuple[int, int]] = {}
    for r in clients.to_pylist():
        if r["Age_Band"] == "Unknown":
            continue  # Unknown ages count only in Total
        found[("3D_1A", r["LA_Code"], r["Age_Band"])] = (r["Numerator_1a"], r["Denominator"])
        found[("3D_2A", r["LA_Code"], r["Age_Band"])] = (r["Numerator_2a"], r["Denominator"])
    for r in carers.to_pylist():
        if r["Age_Band"] == "Unknown":
            continue
        found[("3D_1B", r["LA_Code"], r["Age_Band"])] = (r["Numerator_1b"], r["Denominator"])
        found[("3D_2B", r["LA_Code"], r["Age_Band"])] = (r["Numerator_2b"], r["Denominator"])
    # The grid (§5.2 "Output grid"): every LA × the four descriptions × the groups present (nationally, clients
    # and carers). A run with no clients (or no carers) in any denominator still gets their descriptions, as 0.
    descriptions = ["3D_1A", "3D_2A", "3D_1B", "3D_2B"]
    groups = [g for g in AGE_GROUPS if any(k[2] == g for k in found)]
    for la in las:
        for mid in descriptions:
            info = ref.measures[mid]
            for group in groups:
                n, d = found.get((mid, la["LA_Code"], group), (0, 0))
                out.add(
                    info,
                    la["LA_Code"],
                    la["LA_Name"],
                    _age_breakdown(group),
                    group,
                    n,
                    d,
                    _value(info, n, d, zero=True),
                )
    client_unknown = {
        r["LA_Code"]: r["Unknown_Mechanism"] for r in clients.to_pylist() if r["Age_Band"] == TOTAL
    }
    carer_unknown_by_la = {r["LA_Code"]: r["Count"] for r in carer_unknown.to_pylist()}
    for mid, counts in (("3D_CLIENTS_UNKNOWN", client_unknown), ("3D_CARERS_UNKNOWN", carer_unknown_by_la)):
        info = ref.measures[mid]
        for la in las:
            c = counts.get(la["LA_Code"], 0)
            out.add(info, la["LA_Code"], la["LA_Name"], "Count", TOTAL, c, None, float(c))


def _breakdown_2d(client_type: str, slice_: str) -> tuple[str, str]:
    kind = "Total" if slice_ == TOTAL else ("Gender" if slice_ in ("Female", "Male") else "Age band")
    if client_type == TOTAL:
        return kind, slice_
    if slice_ == TOTAL:
        return "Client type", client_type
    return f"Client type / {kind}", f"{client_type} / {slice_}"


def _assemble_2d(
    out: _Rows,
    part1: pa.Table,
    part2: pa.Table,
    venn: pa.Table,
    las: Sequence[dict[str, Any]],
    detail1: list[dict[str, Any]],
    detail_venn: list[dict[str, Any]],
) -> None:
    ref = load_reference()
    p1_info, p2_info = ref.measures["2D_PART1"], ref.measures["2D_PART2"]
    p1 = {(r["Area_Code"], r["Client_Type"], r["Slice"]): r for r in part1.to_pylist()}
    client_types = sorted({r["Client_Type"] for r in part1.to_pylist() if r["Client_Type"] != TOTAL}) + [
        TOTAL
    ]
    area_for_utla: dict[str, list[str]] = {}
    for la in las:
        if la.get("LA_Area_Code"):
            area_for_utla.setdefault(la["LA_Area_Code"].rstrip().casefold(), []).append(la["LA_Code"])
    discharges: dict[tuple[str | None, str, str], int] = {}
    for r in part2.to_pylist():
        if r["UTLA_Code"] is None:
            discharges[(None, r["Client_Type"], r["Slice"])] = r["Discharges"]
            continue
        for code in area_for_utla.get(r["UTLA_Code"].rstrip().casefold(), []):
            key = (code, r["Client_Type"], r["Slice"])
            discharges[key] = discharges.get(key, 0) + r["Discharges"]
    venn_counts: dict[tuple[str | None, str], dict[str, int]] = {}
    for r in venn.to_pylist():
        venn_counts.setdefault((r["Area_Code"], r["Client_Type"]), {})[r["Outcome_Combo"]] = r["Clusters"]
    areas = [(la["LA_Code"], la["LA_Name"]) for la in las] + [(None, ENGLAND)]
    for code, name in areas:
        for ct in client_types:
            for slice_ in SLICES:
                breakdown, group = _breakdown_2d(ct, slice_)
                r = p1.get((code, ct, slice_))
                n, d = (r["Numerator"], r["Denominator"]) if r else (None, None)
                out.add(p1_info, code, name, breakdown, group, n, d, _value(p1_info, n, d, zero=False))
                detail1.append(
                    {
                        "Reporting_Period": out.period.label,
                        "LA_Code": code,
                        "Area": name,
                        "Client_Type": ct,
                        "Slice": slice_,
                        "Denominator": d,
                        "Numerator": n,
                        "Outcome_Percent": _value(p1_info, n, d, zero=False),
                        "Died": r["Died"] if r else None,
                        "Readmitted": r["Readmitted"] if r else None,
                        "Entered_LT_ResNurs": r["Entered_LT_ResNurs"] if r else None,
                    }
                )
                dis = discharges.get((code, ct, slice_))
                out.add(p2_info, code, name, breakdown, group, d, dis, _value(p2_info, d, dis, zero=False))
            combos = venn_counts.get((code, ct), {})

            def total(position: int, combos: Mapping[str, int] = combos) -> int:
                return sum(v for k, v in combos.items() if k[position] == "1")

            detail_venn.append(
                {
                    "Reporting_Period": out.period.label,
                    "LA_Code": code,
                    "Area": name,
                    "Client_Type": ct,
                    "Total_Death": total(0),
                    "Death_Only": combos.get("100", 0),
                    "Death_Readmission": combos.get("110", 0),
                    "Death_LTS": combos.get("101", 0),
                    "Total_Readmission": total(1),
                    "Readmission_Only": combos.get("010", 0),
                    "Readmission_LTS": combos.get("011", 0),
                    "Total_LTS": total(2),
                    "LTS_Only": combos.get("001", 0),
                    "All_3_Outcomes": combos.get("111", 0),
                }
            )
    assert set(COMBOS) >= {k for v in venn_counts.values() for k in v}


# --------------------------------------------------------------------------------------------------
# Extracts and QA (ascof.md §0.3)


def bcf_2c_extract(measures: pa.Table, las: Sequence[dict[str, Any]]) -> pa.Table:
    """`LA_PBI_ASCOF_2C_BCF`: the 2C rows with numerators and denominators below 6 shown as 0, the council's
    region, and the first CLD year (`1 Apr 23 - 31 Mar 24`) left out."""
    ref = load_reference()
    below = ref.int_parameter("bcf_suppress_below")
    excluded = ref.parameter("bcf_excluded_period")
    region = {la["LA_Code"]: la.get("Region") for la in las}
    out = []
    for r in measures.to_pylist():
        if r["measure"] != ref.measures["2C"].measure or r["reporting_period"] == excluded:
            continue
        out.append(
            {
                **r,
                "numerator_suppressed": 0 if (r["numerator"] or 0) < below else r["numerator"],
                "denominator_suppressed": 0 if (r["denominator"] or 0) < below else r["denominator"],
                "region": region.get(r["la_code"]),
            }
        )
    schema = MEASURE_SCHEMA.append(pa.field("numerator_suppressed", pa.int64()))
    schema = schema.append(pa.field("denominator_suppressed", pa.int64())).append(
        pa.field("region", pa.string())
    )
    return pa.Table.from_pylist(out, schema=schema)


QA_GROUPS = ("Male", "Female", "65 and above", "18 to 64", "Total")


def _greater(a: int | None, b: int | None) -> bool:
    return a is not None and b is not None and a > b


def ascof_qa_checks(result: AscofResult) -> dict[str, int]:
    """The QA counts DHSC runs after assembly (ascof.md §0.3); every count should be 0.

    The first four look at the published table (`LA_PBI_ASCOF`: 2A, 2B, 2C, 2E, 2E LD and 3D, without the
    excluded/unknown counts), the last three at 2D.
    """
    rows = result.measures.to_pylist()
    published = [r for r in rows if r["breakdown"] != "Count" and not r["measure"].startswith("ASCOF 2D")]
    part1 = result.part1_2d.to_pylist()
    part2 = [r for r in rows if r["measure"] == "ASCOF 2D Part 2"]
    return {
        "Rows where Num > Denom": sum(_greater(r["numerator"], r["denominator"]) for r in published),
        "Rows where Outcome > 100": sum(
            r["measure"] not in ("ASCOF 2B", "ASCOF 2C") and (r["value"] or 0) > 100 for r in published
        ),
        "Group contains wrong info": sum(r["group"] not in QA_GROUPS for r in published),
        "Measure contains wrong info": sum(not r["measure"].startswith("ASCOF") for r in published),
        "2D Numerator > Denominator": sum(_greater(r["Numerator"], r["Denominator"]) for r in part1),
        "2D Outcome_Percent > 100": sum((r["Outcome_Percent"] or 0) > 100 for r in part1),
        "2D Reablement_Count > Discharges": sum(_greater(r["numerator"], r["denominator"]) for r in part2),
    }


# --------------------------------------------------------------------------------------------------
# Public entry points


def run_ascof(
    main_table: Any,
    *,
    period: ReportingPeriod | Sequence[Any],
    populations: str | Path | pa.Table | None = None,
    discharges: str | Path | pa.Table | ir.Table | None = None,
    la_lookup: str | Path | pa.Table | None = None,
    lsoa_lookup: str | Path | pa.Table | None = None,
    engine: Any = None,
    include_previous: bool = True,
    measures: Iterable[str] | None = None,
    stage: Stage | None = None,
) -> AscofResult:
    """Compute every ASCOF measure from a joined main table (national) or one council's (council mode).

    Args:
        main_table: the joined main table (main-tables.md §6.3), as an Ibis table or a pyarrow table.
        period: the latest 12-month reporting period, e.g. `("2025-04-01", "2026-03-31")`. With
            `include_previous`, the previous (revised) period and the lagged 2D periods are run too (§0.2).
        populations: ONS population estimates (`read_population` layout) for 2B/2C; without them 2B/2C
            are skipped.
        discharges: hospital discharge spells (`read_discharges` layout) for 2D; without it 2D is skipped.
        la_lookup: councils to report (`read_la_lookup` layout); default: the councils in the main table.
        lsoa_lookup: LSOA → UTLA lookup for 2D when the discharges carry no `UTLA_Code_2023`.
        engine: "duckdb", "spark", an Ibis connection, or None (the main table's own engine, else DuckDB).
        include_previous: also run the previous (revised) period.
        measures: the families to run, among "2A", "2BC", "2D", "2E", "3D" (default: all).
        stage: how intermediate tables are materialised (default: cached on the engine).

    Returns:
        An AscofResult; `.measures` is the tidy table.

    Raises:
        UnusableInput: an input lacks a column or cannot be read.
        EngineError: an engine step failed (the step is named).
    """
    periods = ascof_periods(period)
    wanted = set(FAMILIES if measures is None else measures)
    if wanted - set(FAMILIES):
        raise UsageError(f"unknown ASCOF measure families: {sorted(wanted - set(FAMILIES))}. Use {FAMILIES}.")
    con = _connection(main_table, engine)
    engine_name = getattr(con, "name", str(engine))
    stage = stage or engine_stage(con)
    skipped: list[str] = []

    def run(step: str, expr: ir.Table) -> pa.Table:
        return _in_lookup_spelling(run_step(f"ascof {step}", engine_name, lambda: con.to_pyarrow(expr)), las)

    main = run_step(
        "ascof prepare",
        engine_name,
        lambda: stage(prepare_main_table(table_on(con, main_table, "main")), "main"),
    )
    las = _la_list(la_lookup, main, con).to_pylist()
    person_details = run_step(
        "ascof person details",
        engine_name,
        lambda: stage(build_person_details(main, periods.latest, stage=stage), "person_details"),
    )

    population = None
    if "2BC" in wanted:
        if populations is None:
            skipped.append("ASCOF 2B/2C: no population estimates given")
        else:
            population = _population_denominators(populations, las)
    dis = None
    lsoa = None
    if "2D" in wanted and discharges is None:
        skipped.append("ASCOF 2D: no hospital discharge spells given")
    elif "2D" in wanted:
        dis = (
            discharges
            if isinstance(discharges, ir.Table)
            else table_on(con, read_discharges(discharges), "spells")
        )
        if lsoa_lookup is not None:
            lsoa = table_on(con, read_lsoa_lookup(lsoa_lookup), "lsoa_lookup")
        elif "UTLA_Code_2023" not in dis.columns:
            raise UsageError("2D: the discharges have no UTLA_Code_2023 column; give an LSOA lookup as well.")

    rows: list[dict[str, Any]] = []
    disagg_rows: list[dict[str, Any]] = []
    part1_detail: list[dict[str, Any]] = []
    venn_detail: list[dict[str, Any]] = []
    main_periods = [periods.latest] + ([periods.previous] if include_previous else [])
    for p in main_periods:
        out = _Rows(p)
        if "2A" in wanted:
            clusters = stage(ascof_2a_clusters(main, person_details, p, stage=stage), "2a_final")
            disagg = run("2A", ascof_2a_disaggregated(clusters))
            _assemble_2a(out, disagg, las)
            names = {la["LA_Code"]: la["LA_Name"] for la in las}
            for r in disagg.to_pylist():
                disagg_rows.append({"Reporting_Period": p.label, "LA_Name": names.get(r["LA_Code"]), **r})
        if population is not None:
            _assemble_2bc(out, run("2B/2C", ascof_2bc_numerators(main, person_details, p)), population, las)
        for ld in (True, False) if "2E" in wanted else ():
            people = stage(ascof_2e_people(main, person_details, p, learning_disability=ld), "2e_people")
            counts = run("2E LD" if ld else "2E", ascof_2e_counts(people))
            unknown = run("2E unknown", ascof_2e_unknown_counts(people))
            _assemble_2e(out, counts, unknown, las, ld=ld)
        if "3D" in wanted:
            clients = stage(ascof_3d_clients(main, person_details, p), "3d_clients")
            carers = stage(ascof_3d_carers(main, person_details, p), "3d_carers")
            _assemble_3d(
                out,
                run("3D clients", ascof_3d_client_counts(clients)),
                run("3D carers", ascof_3d_carer_counts(carers)),
                run("3D carers unknown", ascof_3d_carer_unknown_counts(carers)),
                las,
            )
        rows.extend(out.rows)
    if dis is not None:
        periods_2d = [periods.latest_2d] + ([periods.previous_2d] if include_previous else [])
        for p in periods_2d:
            out = _Rows(p)
            tables = ascof_2d_tables(main, person_details, dis, p, lsoa_lookup=lsoa, stage=stage)
            _assemble_2d(
                out,
                run("2D part 1", tables.part1),
                run("2D part 2", tables.part2_discharges),
                run("2D venn", tables.venn),
                las,
                part1_detail,
                venn_detail,
            )
            rows.extend(out.rows)

    measures_table = _sorted_table(rows)
    return AscofResult(
        measures=measures_table,
        bcf_2c=bcf_2c_extract(measures_table, las),
        disaggregated_2a=pa.Table.from_pylist(disagg_rows, schema=_DISAGG_SCHEMA),
        part1_2d=pa.Table.from_pylist(part1_detail, schema=_PART1_SCHEMA),
        venn_2d=pa.Table.from_pylist(venn_detail, schema=_VENN_SCHEMA),
        periods=periods,
        skipped=tuple(skipped),
    )


def compute_ascof(
    main_table: Any,
    *,
    period: ReportingPeriod | Sequence[Any],
    populations: str | Path | pa.Table | None = None,
    discharges: str | Path | pa.Table | ir.Table | None = None,
    engine: Any = None,
    **options: Any,
) -> pa.Table:
    """The tidy ASCOF table (MEASURE_COLUMNS) for a main table; see `run_ascof` for the arguments.

    Examples:
        >>> import pyarrow as pa
        >>> from ascld.measures.ascof.common import MAIN_TABLE_COLUMNS
        >>> empty = pa.table({c: pa.array([], pa.string() if t == "string" else pa.date32() if t == "date"
        ...                   else pa.int64()) for c, t in MAIN_TABLE_COLUMNS.items()})
        >>> compute_ascof(empty, period=("2024-04-01", "2025-03-31")).num_rows
        0
    """
    return run_ascof(
        main_table, period=period, populations=populations, discharges=discharges, engine=engine, **options
    ).measures


# --------------------------------------------------------------------------------------------------
# Output tables

_MEASURE_ORDER = [
    "ASCOF 2A",
    "ASCOF 2B",
    "ASCOF 2C",
    "ASCOF 2D Part 1",
    "ASCOF 2D Part 2",
    "ASCOF 2E",
    "ASCOF 2E LD",
    "ASCOF 3D (Clients)",
    "ASCOF 3D (Carers)",
]
_GROUP_ORDER = {g: i for i, g in enumerate(["18 to 64", "65 and above", "Male", "Female", "Total"])}


def _sorted_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    def key(r: dict[str, Any]) -> tuple:
        m = r["measure"]
        return (
            r["period_end"] or dt.date.min,
            _MEASURE_ORDER.index(m) if m in _MEASURE_ORDER else 99,
            r["breakdown"] == "Count",
            r["description"],
            r["la_code"] is None,
            r["la_code"] or "",
            r["breakdown"] == "Count",
            r["breakdown"],
            _GROUP_ORDER.get(r["group"], 50),
            r["group"],
        )

    return pa.Table.from_pylist(sorted(rows, key=key), schema=MEASURE_SCHEMA)


_DISAGG_SCHEMA = pa.schema(
    [
        ("Reporting_Period", pa.string()),
        ("LA_Name", pa.string()),
        ("LA_Code", pa.string()),
        ("Age_Band", pa.string()),
        ("Sequel_Type", pa.string()),
        ("Final_Outcome", pa.string()),
        ("Included_In_Denom", pa.string()),
        ("Included_In_Num", pa.string()),
        ("Incl_In_Unable_To_Classify", pa.string()),
        ("ST_Max_Count", pa.int64()),
    ]
)
_PART1_SCHEMA = pa.schema(
    [
        ("Reporting_Period", pa.string()),
        ("LA_Code", pa.string()),
        ("Area", pa.string()),
        ("Client_Type", pa.string()),
        ("Slice", pa.string()),
        ("Denominator", pa.int64()),
        ("Numerator", pa.int64()),
        ("Outcome_Percent", pa.float64()),
        ("Died", pa.int64()),
        ("Readmitted", pa.int64()),
        ("Entered_LT_ResNurs", pa.int64()),
    ]
)
_VENN_SCHEMA = pa.schema(
    [
        ("Reporting_Period", pa.string()),
        ("LA_Code", pa.string()),
        ("Area", pa.string()),
        ("Client_Type", pa.string()),
    ]
    + [
        (c, pa.int64())
        for c in (
            "Total_Death",
            "Death_Only",
            "Death_Readmission",
            "Death_LTS",
            "Total_Readmission",
            "Readmission_Only",
            "Readmission_LTS",
            "Total_LTS",
            "LTS_Only",
            "All_3_Outcomes",
        )
    ]
)
