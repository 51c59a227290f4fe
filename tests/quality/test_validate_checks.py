"""Every check in checks.csv has a scenario here that finds it: one clean row (or a few) with one change.

The row-level scenarios share one return (validated once); each test asserts its check fires on the expected
row and field, and that no *other* failure appears on the scenario's rows. A check removed from checks.csv, or
a rule type broken, fails its test. `test_every_check_has_a_scenario` keeps this table complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from validate_helpers import PERIOD_END, PERIOD_START, SUBMITTED, fmt, found, validate_rows

from ascld.identity.nhs_number import make_nhs_number
from ascld.quality.checks import load_checks
from ascld.quality.sample import SampleGenerator, write_rows
from ascld.quality.validate import validate_return
from ascld.spec import load_spec

Rows = list[dict[str, str]]


@dataclass
class Scenario:
    check_id: str
    build: Callable[[SampleGenerator], Rows]
    offset: int  # which row of the block carries the problem (0-based)
    field: str  # "" for a whole-row problem
    # Other failures this scenario is allowed to cause (by construction), beside its own.
    also: tuple[str, ...] = ()


def _row(g: SampleGenerator, **kw) -> dict[str, str]:
    return g.row(new_person=True, **kw)


def _su(g: SampleGenerator, event: str, **kw) -> dict[str, str]:
    return _row(g, client_type="Service user", event_type=event, **kw)


def one(
    fn: Callable[[dict[str, str]], None], event: str = "Request", **kw
) -> Callable[[SampleGenerator], Rows]:
    def build(g: SampleGenerator) -> Rows:
        r = _su(g, event, **kw)
        fn(r)
        return [r]

    return build


def setter(**values: str) -> Callable[[dict[str, str]], None]:
    def fn(r: dict[str, str]) -> None:
        r.update(values)

    return fn


def wrong_check_digit(r: dict[str, str]) -> None:
    n = r["NHS_Number"]
    r["NHS_Number"] = n[:9] + str((int(n[9]) + 1) % 10)


def carer_with_links(count_value: str, links: int) -> Callable[[SampleGenerator], Rows]:
    def build(g: SampleGenerator) -> Rows:
        a, b = _su(g, "Request"), _su(g, "Request")
        carer = _row(g, client_type="Unpaid carer known by association")
        carer.update(
            {
                "Adult_1_Linked_Person_ID": a["LA_Person_Unique_Identifier"],
                "Adult_2_Linked_Person_ID": b["LA_Person_Unique_Identifier"] if links > 1 else "",
                "No_of_adults_being_cared_for": count_value,
            }
        )
        return [a, b, carer]

    return build


def association_without_links(g: SampleGenerator) -> Rows:
    a = _su(g, "Request")
    carer = _row(g, client_type="Unpaid carer known by association")
    carer.update(
        {"Adult_1_Linked_Person_ID": "", "Adult_2_Linked_Person_ID": "", "Adult_3_Linked_Person_ID": ""}
    )
    return [a, carer]


def linked_to_nobody(g: SampleGenerator) -> Rows:
    a = _su(g, "Request")
    carer = _row(g, client_type="Unpaid carer known by association")
    carer.update({"Adult_1_Linked_Person_ID": "NOT-IN-FILE", "Adult_2_Linked_Person_ID": ""})
    return [a, carer]


def request_dates(start: dt.date, end: dt.date, **extra: str) -> Callable[[dict[str, str]], None]:
    return setter(Event_Start_Date=fmt(start), Event_End_Date=fmt(end), **extra)


def duplicate(g: SampleGenerator) -> Rows:
    r = _su(g, "Assessment")
    return [r, dict(r)]


def duplicate_event(g: SampleGenerator) -> Rows:
    r = _su(g, "Assessment")
    twin = dict(r, Event_Description="Second record of the same assessment", Event_Reference="DUPE-2")
    return [r, twin]


def person_conflict(g: SampleGenerator) -> Rows:
    r = _su(g, "Request")
    again = _su(g, "Review")
    again.update(
        {k: r[k] for k in ("LA_Person_Unique_Identifier", "NHS_Number", "Date_of_Birth", "Postcode")}
    )
    again["Gender"] = "Female" if r["Gender"] == "Male" else "Male"
    return [r, again]


def reused_reference(g: SampleGenerator) -> Rows:
    a, b = _su(g, "Request"), _su(g, "Review")
    b["Event_Reference"] = a["Event_Reference"]
    return [a, b]


DOB_16 = fmt(PERIOD_END - dt.timedelta(days=16 * 365 + 100))

SCENARIOS = [
    Scenario("C001", one(setter(Gender="")), 0, "Gender"),
    Scenario("C002", one(setter(Ethnicity="Martian")), 0, "Ethnicity"),
    Scenario("C003", one(setter(Ethnicity="WHITE: IRISH")), 0, "Ethnicity"),
    Scenario("C004", one(setter(Ethnicity="White - Irish")), 0, "Ethnicity"),
    Scenario(
        "C005", one(setter(Accommodation_Status="Unknown: Presumed at home")), 0, "Accommodation_Status"
    ),
    Scenario(
        "C006", one(setter(Request_Route_of_Access="Self-referral portal")), 0, "Request_Route_of_Access"
    ),
    Scenario("C007", one(setter(Event_Start_Date="2025-01-02")), 0, "Event_Start_Date"),
    Scenario("C008", one(setter(Event_Start_Date="31/02/2025")), 0, "Event_Start_Date"),
    Scenario("C009", one(setter(Event_Start_Date="01/01/1850")), 0, "Event_Start_Date"),
    Scenario("C010", one(setter(Unit_Cost="£12.50"), "Service"), 0, "Unit_Cost"),
    Scenario("C011", one(setter(Unit_Cost="12.505"), "Service"), 0, "Unit_Cost"),
    Scenario("C012", one(setter(Unit_Cost="-12.50"), "Service"), 0, "Unit_Cost"),
    Scenario("C013", carer_with_links("1.5", 1), 2, "No_of_adults_being_cared_for"),
    Scenario("C014", one(setter(NHS_Number="12345")), 0, "NHS_Number"),
    Scenario("C015", one(setter(NHS_Number="0000000000")), 0, "NHS_Number"),
    Scenario("C016", one(wrong_check_digit), 0, "NHS_Number"),
    Scenario("C018", one(setter(Postcode="NOT A PC")), 0, "Postcode"),
    Scenario("C019", one(setter(GP_Practice_Code="X1")), 0, "GP_Practice_Code"),
    Scenario(
        "C020", one(setter(Provider_CQC_Location_ID="CQC123"), "Service"), 0, "Provider_CQC_Location_ID"
    ),
    Scenario("C022", one(setter(Service_Type="Long term support: Community"), "Review"), 0, "Service_Type"),
    Scenario("C030", one(request_dates(dt.date(2025, 3, 10), dt.date(2025, 3, 2))), 0, "Event_End_Date"),
    Scenario(
        "C031",
        one(setter(Event_Start_Date="15/10/2025", Event_End_Date=""), "Service", open_service=True),
        0,
        "Event_Start_Date",
    ),
    Scenario(
        "C032",
        one(request_dates(dt.date(2024, 8, 1), dt.date(2024, 9, 1)), "Assessment"),
        0,
        "Event_End_Date",
    ),
    Scenario(
        "C033",
        one(setter(Event_Start_Date="01/01/2023", Event_End_Date="01/09/2024"), "Service"),
        0,
        "Event_End_Date",
    ),
    Scenario(
        "C034",
        one(setter(Event_Start_Date="01/01/2024", Event_End_Date="01/10/2025"), "Service"),
        0,
        "Event_End_Date",
    ),
    Scenario(
        "C036",
        one(request_dates(dt.date(2025, 3, 10), dt.date(2025, 3, 20), Date_of_Death="01/03/2025")),
        0,
        "Event_Start_Date",
    ),
    Scenario(
        "C037",
        one(request_dates(dt.date(2025, 3, 10), dt.date(2025, 3, 20), Date_of_Death="15/03/2025")),
        0,
        "Event_End_Date",
    ),
    Scenario("C038", one(setter(Date_of_Death="01/01/1930", Date_of_Birth="01/01/1940")), 0, "Date_of_Death"),
    Scenario(
        "C039",
        one(request_dates(dt.date(2025, 3, 10), dt.date(2025, 3, 20), Date_of_Birth="11/03/2025")),
        0,
        "Date_of_Birth",
    ),
    Scenario("C040", one(setter(Date_of_Birth=DOB_16)), 0, "Date_of_Birth"),
    Scenario("C041", one(setter(Date_of_Birth="01/01/1901")), 0, "Date_of_Birth"),
    Scenario("C042", one(setter(Date_of_Death="20/10/2025")), 0, "Date_of_Death"),
    Scenario("C043", one(setter(Date_of_Death="01/11/2025")), 0, "Date_of_Death"),
    Scenario("C044", association_without_links, 1, "Adult_1_Linked_Person_ID"),
    Scenario(
        "C045",
        one(
            setter(
                Delivery_Mechanism="Direct payment",
                Service_Type="Long term support: Prison",
                Unit_Cost="100.00",
                Cost_Frequency_Unit_Type="Weekly",
                Planned_units_per_week="1.00",
            ),
            "Service",
        ),
        0,
        "Delivery_Mechanism",
    ),
    Scenario("C046", carer_with_links("1", 2), 2, "No_of_adults_being_cared_for"),
    Scenario("X001", duplicate, 1, ""),
    Scenario("X002", duplicate_event, 1, ""),
    Scenario("X003", person_conflict, 1, "Gender"),
    Scenario("X004", linked_to_nobody, 1, "Adult_1_Linked_Person_ID"),
    Scenario("X005", reused_reference, 1, "Event_Reference"),
]
# Checks tested elsewhere: transport (tests/returns, bad-file corpus), file level and quarter on quarter
# below.
FILE_LEVEL = {"C017", "C021", "C035", "C047", "P001"}
COMPARE = {"Q001", "Q002", "Q003", "Q004", "Q005", "Q006", "Q007"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One return holding every scenario's block (after a few clean rows), validated once."""
    spec = load_spec()
    g = SampleGenerator(spec, seed=5)
    rows: Rows = [g.row(client_type="Service user", new_person=True) for _ in range(5)]
    where: dict[str, tuple[int, int]] = {}
    for sc in SCENARIOS:
        block = sc.build(g)
        where[sc.check_id] = (len(rows) + 2, len(block))  # first spreadsheet row of the block, its length
        rows += block
    result = validate_rows(tmp_path_factory.mktemp("scenarios"), rows, "scenarios.csv")
    return result, where


