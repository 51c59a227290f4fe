"""The national store's pseudonymisation and derivations, through `ingest_table` on returns in DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import ingest_fixtures as fx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ascld.errors import UsageError
from ascld.identity import PseudoKey, Pseudonymiser, load_demographic_index, load_postcode_lookup
from ascld.identity.pseudonym import NHS_DOMAIN, la_person_domain
from ascld.national.ingest import ingest_table
from ascld.national.store import NationalStore

KEY = PseudoKey.from_text("5a" * 32)
OTHER_KEY = PseudoKey.from_text("a5" * 32)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture()
def world(tmp_path):
    """Two councils, each with people, a carer, an index of everyone and a postcode lookup."""
    a = fx.make_people(40, seed=1, la_code="503", start=0)
    b = fx.make_people(40, seed=2, la_code="504", start=1000)
    index = load_demographic_index(fx.write_index(tmp_path / "index.csv", a + b))
    lookup = load_postcode_lookup(fx.write_lookup(tmp_path / "lookup.csv"))
    return {"a": a, "b": b, "index": index, "lookup": lookup, "tmp": tmp_path}


def ingest(store, rows, sha, *, key=KEY, world=None, import_date=None, la_names=None):
    con = duckdb.connect()
    fx.load_rows(con, rows)
    return ingest_table(
        con, "raw", store, pseudonymiser=Pseudonymiser(key), sha256=sha, load_file_name=f"{sha}.csv",
        import_date=import_date, index=world["index"] if world else None,
        postcodes=world["lookup"] if world else None, la_names=la_names,
    )


def rows_of(store):
    con = duckdb.connect()
    store.register_duckdb(con, "cld")
    return con


def scan_store_for_identifiers(root, people):
    return fx.scan_store(root, fx.needles_of(people), {p.dob for p in people})


def test_no_identifier_from_the_inputs_anywhere_in_the_store(world):
    store = NationalStore(world["tmp"] / "store")
    people = world["a"] + world["b"]
    rows_a = fx.return_rows(world["a"], "503") + [fx.carer_row(world["a"][0], world["a"][1], "503")]
    ingest(store, rows_a, "a1", world=world)
    ingest(store, fx.return_rows(world["b"], "504"), "b1", world=world)
    ingest(store, fx.return_rows(world["a"][:10], "503", seed=9), "a2", world=world)
    assert len(list((store.root / "data").rglob("rows.parquet"))) == 3
    assert scan_store_for_identifiers(store.root, people) == []


@pytest.mark.parametrize("column,leak", [
    ("GP_Practice_Name", lambda p: f"Dr {p.last}"),
    ("Der_NHS_Number_Pseudo", lambda p: p.nhs),
    ("Event_Outcome", lambda p: p.dob.strftime("%Y%m%d")),
    ("Der_Postcode_Sector", lambda p: p.postcode),
    ("LA_Person_Unique_Identifier", lambda p: p.la_pid),
])
def test_the_scan_finds_a_planted_leak(world, column, leak):
    """Guards the test above: one raw value planted in a stored column is found."""
    store = NationalStore(world["tmp"] / "store")
    ingest(store, fx.return_rows(world["a"][:3], "503"), "a1", world=world)
    assert scan_store_for_identifiers(store.root, world["a"][:3]) == []
    f = store.row_files()[0]
    table = pq.read_table(f)
    values = table.column(column).to_pylist()
    values[1] = leak(world["a"][0])
    table = table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))
    pq.write_table(table, f)
    found = scan_store_for_identifiers(store.root, world["a"][:3])
    assert found == [f"{f.parent.name}/rows.parquet:{column}"]


def test_same_key_same_pseudonym_across_files_and_resubmissions(world):
    store = NationalStore(world["tmp"] / "store")
    person = world["a"][0]
    ingest(store, fx.return_rows(world["a"][:5], "503", seed=1), "q1", world=world)
    ingest(store, fx.return_rows(world["a"][:5], "503", seed=2), "q2", world=world)
    con = rows_of(store)
    pseudo = Pseudonymiser(KEY)
    got = con.execute(
        "SELECT DISTINCT Der_NHS_Number_Pseudo, Der_NHS_Number_Traced_Pseudo, LA_Person_Unique_Identifier "
        "FROM cld WHERE Der_NHS_Number_Pseudo = ?", [pseudo.pseudonym(person.nhs, NHS_DOMAIN)]
    ).fetchall()
    assert got == [(
        pseudo.pseudonym(person.nhs, NHS_DOMAIN), pseudo.pseudonym(person.nhs, NHS_DOMAIN),
        pseudo.pseudonym(person.la_pid.upper(), la_person_domain("503")),
    )]
    assert con.execute("SELECT count(DISTINCT ImportFileId) FROM cld").fetchall() == [(2,)]


def test_nhs_number_with_a_no_break_space_around_gets_the_same_pseudonym_and_cross_check(world):
    """The validator accepts an NHS number with white space of any kind around it (a no-break space, 0xA0 in
    Windows-1252, comes from spreadsheets); it is the same number, so the same pseudonym and a cross-check."""
    store = NationalStore(world["tmp"] / "store")
    person = world["a"][0]
    rows = fx.return_rows([person], "503", rows_per_person=3)
    rows[0]["NHS_Number"] = person.nhs + "\u00a0"
    rows[1]["NHS_Number"] = "\u00a0" + person.nhs[:3] + " " + person.nhs[3:6] + " " + person.nhs[6:]
    rows[1]["Date_of_Birth"] = "01/01/1901"  # a cross-check needs the number itself: no alphanumeric trace
    ingest(store, rows, "f", world=world)
    got = rows_of(store).execute(
        "SELECT Der_NHS_Number_Pseudo, Der_NHS_Number_Traced_Pseudo, Der_DBS_Check_Status FROM cld "
        "ORDER BY Der_Unique_Record_ID"
    ).fetchall()
    p = Pseudonymiser(KEY).pseudonym(person.nhs, NHS_DOMAIN)
    assert got == [(p, p, "Match"), (p, None, "No match"), (p, p, "Match")]


def test_another_key_gives_other_pseudonyms_and_a_store_refuses_a_second_key(world):
    rows = fx.return_rows(world["a"][:5], "503")
    s1, s2 = NationalStore(world["tmp"] / "s1"), NationalStore(world["tmp"] / "s2")
    ingest(s1, rows, "f", key=KEY)
    ingest(s2, rows, "f", key=OTHER_KEY)
    p1 = {r[0] for r in rows_of(s1).execute("SELECT Der_NHS_Number_Pseudo FROM cld").fetchall()}
    p2 = {r[0] for r in rows_of(s2).execute("SELECT Der_NHS_Number_Pseudo FROM cld").fetchall()}
    assert len(p1) == 5 and not p1 & p2
    with pytest.raises(UsageError, match="another key"):
        ingest(s1, rows, "g", key=OTHER_KEY)
    assert len(s1.imports()) == 1


def test_la_person_ids_of_two_councils_never_collide_and_carers_link(world):
    store = NationalStore(world["tmp"] / "store")
    a, b = world["a"][:3], world["b"][:3]
    # both councils use the same local ID for different people
    rows_a = fx.return_rows(a, "503", rows_per_person=1)
    rows_b = fx.return_rows(b, "504", rows_per_person=1)
    rows_a[0]["LA_Person_Unique_Identifier"] = rows_b[0]["LA_Person_Unique_Identifier"] = "1001"
    carer = fx.carer_row(a[2], a[0], "503")
    carer["Adult_1_Linked_Person_ID"] = " 1001 "
    ingest(store, [*rows_a, carer], "a", world=world)
    ingest(store, rows_b, "b", world=world)
    con = rows_of(store)
    ids = dict(con.execute(
        "SELECT LA_Code, LA_Person_Unique_Identifier FROM cld WHERE Client_Type = 'Service user' "
        "AND Der_NHS_Number_Pseudo IN (?, ?)",
        [Pseudonymiser(KEY).pseudonym(p.nhs, NHS_DOMAIN) for p in (a[0], b[0])],
    ).fetchall())
    assert ids["503"] != ids["504"] and HEX64.match(ids["503"]) and HEX64.match(ids["504"])
    linked = con.execute(
        "SELECT Adult_1_Linked_Person_ID, Der_Adult_1_Linked_Person_ID_Pseudo FROM cld "
        "WHERE Client_Type = 'Unpaid carer known by association'"
    ).fetchall()
    assert linked == [(ids["503"], ids["503"])]


def test_a_row_with_a_blank_la_code_keeps_its_councils_person_id_domain(world):
    """One council per file (spec §3): a row whose LA code is blank (a field failure, stored) is the file's
    council's, so its person IDs get that council's pseudonyms; two councils' blank rows never collide."""
    store = NationalStore(world["tmp"] / "store")
    rows_a = fx.return_rows(world["a"][:2], "503", rows_per_person=2)
    rows_b = fx.return_rows(world["b"][:2], "504", rows_per_person=2)
    for r in (*rows_a[:2], *rows_b[:2]):  # each council's first person is its "1001"
        r["LA_Person_Unique_Identifier"] = "1001"
    rows_a[1]["LA_Code"], rows_b[1]["LA_Code"] = "", "  "
    carer = fx.carer_row(world["a"][2], world["a"][0], "503")
    carer.update(LA_Code="", Adult_1_Linked_Person_ID="1001")
    ingest(store, [*rows_a, carer], "a", world=world)
    ingest(store, rows_b, "b", world=world)
    got = rows_of(store).execute(
        "SELECT ImportFileId, LA_Code, LA_Person_Unique_Identifier, Adult_1_Linked_Person_ID FROM cld "
        "ORDER BY Der_Unique_Record_ID"
    ).fetchall()
    pseudo = Pseudonymiser(KEY)
    pa_, pb = (pseudo.pseudonym("1001", la_person_domain(la)) for la in ("503", "504"))
    # The blank LA code itself is stored as the file's council too (the main tables need it on every row).
    assert [r[2] for r in got[:2]] == [pa_, pa_] and got[1][1] == "503"
    assert got[4][1] == "503" and got[4][3] == pa_  # the carer links to the cared-for person
    assert [r[2] for r in got[5:7]] == [pb, pb] and got[6][1] == "504"


