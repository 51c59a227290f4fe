"""ASCOF measures from CLD (ascof.md): 2A, 2B, 2C, 2D parts 1 and 2, 2E and 2E LD, 3D clients and carers.

Re-exports only. `compute_ascof` gives the tidy table (`ascld.measures.output.MEASURE_COLUMNS`);
`run_ascof` also returns the detail tables (2A disaggregated, 2D part 1 with outcome counts, 2D Venn).
"""

from ascld.measures.ascof.common import AscofPeriods, ReportingPeriod, ascof_periods, prepare_main_table
from ascld.measures.ascof.inputs import (
    DISCHARGE_COLUMNS,
    LA_LOOKUP_COLUMNS,
    LSOA_LOOKUP_COLUMNS,
    POPULATION_COLUMNS,
    read_discharges,
    read_la_lookup,
    read_lsoa_lookup,
    read_population,
    synthetic_la_lookup_path,
    synthetic_population_path,
)
from ascld.measures.ascof.person_details import PERSON_DETAILS_COLUMNS, build_person_details
from ascld.measures.ascof.pipeline import AscofResult, ascof_qa_checks, compute_ascof, run_ascof
from ascld.measures.ascof.sql import ascof_sql

__all__ = [
    "DISCHARGE_COLUMNS",
    "LA_LOOKUP_COLUMNS",
    "LSOA_LOOKUP_COLUMNS",
    "PERSON_DETAILS_COLUMNS",
    "POPULATION_COLUMNS",
    "AscofPeriods",
    "AscofResult",
    "ReportingPeriod",
    "ascof_periods",
    "ascof_qa_checks",
    "ascof_sql",
    "build_person_details",
    "compute_ascof",
    "prepare_main_table",
    "read_discharges",
    "read_la_lookup",
    "read_lsoa_lookup",
    "read_population",
    "run_ascof",
    "synthetic_la_lookup_path",
    "synthetic_population_path",
]