def test_every_check_has_a_scenario():
    covered = {s.check_id for s in SCENARIOS} | FILE_LEVEL | COMPARE
    for check in load_checks():
        if check.rule == "transport":
            continue
        assert check.id in covered, f"{check.id} has no test scenario"


def test_clean_rows_of_the_shared_file_have_no_problem(shared):
    result, _ = shared
    # Unverified values (lists the specification holds only in part) are reported on their first row.
    assert not [p for p in result.problems if p.row is not None and p.row <= 6 and p.check_id != "C006"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.check_id for s in SCENARIOS])
def test_check_finds_its_scenario(shared, scenario):
    result, where = shared
    first, length = where[scenario.check_id]
    expected = (first + scenario.offset, scenario.field, scenario.check_id)
    assert expected in found(result), [
        str(p) for p in result.problems if first <= (p.row or 0) < first + length
    ]
    # No other failure on the scenario's rows.
    other = [
        str(p)
        for p in result.problems
        if p.severity == "error"
        and first <= (p.row or 0) < first + length
        and (p.row, p.field, p.check_id) != expected
        and p.check_id not in scenario.also
    ]
    assert not other


def test_mandatory_field_blank_becomes_chk_minus_one(tmp_path, gen):
    rows = [gen.row(client_type="Service user", new_person=True) for _ in range(3)]
    rows[1]["Ethnicity"] = "NULL"
    rows[2]["Ethnicity"] = "   "
    result = validate_rows(tmp_path, rows, dq_out=tmp_path / "dq.parquet")
    assert {(3, "Ethnicity", "C001"), (4, "Ethnicity", "C001")} <= found(result)
    import duckdb

    codes = duckdb.sql(
        f"SELECT __row, cond_Ethnicity, chk_Ethnicity FROM '{tmp_path / 'dq.parquet'}' ORDER BY 1"
    ).fetchall()
    assert codes == [(2, 2, 1), (3, 2, -1), (4, 2, -1)]


