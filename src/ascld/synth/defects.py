"""Defects in synthetic returns, each listed in the defect manifest (`defects.csv`).

The manifest has one row per defect: `file,row,field,kind,detail`. `row` is the row as a spreadsheet shows it
(header = row 1), counted after every insertion (duplicate rows); `field` is the national column name
(blank for whole-row defects); `detail` never contains identifying values.

Three sources of defects, all listed:

* **inherited** from the case-management system: people whose NHS number was never recorded
  (`missing_mandatory` on NHS_Number) or was mis-keyed (`bad_nhs_check_digit`), on every row of theirs;
* **behaviour**: a council still sending Release 1 values after October 2025 (`release1_value`);
* **injected** at the configured rates, one defect per row, chosen so that the defect is the only check that
  fails on that row: invalid and mis-cased list values, Release 1 values, blank mandatory fields, impossible
  dates, badly formatted dates, wrong NHS check digits, end dates before start dates, duplicate rows, negative
  unit costs, three-decimal numbers and invalid postcodes.

File-level defects (`ragged_row`, `formula_value`) make a file unusable and are only written as separate
variant files (`transport_variant`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ascld.identity.nhs_number import check_nhs_number
from ascld.identity.postcode import check_postcode
from ascld.spec import Spec
from ascld.synth.reference import Reference
from ascld.synth.returns import Row

# List fields whose defects are safe: complete Release 2 lists, and no other field's status depends on them.
LIST_DEFECT_FIELDS = ("Ethnicity", "Accommodation_Status", "Employment_Status", "Event_Outcome")
# Fields that may be blanked: mandatory on their rows and driving no other field's status.
BLANKABLE_FIELDS = (
    "NHS_Number",
    "Gender",
    "Ethnicity",
    "Postcode",
    "Accommodation_Status",
    "Has_Unpaid_Carer",
    "Event_Outcome",
    "Request_Route_of_Access",
    "Method_of_Assessment",
    "Method_of_Review",
    "Client_Funding_Status",
)
DATE_FIELDS = ("Event_Start_Date", "Event_End_Date", "Date_of_Birth")
INVALID_POSTCODES = ("N/K", "UNKNOWN", "Q1 1AA", "AB1", "12345", "NO FIXED ABODE", "1AB 2CD")
FORMULAS = ('=HYPERLINK("http://example.invalid/care","open record")', "+SUM(1,1)", "@SUM(1,1)")


@dataclass(slots=True)
class Defect:
    """A defect at a row index of the row list (converted to a spreadsheet row number when written)."""

    index: int
    field: str
    kind: str
    detail: str


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class Defects:
    """Applies defects to the rows of one return file. One instance per council (holds its random generator).

    Args:
        spec: the specification.
        ref: reference data (local codes, used as realistic invalid values).
        rng: the council's generator for defects.
    """

    def __init__(self, spec: Spec, ref: Reference, rng: random.Random) -> None:
        self.spec = spec
        self.ref = ref
        self.r = rng
        self.columns = spec.columns
        self.col = {c: i for i, c in enumerate(self.columns)}
        self.lists = {f: spec.list_for(f) for f in LIST_DEFECT_FIELDS}
        self.list_fields = tuple(
            f for f, dl in self.lists.items() if dl is not None and dl.complete
        )
        self._known: dict[str, frozenset[str]] = {}
        self._folded: dict[str, frozenset[str]] = {}
        for f in self.list_fields:
            dl = self.lists[f]
            assert dl is not None
            self._known[f] = frozenset(dl.r1_values) | frozenset(dl.r2_values)
            self._folded[f] = frozenset(v.rstrip().casefold() for v in self._known[f])
        self._r1 = {f: self._release1_spellings(f) for f in self.list_fields}
        self._local = {f: self._local_codes(f) for f in self.list_fields}
        self._rules = {column: spec.status_rules.get(column, ()) for column in self.columns}
        self._age_rules = [
            column
            for column, rules in self._rules.items()
            if any("age_at_period_end" in r.condition.columns() for r in rules)
        ]

    # ------------------------------------------------------------------ lookups
    def _release1_spellings(self, field: str) -> dict[str, str]:
        """Release 2 value -> a Release 1 spelling that is not (even case-insensitively) a Release 2 value."""
        dl = self.lists[field]
        assert dl is not None
        r2_folded = {v.casefold() for v in dl.r2_values}
        out: dict[str, str] = {}
        for r1 in dl.r1_values:
            r2 = dl.r1_to_r2.get(r1)
            if r2 and r2 not in out and r1.rstrip().casefold() not in r2_folded:
                out[r2] = r1
        return out

    def _local_codes(self, field: str) -> dict[str, str]:
        """CLD value -> the council's local code for it (sent unmapped, it is a value in neither list)."""
        out: dict[str, str] = {}
        for code in self.ref.codes.values():
            if code.domain in ("extract_rule", "event_table"):
                continue
            usable = code.cld_column == field and code.cld_value and code.cld_value not in out
            if usable and code.code.casefold() not in self._folded[field]:
                out[code.cld_value] = code.code
        return out

    def release1_spelling(self, field: str, value: str) -> str | None:
        return self._r1.get(field, {}).get(value)

    def status(self, cells: Sequence[str], column: str, period_end: int, age_known: bool = True) -> str:
        """The field status of a column on a row: mandatory, applicable, not_applicable or undetermined."""
        col = self.col

        def lookup(name: str) -> object:
            if name == "age_at_period_end":
                if not age_known:
                    return None
                dob = cells[col["Date_of_Birth"]]
                try:
                    born = dt.date(int(dob[6:10]), int(dob[3:5]), int(dob[0:2])).toordinal()
                except ValueError:
                    return None
                return int((period_end - born) / 365.25)
            i = col.get(name)
            value = cells[i] if i is not None else ""
            return value or None

        for rule in self._rules[column]:
            result = rule.condition.evaluate(lookup)
            if result is None:
                return "undetermined"
            if result:
                return rule.status
        return "applicable"

    # ------------------------------------------------------------------ sources
    def inherited(self, rows: Sequence[Row], nhs_issue: Callable[[int], str | None]) -> list[Defect]:
        """Rows of people whose NHS number the council never recorded or mis-keyed."""
        out = []
        for i, row in enumerate(rows):
            issue = nhs_issue(row.pid)
            if issue == "missing":
                out.append(
                    Defect(
                        i,
                        "NHS_Number",
                        "missing_mandatory",
                        "NHS number not recorded in the case-management system",
                    )
                )
                row.defect = True
            elif issue == "invalid":
                out.append(
                    Defect(
                        i,
                        "NHS_Number",
                        "bad_nhs_check_digit",
                        "NHS number mis-keyed in the case-management system (wrong check digit)",
                    )
                )
                row.defect = True
        return out

    def release1_behaviour(self, rows: Sequence[Row], field: str) -> list[Defect]:
        """A council still sending Release 1 spellings in one column after October 2025."""
        out = []
        i_field = self.col[field]
        for i, row in enumerate(rows):
            if row.defect:
                continue
            r1 = self.release1_spelling(field, row.cells[i_field])
            if r1 is not None:
                row.cells[i_field] = r1
                row.defect = True
                out.append(
                    Defect(
                        i, field, "release1_value", "behaviour: Release 1 value still sent after October 2025"
                    )
                )
        return out

    # ------------------------------------------------------------------ injection
    def inject(
        self,
        rows: list[Row],
        rates: dict[str, float],
        period_start: dt.date,
        period_end: dt.date,
        existing: list[Defect] | None = None,
    ) -> tuple[list[Row], list[Defect]]:
        """Inject row-level defects at the given rates.

        Args:
            rows: the file's rows; rows already carrying a defect (`Row.defect`) are left alone.
            rates: defect rate per row, by kind.
            period_start, period_end: the period the rows were selected for.
            existing: defects already on the rows (their indexes are moved if duplicate rows are inserted).

        Returns:
            The rows (with duplicate rows inserted right after their originals) and every defect, the existing
            ones included, with indexes into the returned list.
        """
        ps, pe = period_start.toordinal(), period_end.toordinal()
        n = len(rows)
        defects: list[Defect] = list(existing or [])
        if n == 0:
            return rows, defects
        order = list(range(n))
        self.r.shuffle(order)
        cursor = 0
        for kind, rate in rates.items():
            if rate <= 0 or kind == "duplicate_row":
                continue
            expected = rate * n
            count = int(expected) + (1 if self.r.random() < expected - int(expected) else 0)
            tried = 0
            while count > 0 and tried < n:
                i = order[cursor % n]
                cursor += 1
                tried += 1
                row = rows[i]
                if row.defect:
                    continue
                found = self._apply(kind, row, ps, pe, rows, i)
                if found is not None:
                    row.defect = True
                    defects.append(Defect(i, found[0], kind, found[1]))
                    count -= 1
        duplicates: set[int] = set()
        rate = rates.get("duplicate_row", 0.0)
        if rate > 0:
            expected = rate * n
            count = int(expected) + (1 if self.r.random() < expected - int(expected) else 0)
            for i in order:
                if count == 0:
                    break
                if not rows[i].defect and rows[i].table != "kba":
                    duplicates.add(i)
                    count -= 1
        if not duplicates:
            return rows, defects
        new_rows: list[Row] = []
        new_index = [0] * n
        for i, row in enumerate(rows):
            new_index[i] = len(new_rows)
            new_rows.append(row)
            if i in duplicates:
                new_rows.append(row.copy())
                defects.append(
                    Defect(len(new_rows) - 1, "", "duplicate_row", f"exact copy of row {new_index[i] + 2}")
                )
        for d in defects:
            if d.kind != "duplicate_row":
                d.index = new_index[d.index]
        return new_rows, defects

    def _apply(
        self, kind: str, row: Row, ps: int, pe: int, rows: list[Row], index: int
    ) -> tuple[str, str] | None:
        """Apply one defect of `kind` to a row; returns (field, detail), or None if the row is unsuitable."""
        c = self.col
        r = self.r
        if kind == "end_before_start":
            if row.table not in ("contact", "assessment", "review") or row.start is None or row.end is None:
                return None
            if not (ps <= row.start < row.end <= pe):
                return None
            if self._same_event_exists(rows, index, row.end, row.start):
                return None  # the swapped dates must not make the row another event of the person
            cells = row.cells
            i_start, i_end = c["Event_Start_Date"], c["Event_End_Date"]
            cells[i_start], cells[i_end] = cells[i_end], cells[i_start]
            return "Event_End_Date", "start and end dates swapped"
        if kind in ("negative_unit_cost", "too_many_decimals") and row.table != "service_line":
            return None
        cells = row.cells
        if kind in ("invalid_list_value", "miscased_list_value", "release1_value"):
            fields = [f for f in self.list_fields if cells[c[f]]]
            if not fields:
                return None
            field = r.choice(fields)
            value = cells[c[field]]
            if kind == "invalid_list_value":
                new = self._local[field].get(value) or f"{value[:20]} (local)"
                if new.rstrip().casefold() in self._folded[field]:
                    return None
                cells[c[field]] = new
                return field, "the council's local code sent instead of a list value"
            if kind == "miscased_list_value":
                new = value.upper()
                if new == value or new in self._known[field]:
                    return None
                cells[c[field]] = new
                return field, "list value written in upper case"
            r1 = self.release1_spelling(field, value)
            if r1 is None:
                return None
            cells[c[field]] = r1
            return field, "Release 1 spelling of the value"
        if kind == "missing_mandatory":
            fields = [f for f in BLANKABLE_FIELDS if cells[c[f]] and self.status(cells, f, pe) == "mandatory"]
            if not fields:
                return None
            field = r.choice(fields)
            cells[c[field]] = ""
            return field, "mandatory value left blank"
        if kind in ("impossible_date", "bad_date_format"):
            fields = [f for f in DATE_FIELDS if cells[c[f]]]
            if "Date_of_Birth" in fields and not self._dob_is_safe(cells, pe):
                fields.remove("Date_of_Birth")
            if not fields:
                return None
            field = r.choice(fields)
            value = cells[c[field]]
            day, month, year = int(value[0:2]), int(value[3:5]), int(value[6:10])
            if kind == "impossible_date":
                choices = [f"00/{month:02d}/{year}", f"{day:02d}/13/{year}", f"30/02/{year}"]
                if month in (4, 6, 9, 11):
                    choices.append(f"31/{month:02d}/{year}")
                if not _is_leap(year):
                    choices.append(f"29/02/{year}")
                cells[c[field]] = r.choice(choices)
                return field, "a date that does not exist"
            form = r.randrange(4)
            if form == 0:
                new, how = f"{year}-{month:02d}-{day:02d}", "ISO yyyy-mm-dd"
            elif form == 1:
                new, how = f"{day}/{month}/{year % 100:02d}", "d/m/yy"
            elif form == 2:
                new, how = f"{day:02d}-{month:02d}-{year}", "dd-mm-yyyy"
            else:
                new, how = f"{value} 00:00", "with a time part"
            cells[c[field]] = new
            return field, f"a real date written as {how}"
        if kind == "bad_nhs_check_digit":
            value = cells[c["NHS_Number"]]
            if not value or not check_nhs_number(value).ok:
                return None
            wrong = (int(value[9]) + r.randint(1, 9)) % 10
            new = value[:9] + str(wrong)
            if check_nhs_number(new).problem != "check_digit":
                return None
            cells[c["NHS_Number"]] = new
            return "NHS_Number", "check digit altered"
        if kind == "negative_unit_cost":
            value = cells[c["Unit_Cost"]]
            if not value or float(value) <= 0:
                return None
            cells[c["Unit_Cost"]] = "-" + value
            return "Unit_Cost", "unit cost written as a negative amount"
        if kind == "too_many_decimals":
            fields = [f for f in ("Unit_Cost", "Planned_units_per_week") if cells[c[f]]]
            if not fields:
                return None
            field = r.choice(fields)
            cells[c[field]] = cells[c[field]] + str(r.randint(1, 9))
            return field, "number with three decimal places"
        if kind == "invalid_postcode":
            if not cells[c["Postcode"]]:
                return None
            new = r.choice(INVALID_POSTCODES)
            assert check_postcode(new).problem == "format"
            cells[c["Postcode"]] = new
            return "Postcode", "not a UK postcode format"
        raise ValueError(f"unknown defect kind {kind}")

    @staticmethod
    def _same_event_exists(rows: list[Row], index: int, start: int, end: int) -> bool:
        """Whether the person has another event of the row's kind with these dates (a person's rows are
        contiguous in a return)."""
        row = rows[index]
        for step in (-1, 1):
            j = index + step
            while 0 <= j < len(rows) and rows[j].pid == row.pid:
                other = rows[j]
                if other.table == row.table and other.start == start and other.end == end:
                    return True
                j += step
        return False

    def _dob_is_safe(self, cells: Sequence[str], pe: int) -> bool:
        """A broken date of birth must not leave another field's status undetermined (the age-based rule)."""
        return all(
            self.status(cells, column, pe, age_known=False) != "undetermined" for column in self._age_rules
        )

    # ------------------------------------------------------------------ unusable variants
    def transport_variant(self, rows: list[Row], kind: str) -> tuple[list[list[str]], Defect]:
        """Cells of a file made unusable by one file-level defect, and its manifest entry."""
        cells = [list(r.cells) for r in rows]
        event_rows = [i for i, r in enumerate(rows) if r.table != "kba"] or list(range(len(rows)))
        i = self.r.choice(event_rows)
        if kind == "ragged_row":
            if self.r.random() < 0.5:
                cells[i] = cells[i][:-1]
                return cells, Defect(i, "", kind, "row with one delimiter too few")
            cells[i] = cells[i] + [""]
            return cells, Defect(i, "", kind, "row with one delimiter too many")
        if kind == "formula_value":
            cells[i][self.col["Event_Description"]] = self.r.choice(FORMULAS)
            return cells, Defect(i, "Event_Description", kind, "text value starting with a formula character")
        raise ValueError(f"unknown transport defect {kind}")
