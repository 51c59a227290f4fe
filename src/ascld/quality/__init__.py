"""Data quality: the pre-submission validator and its report (field status and validity per row and field,
transport checks, checks across rows, quarter-on-quarter comparison).

Re-exports only; names load on first use so `ascld.returns.reader` can import `ascld.quality.problem` freely.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "validate_return": "ascld.quality.validate",
    "ValidationResult": "ascld.quality.validate",
    "Problem": "ascld.quality.problem",
    "Check": "ascld.quality.checks",
    "load_checks": "ascld.quality.checks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ascld.quality' has no attribute {name!r}")