# --- file-level checks
# ----------------------------------------------------------------------------------------


def test_c017_counts_test_range_numbers_once_for_the_file(tmp_path, gen):
    rows = [gen.row(new_person=True) for _ in range(4)]
    result = validate_rows(tmp_path, rows)
    hits = [p for p in result.problems if p.check_id == "C017"]
    assert len(hits) == 1 and hits[0].row is None and "4 rows" in hits[0].message


def test_c017_not_raised_for_numbers_outside_the_test_range(tmp_path, gen):
    rows = [gen.row(new_person=True) for _ in range(2)]
    for i, r in enumerate(rows):
        r["NHS_Number"] = make_nhs_number(100 + i, prefix="401")
    assert "C017" not in {p.check_id for p in validate_rows(tmp_path, rows).problems}


def test_c021_la_code_format(tmp_path, gen):
    rows = [gen.row(new_person=True) for _ in range(2)]
    for r in rows:
        r["LA_Code"] = "9012"
    result = validate_rows(tmp_path, rows)
    assert {(2, "LA_Code", "C021"), (3, "LA_Code", "C021")} <= found(result, "warning")
    assert result.exit_code == 0


def test_c035_period_ends_before_it_starts(tmp_path, gen):
    rows = [gen.row(new_person=True) for _ in range(2)]
    for r in rows:
        r["Reporting_Period_Start_Date"], r["Reporting_Period_End_Date"] = fmt(PERIOD_END), fmt(PERIOD_START)
    result = validate_rows(tmp_path, rows)
    assert (2, "Reporting_Period_End_Date", "C035") in found(result, "error")


