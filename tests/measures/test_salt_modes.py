"""National and council mode run the same SALT code: a council's own return gives its national figures."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from salt_fixtures import PERIOD, cells, frame, synthetic_store
from test_salt_scenarios import STS001_ROWS

from ascld.errors import UsageError
from ascld.measures.salt import compute_salt, council_input
from ascld.measures.salt.council import RETURN_COLUMNS


def as_return(store: pa.Table) -> pd.DataFrame:
    """The council's own return for the same rows: its NHS numbers and full dates of birth (the 15th of the
    month here), no import metadata."""
    frame = store.to_pandas()
    frame["NHS_Number"] = frame.Der_NHS_Number_Traced_Pseudo
    frame["Date_of_Birth"] = [
        None if pd.isna(y) or pd.isna(m) else date(int(y), int(m), 15)
        for y, m in zip(frame.Der_Birth_Year, frame.Der_Birth_Month, strict=True)
    ]
    return frame.loc[:, list(RETURN_COLUMNS)]


def test_council_mode_reproduces_the_sts001_scenario():
    council = council_input(as_return(frame(STS001_ROWS)), period=PERIOD, la_name="Council 318")
    result = compute_salt(council, period=PERIOD, engine="duckdb", measures=["SALT STS001"])
    assert cells(result, "SALT STS001", "Total") == {"Total": 6}
    assert set(result.la_name) == {"Council 318", "England"}


@pytest.mark.slow
def test_council_mode_equals_national_mode_for_that_council():
    la = "101"
    store = synthetic_store()
    # One submission inside both windows, so the national selection and the council's own return agree.
    keep = pc.and_(
        pc.equal(store["LA_Code"], la),
        pc.equal(store["ImportDate"], pa.scalar(datetime(2024, 1, 20, 14, 30))),
    )
    single = store.filter(keep)
    national = compute_salt(single, period=PERIOD, engine="duckdb")
    council = compute_salt(
        council_input(as_return(single), period=PERIOD, la_name=f"Council {la}"),
        period=PERIOD,
        engine="duckdb",
    )
    assert len(national) > 50
    pd.testing.assert_frame_equal(national, council)


def test_council_return_with_missing_columns_is_refused():
    with pytest.raises(UsageError, match=r"`Date_of_Birth`.*`NHS_Number`"):
        council_input(pd.DataFrame({"LA_Code": ["318"]}), period=PERIOD)
