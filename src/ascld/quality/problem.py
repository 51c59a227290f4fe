"""One problem found in a return, in the shape every ascld output uses (STYLE.md §5.5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SEVERITIES = ("error", "warning")
PROBLEM_FIELDS = ("file", "row", "field", "check_id", "severity", "message", "hint")
# What makes a spreadsheet read a cell as a formula (DESIGN.md, returns/: values starting = + - @ are refused).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_text(text: str) -> str:
    """`text` as a CSV cell a spreadsheet shows rather than runs: a leading apostrophe when it starts =, +, -, @
    or a tab or line break (a file named `=1+2.csv` in problems.csv).

    Examples:
        >>> spreadsheet_text("=1+2.csv"), spreadsheet_text("q1.csv")
        ("'=1+2.csv", 'q1.csv')
    """
    return "'" + text if text.startswith(FORMULA_START) else text


def spreadsheet_text_sql(expr: str) -> str:
    """The SQL twin of `spreadsheet_text` for a text expression."""
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_START)
    return f"CASE WHEN left({expr}, 1) IN ({starts}) THEN chr(39) || {expr} ELSE {expr} END"


@dataclass(frozen=True)
class Problem:
    """A problem with a return, at a row and field where it has one.

    Attributes:
        file: the file's base name.
        row: the row as a spreadsheet shows it (header = row 1), or None for a problem with the whole file.
        field: the national column name (e.g. `Event_End_Date`), or "" when no one field is at fault.
        check_id: the check that found it (`docs/validate.md` lists them).
        severity: "error" (a failure: the file should not be submitted as it is) or "warning".
        message: what is wrong. Never holds an identifying value (NHS number, name, date of birth,
        postcode...).
        hint: what to do about it.

    Examples:
        >>> print(Problem("q1.csv", 214, "Event_End_Date", "C008", "error", '"31/02/2024" is not a real date',
        ...             "Use a real calendar date"))
        q1.csv, row 214, field Event_End_Date: "31/02/2024" is not a real date. Use a real calendar date. [C008]
    """

    file: str
    row: int | None
    field: str
    check_id: str
    severity: str
    message: str
    hint: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field {self.field}"
        hint = f" {_sentence(self.hint)}" if self.hint else ""
        return f"{where}: {_sentence(self.message)}{hint} [{self.check_id}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."
