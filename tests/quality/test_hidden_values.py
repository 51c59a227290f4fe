"""A shown field holding one of its row's sensitive values (a mapping that put the surname into a list field as
well, say) is given as "the value (N/A - PID)" in every output, never quoted."""

from __future__ import annotations

import datetime as dt
import json

from ascld.quality import validate_return
from ascld.quality.sample import sample_rows, write_rows

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
