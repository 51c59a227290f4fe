"""NHS number rules: the modulus-11 check digit, placeholder numbers and the test range.

Source: NHS Data Dictionary, "NHS Number" (check digit: weights 10..2 on the first nine digits, 11 minus the
remainder mod 11; 11 means 0, 10 means the number is invalid), as restated in spec/README.md §6.2. Numbers starting
999 are the range the NHS sets aside for testing and are never issued to patients; ascld's synthetic data uses
only them.

Examples:
    >>> check_nhs_number("999 000 0018").ok
    True
    >>> check_nhs_number("9990000017").problem
    'check_digit'
    >>> check_nhs_number("0000000000").problem
    'placeholder'
"""

from __future__ import annotations

from dataclasses import dataclass

TEST_RANGE_PREFIX = "999"
# Values systems use to mean "not known": every digit the same (0000000000 ... 9999999999) and a few common fillers.
PLACEHOLDERS = frozenset({str(d) * 10 for d in range(10)} | {"1234567890", "0123456789"})


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no digit can be valid (the '10' case)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    result = 11 - total % 11
    if result == 11:
        return 0
    if result == 10:
        return None
    return result


@dataclass(frozen=True)
class NhsNumberCheck:
    normalised: str  # digits only, spaces and hyphens removed
    problem: str | None  # None | 'format' | 'placeholder' | 'check_digit'
    test_range: bool

    @property
    def ok(self) -> bool:
        return self.problem is None


def normalise_nhs_number(value: str) -> str:
    return value.replace(" ", "").replace("-", "").strip()


def check_nhs_number(value: str) -> NhsNumberCheck:
    """Classify a submitted NHS number without ever returning or logging it in a message."""
    digits = normalise_nhs_number(value)
    test_range = digits.startswith(TEST_RANGE_PREFIX)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return NhsNumberCheck(digits, "format", test_range)
    if digits in PLACEHOLDERS:
        return NhsNumberCheck(digits, "placeholder", test_range)
    if check_digit(digits[:9]) != int(digits[9]):
        return NhsNumberCheck(digits, "check_digit", test_range)
    return NhsNumberCheck(digits, None, test_range)


def is_valid_nhs_number(value: str) -> bool:
    return check_nhs_number(value).ok


def make_nhs_number(stem: int, prefix: str = TEST_RANGE_PREFIX) -> str | None:
    """A valid NHS number from a prefix and a stem (for synthetic data), or None if that stem has no valid check
    digit. The default prefix keeps every number in the test range.

    Examples:
        >>> n = make_nhs_number(1)
        >>> n.startswith("999") and is_valid_nhs_number(n)
        True
    """
    body = f"{prefix}{stem:0{9 - len(prefix)}d}"
    if len(body) != 9:
        raise ValueError("the stem does not fit in nine digits")
    digit = check_digit(body)
    return None if digit is None else body + str(digit)
