"""UK postcode format rules and the parts of a postcode that national processing keeps.

Format (spec/README.md §6.2, ONS Postcode Directory user guide): an outward code of 2–4 characters (area letters,
district digit(s), optional letter), a space, and an inward code of a digit and two letters. The NHS uses
pseudo-postcodes in the ZZ99 district for people with no fixed abode or abroad (ZZ99 3VZ: no fixed abode;
ZZ99 3WZ: address not known; ZZ99 3CZ: England, not otherwise specified; other ZZ99 codes: countries); they are
valid in CLD but carry no geography. GIR 0AA is a legacy non-geographic code.

Examples:
    >>> check_postcode("sw1a1aa")
    PostcodeCheck(normalised='SW1A 1AA', problem=None, pseudo=False)
    >>> check_postcode("ZZ99 3VZ").pseudo
    True
    >>> postcode_sector("SW1A 1AA")
    'SW1A 1'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OUTWARD = (
    r"(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
)
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
_FULL = re.compile(rf"^({_OUTWARD}) ?({_INWARD})$")
_PSEUDO = re.compile(r"^ZZ99 ?[0-9][A-Z]{2}$")


@dataclass(frozen=True)
class PostcodeCheck:
    normalised: str
    problem: str | None  # None | 'format'
    pseudo: bool


def normalise_postcode(value: str) -> str:
    """Upper case, single space before the inward code (the form lookups are keyed by)."""
    compact = re.sub(r"\s+", "", value).upper()
    if len(compact) < 5:
        return compact
    return f"{compact[:-3]} {compact[-3:]}"


def check_postcode(value: str) -> PostcodeCheck:
    """Classify a submitted postcode; the message layer never repeats the value itself."""
    norm = normalise_postcode(value)
    if _PSEUDO.match(norm):
        return PostcodeCheck(norm, None, True)
    if norm == "GIR 0AA" or _FULL.match(norm):
        return PostcodeCheck(norm, None, False)
    return PostcodeCheck(norm, "format", False)


def postcode_sector(value: str) -> str | None:
    """Outward code plus the inward digit ('SW1A 1'), or None for a malformed or pseudo postcode."""
    check = check_postcode(value)
    if check.problem or check.pseudo:
        return None
    return check.normalised[:-2]


def postcode_district(value: str) -> str | None:
    check = check_postcode(value)
    if check.problem or check.pseudo:
        return None
    return check.normalised.split(" ")[0]
