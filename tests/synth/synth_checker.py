"""An independent, deliberately plain checker of CLD return files, used to test the generator.

It is written from the specification (spec README §3-§6 and the spec tables), not from the generator's
code, and reports every problem as (row, field, kind) with the defect-manifest kinds. The tests require that
it finds exactly the defects the manifest lists, so a generator that leaks an unlisted problem, or lists a
defect it did not make, fails.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ascld.identity.nhs_number import check_nhs_number
from ascld.identity.postcode import check_postcode
from ascld.spec import INVALID, Spec, load_spec

DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
NUMBER_2DP = re.compile(r"^\d+(\.\d{1,2})?$")
NUMBER_ANY = re.compile(r"^-?\d+(\.\d+)?$")
GP_CODE = re.compile(r"^[A-Z]\d{5}$")
CQC_ID = re.compile(r"^1-\d+$")
EVENT_FIELDS = (
    "Event_Type",
    "Event_Reference",
    "Event_Start_Date",
    "Event_End_Date",
    "Event_Description",
    "Event_Outcome",
    "Request_Route_of_Access",
    "Assessment_Type",
    "Eligible_Needs_Identified",
    "Method_of_Assessment",
    "Service_Type",
    "Service_Component",
    "Delivery_Mechanism",
    "Provider_CQC_Location_Name",
    "Provider_CQC_Location_ID",
    "Review_Reason",
    "Review_Outcomes_Achieved",
    "Method_of_Review",
    "Unit_Cost",
    "Cost_Frequency_Unit_Type",
    "Planned_units_per_week",
)


@dataclass
class Findings:
    unusable: list[tuple[int, str, str]] = field(default_factory=list)  # file-level problems
    problems: set[tuple[int, str, str]] = field(default_factory=set)  # (row, field, kind)
    other: list[tuple[int, str, str]] = field(default_factory=list)  # problems outside the manifest kinds
    rows: list[dict[str, str]] = field(default_factory=list)
    period: tuple[dt.date, dt.date] | None = None


def parse_date(text: str) -> dt.date | None:
    m = DATE.match(text)
    if not m:
        return None
    try:
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None


class Checker:
    def __init__(self, spec: Spec | None = None) -> None:
        self.spec = spec or load_spec()
        self.headers = list(self.spec.headers)
        self.columns = list(self.spec.columns)

    def _list_check(self, column: str, value: str) -> str | None:
        dl = self.spec.list_for(column)
        if dl is None or not value:
            return None
        if value in dl.r2_values:
            return None
        if not dl.complete:
            return None  # unverified: a warning, never a failure
        if value in dl.r1_values:
            return "release1_value"
        if value.rstrip().casefold() in {v.casefold() for v in dl.r2_values}:
            return "miscased_list_value"
        return "invalid_list_value"

    def _lookup(self, row: dict[str, str], period_end: dt.date):  # type: ignore[no-untyped-def]
        def lookup(name: str) -> object:
            if name == "age_at_period_end":
                born = parse_date(row.get("Date_of_Birth", ""))
                return None if born is None else int((period_end - born).days / 365.25)
            value = row.get(name, "")
            if not value:
                return None
            dl = self.spec.list_for(name) if name in self.columns else None
            if dl is None:
                return value
            if value in dl.r2_values or not dl.complete:
                return value
            mapped = dl.r1_to_r2.get(value)
            return mapped if mapped else INVALID

        return lookup

    def status(self, row: dict[str, str], column: str, period_end: dt.date) -> str:
        lookup = self._lookup(row, period_end)
        for rule in self.spec.status_rules.get(column, ()):
            result = rule.condition.evaluate(lookup)
            if result is None:
                return "undetermined"
            if result:
                return rule.status
        return "applicable"

    def check_bytes(self, data: bytes) -> Findings:
        f = Findings()
        if data.startswith(b"\xef\xbb\xbf"):
            f.unusable.append((1, "", "bom"))
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            f.unusable.append((1, "", "encoding"))
            return f
        records = list(csv.reader(io.StringIO(text, newline="")))
        if not records or records[0] != self.headers:
            f.unusable.append((1, "", "headers"))
            return f
        for n, record in enumerate(records[1:], start=2):
            if len(record) != len(self.headers):
                f.unusable.append((n, "", "ragged_row"))
                continue
            for column, value in zip(self.columns, record, strict=True):
                if value[:1] in ("=", "+", "@") or (value.startswith("-") and not NUMBER_ANY.match(value)):
                    f.unusable.append((n, column, "formula_value"))
        if f.unusable:
            return f
        f.rows = [dict(zip(self.columns, r, strict=True)) for r in records[1:]]
        self._check_rows(f)
        return f

    def _check_rows(self, f: Findings) -> None:
        rows = f.rows
        add = f.problems.add
        periods = {(r["Reporting_Period_Start_Date"], r["Reporting_Period_End_Date"]) for r in rows}
        las = {r["LA_Code"] for r in rows}
        if len(periods) > 1 or len(las) > 1:
            f.other.append((0, "", "several periods or LA codes in one file"))
        if not rows:
            return
        ps = parse_date(rows[0]["Reporting_Period_Start_Date"])
        pe = parse_date(rows[0]["Reporting_Period_End_Date"])
        assert ps and pe, "reporting period dates must be valid"
        f.period = (ps, pe)
        seen: set[tuple[str, ...]] = set()
        service_users = {r["LA_Person_Unique_Identifier"] for r in rows if r["Client_Type"] == "Service user"}
        references = Counter(r["Event_Reference"] for r in rows if r["Event_Reference"])
        for n, row in enumerate(rows, start=2):
            key = tuple(row.values())
            if key in seen:
                add((n, "", "duplicate_row"))
                continue
            seen.add(key)
            for column in self.columns:
                value = row[column]
                kind = self._list_check(column, value)
                if kind:
                    add((n, column, kind))
                status = self.status(row, column, pe)
                if status == "mandatory" and not value:
                    add((n, column, "missing_mandatory"))
                if status == "not_applicable" and value:
                    f.other.append((n, column, "populated although not applicable"))
            for column in (
                "Event_Start_Date",
                "Event_End_Date",
                "Date_of_Birth",
                "Date_of_Death",
                "Reporting_Period_Start_Date",
                "Reporting_Period_End_Date",
            ):
                value = row[column]
                if value and parse_date(value) is None:
                    add((n, column, "impossible_date" if DATE.match(value) else "bad_date_format"))
            for column in ("Unit_Cost", "Planned_units_per_week"):
                value = row[column]
                if not value:
                    continue
                if value.startswith("-") and NUMBER_2DP.match(value[1:]):
                    add((n, column, "negative_unit_cost"))
                elif NUMBER_ANY.match(value.lstrip("-")) and not NUMBER_2DP.match(value.lstrip("-")):
                    add((n, column, "too_many_decimals"))
                elif not NUMBER_2DP.match(value):
                    f.other.append((n, column, "not a number"))
            if row["NHS_Number"] and not check_nhs_number(row["NHS_Number"]).ok:
                add((n, "NHS_Number", "bad_nhs_check_digit"))
            if row["Postcode"] and check_postcode(row["Postcode"]).problem:
                add((n, "Postcode", "invalid_postcode"))
            if row["GP_Practice_Code"] and not GP_CODE.match(row["GP_Practice_Code"]):
                f.other.append((n, "GP_Practice_Code", "bad format"))
            if row["Provider_CQC_Location_ID"] and not CQC_ID.match(row["Provider_CQC_Location_ID"]):
                f.other.append((n, "Provider_CQC_Location_ID", "bad format"))
            if row["No_of_adults_being_cared_for"] and not row["No_of_adults_being_cared_for"].isdigit():
                f.other.append((n, "No_of_adults_being_cared_for", "not a whole number"))
            self._cross(f, n, row, ps, pe, service_users, references)

    def _cross(
        self,
        f: Findings,
        n: int,
        row: dict[str, str],
        ps: dt.date,
        pe: dt.date,
        service_users: set[str],
        references: Counter[str],
    ) -> None:
        other = f.other
        start = parse_date(row["Event_Start_Date"])
        end = parse_date(row["Event_End_Date"])
        born = parse_date(row["Date_of_Birth"])
        died = parse_date(row["Date_of_Death"])
        event = row["Event_Type"]
        if row["Client_Type"] == "Unpaid carer known by association":
            if any(row[c] for c in EVENT_FIELDS):
                other.append((n, "", "event fields on a known-by-association row"))
            if not row["Adult_1_Linked_Person_ID"]:
                other.append((n, "Adult_1_Linked_Person_ID", "no linked person"))
        linked = [
            row[c]
            for c in ("Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID")
            if row[c]
        ]
        for pid in linked:
            if pid not in service_users:
                other.append((n, "", "linked person is not a service user in the file"))
        if linked and int(row["No_of_adults_being_cared_for"] or 0) < len(linked):
            other.append((n, "No_of_adults_being_cared_for", "fewer than the linked people"))
        if row["Event_Reference"] and references[row["Event_Reference"]] > 1:
            duplicates = [r for r in f.rows if r["Event_Reference"] == row["Event_Reference"]]
            if any(d != row for d in duplicates):
                other.append((n, "Event_Reference", "reference reused by a different row"))
        if row["Delivery_Mechanism"] == "Direct payment" and (
            row["Service_Type"] == "Long term support: Prison"
            or row["Accommodation_Status"] == "Prison, young offenders institution or detention centre"
        ):
            other.append((n, "Delivery_Mechanism", "direct payment in prison"))
        if start and end and end < start:
            f.problems.add((n, "Event_End_Date", "end_before_start"))
            return
        if born and start and born > start:
            other.append((n, "Date_of_Birth", "born after the event start"))
        if died and born and died < born:
            other.append((n, "Date_of_Death", "died before birth"))
        if died and start and start > died:
            other.append((n, "Event_Start_Date", "event starts after death"))
        if died and end and end > died:
            other.append((n, "Event_End_Date", "event ends after death"))
        if start is None or not event:
            return
        if event == "Service":
            if start > pe or (end is not None and end < ps):
                other.append((n, "", "service not active in the period"))
            if end is not None and end > pe:
                other.append((n, "", "end date after the period end"))
        elif row["Event_End_Date"] and end is not None and (not (ps <= end <= pe) or start > pe):
            other.append((n, "", "event not completed in the period"))
        if end is None and event != "Service" and not row["Event_End_Date"]:
            other.append((n, "Event_End_Date", "non-service event without an end date"))
        outcome_ok = self._list_check("Event_Outcome", row["Event_Outcome"]) is None
        if (
            event == "Service"
            and not row["Event_End_Date"]
            and outcome_ok
            and row["Event_Outcome"] not in ("Continuation of support or services", "")
        ):
            other.append((n, "Event_Outcome", "open service without the continuation outcome"))


def manifest_for(defects: Iterable[dict[str, str]], file: str) -> set[tuple[int, str, str]]:
    return {(int(d["row"]), d["field"], d["kind"]) for d in defects if d["file"] == file}


def read_csv(path, encoding: str = "utf-8") -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))