def test_person_ids_lose_surrounding_spaces_only(world):
    """docs/national-store.md (Pseudonymisation): an LA person ID or linked ID is "upper case, surrounding spaces
    removed (SQL Server compares them case-insensitively)". Spaces only: SQL Server's `=` ignores trailing
    spaces, but a no-break space (U+00A0) or a tab is part of the value, so "1001" + NBSP is another ID."""
    store = NationalStore(world["tmp"] / "store")
    rows = fx.return_rows(world["a"][:4], "503", rows_per_person=1)
    for r, v in zip(rows, ["1001", " 1001  ", "1001\u00a0", "\u00a01001"], strict=True):
        r["LA_Person_Unique_Identifier"] = v
    ingest(store, rows, "s", world=world)
    got = [r[0] for r in rows_of(store).execute(
        "SELECT LA_Person_Unique_Identifier FROM cld ORDER BY Der_Unique_Record_ID").fetchall()]
    pseudo = Pseudonymiser(KEY)
    domain = la_person_domain("503")
    assert got == [pseudo.pseudonym("1001", domain), pseudo.pseudonym("1001", domain),
                   pseudo.pseudonym("1001\u00a0", domain), pseudo.pseudonym("\u00a01001", domain)]


def test_a_date_in_year_0000_is_not_a_real_date(world):
    """docs/national-store.md (Stored columns): dates are read "exactly dd/mm/yyyy ... and a real date; anything
    else ... becomes NULL", the same rule for Date of Birth. There is no year 0 in the calendar (SQL Server's DATE
    starts at 0001-01-01), so 01/01/0000 is not a real date, while 01/01/0001 is one (kept, out of range)."""
    store = NationalStore(world["tmp"] / "store")
    rows = fx.return_rows(world["a"][:2], "503", rows_per_person=1)
    rows[0].update(Date_of_Birth="01/01/0000", Date_of_Death="29/02/0000")
    rows[1].update(Date_of_Birth="01/01/0001", Date_of_Death="01/01/0001")
    ingest(store, rows, "z", world=world)
    got = rows_of(store).execute(
        "SELECT Der_Birth_Year, Der_Birth_Month, Der_Age_Reporting_Period_End_Date IS NULL, Date_of_Death "
        "FROM cld ORDER BY Der_Unique_Record_ID").fetchall()
    assert got == [(None, None, True, None), (1, 1, False, dt.date(1, 1, 1))]