def test_c047_period_not_twelve_months_to_a_quarter_end(tmp_path, gen):
    rows = [
        gen.row(client_type="Service user", event_type="Service", new_person=True, open_service=True)
        for _ in range(2)
    ]
    for r in rows:
        r["Reporting_Period_Start_Date"] = "01/01/2025"
        r["Reporting_Period_End_Date"] = "15/09/2025"
        r["Event_Start_Date"] = "01/02/2025"
    result = validate_rows(tmp_path, rows)
    hit = [p for p in result.problems if p.check_id == "C047"]
    assert len(hit) == 1 and "not a quarter end" in hit[0].message and "not 12 months" in hit[0].message


def test_p001_stated_period_wider_than_the_data(tmp_path, gen):
    rows = []
    for i in range(120):
        r = gen.row(client_type="Service user", event_type="Request", new_person=True)
        end = dt.date(2025, 7, 1) + dt.timedelta(days=i % 85)
        r["Event_Start_Date"], r["Event_End_Date"] = fmt(end - dt.timedelta(days=3)), fmt(end)
        rows.append(r)
    result = validate_rows(tmp_path, rows)
    hit = [p for p in result.problems if p.check_id == "P001"]
    assert len(hit) == 1 and "01/07/2025 to 30/09/2025" in hit[0].message
    assert result.summary["derived_period"]["start"] == "2025-07-01"


def test_p001_silent_when_the_data_cover_the_period(tmp_path, gen):
    rows = [gen.row(new_person=True) for _ in range(150)]
    result = validate_rows(tmp_path, rows)
    assert "P001" not in {p.check_id for p in result.problems}


def test_file_level_checks_run_on_other_files_too(tmp_path, gen):
    # A quarter-end period of 12 months: no C047.
    rows = [gen.row(new_person=True) for _ in range(3)]
    result = validate_return(write_rows(tmp_path / "ok.csv", rows), submission_date=SUBMITTED)
    assert "C047" not in {p.check_id for p in result.problems}


def test_blank_values_are_never_reported_as_unverified_list_values(tmp_path, gen):
    # C006 is about a value outside a list the specification holds only in part; a blank cell holds no value.
    # (An earlier scan classified the blank text itself and listed '""' as unverified in every such list.)
    spec = load_spec()
    rows = [_row(gen) for _ in range(60)]
    blanks = [c for c in spec.columns if spec.list_for(c) is not None and any(not r[c].strip() for r in rows)]
    assert blanks  # the sample leaves some list fields blank
    result = validate_rows(tmp_path, rows)
    unverified = [p for p in result.problems if p.check_id == "C006"]
    assert not [p for p in unverified if p.message.startswith('""')], [str(p) for p in unverified]


def test_t012_wording_names_the_leading_tab_or_line_break_the_reader_refuses():
    # The reader refuses "\t=..." and "\n+..." too: checks.csv (and the docs table made from it) says so.
    from ascld.quality.checks import checks_by_id
    from ascld.returns.reader import formula_problem

    t012 = checks_by_id()["T012"]
    assert formula_problem("q1.csv", 2, "Event_Description").message.startswith(t012.message)
    assert "tabs or line breaks" in t012.description, t012.description


