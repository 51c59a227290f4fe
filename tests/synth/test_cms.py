"""The case-management database: its schema, out-of-scope records, and the clean returns re-derived from it
with plain SQL following docs/synth.md "Extraction rules" (independently of the generator's code)."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from collections import defaultdict
from decimal import Decimal
from importlib import resources
from pathlib import Path

from synth_checker import Checker

from ascld.synth.cms import metadata

TABLES = {
    "council",
    "lookup_code",
    "gp_practice",
    "provider",
    "client",
    "client_address",
    "contact",
    "assessment",
    "service_agreement",
    "service_line",
    "service_line_cost",
    "review",
    "carer_link",
}


def _codes() -> dict[tuple[str, str], dict[str, str]]:
    path = Path(str(resources.files("ascld.synth") / "data" / "local_codes.csv"))
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["domain"], r["code"]): r for r in csv.DictReader(fh)}


def _council_db(synth_run, la):
    return sqlite3.connect(synth_run / "cms" / f"{la}.sqlite")


def test_schema_and_local_codes(synth_run, synth_config):
    assert set(metadata.tables) == TABLES
    la = synth_config.councils[0]
    with _council_db(synth_run, la) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert names == TABLES
        codes = {(d, c) for d, c in con.execute("SELECT domain, code FROM lookup_code")}
        assert (
            ("setting", "RES-LT") in codes
            and ("component", "DOM") in codes
            and ("outcome", "NFA-IA") in codes
        )
        # Records the extraction must leave out exist.
        assert (
            con.execute(
                "SELECT count(*) FROM assessment WHERE assessment_type_code IN ('DOLS','SAFEG','MCA','MHA')"
            ).fetchone()[0]
            > 0
        )
        assert con.execute("SELECT count(*) FROM contact WHERE status_code = 'CANCELLED'").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM contact WHERE contact_type_code = 'SAFEG'").fetchone()[0] > 0
        # No CLD values in the database: coded columns hold local codes only.
        values = {r[0] for r in con.execute("SELECT DISTINCT ethnicity_code FROM client")}
        assert values and all(len(v) <= 6 for v in values)


def _extract(con: sqlite3.Connection, ps: dt.date, pe: dt.date) -> dict[str, tuple]:
    """The rows a correct extraction gives, keyed by event reference (or carer id), as tuples of columns."""
    codes = _codes()

    def cld(domain, code):
        return codes[(domain, code)]["cld_value"] if code else ""

    def scope(domain, code):
        return codes[(domain, code)]["in_scope"] == "Y"

    d = lambda text: dt.date.fromisoformat(text) if text else None  # noqa: E731
    fmt = lambda day: f"{day:%d/%m/%Y}" if day else ""  # noqa: E731
    clients = {
        r[0]: r for r in con.execute("SELECT client_id, la_person_ref, nhs_number, date_of_death FROM client")
    }
    addresses = defaultdict(list)
    for cid, pc, acc, start in con.execute(
        "SELECT client_id, postcode, accommodation_code, start_date FROM client_address"
    ):
        addresses[cid].append((d(start), pc, acc))

    def person(cid, role):
        _, ref, nhs, dod = clients[cid]
        current = min(addresses[cid])
        for a in sorted(addresses[cid]):
            if a[0] <= pe:
                current = a
        death = d(dod)
        return (
            ref,
            nhs or "",
            cld("client_role", role) if role != "KBA" else cld("extract_rule", "KNOWN_BY_ASSOCIATION"),
            current[1],
            cld("accommodation", current[2]),
            fmt(death) if death and death <= pe else "",
        )

    rows: dict[str, tuple] = {}
    for cid, role, ctype, start, end, status, route, outcome, rid in con.execute(
        "SELECT client_id, client_role, contact_type_code, contact_date, completed_date, status_code, "
        "route_code, outcome_code, contact_id FROM contact"
    ):
        if status == "COMPLETE" and scope("contact_type", ctype) and ps <= d(end) <= pe:
            rows[f"C{rid}"] = (
                *person(cid, role),
                "Request",
                fmt(d(start)),
                fmt(d(end)),
                cld("outcome", outcome),
                cld("route", route),
            )
    for cid, role, atype, start, end, status, outcome, rid in con.execute(
        "SELECT client_id, client_role, assessment_type_code, start_date, end_date, status_code, "
        "outcome_code, assessment_id FROM assessment"
    ):
        if status == "COMPLETE" and scope("assessment_type", atype) and ps <= d(end) <= pe:
            rows[f"A{rid}"] = (
                *person(cid, role),
                "Assessment",
                fmt(d(start)),
                fmt(d(end)),
                cld("outcome", outcome),
                cld("assessment_type", atype),
            )
    for cid, role, rtype, start, end, status, outcome, rid in con.execute(
        "SELECT client_id, client_role, review_type_code, start_date, end_date, status_code, outcome_code, "
        "review_id FROM review"
    ):
        if status == "COMPLETE" and ps <= d(end) <= pe:
            rows[f"R{rid}"] = (
                *person(cid, role),
                "Review",
                fmt(d(start)),
                fmt(d(end)),
                cld("outcome", outcome),
                cld("review_type", rtype),
            )
    costs = defaultdict(list)
    for line_id, effective, amount in con.execute(
        "SELECT line_id, effective_from, unit_cost FROM service_line_cost"
    ):
        costs[line_id].append((d(effective), amount))
    for (
        cid,
        role,
        setting,
        delivery,
        line_id,
        component,
        start,
        end,
        status,
        reason,
        unit_type,
    ) in con.execute(
        "SELECT a.client_id, a.client_role, a.setting_code, a.delivery_code, l.line_id, l.component_code, "
        "l.start_date, l.end_date, l.status_code, l.end_reason_code, l.unit_type_code "
        "FROM service_line l JOIN service_agreement a USING (agreement_id)"
    ):
        start, end = d(start), d(end)
        if status == "CANCELLED" or start > pe or (end is not None and end < ps):
            continue
        shown = end if end is not None and end <= pe else None
        cost = ""
        if unit_type:
            as_at = shown or pe
            amount = [a for day, a in sorted(costs[line_id]) if day <= as_at] or [
                sorted(costs[line_id])[0][1]
            ]
            cost = f"{Decimal(str(amount[-1])):.2f}"
        rows[f"S{line_id}"] = (
            *person(cid, role),
            "Service",
            fmt(start),
            fmt(shown),
            cld("outcome", reason) if shown else cld("extract_rule", "OPEN_SERVICE_OUTCOME"),
            cld("setting", setting),
            cld("component", component),
            cld("delivery", delivery),
            cost,
        )
    # Carers known by association: an active link to a service user with a row, and no row of their own.
    refs = {v[0]: k for k, v in rows.items()}
    users = {v[0] for v in rows.values() if v[2] == "Service user"}
    own = {v[0] for v in rows.values() if v[2] == "Unpaid carer"}
    for carer, cared, start, end in con.execute(
        "SELECT carer_client_id, cared_for_client_id, start_date, end_date FROM carer_link"
    ):
        if d(start) <= pe and (end is None or d(end) >= ps) and clients[cared][1] in users:
            ref = clients[carer][1]
            if ref not in own and ref not in refs:
                rows[f"KBA{ref}"] = person(carer, "KBA")
    return rows


def _returned(path: Path) -> dict[str, tuple]:
    out = {}
    for r in Checker().check_bytes(path.read_bytes()).rows:
        person = (
            r["LA_Person_Unique_Identifier"],
            r["NHS_Number"],
            r["Client_Type"],
            r["Postcode"],
            r["Accommodation_Status"],
            r["Date_of_Death"],
        )
        event = (r["Event_Type"], r["Event_Start_Date"], r["Event_End_Date"], r["Event_Outcome"])
        if r["Event_Type"] == "Request":
            out[r["Event_Reference"]] = (*person, *event, r["Request_Route_of_Access"])
        elif r["Event_Type"] == "Assessment":
            out[r["Event_Reference"]] = (*person, *event, r["Assessment_Type"])
        elif r["Event_Type"] == "Review":
            out[r["Event_Reference"]] = (*person, *event, r["Review_Reason"])
        elif r["Event_Type"] == "Service":
            out[r["Event_Reference"]] = (
                *person,
                *event,
                r["Service_Type"],
                r["Service_Component"],
                r["Delivery_Mechanism"],
                r["Unit_Cost"],
            )
        else:
            out[f"KBA{r['LA_Person_Unique_Identifier']}"] = person
    return out


def test_clean_returns_equal_an_sql_extraction_of_the_database(synth_run, synth_config):
    checked = 0
    for la in synth_config.councils[:4]:
        with _council_db(synth_run, la) as con:
            for q in synth_config.quarter_list[::3]:
                path = (
                    synth_run / "clean" / la / f"{la}_CLD_{q.period_start:%Y%m%d}_{q.period_end:%Y%m%d}.csv"
                )
                expected = _extract(con, q.period_start, q.period_end)
                got = _returned(path)
                assert set(got) == set(expected), (path.name, sorted(set(got) ^ set(expected))[:5])
                bad = [k for k in got if got[k] != expected[k]]
                assert bad == [], (path.name, bad[:3], [(got[k], expected[k]) for k in bad[:2]])
                checked += len(got)
    assert checked > 500
