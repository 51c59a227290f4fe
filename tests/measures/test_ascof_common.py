"""ASCOF common framework: periods, SQL Server semantics, inputs, reference data, SQL, synthetic files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from ascof_fixtures import LA_LOOKUP, main_table, run

from ascld.engine import connect
from ascld.errors import UnusableInput, UsageError
from ascld.measures.ascof import (
    ReportingPeriod,
    ascof_periods,
    ascof_sql,
    read_discharges,
    read_la_lookup,
    read_population,
    synthetic_la_lookup_path,
    synthetic_population_path,
)
from ascld.measures.ascof.common import (
    add_months,
    age_band,
    age_years,
    ci_eq,
    ci_in,
    ci_like,
    ci_ne,
    ci_not_in,
    ci_not_like,
    days_between,
    prepare_main_table,
    proxy_birth_date,
)
from ascld.measures.ascof.pipeline import rate
from ascld.measures.ascof.reference import load_reference
from ascld.measures.ascof.synthetic import synthetic_la_lookup_rows, synthetic_population_rows
from ascld.measures.output import MEASURE_COLUMNS

# --------------------------------------------------------------------------------------------------
# Periods (ascof.md §0.2)


def test_period_label_is_d_mmm_yy():
    assert ReportingPeriod.of("2025-04-01", "2026-03-31").label == "1 Apr 25 - 31 Mar 26"
    assert ReportingPeriod.of("2024-09-01", "2025-08-31").label == "1 Sep 24 - 31 Aug 25"


def test_previous_period_is_three_months_back_with_eomonth():
    ps = ascof_periods(("2025-04-01", "2026-03-31"))
    assert ps.previous == ReportingPeriod.of("2025-01-01", "2025-12-31")
    assert ps.latest_2d == ps.previous


def test_2d_previous_period_has_no_eomonth():
    # 2D latest ends 30 June; three months back is 30 March, not 31 March (ascof.md §0.2).
    ps = ascof_periods(("2024-10-01", "2025-09-30"))
    assert ps.latest_2d == ReportingPeriod.of("2024-07-01", "2025-06-30")
    assert ps.previous_2d == ReportingPeriod.of("2024-04-01", "2025-03-30")


def test_dateadd_month_clamps_to_month_end():
    assert add_months(dt.date(2024, 2, 29), -12) == dt.date(2023, 2, 28)
    assert add_months(dt.date(2024, 5, 31), -3) == dt.date(2024, 2, 29)


def test_period_rejects_end_before_start():
    with pytest.raises(UsageError):
        ReportingPeriod.of("2025-04-01", "2025-03-31")


# --------------------------------------------------------------------------------------------------
# SQL Server semantics on an engine


def _evaluate(exprs: dict, rows: dict) -> dict:
    t = ibis.memtable(pa.table(rows))
    return connect("duckdb").to_pyarrow(t.select(**{k: f(t) for k, f in exprs.items()})).to_pydict()


@pytest.mark.parametrize(
    ("birth", "on", "age", "band"),
    [
        # main-tables.md MT-8
        ((2000, 3), dt.date(2018, 3, 1), 17, "Under 18"),
        ((1960, 3), dt.date(2025, 3, 1), 64, "18 to 64"),
        ((1960, 3), dt.date(2025, 3, 2), 65, "65 and above"),
        ((None, None), dt.date(2025, 3, 2), None, "Unknown"),
    ],
)
def test_age_is_floor_of_days_over_365_25_from_first_of_month(birth, on, age, band):
    got = _evaluate(
        {
            "age": lambda t: age_years(proxy_birth_date(t.y, t.m), t.on),
            "band": lambda t: age_band(age_years(proxy_birth_date(t.y, t.m), t.on), "working_age"),
        },
        {"y": pa.array([birth[0]], pa.int64()), "m": pa.array([birth[1]], pa.int64()), "on": [on]},
    )
    assert (got["age"][0], got["band"][0]) == (age, band)


def test_person_details_band_treats_age_zero_as_unknown():
    got = _evaluate(
        {"band": lambda t: age_band(t.age, "working_age_from_1")},
        {"age": pa.array([0, 1, 17, 18], pa.int64())},
    )
    assert got["band"] == ["Unknown", "Under 18", "Under 18", "18 to 64"]


def test_datediff_day_counts_whole_days_both_ways():
    got = _evaluate(
        {"d": lambda t: days_between(t.a, t.b)},
        {"a": [dt.date(2024, 1, 31), dt.date(2024, 3, 1)], "b": [dt.date(2024, 5, 1), dt.date(2024, 2, 28)]},
    )
    assert got["d"] == [91, -2]


def test_comparisons_are_case_insensitive_and_ignore_trailing_spaces():
    got = _evaluate(
        {
            "eq": lambda t: ci_eq(t.s, "Service user"),
            "in_": lambda t: ci_in(t.s, ["Service user"]),
            "like": lambda t: ci_like(t.s, "service user"),
        },
        {"s": ["SERVICE USER", "service user  ", "Service use"]},
    )
    assert got["eq"] == [True, True, False]
    assert got["in_"] == [True, True, False]
    assert got["like"] == [True, False, False]  # LIKE keeps trailing spaces


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_trailing_tabs_and_line_breaks_count_in_comparisons_on_every_engine(engine):
    """SQL Server's `=` ignores trailing spaces only (main-tables.md §0): `'Service\t' = 'Service'` is false.
    Ibis's `rstrip()` strips tabs and line breaks on DuckDB, so DuckDB matched them and Spark did not."""
    if engine == "spark":
        pytest.importorskip("pyspark")
    t = ibis.memtable(pa.table({"s": ["SERVICE  ", "Service\t", "service\n", "Service\t "]}))
    got = connect(engine).to_pyarrow(
        t.select(eq=ci_eq(t.s, "Service"), in_=ci_in(t.s, ["Service", "Review"]), ne=ci_ne(t.s, "service"))
    ).to_pydict()
    assert got == {
        "eq": [True, False, False, False],
        "in_": [True, False, False, False],
        "ne": [False, True, True, True],
    }