def test_derived_fields(world):
    store = NationalStore(world["tmp"] / "store")
    p = world["a"][0]
    row = fx.return_rows([p], "503", rows_per_person=1)[0]
    row.update(
        Date_of_Birth="15/03/2000", Event_Start_Date="01/03/2018", Event_End_Date="31/02/2018",
        Reporting_Period_End_Date="31/03/2025", Unit_Cost=" 10.5 ", Planned_units_per_week="abc",
        Event_Description="First conversation with Mrs X", Postcode="zx1 1wt", Gender="Female",
        Date_of_Death="02/04/2025", No_of_adults_being_cared_for="2", Ethnicity="NULL",
    )
    other = dict(row, Event_Description="", Postcode="ZZ99 3VZ")
    third = dict(row, Event_Description="Home visit", Postcode="not a postcode")
    ingest(store, [row, other, third], "f", world=world, la_names={"503": "Testshire"})
    got = rows_of(store).execute(
        "SELECT Der_Birth_Year, Der_Birth_Month, Der_Age_Event_Start_Date, "
        "Der_Age_Reporting_Period_End_Date, "
        "Event_Start_Date, Event_End_Date, Unit_Cost, Planned_units_per_week, Der_Conversation, "
        "Der_Conversation_1, Der_Postcode_Sector, Der_Postcode_LSOA_Code, Date_of_Death, "
        "No_of_adults_being_cared_for, Ethnicity, LA_Name, Der_Unique_Record_ID FROM cld "
        "ORDER BY Der_Unique_Record_ID"
    ).fetchall()
    first = got[0]
    # born 2000-03 (proxy 2000-03-01) on 2018-03-01: 6574 / 365.25 = 17.998 -> 17 (main-tables.md §0)
    assert first[:4] == (2000, 3, 17, 25)
    assert first[4] == dt.date(2018, 3, 1) and first[5] is None  # 31/02 is not a date
    assert first[6] == 10.5 and first[7] is None
    assert first[8:10] == (1, 1)
    assert first[10] == "ZX1 1" and first[11] == "E01020000"
    assert first[12] == dt.date(2025, 4, 2) and first[13] == 2
    assert first[14] is None and first[15] == "Testshire"
    assert got[1][8:12] == (None, None, None, None)  # blank description; pseudo postcode has no sector
    assert got[2][8:12] == (0, 0, None, None)
    assert [r[16] for r in got] == [1, 2, 3]


