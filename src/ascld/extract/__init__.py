"""Extraction: a case-management database + a council's mapping -> a CLD return (`ascld extract`).

Re-exports only; the code lives in `mapping.py` (the mapping file), `scope.py` (the national scope rules) and
`run.py` (streaming extraction).
"""

from ascld.extract.examples import example_mapping_path
from ascld.extract.mapping import ExtractMapping, MappingError, MappingProblem, load_mapping
from ascld.extract.run import (
    ExtractProblems,
    ExtractResult,
    SourceOrderError,
    TextIssue,
    UnmappedCode,
    extract_return,
)

__all__ = [
    "ExtractMapping",
    "ExtractProblems",
    "ExtractResult",
    "MappingError",
    "MappingProblem",
    "SourceOrderError",
    "TextIssue",
    "UnmappedCode",
    "example_mapping_path",
    "extract_return",
    "load_mapping",
]