def test_negated_comparisons_are_not_true_for_null():
    got = _evaluate(
        {
            "not_in": lambda t: ci_not_in(t.s, ["31"]),
            "not_like": lambda t: ci_not_like(t.s, "65%"),
            "ne": lambda t: ci_ne(t.s, "x"),
        },
        {"s": pa.array([None, "21"], pa.string())},
    )
    assert got["not_in"] == [None, True]
    assert got["not_like"] == [None, True]
    assert got["ne"] == [None, True]


def test_main_table_values_take_the_spec_spelling():
    rows = main_table(
        [{"Der_NHS_LA_Combined_Person_ID": "A", "Gender_Cleaned": "male ", "Event_Type": "SERVICE"}]
    )
    got = connect("duckdb").to_pyarrow(prepare_main_table(ibis.memtable(rows))).to_pylist()[0]
    assert (got["Gender_Cleaned"], got["Event_Type"]) == ("Male", "Service")


def test_main_table_missing_columns_are_all_listed():
    rows = main_table([{"Der_NHS_LA_Combined_Person_ID": "A"}]).drop(["LA_Name", "Der_Birth_Year"])
    with pytest.raises(UnusableInput) as err:
        prepare_main_table(ibis.memtable(rows))
    assert "`Der_Birth_Year`, `LA_Name`" in str(err.value)


# --------------------------------------------------------------------------------------------------
# Rounding


def test_rounding_is_half_away_from_zero_in_decimals():
    assert rate(9, 16, 100, 1) == Decimal("56.3")  # Python's round(56.25, 1) gives 56.2
    assert rate(1, 200000, 100000, 1) == Decimal("0.5")
    assert rate(1, 3, 100, 2) == Decimal("33.33")
    assert rate(1, 8, 100, 1) == Decimal("12.5")
    assert rate(1, 16, 100, 1) == Decimal("6.3")


# --------------------------------------------------------------------------------------------------
# Inputs


