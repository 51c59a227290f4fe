"""Measures computed from CLD main tables, all in the one tidy layout of `ascld.measures.output`.

Re-exports only; each family lives in its own package (`ascld.measures.ascof`, `ascld.measures.salt`).
"""

from ascld.measures.ascof import AscofResult, compute_ascof, run_ascof
from ascld.measures.output import MEASURE_COLUMNS, percentage, round_half_away
from ascld.measures.salt import compute_salt as compute_salt

__all__ = ["MEASURE_COLUMNS", "AscofResult", "compute_ascof", "percentage", "round_half_away", "run_ascof"]
