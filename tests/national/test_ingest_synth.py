"""The national store on the generator's data: councils' quarterly returns (with realistic defects) ingested
with the generator's demographic index, checked against the generator's ground truth."""

from __future__ import annotations

import csv
import datetime as dt

import duckdb
import ingest_fixtures as fx
import pyarrow.parquet as pq
import pytest

from ascld.identity import PseudoKey, Pseudonymiser
from ascld.identity.pseudonym import NHS_DOMAIN, la_person_domain
from ascld.national.ingest import ingest_files
from ascld.national.store import NationalStore
from ascld.returns.reader import open_return

runner = pytest.importorskip("ascld.synth.runner")
from ascld.synth.config import SynthConfig  # noqa: E402 - after the skip guard

KEY = PseudoKey.from_text("c4" * 32)


@pytest.fixture(scope="module")
def synth_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    runner.generate(SynthConfig(seed=11, councils=2, people_per_council=600, quarters=2), out)
    store = NationalStore(out / "store")
    with (out / "submissions.csv").open() as fh:
        submissions = list(csv.DictReader(fh))
    names = {s["la_code"]: s["la_name"] for s in submissions}
    for s in submissions:
        report = ingest_files([out / s["file"]], store, key=KEY, index=out / "demographic_index.parquet",
                              import_date=s["import_date"], la_names=names)
        assert report.outcomes[0].status == "stored", report.outcomes[0].message
    return out, store, submissions


def _rows_with_truth(out, store):
    """Every stored row beside its source row (joined by record id), with the truth table loaded."""
    con = duckdb.connect()
    store.register_duckdb(con, "cld")
    persons = str(out / "truth" / "persons" / "*.parquet")
    con.execute("CREATE TABLE truth AS SELECT * FROM read_parquet(?)", [persons])
    first = True
    for rec in store.imports():
        with open_return(out / "returns" / rec.la_code / rec.load_file_name) as ret:
            ret.to_duckdb(con, "src", check=False)
        offset = rec.first_record_id - con.execute("SELECT min(__row) FROM src").fetchall()[0][0]
        sql = (f"SELECT s.*, c.Der_DBS_Check_Status AS status, c.Der_NHS_Number_Traced_Pseudo AS traced, "
               f"c.Der_NHS_Number_Pseudo AS submitted_pseudo, c.LA_Person_Unique_Identifier AS pid_pseudo, "
               f"c.ImportFileId AS import_id "
               f"FROM src s JOIN cld c ON c.ImportFileId = '{rec.import_id}' "
               f"AND c.Der_Unique_Record_ID = s.__row + {offset}")
        con.execute(("CREATE TABLE joined AS " if first else "INSERT INTO joined ") + sql)
        first = False
    return con


def test_tracing_matches_the_generator_truth(synth_store):
    out, store, _ = synth_store
    con = _rows_with_truth(out, store)
    pseudo = Pseudonymiser(KEY)
    truth = con.execute("SELECT DISTINCT nhs_number FROM truth").fetchall()
    con.execute("CREATE TABLE pm (nhs VARCHAR, p VARCHAR)")
    con.executemany("INSERT INTO pm VALUES (?, ?)", [(n, pseudo.pseudonym(n, NHS_DOMAIN)) for (n,) in truth])
    rows = con.execute(
        """
        SELECT coalesce(j.NHS_Number = t.nhs_number
                        AND try_strptime(j.Date_of_Birth, '%d/%m/%Y')::DATE = t.date_of_birth, false)
                   AS correct,
               j.status, j.traced IS NOT DISTINCT FROM pm.p AS right_person, count(*) AS n
        FROM joined j
        JOIN truth t ON t.la_code = j.LA_Code AND t.la_person_id = j.LA_Person_Unique_Identifier
        LEFT JOIN pm ON pm.nhs = t.nhs_number
        GROUP BY ALL
        """
    ).fetchall()
    correct = [(status, right, n) for ok, status, right, n in rows if ok]
    total = sum(n for *_, n in correct)
    good = sum(n for status, right, n in correct if status == "Match" and right)
    assert total > 500
    assert good / total >= 0.99, rows
    # people whose number is missing or mis-keyed are still traced, mostly to the right person
    others = [(status, right, n) for ok, status, right, n in rows if not ok]
    assert sum(n for *_, n in others) > 0
    assert all(right for status, right, n in others if status == "Match")