def test_population_csv_keeps_codes_as_text_and_reads_numbers(tmp_path: Path):
    path = tmp_path / "pop.csv"
    path.write_text(
        "code,Name,Geography,Gender,Age_Band,Population,Extra\n"
        "E06000001,Hartlepool,Local Authority,All,18 to 64,55000,x\n"
        "001,Odd,Local Authority,All,65 and above,12,y\n",
        encoding="utf-8",
    )
    pop = read_population(path)
    assert pop.column_names == ["Code", "Name", "Geography", "Gender", "Age_Band", "Population"]
    assert pop.column("Code").to_pylist() == ["E06000001", "001"]
    assert pop.column("Population").to_pylist() == [55000, 12]


def test_population_csv_problems_name_the_field(tmp_path: Path):
    path = tmp_path / "pop.csv"
    path.write_text(
        "Code,Name,Geography,Gender,Age_Band,Population\nE1,A,Local Authority,All,18 to 64,many\n"
    )
    with pytest.raises(UnusableInput, match="field Population"):
        read_population(path)
    path.write_text("Code,Name,Gender,Age_Band,Population\n")
    with pytest.raises(UnusableInput, match="`Geography`"):
        read_population(path)


def test_population_rows_other_than_all_genders_local_authority_are_ignored():
    pop = pa.table(
        {
            "Code": ["E08000016", "E08000016", "E08000016"],
            "Name": ["T", "T", "T"],
            "Geography": ["local authority", "Region", "Local Authority"],
            "Gender": ["ALL", "All", "Male"],
            "Age_Band": ["18 TO 64", "65 and above", "65 and above"],
            "Population": [1000, 500, 250],
        }
    )
    result = run([], measures=["2BC"], populations=pop)
    rows = result.measures.to_pylist()
    # 18-64 matches case-insensitively; 65+ has no All/Local Authority row, so that council has no 2C row.
    assert [(r["measure"], r["denominator"], r["value"]) for r in rows] == [("ASCOF 2B", 1000, 0.0)]


def test_population_duplicate_rows_are_refused():
    pop = pa.table(
        {
            "Code": ["E08000016", "E08000016"],
            "Name": ["T", "T"],
            "Geography": ["Local Authority"] * 2,
            "Gender": ["All"] * 2,
            "Age_Band": ["18 to 64"] * 2,
            "Population": [1, 2],
        }
    )
    with pytest.raises(UnusableInput, match="two rows"):
        run([], measures=["2BC"], populations=pop)


def test_la_lookup_codes_must_be_unique():
    lookup = pa.concat_tables([LA_LOOKUP, LA_LOOKUP])
    with pytest.raises(UnusableInput, match="unique"):
        read_la_lookup(lookup)


def test_discharges_accept_the_traced_pseudo_column_name_and_text_dates(tmp_path: Path):
    path = tmp_path / "spells.csv"
    header = (
        "Der_NHS_Number_Traced_Pseudo,APCS_Ident,APCS_Last_Ep_Ind,Admission_Date,Discharge_Date,Month_of_Birth_SUS,"
        "Year_of_Birth_SUS,Sex,Der_Postcode_LSOA_2011_Code,Admission_Method,Discharge_Method,Discharge_Destination,"
        "Der_Management_Type,Treatment_Function_Code"
    )
    path.write_text(
        header + "\nabc,1,1,2024-05-01,2024-05-10,1,1944,2,E01,21,1,19,EM,300\n", encoding="utf-8"
    )
    t = read_discharges(path)
    row = t.to_pylist()[0]
    assert row["Der_DHSC_Pseudo_NHS_Number"] == "abc"
    assert row["Discharge_Date"] == dt.date(2024, 5, 10)
    assert row["Admission_Method"] == "21"
    assert "UTLA_Code_2023" not in t.column_names


