"""A shown field holding one of its row's sensitive values (a mapping that put the surname into a list field as
well, say) is given as "the value (N/A - PID)" in every output, never quoted."""

from __future__ import annotations

import datetime as dt
import json

from ascld.quality import validate_return
from ascld.quality.checks import load_checks
from ascld.quality.sample import sample_rows, write_rows
from ascld.quality.scan import HIDDEN_VALUE, layout_for
from ascld.quality.validate import _connect, _scan
from ascld.returns.reader import open_return
from ascld.spec import load_spec

SUBMITTED = dt.date(2025, 10, 20)


def test_a_row_s_own_name_or_postcode_in_a_shown_field_is_not_quoted(tmp_path):
    rows = sample_rows(12, seed=31)
    rows[2]["Ethnicity"] = rows[2]["Last_Name"]  # a complete list: the value fails and would be quoted
    rows[4]["Client_Type"] = " " + rows[4]["First_Name"].upper()  # case and spaces aside
    rows[6]["Accommodation_Status"] = rows[6]["Postcode"]
    for i in (0, 1, 9):  # not anyone's details, and three people have it: still quoted
        rows[i]["Ethnicity"] = "Whte British"
    names = [rows[2]["Last_Name"], rows[4]["First_Name"], rows[6]["Postcode"]]
    result = validate_return(write_rows(tmp_path / "r.csv", rows), submission_date=SUBMITTED)
    out = result.write_outputs(tmp_path / "out")
    text = "".join(p.read_text(encoding="utf-8") for p in out.values()) + json.dumps(result.summary)
    for value in names:
        assert value not in text and value.upper() not in text
    by_row = {(p.row, p.field): p.message for p in result.problems}
    assert "the value (N/A - PID)" in by_row[(4, "Ethnicity")]
    assert "the value (N/A - PID)" in by_row[(6, "Client_Type")]
    assert "the value (N/A - PID)" in by_row[(8, "Accommodation_Status")]
    assert '"Whte British"' in by_row[(11, "Ethnicity")]


# sample_rows(12, seed=31): rows 0 and 3 are one person, 1 and 10 another, 2, 4 and 5 a third, 6, 7 and 8 a
# fourth; rows 9 and 11 each a person of their own (the spreadsheet row is the index + 2).
RARE = "the value (not shown: fewer than 3 people have it, and it could be a name)"


def _messages(tmp_path, rows):
    result = validate_return(write_rows(tmp_path / "r.csv", rows), submission_date=SUBMITTED)
    out = result.write_outputs(tmp_path / "out")
    text = "".join(p.read_text(encoding="utf-8") for p in out.values()) + json.dumps(result.summary)
    return result, text, {(p.row, p.field, p.check_id): p.message for p in result.problems}


def test_a_value_fewer_than_three_people_have_that_could_be_a_name_is_not_quoted(tmp_path):
    rows = sample_rows(12, seed=31)
    assert [r["LA_Person_Unique_Identifier"] for r in rows].count(rows[9]["LA_Person_Unique_Identifier"]) == 1
    rows[9]["Client_Type"] = "Quenby"  # a surname from another person's row, on this person's only row
    rows[11]["Event_End_Date"] = "Quenby"  # in a date field
    for i in (6, 7, 8):  # one person's three rows: still one person
        rows[i]["Employment_Status"] = "Ashcombe"
    for i in (0, 2, 11):  # three people share it: quoted, as a local code would be
        rows[i]["Accommodation_Status"] = "Local lodgings"
    rows[1]["Accommodation_Status"] = "local lodgings 2"  # a digit: no name
    rows[10]["Ethnicity"] = rows[10]["Ethnicity"].upper()  # a case variant of a list value: quoted
    rows[11]["Dementia"] = "Ashdown"  # an incomplete list's unverified value, listed once with its count
    _, text, by = _messages(tmp_path, rows)
    assert "Quenby" not in text and "Ashcombe" not in text and "Ashdown" not in text
    assert by[(13, "Dementia", "C006")].startswith(RARE)
    assert by[(11, "Client_Type", "C002")].startswith(RARE)
    assert by[(13, "Event_End_Date", "C007")].startswith(RARE)
    assert all(by[(r, "Employment_Status", "C002")].startswith(RARE) for r in (8, 9, 10))
    assert all('"Local lodgings"' in by[(r, "Accommodation_Status", "C002")] for r in (2, 4, 13))
    assert '"local lodgings 2"' in by[(3, "Accommodation_Status", "C002")]
    assert f'"{rows[10]["Ethnicity"]}"' in by[(12, "Ethnicity", "C003")]


