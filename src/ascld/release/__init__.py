"""Release: disclosure control for every aggregate that leaves the secure setting. Re-exports only."""

from ascld.release.disclosure import (
    DisclosureRule,
    DisclosureRules,
    apply_disclosure_control,
    find_differencing_risks,
    load_disclosure_rules,
    sum_published,
)

__all__ = [
    "DisclosureRule",
    "DisclosureRules",
    "apply_disclosure_control",
    "find_differencing_risks",
    "load_disclosure_rules",
    "sum_published",
]