def test_postcode_with_a_no_break_space_gets_its_sector_areas_and_trace(world):
    """A postcode the validator accepts with a no-break space (0xA0 in Windows-1252) in or around it is the same
    postcode: its sector, its areas from the lookup, and its agreement with the index in the trace."""
    store = NationalStore(world["tmp"] / "store")
    person = world["a"][0]
    rows = fx.return_rows([person], "503", rows_per_person=2)
    for r in rows:
        r["NHS_Number"] = ""  # traced on the details alone: the postcode decides Match or Potential match
    rows[0]["Postcode"] = person.postcode.replace(" ", "\u00a0") + "\u00a0"
    ingest(store, rows, "f", world=world)
    got = rows_of(store).execute(
        "SELECT Der_Postcode_Sector, Der_Postcode_LSOA_Code, Der_DBS_Check_Status FROM cld "
        "ORDER BY Der_Unique_Record_ID"
    ).fetchall()
    assert got[0] == got[1] and got[1][0] == person.postcode[:-2] and got[1][1] is not None
    assert got[1][2] == "Match"


def test_trace_outcomes_recorded(world):
    store = NationalStore(world["tmp"] / "store")
    a = world["a"]
    rows = fx.return_rows(a[:4], "503", rows_per_person=1)
    rows[1]["NHS_Number"] = "9990000017"  # invalid check digit, details right -> alphanumeric Match
    rows[2]["NHS_Number"] = ""
    rows[2]["Postcode"] = "ZX9 9ZZ"  # no number, postcode elsewhere -> Potential match
    rows[3]["NHS_Number"] = ""
    rows[3]["Last_Name"] = "Nobody"  # -> No match
    ingest(store, rows, "f", world=world)
    got = rows_of(store).execute(
        "SELECT Der_DBS_Check_Status, Der_NHS_Number_Pseudo IS NULL, Der_NHS_Number_Traced_Pseudo "
        "FROM cld ORDER BY Der_Unique_Record_ID"
    ).fetchall()
    pseudo = Pseudonymiser(KEY)
    assert got == [
        ("Match", False, pseudo.pseudonym(a[0].nhs, NHS_DOMAIN)),
        ("Match", True, pseudo.pseudonym(a[1].nhs, NHS_DOMAIN)),
        ("Potential match", True, None),
        ("No match", True, None),
    ]
    assert store.imports()[0].details["trace_outcomes"] == {"Match": 2, "Potential match": 1, "No match": 1}


