"""The decisions docs/validate.md records where the specification notes are silent ("Decisions where the documents
are silent"), one cell each, with the status and validity codes written out by hand from that section.

All rows start as clean synthetic sample rows; NHS numbers come from the 999 test range.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from ascld.quality import validate_return
from ascld.quality.sample import sample_rows, write_rows

KBA = "Unpaid carer known by association"


def _nhs(first9: str) -> str:
    """A number with a correct modulus-11 check digit (spec/README.md §6.2), written out here."""
    total = sum(int(d) * (10 - i) for i, d in enumerate(first9))
    check = 11 - total % 11
    return first9 + str(0 if check == 11 else check)


SERVICE_USER = {"Client_Type": "Service user"}
# (settings of the row, field asserted, expected (status, validity))
CASES: list[tuple[dict[str, str], str, tuple[int, int]]] = [
    # Undetermined: a blank Client Type leaves Review Reason Undetermined on a service row, and the blank passes.
    ({"Client_Type": "", "Event_Type": "Service", "Review_Reason": ""}, "Review_Reason", (-1, 0)),
    # Carers known by association: event fields Not applicable even with a Date of Death.
    ({"Client_Type": KBA, "Date_of_Death": "01/08/2025", "Event_End_Date": ""}, "Event_End_Date", (0, 0)),
    # Trailing white space of any kind is ignored by the status rules ...
    ({**SERVICE_USER, "Event_Type": "Request\t", "Request_Route_of_Access": ""}, "Request_Route_of_Access", (2, -1)),
    # ... a leading space makes a value of a complete list unrecognised (and the value itself fails, -3).
    ({"Client_Type": " Service user", "Autism_Spectrum_Disorder_ASD": ""}, "Autism_Spectrum_Disorder_ASD", (-1, 0)),
    ({"Client_Type": " Service user"}, "Client_Type", (2, -3)),
    # An unknown value of an incomplete list is kept, stripped: ' Financial Assessment' is still financial.
    (
        {**SERVICE_USER, "Event_Type": "Assessment", "Assessment_Type": " Financial Assessment", "Event_Outcome": ""},
        "Event_Outcome",
        (1, 0),
    ),
    # Release 1: exact R1 beats a case variant of R2; other spellings of R1 values are Release 1 too.
    ({"Client_Type": "Service User"}, "Client_Type", (2, -7)),
    ({"Client_Type": "SERVICE USER"}, "Client_Type", (2, -3)),
    ({"Client_Type": "CARER"}, "Client_Type", (2, -7)),
    # An R1 value without a known R2 equivalent in an incomplete list is unverified; a case variant of it fails.
    ({**SERVICE_USER, "Event_Type": "Review", "Review_Reason": "Planned"}, "Review_Reason", (2, 1)),
    (
        {**SERVICE_USER, "Event_Type": "Review", "Review_Reason": "Planned", "Review_Outcomes_Achieved": ""},
        "Review_Outcomes_Achieved",
        (2, -1),
    ),  # fmt: skip
    ({**SERVICE_USER, "Event_Type": "Review", "Review_Reason": "planned"}, "Review_Reason", (2, -3)),
    # Processing-only values only when exact: unverified in an incomplete list, not in list in a complete one.
    ({"Gender": "invalid and not mapped"}, "Gender", (2, 1)),
    ({"Ethnicity": "invalid and not mapped"}, "Ethnicity", (2, -3)),
    ({"Gender": "Invalid and not mapped"}, "Gender", (2, -3)),
    # Blank: the text NULL with white space around it.
    ({"LA_Code": " NULL "}, "LA_Code", (2, -1)),
    # Numbers.
    ({**SERVICE_USER, "Event_Type": "Service", "Unit_Cost": ".5"}, "Unit_Cost", (None, 1)),
    ({**SERVICE_USER, "Event_Type": "Service", "Unit_Cost": "5."}, "Unit_Cost", (None, 1)),
    ({**SERVICE_USER, "Event_Type": "Service", "Unit_Cost": "-0"}, "Unit_Cost", (None, 1)),
    ({"Client_Type": "Unpaid carer", "No_of_adults_being_cared_for": "-1.5"}, "No_of_adults_being_cared_for", (1, -2)),
    ({"Client_Type": "Unpaid carer", "No_of_adults_being_cared_for": "-1"}, "No_of_adults_being_cared_for", (1, -4)),
    ({"Client_Type": "Unpaid carer", "No_of_adults_being_cared_for": "-0"}, "No_of_adults_being_cared_for", (1, 1)),
    (
        {"Client_Type": "Unpaid carer", "No_of_adults_being_cared_for": "1234567890123456789"},
        "No_of_adults_being_cared_for",
        (1, -2),
    ),
    # Identity: white space around an NHS number; postcodes on their compact form.
    ({"NHS_Number": _nhs("999000001") + "\t"}, "NHS_Number", (2, 1)),
    ({"NHS_Number": " " + _nhs("999000002")[:3] + " " + _nhs("999000002")[3:]}, "NHS_Number", (2, 1)),
    ({"Postcode": "ls1 4ap"}, "Postcode", (2, 1)),
    ({"Postcode": "LS14AP"}, "Postcode", (2, 1)),
    ({"Postcode": "zz99 3vz"}, "Postcode", (2, 1)),
    ({"Postcode": "QQ1 1QQ"}, "Postcode", (2, -2)),
    # Out of scope: 'request' is a request, so an end after the period end is outside it.
    (
        {**SERVICE_USER, "Event_Type": "request", "Event_Start_Date": "01/09/2025", "Event_End_Date": "01/10/2025"},
        "Event_End_Date",
        (2, -6),
    ),
]


@pytest.fixture(scope="module")
def codes(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    rows = sample_rows(len(CASES), seed=5)
    for row, (settings, _, _) in zip(rows, CASES, strict=True):
        row.update(settings)
    folder = tmp_path_factory.mktemp("decisions")
    path = write_rows(folder / "decisions.csv", rows)
    result = validate_return(path, submission_date=dt.date(2025, 10, 20), dq_out=folder / "dq.parquet")
    assert result.exit_code == 1
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{Path(folder / 'dq.parquet')}') ORDER BY __row")
    return [dict(zip(rel.columns, rec, strict=True)) for rec in rel.fetchall()]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_decision(index: int, codes: list[dict[str, object]]) -> None:
    settings, column, (cond, chk) = CASES[index]
    got = codes[index]
    assert got["__row"] == index + 2
    if cond is not None:  # None: the status depends on sample values the case does not set
        assert got[f"cond_{column}"] == cond, f"{column} status ({sorted(settings)})"
    assert got[f"chk_{column}"] == chk, f"{column} validity ({sorted(settings)})"