def test_more_formula_values_than_listed_are_all_counted(tmp_path, gen):
    """T012 lists a formula value a cell, up to 1,000; the last listed line stands for the rest, and the counts
    count every value and row (700 rows with 2 formula values each: 1,400 values on 700 rows)."""
    rows = [gen.row(new_person=True) for _ in range(700)]
    for r in rows:
        r["First_Name"] = "=A1"
        r["Last_Name"] = "@SUM(A1)"
    result = validate_rows(tmp_path, rows)
    assert result.exit_code == 2
    (count,) = [c for c in result.problem_counts if c["check_id"] == "T012"]
    assert (count["count"], count["rows"]) == (1400, 700), count
    assert result.summary["totals"]["rows_with_errors"] == 700
    listed = [p for p in result.problems if p.check_id == "T012"]
    assert len(listed) == 1000
    # the 1,000th value is the second of row 501 (rows 2 to 501 hold 1,000): 400 values on 200 rows follow
    assert (listed[-1].row, listed[-1].field) == (501, "Last_Name")
    assert listed[-1].message.startswith("this value and 400 more values after it (on 200 more rows)")
    listing = result.summary["listing"]
    assert (listing["not_listed"], listing["rows_not_listed"]) == (400, 200), listing


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [
        ("Male", "", False),  # a blank value is no conflicting value
        ("Male", "NULL", False),
        ("Male", "male", False),  # the comparison ignores case and surrounding spaces
        ("Female", " Female  ", False),
        ("Male", "Female", True),
        ("Male", " female", True),
    ],
)
def test_x003_gender_compares_values_not_spellings(tmp_path, gen, first, second, conflict):
    """X003 compares a person's gender trimmed and case-folded, and blanks are not values; the scan's key for it
    must not be the raw column (SQL names are case-insensitive: a key called `gender` was the `Gender` column)."""
    a, b = _su(gen, "Request"), _su(gen, "Review")
    a["Gender"], b["Gender"] = first, second
    b.update({k: a[k] for k in ("LA_Person_Unique_Identifier", "NHS_Number", "Date_of_Birth", "Postcode")})
    result = validate_rows(tmp_path, [a, b])
    assert ((3, "Gender", "X003") in found(result)) is conflict


def test_no_scan_key_is_named_like_a_field():
    """SQL names are case-insensitive: a key named like a field (as `gender` was) reads the raw field instead."""
    from ascld.quality.scan import _key_columns

    spec = load_spec()
    fields = {c.lower() for c in spec.columns}
    keys = [k.rsplit(" AS ", 1)[1].strip('"').lower() for k in _key_columns(spec)]
    assert not [k for k in keys if k in fields]


@pytest.mark.parametrize(
    ("born", "start", "under_18"),
    [
        # 6,574 days: 17.998 by the national age (main-tables.md §0), although a calendar age of 18
        ("01/03/2005", "01/03/2023", True),
        # 6,575 days (five 29 Februaries): 18.001
        ("01/03/2006", "01/03/2024", False),
        ("02/03/2005", "01/03/2023", True),
        ("28/02/2005", "01/03/2023", False),
    ],
)
def test_c040_uses_the_national_age_at_the_event_start(tmp_path, gen, born, start, under_18):
    """C040 ages a service user as national processing does, FLOOR(DATEDIFF(DAY, dob, start) / 365.25)."""
    r = _su(gen, "Request")
    r.update(Date_of_Birth=born, Event_Start_Date=start, Event_End_Date="02/03/2025")
    result = validate_rows(tmp_path, [r])
    assert ((2, "Date_of_Birth", "C040") in found(result)) is under_18


@pytest.mark.parametrize(
    ("born", "implausible"),
    [
        ("30/09/1915", False),  # exactly 110 years before the period end (30/09/2025): not more than 110
        ("29/09/1915", True),  # one day more
        ("01/01/1915", True),  # 110 years and 9 months: an age of 110, but more than 110 years before
        ("01/10/1914", True),
    ],
)
def test_c041_more_than_110_years_before_the_period_end(tmp_path, gen, born, implausible):
    """C041 (checks.csv): a date of birth "more than 110 years before" the Reporting Period End Date, counted in
    calendar years from that date, so someone aged 110 and some months is already flagged."""
    r = _su(gen, "Request")
    r.update(Date_of_Birth=born, Date_of_Death="")
    result = validate_rows(tmp_path, [r])
    assert ((2, "Date_of_Birth", "C041") in found(result)) is implausible