def test_no_identifier_from_the_generator_reaches_the_store(synth_store):
    out, store, _ = synth_store
    con = duckdb.connect()
    persons = con.execute(
        "SELECT nhs_number, nhs_number_recorded, given_name, family_name, date_of_birth, la_person_id "
        "FROM read_parquet(?)", [str(out / "truth" / "persons" / "*.parquet")]
    ).fetchall()
    register = con.execute(
        "SELECT nhs_number, given_name, family_name, postcode FROM read_parquet(?)",
        [str(out / "demographic_index.parquet")],
    ).fetchall()
    postcodes = con.execute(
        "SELECT DISTINCT postcode FROM read_parquet(?)", [str(out / "truth" / "addresses" / "*.parquet")]
    ).fetchall()
    # NHS numbers, dates of birth, postcodes and LA person IDs are searched inside every value. The
    # generator's names are ordinary words ("White", "Young", "Hill") that legitimately occur inside list
    # values and organisation names, so a single name counts as a leak when it is a whole value, and a full
    # name ("Given Family" or "Family, Given") when it occurs anywhere.
    needles: set[str] = set()
    names: set[str] = set()
    dobs: set[dt.date] = set()
    for nhs, recorded, given, family, dob, pid in persons:
        needles |= {nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", recorded or "", pid, *fx.dob_formats(dob),
                    f"{given} {family}", f"{family}, {given}"}
        names |= {given, family}
        dobs.add(dob)
    for nhs, given, family, pc in register:
        needles |= {nhs, pc or "", (pc or "").replace(" ", ""), f"{given} {family}", f"{family}, {given}"}
        names |= {given, family}
    for (pc,) in postcodes:
        needles |= {pc, pc.replace(" ", "")}
    assert fx.scan_store(store.root, {n.upper() for n in needles if n}, dobs) == []
    values: set[str] = set()
    for f in (store.root / "data").rglob("*.parquet"):
        table = pq.read_table(f)
        for name in table.column_names:
            column = table.column(name).unique().to_pylist()
            values |= {str(v).strip().upper() for v in column if v is not None}
    assert not values & {n.upper() for n in names}


def test_pseudonyms_stable_across_quarters_and_distinct_across_councils(synth_store):
    out, store, submissions = synth_store
    con = _rows_with_truth(out, store)
    pseudo = Pseudonymiser(KEY)
    # every stored person pseudonym is the documented HMAC of the council's LA person ID
    pairs = con.execute(
        "SELECT DISTINCT LA_Code, LA_Person_Unique_Identifier, pid_pseudo FROM joined "
        "WHERE LA_Person_Unique_Identifier IS NOT NULL AND trim(LA_Person_Unique_Identifier) <> ''"
    ).fetchall()
    assert pairs
    for la, pid, p in pairs:
        assert p == pseudo.pseudonym(pid.strip().upper(), la_person_domain(la))
    # one pseudonym per (council, person) across every quarter's file, and never shared between councils
    by_person = con.execute(
        "SELECT LA_Code, LA_Person_Unique_Identifier, count(DISTINCT pid_pseudo), count(DISTINCT import_id) "
        "FROM joined WHERE pid_pseudo IS NOT NULL GROUP BY 1, 2"
    ).fetchall()
    assert all(n_pseudo == 1 for *_, n_pseudo, _ in by_person)
    assert any(n_files > 1 for *_, n_files in by_person)
    shared = con.execute(
        "SELECT pid_pseudo FROM joined WHERE pid_pseudo IS NOT NULL GROUP BY 1 "
        "HAVING count(DISTINCT LA_Code) > 1"
    ).fetchall()
    assert shared == []
    # the submitted NHS pseudonym of a person is the same in every file of every council that sends it
    nhs = con.execute(
        "SELECT NHS_Number, count(DISTINCT submitted_pseudo) FROM joined WHERE submitted_pseudo IS NOT NULL "
        "GROUP BY 1"
    ).fetchall()
    assert nhs and all(n == 1 for _, n in nhs)
    assert {s["la_code"] for s in submissions} == {r.la_code for r in store.imports()}