def test_a_name_moved_into_any_shown_field_on_a_person_s_only_row_is_never_quoted(tmp_path):
    from ascld.quality.scan import value_shown
    from ascld.spec import load_spec

    spec = load_spec()
    # (Not the LA code or the stated period: a second one of those makes the file unusable, with no values shown.)
    one_per_file = ("LA_Code", "Reporting_Period_Start_Date", "Reporting_Period_End_Date")
    shown = [c for c in spec.columns if value_shown(spec, c) and c not in one_per_file]
    rows = sample_rows(len(shown) + 5, seed=43)
    for n, row in enumerate(rows):  # every row a person of its own
        row["LA_Person_Unique_Identifier"] = f"Q{n:05d}"
        row["NHS_Number"] = ""
    surnames = [r["Last_Name"] for r in rows if len(r["Last_Name"].strip()) > 2]
    names = {}
    for n, column in enumerate(shown):  # another row's surname, so not this row's own details
        names[column] = next(s for s in surnames[n:] + surnames if s != rows[n]["Last_Name"])
        rows[n][column] = names[column]
    result, text, _ = _messages(tmp_path, rows)
    assert result.exit_code == 1 and len(shown) > 20
    for column, name in names.items():
        assert f'"{name}"' not in text, column



def test_a_blank_sensitive_field_hides_nothing(tmp_path):
    """Only a sensitive field that is filled in counts: a shown cell with a problem whose value is as empty
    as a blank name of its row (both a space, or both a tab) keeps its own value in the scan, and a sensitive
    value hides the value of each cell holding it in a row with problems in several cells."""
    rows = sample_rows(12, seed=31)
    for i, space in ((2, " "), (4, "\t")):
        rows[i]["Ethnicity"] = space  # blank: missing
        rows[i]["First_Name"] = space
    rows[6]["Ethnicity"] = rows[6]["Last_Name"]
    rows[6]["Client_Type"] = rows[6]["Last_Name"].lower()
    rows[6]["Accommodation_Status"] = "Not a status"
    path = write_rows(tmp_path / "r.csv", rows)
    spec = load_spec()
    layout = layout_for(spec, load_checks())
    with open_return(path, spec=spec, temp_dir=str(tmp_path)) as ret:
        con = _connect(str(tmp_path))
        _scan(con, ret, "dq", spec, layout, SUBMITTED, str(tmp_path))
        shown = dict(
            ((row, field), value)
            for row, *values in con.execute(
                'SELECT __row, "v_Ethnicity", "v_Client_Type", "v_Accommodation_Status" FROM dq'
            ).fetchall()
            for field, value in zip(("Ethnicity", "Client_Type", "Accommodation_Status"), values, strict=True)
        )
    assert shown[(4, "Ethnicity")] == " " and shown[(6, "Ethnicity")] == "\t"
    assert shown[(8, "Ethnicity")] == shown[(8, "Client_Type")] == HIDDEN_VALUE
    assert shown[(8, "Accommodation_Status")] == "Not a status"
    result = validate_return(path, submission_date=SUBMITTED)
    by_row = {(p.row, p.field): p for p in result.problems}
    for row in (4, 6):
        assert by_row[(row, "Ethnicity")].check_id == "C001"
    for field in ("Ethnicity", "Client_Type"):
        assert "the value (N/A - PID)" in by_row[(8, field)].message
    # (one person's value that could be a name: not quoted either, test above)
    assert by_row[(8, "Accommodation_Status")].message.startswith(RARE)


def test_unverified_values_hidden_as_a_row_s_own_details_are_still_listed_once_per_value(tmp_path):
    # C006 is "reported once per field and value, on its first row, with the number of rows" (docs/validate.md,
    # checks). Values hidden as their row's own details (a surname, a postcode) are different values: each keeps
    # its own problem on its own first row, and none is counted into another's rows. Gender is an incomplete list.
    rows = sample_rows(12, seed=31)
    rows[2]["Gender"] = rows[2]["Last_Name"]
    rows[6]["Gender"] = rows[6]["Postcode"]
    rows[9]["Gender"] = rows[9]["First_Name"]
    long_a, long_b = "Q" * 80 + "A", "Q" * 80 + "B"  # the same first 80 characters, then different
    rows[0]["Gender"] = long_a
    rows[11]["Gender"] = long_b
    result, text, by = _messages(tmp_path, rows)
    c006 = {row: msg for (row, field, cid), msg in by.items() if field == "Gender" and cid == "C006"}
    assert sorted(c006) == [2, 4, 8, 11, 13]
    for row in (4, 8, 11):
        assert c006[row].startswith("the value (N/A - PID)") and "(1 rows; this is the first)" in c006[row]
    assert all("(1 rows; this is the first)" in c006[row] for row in (2, 13))
    assert rows[2]["Last_Name"] not in text and rows[9]["First_Name"] not in text