def _upper(column: str) -> Callable[[dict[str, str]], None]:
    def fn(r: dict[str, str]) -> None:
        r[column] = r[column].upper()

    return fn


def _lower(column: str) -> Callable[[dict[str, str]], None]:
    def fn(r: dict[str, str]) -> None:
        r[column] = r[column].lower()

    return fn


def _trailing_space(column: str) -> Callable[[dict[str, str]], None]:
    def fn(r: dict[str, str]) -> None:
        r[column] = r[column] + " "

    return fn


def _no_nhs_number_and(change: Callable[[dict[str, str]], None]) -> Callable[[dict[str, str]], None]:
    def fn(r: dict[str, str]) -> None:
        r["NHS_Number"] = ""
        change(r)

    return fn


@pytest.mark.parametrize(
    ("event", "change", "same_event"),
    [
        ("Request", _lower("Client_Type"), True),
        ("Request", _lower("Event_Type"), True),
        ("Request", _upper("Request_Route_of_Access"), True),
        ("Request", _trailing_space("Request_Route_of_Access"), True),
        ("Assessment", _upper("Assessment_Type"), True),
        ("Service", _upper("Service_Type"), True),
        ("Service", _lower("Service_Component"), True),
        ("Request", _no_nhs_number_and(_lower("LA_Person_Unique_Identifier")), True),
        # a leading space is not ignored by SQL Server's '=', nor a different value
        ("Request", lambda r: r.update(Client_Type=" " + r["Client_Type"]), False),
        ("Service", lambda r: r.update(Service_Component=r["Service_Component"] + "x"), False),
    ],
)
def test_x002_national_event_key_ignores_case_and_trailing_spaces(tmp_path, gen, event, change, same_event):
    """The national unique-event key (main-tables.md §5.3) groups raw values under a case-insensitive collation
    that ignores trailing spaces (§0): two rows that differ only so are one event (X002)."""
    first = _su(gen, event, **({"open_service": True} if event == "Service" else {}))
    if event == "Service":
        first.update(Date_of_Death="", Event_End_Date="")
    second = dict(first, Event_Description="Second record", Event_Reference=first["Event_Reference"] + "B")
    change(second)
    if second["NHS_Number"] == "":  # both rows without an NHS number: the person is LA code + LA person ID
        first["NHS_Number"] = ""
    result = validate_rows(tmp_path, [first, second])
    assert ((3, "", "X002") in found(result, "warning")) is same_event


@pytest.mark.parametrize("blank_text", ["NULL", "null", " ", "  "])
@pytest.mark.parametrize(
    ("event", "column"),
    [("Request", "Request_Route_of_Access"), ("Request", "Client_Type"), ("Service", "Service_Component")],
)
def test_x002_blank_spellings_are_one_key_value(tmp_path, gen, event, column, blank_text):
    """A cell that is blank by the validator's test (empty, white space, the text NULL: spec/README.md §3) is
    stored as NULL (docs/national-store.md), and the national unique-event key (main-tables.md §5.3) groups
    NULL with NULL (§0): two rows that differ only in how a key field is left blank are one event (X002)."""
    first = _su(gen, event, **({"open_service": True} if event == "Service" else {}))
    if event == "Service":
        first.update(Date_of_Death="", Event_End_Date="")
    first[column] = ""
    second = dict(first, Event_Description="Second record", Event_Reference=first["Event_Reference"] + "B")
    second[column] = blank_text
    result = validate_rows(tmp_path, [first, second])
    assert (3, "", "X002") in found(result, "warning")
    assert (3, "Event_Reference", "X005") not in found(result, "warning")