def test_same_bytes_are_not_stored_twice_and_ids_follow_load_order(world):
    store = NationalStore(world["tmp"] / "store")
    rows = fx.return_rows(world["a"][:5], "503")
    s1, r1 = ingest(store, rows, "same", import_date="2025-04-20")
    s2, r2 = ingest(store, rows, "same")
    s3, r3 = ingest(store, fx.return_rows(world["a"][:2], "503"), "other", import_date="2025-04-20")
    assert (s1, s2, s3) == ("stored", "duplicate", "stored")
    assert r2 == r1 and [r.import_id for r in store.imports()] == ["00000001", "00000002"]
    assert (r1.first_record_id, r1.last_record_id, r3.first_record_id) == (1, 10, 11)
    # one council's two files never share an ImportDate (a submission is LA + ImportDate)
    assert (r1.import_date, r3.import_date) == ("2025-04-20T00:00:00.000", "2025-04-20T00:00:00.001")
    con = rows_of(store)
    counts = con.execute("SELECT count(*), count(DISTINCT Der_Unique_Record_ID) FROM cld").fetchall()
    assert counts == [(14, 14)]
    assert json.loads((store.root / "_imports" / "00000002.json").read_text())["sha256"] == "other"


def test_missing_optional_columns_give_nulls(world):
    """A Release 2 return may lack First/Last Name and the two name columns; the rest still stores."""
    store = NationalStore(world["tmp"] / "store")
    con = duckdb.connect()
    fx.load_rows(con, fx.return_rows(world["a"][:2], "503"))
    con.execute("ALTER TABLE raw DROP COLUMN First_Name; ALTER TABLE raw DROP COLUMN Last_Name")
    con.execute("ALTER TABLE raw DROP COLUMN GP_Practice_Name")
    status, _ = ingest_table(con, "raw", store, pseudonymiser=Pseudonymiser(KEY), sha256="x",
                             load_file_name="x.csv", index=world["index"])
    assert status == "stored"
    got = rows_of(store).execute("SELECT DISTINCT Der_DBS_Check_Status, GP_Practice_Name FROM cld").fetchall()
    assert got == [("Match", None)]  # cross-check needs no names


def test_empty_store_reads_as_empty_table_with_the_columns(tmp_path):
    store = NationalStore(tmp_path / "nothing")
    con = duckdb.connect()
    store.register_duckdb(con, "cld")
    assert con.execute("SELECT count(*) FROM cld").fetchall() == [(0,)]
    assert store.to_arrow().num_rows == 0 and "Der_NHS_Number_Pseudo" in store.to_arrow().column_names


def test_ids_are_never_reused_after_an_import_is_removed(world):
    """A retention purge removes an import's register entry; its import and record ids stay used."""
    store = NationalStore(world["tmp"] / "store")
    ingest(store, fx.return_rows(world["a"][:3], "503"), "one")
    _, second = ingest(store, fx.return_rows(world["a"][3:6], "503"), "two")
    with store.lock():
        (store.root / "_imports" / f"{second.import_id}.json").unlink()
        store.recover()
    _, third = ingest(store, fx.return_rows(world["a"][6:9], "503"), "three")
    assert third.import_id == "00000003" and third.first_record_id == second.last_record_id + 1


def test_key_pads_leave_the_connection_with_the_pseudonyms_made(world):
    """The pseudonyms are computed in DuckDB from HMAC pads of the key: the tables holding them are dropped as
    soon as the pseudonyms exist, so nothing key-derived outlives `ingest_table` in the caller's connection."""
    store = NationalStore(world["tmp"] / "store")
    con = duckdb.connect()
    fx.load_rows(con, fx.return_rows(world["a"][:5], "503") + [fx.carer_row(world["a"][0], world["a"][1], "503")])
    ingest_table(con, "raw", store, pseudonymiser=Pseudonymiser(KEY), sha256="k", load_file_name="k.csv",
                 index=world["index"], postcodes=world["lookup"])
    left = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    assert not [t for t in left if "key" in t]
    blobs = con.execute("SELECT count(*) FROM duckdb_columns() WHERE data_type = 'BLOB'").fetchone()[0]
    assert blobs == 0