def test_discharges_without_area_need_an_lsoa_lookup():
    from ascof_fixtures import discharges_table, spell

    spells = discharges_table([spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2")]).drop(
        ["UTLA_Code_2023"]
    )
    with pytest.raises(UsageError, match="LSOA lookup"):
        run([], measures=["2D"], discharges=spells)


# --------------------------------------------------------------------------------------------------
# Reference data and shipped files


def test_every_reference_row_cites_ascof_md():
    from ascld.measures.ascof.reference import DATA_DIR, read_reference

    for path in sorted(DATA_DIR.glob("ascof_*.csv")):
        for row in read_reference(path.stem.removeprefix("ascof_")):
            assert "ascof.md" in row["source"], f"{path.name}: a row has no ascof.md source"


def test_reference_parameters_match_the_method_text():
    ref = load_reference()
    assert ref.int_parameter("new_client_days") == 91
    assert ref.int_parameter("cluster_gap_days") == 7
    assert ref.int_parameter("follow_up_days") == 84
    assert ref.accommodation_groups["Unknown: Presumed at home"] == 1
    assert ref.accommodation_groups["Unknown: Presumed in community"] == 0
    assert len(ref.accommodation_groups) == 22


def test_shipped_synthetic_files_match_the_synthetic_councils():
    hint = "regenerate with: uv run python -m ascld.measures.ascof.synthetic"
    pop = read_population(synthetic_population_path())
    assert [tuple(r.values()) for r in pop.to_pylist()] == synthetic_population_rows(), hint
    lookup = read_la_lookup(synthetic_la_lookup_path())
    assert [tuple(r.values()) for r in lookup.to_pylist()] == synthetic_la_lookup_rows(), hint
    assert lookup.num_rows == 153


def test_tidy_output_has_the_shared_layout():
    result = run([], measures=["2A"])
    assert tuple(result.measures.column_names) == MEASURE_COLUMNS
    assert result.measures.num_rows == 3  # one council x three groups, all zero
    assert set(result.measures.column("disclosure_flag").to_pylist()) == {""}


# --------------------------------------------------------------------------------------------------
# SQL emission


@pytest.mark.parametrize("dialect", ["mssql", "pyspark", "duckdb"])
def test_every_step_compiles_to_sql(dialect):
    sql = ascof_sql(("2024-04-01", "2025-03-31"), dialect)
    assert set(sql) >= {"person_details", "2a_disaggregated", "2bc_numerators", "2d_part1", "3d_carer_counts"}
    assert all("main_table" in text for name, text in sql.items() if name != "2d_part2_discharges")
    if dialect == "mssql":
        assert "DATEDIFF" in sql["2a_disaggregated"]


def test_identifiers_take_one_spelling_per_case_insensitive_value():
    rows = main_table(
        [{"Der_NHS_LA_Combined_Person_ID": p, "LA_Code": la} for p, la in
         [("ab ", "e1"), ("AB", "E1"), ("Ab", "e1 "), ("CD", "e1")]]
    )
    got = connect("duckdb").to_pyarrow(prepare_main_table(ibis.memtable(rows)))
    assert got.column("Der_NHS_LA_Combined_Person_ID").to_pylist() == ["AB", "AB", "AB", "CD"]
    assert got.column("LA_Code").to_pylist() == ["E1"] * 4
    kept = connect("duckdb").to_pyarrow(prepare_main_table(ibis.memtable(rows), canonicalise=False))
    assert kept.column("Der_NHS_LA_Combined_Person_ID").to_pylist() == ["ab ", "AB", "Ab", "CD"]


def test_a_no_break_space_keeps_an_arrow_main_tables_person_apart_on_duckdb():
    """The one-spelling pass of an Arrow main table ran on Ibis's default DuckDB connection (a bare memtable),
    whose RTRIM strips a trailing no-break space: 'Q' + U+00A0 became 'Q', where SQL Server and Spark keep two
    people (main-tables.md §0). `table_on` now puts the table on the connection `ascld.engine` opened."""
    from ascld.measures.ascof.inputs import table_on

    con = connect("duckdb")
    rows = main_table([{"Der_NHS_LA_Combined_Person_ID": p} for p in ("Q", "q  ", "Q\u00a0")])
    got = con.to_pyarrow(prepare_main_table(table_on(con, rows, "main"))).column("Der_NHS_LA_Combined_Person_ID")
    assert sorted(got.to_pylist()) == ["Q", "Q", "Q\u00a0"]