@pytest.mark.parametrize(
    ("spelling", "same_person"),
    [(str.lower, True), (lambda v: v + "  ", True), (lambda v: " " + v, False), (lambda v: v + "9", False)],
)
def test_x003_x004_person_ids_compare_as_sql_server_does(tmp_path, gen, spelling, same_person):
    """LA person IDs and the linked person IDs that point at them are compared ignoring case and trailing spaces
    (main-tables.md §0; the national code joins and groups them with '='), not leading ones."""
    # b is not a service user, so the carer's link can only be to a
    a, b = _su(gen, "Request"), _row(gen, client_type="Unpaid carer", event_type="Review")
    b.update({k: a[k] for k in ("NHS_Number", "Gender", "Postcode")})
    b["LA_Person_Unique_Identifier"] = spelling(a["LA_Person_Unique_Identifier"])
    b["Date_of_Birth"] = "01/01/1950" if a["Date_of_Birth"] != "01/01/1950" else "02/01/1950"
    carer = _row(gen, client_type="Unpaid carer known by association")
    carer.update(
        Adult_1_Linked_Person_ID=spelling(a["LA_Person_Unique_Identifier"]),
        Adult_2_Linked_Person_ID="",
        Adult_3_Linked_Person_ID="",
        No_of_adults_being_cared_for="1",
    )
    result = validate_rows(tmp_path, [a, b, carer])
    assert ((3, "Date_of_Birth", "X003") in found(result)) is same_person
    assert ((4, "Adult_1_Linked_Person_ID", "X004") in found(result)) is not same_person


def _ended(gen: SampleGenerator, event: str, end: dt.date, event_type: str | None = None) -> dict[str, str]:
    r = _su(gen, event)
    r.update(Event_Start_Date=fmt(end - dt.timedelta(days=3)), Event_End_Date=fmt(end))
    if event_type is not None:
        r["Event_Type"] = event_type
    return r


def test_p001_counts_event_types_as_submitted(tmp_path, gen):
    """The derived period counts the distinct Event Type values as submitted (main-tables.md §2 step 3), case
    and trailing spaces aside (§0): a value outside the list is a type too. January has four (Request,
    Assessment, Review and 'Referral'), so February, with two, is left out (it needs 4 - 1)."""
    jan, feb = dt.date(2025, 1, 10), dt.date(2025, 2, 10)
    rows = [_ended(gen, k, jan) for k in ("Request", "Assessment", "Review") for _ in range(30)]
    rows += [_ended(gen, "Request", jan, "Referral") for _ in range(5)]
    rows += [_ended(gen, "Request", jan, "request ") for _ in range(5)]  # the same type as Request
    rows += [_ended(gen, k, feb) for k in ("Request", "Assessment") for _ in range(5)]
    result = validate_rows(tmp_path, rows)
    months = {m["month"]: (m["event_types"], m["included"]) for m in result.summary["derived_period"]["months"]}
    assert months == {"2025-01": (4, True), "2025-02": (2, False)}
    assert result.summary["derived_period"]["end"] == "2025-01-31"


def test_p001_a_blank_event_type_is_not_a_type(tmp_path, gen):
    """An Event Type of spaces or the text NULL is blank (spec/README.md §3), stored as NULL, and COUNT(DISTINCT
    Event_Type) does not count NULL (main-tables.md §2 step 3): January has three types, so February, with
    Request and a 'NULL' Event Type (one type), is left out (it needs 3 - 1)."""
    jan, feb = dt.date(2025, 1, 10), dt.date(2025, 2, 10)
    rows = [_ended(gen, k, jan) for k in ("Request", "Assessment", "Review") for _ in range(30)]
    rows += [_ended(gen, "Request", feb) for _ in range(5)]
    rows += [_ended(gen, "Request", feb, blank) for blank in ("NULL", " ", "null", "NULL", " ")]
    result = validate_rows(tmp_path, rows)
    months = {m["month"]: (m["event_types"], m["included"]) for m in result.summary["derived_period"]["months"]}
    assert months == {"2025-01": (3, True), "2025-02": (1, False)}
    assert result.summary["derived_period"]["end"] == "2025-01-31"


def test_p001_when_no_month_can_be_derived(tmp_path, gen):
    """A return whose events all stay open (or end in the month of submission) has no derived period: the
    national method can never select it (main-tables.md §2 step 6), so the stated period is wider."""
    rows = []
    for _ in range(3):
        r = _su(gen, "Service", open_service=True)
        r.update(Date_of_Death="", Event_End_Date="")
        rows.append(r)
    result = validate_rows(tmp_path, rows)
    assert result.summary["derived_period"]["start"] is None
    hit = [p for p in result.problems if p.check_id == "P001"]
    assert len(hit) == 1 and "derives no period" in hit[0].message and result.exit_code == 0
