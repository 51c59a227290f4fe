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
    rows[8]["Ethnicity"] = "Whte British"  # not anyone's details: still quoted
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
    assert '"Whte British"' in by_row[(10, "Ethnicity")]



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
    assert '"Not a status"' in by_row[(8, "Accommodation_Status")].message
