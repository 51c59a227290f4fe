"""The demographic index is a usable national register for tracing; the ground truth maps every returned
person to their true NHS number; hospital spells carry what ASCOF 2D needs."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import duckdb
import pyarrow.parquet as pq
from synth_checker import Checker, read_csv

from ascld.identity.nhs_number import check_nhs_number
from ascld.identity.postcode import check_postcode
from ascld.identity.tracing import MATCH, install_identity_macros, load_demographic_index, trace_people

INDEX_COLUMNS = [
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "gender",
    "postcode",
    "date_of_death",
]
SPELL_CONTRACT = [
    "nhs_number",
    "la_code",
    "admission_date",
    "discharge_date",
    "discharge_method",
    "discharge_destination",
    "age_at_admission",
]


def _truth(root, table):
    return pq.read_table(root / "truth" / table).to_pylist()


def test_index_is_one_valid_row_per_number(synth_run):
    rows = read_csv(synth_run / "demographic_index.csv")
    assert list(rows[0]) == INDEX_COLUMNS
    assert pq.read_table(synth_run / "demographic_index.parquet").num_rows == len(rows)
    numbers = [r["nhs_number"] for r in rows]
    assert len(set(numbers)) == len(numbers)
    assert all(check_nhs_number(n).ok and n.startswith("999") for n in numbers)
    for r in rows:
        dt.date.fromisoformat(r["date_of_birth"])
        if r["date_of_death"]:
            assert dt.date.fromisoformat(r["date_of_death"]) > dt.date.fromisoformat(r["date_of_birth"])
        assert r["gender"] in ("Male", "Female", "Other", "Unknown")
        assert check_postcode(r["postcode"]).problem is None
    persons = _truth(synth_run, "persons")
    assert {p["nhs_number"] for p in persons} <= set(numbers)
    namesakes = Counter((r["family_name"], r["date_of_birth"], r["gender"]) for r in rows)
    assert any(n > 1 for n in namesakes.values())  # "many matches" for an alphanumeric trace


def test_returned_people_trace_to_their_true_numbers(synth_run):
    truth = {(p["la_code"], p["la_person_id"]): p for p in _truth(synth_run, "persons")}
    checker = Checker()
    people = set()
    for path in sorted((synth_run / "clean").rglob("*.csv")):
        for r in checker.check_bytes(path.read_bytes()).rows:
            people.add(
                (
                    r["LA_Code"],
                    r["LA_Person_Unique_Identifier"],
                    r["NHS_Number"],
                    r["Last_Name"],
                    r["First_Name"],
                    r["Date_of_Birth"],
                    r["Gender"],
                    r["Postcode"],
                )
            )
    assert people
    con = duckdb.connect()
    install_identity_macros(con)
    con.execute(
        "CREATE TEMP TABLE raw (la VARCHAR, pid VARCHAR, nhs VARCHAR, fam VARCHAR, given VARCHAR, "
        "dob VARCHAR, gender VARCHAR, pc VARCHAR)"
    )
    con.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?, ?)", sorted(people))
    con.execute("""CREATE TEMP VIEW keys AS SELECT la, pid, ascld_nhs_key(nhs) AS nhs_key,
                   ascld_cld_date(dob) AS dob, ascld_name_key(fam) AS fam_key,
                   ascld_name_key(given) AS given_key, ascld_gender_key(gender) AS gender_key,
                   ascld_pc_key(pc) AS pc_key FROM raw""")
    load_demographic_index(synth_run / "demographic_index.parquet").register(con, "idx")
    trace_people(con, "keys", "idx", "traced")
    rows = con.execute("""SELECT k.la, k.pid, t.traced_nhs, t.trace_outcome FROM keys k JOIN traced t
                          ON k.nhs_key IS NOT DISTINCT FROM t.nhs_key AND k.dob IS NOT DISTINCT FROM t.dob
                          AND k.fam_key IS NOT DISTINCT FROM t.fam_key
                          AND k.given_key IS NOT DISTINCT FROM t.given_key
                          AND k.gender_key IS NOT DISTINCT FROM t.gender_key
                          AND k.pc_key IS NOT DISTINCT FROM t.pc_key""").fetchall()
    matched = [r for r in rows if r[3] == MATCH]
    assert len(matched) / len(rows) > 0.9
    wrong = [r for r in matched if r[2] != truth[(r[0], r[1])]["nhs_number"]]
    assert wrong == []
    unrecorded = {(la, pid) for la, pid, nhs, *_ in people if not nhs}
    assert unrecorded and all(truth[k]["nhs_issue"] == "missing" for k in unrecorded)


def test_recorded_numbers_differ_from_the_truth_only_where_listed(synth_run):
    for p in _truth(synth_run, "persons"):
        if p["nhs_issue"] is None:
            assert p["nhs_number_recorded"] == p["nhs_number"]
        elif p["nhs_issue"] == "missing":
            assert p["nhs_number_recorded"] is None
        else:
            assert check_nhs_number(p["nhs_number_recorded"]).problem == "check_digit"


def test_hospital_spells_have_what_ascof_2d_needs(synth_run):
    table = pq.read_table(synth_run / "hospital_spells.parquet")
    assert table.column_names[: len(SPELL_CONTRACT)] == SPELL_CONTRACT
    assert {
        "spell_id",
        "admission_method",
        "management_type",
        "treatment_function_code",
        "year_of_birth",
        "month_of_birth",
        "sex",
        "lsoa11",
        "last_episode",
    } <= set(table.column_names)
    spells = table.to_pylist()
    assert len({s["spell_id"] for s in spells}) == len(spells)
    assert read_csv(synth_run / "hospital_spells.csv")[0].keys() == spells[0].keys()
    for s in spells:
        assert s["admission_date"] <= s["discharge_date"]
        assert check_nhs_number(s["nhs_number"]).ok
        assert 0 <= s["age_at_admission"] <= 110
        assert s["admission_date"].year - s["year_of_birth"] - s["age_at_admission"] in (0, 1)
        assert (s["discharge_method"] == "4") == (s["discharge_destination"] == "79")
    persons = {p["nhs_number"] for p in _truth(synth_run, "persons")}
    client_spells = [s for s in spells if s["nhs_number"] in persons]
    assert client_spells and len(client_spells) < len(spells)  # plus people unknown to social care
    # Reablement after a hospital discharge: discharge within 7 days before to 3 days after the start.
    events = [e for e in _truth(synth_run, "events") if e["service_type"] == "Short term support: ST-Max"]
    by_person = {}
    nhs_of = {(p["la_code"], p["client_id"]): p["nhs_number"] for p in _truth(synth_run, "persons")}
    for s in client_spells:
        by_person.setdefault(s["nhs_number"], []).append(s)
    linked = 0
    for e in events:
        for s in by_person.get(nhs_of[(e["la_code"], e["client_id"])], []):
            if (e["start_date"] - s["discharge_date"]).days in range(-3, 8) and s["admission_date"] <= e[
                "start_date"
            ]:
                linked += 1
                break
    assert linked / len(events) > 0.1
