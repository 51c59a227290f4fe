"""The CLD specification as data: fields, defined lists, R1 -> R2 mappings, status rules."""

from ascld.spec.conditions import INVALID, parse_condition
from ascld.spec.loader import load_spec, read_overlay, spec_version
from ascld.spec.model import STATUS_LABELS, DefinedList, Field, Spec, StatusRule

__all__ = [
    "INVALID",
    "STATUS_LABELS",
    "DefinedList",
    "Field",
    "Spec",
    "StatusRule",
    "load_spec",
    "parse_condition",
    "read_overlay",
    "spec_version",
]
