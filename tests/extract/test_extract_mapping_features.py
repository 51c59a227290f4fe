"""Mapping features beyond the example: `as_is` maps, defaults, `(blank)`, per-section value maps, period
parameters in a query. Each is checked against the generator's return with the expected change applied."""

from __future__ import annotations

import csv
from pathlib import Path

from extract_support import read_return, write_mapping

from ascld.extract import extract_return
from ascld.spec import load_spec
from ascld.synth.reference import DATA

COLUMNS = {c: i for i, c in enumerate(load_spec().columns)}


def _run(council, text: str, tmp_path: Path) -> list[tuple[str, ...]]:
    start, end = council.periods[-1]
    result = extract_return(
        council.url, write_mapping(tmp_path, text), start, end, tmp_path / "r.csv", validate=False
    )
    return sorted(read_return(result.path))


def _expected(council, change=None) -> list[tuple[str, ...]]:
    rows = read_return(council.clean[council.periods[-1]])
    return sorted(tuple(change(list(r))) if change else r for r in rows)


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_as_is_map_takes_release_2_values_from_the_source(synth_sqlite, mapping_text, tmp_path) -> None:
    text = _replace_once(
        mapping_text,
        "c.gender_code                 AS gender,",
        "CASE c.gender_code WHEN 'M' THEN 'Male' WHEN 'F' THEN 'Female' WHEN 'O' THEN 'Other' "
        "ELSE 'Unknown' END AS gender,",
    )
    start = text.index("  Gender:")
    end = text.index("  Ethnicity:")
    text = text[:start] + "  Gender: as_is\n" + text[end:]
    assert _run(synth_sqlite, text, tmp_path) == _expected(synth_sqlite)


def test_default_fills_an_absent_column(synth_sqlite, mapping_text, tmp_path) -> None:
    text = _replace_once(mapping_text, "           c.has_carer_code              AS has_unpaid_carer,\n", "")
    text += '\ndefaults:\n  Has_Unpaid_Carer: "Unknown"\n'

    def change(row: list[str]) -> list[str]:
        row[COLUMNS["Has_Unpaid_Carer"]] = "Unknown"
        return row

    assert _run(synth_sqlite, text, tmp_path) == _expected(synth_sqlite, change)


def test_blank_target_writes_an_empty_cell(synth_sqlite, mapping_text, tmp_path) -> None:
    text = _replace_once(
        mapping_text,
        '  Has_Unpaid_Carer:  # lookup_code domain has_carer\n    Y: "Yes"\n    N: "No"\n    U: "Unknown"\n',
        '  Has_Unpaid_Carer:\n    Y: "Yes"\n    N: "No"\n    U: (blank)\n',
    )

    def change(row: list[str]) -> list[str]:
        if row[COLUMNS["Has_Unpaid_Carer"]] == "Unknown":
            row[COLUMNS["Has_Unpaid_Carer"]] = ""
        return row

    assert _run(synth_sqlite, text, tmp_path) == _expected(synth_sqlite, change)


def test_section_value_map_replaces_the_top_level_one_for_that_section(
    synth_sqlite, mapping_text, tmp_path
) -> None:
    with (DATA / "local_codes.csv").open(encoding="utf-8", newline="") as fh:
        outcomes = {r["code"]: r["cld_value"] for r in csv.DictReader(fh) if r["domain"] == "outcome"}
    outcomes["NFA-IA"] = "NFA: Other"
    section_map = "  values:\n    Event_Outcome:\n" + "".join(
        f'      {k}: "{v}"\n' for k, v in outcomes.items()
    )
    text = _replace_once(
        mapping_text,
        "  out_of_scope:\n    contact_type:\n",
        section_map + "  out_of_scope:\n    contact_type:\n",
    )

    def change(row: list[str]) -> list[str]:
        if (
            row[COLUMNS["Event_Type"]] == "Request"
            and row[COLUMNS["Event_Outcome"]] == "NFA: Information and advice or signposting"
        ):
            row[COLUMNS["Event_Outcome"]] = "NFA: Other"
        return row

    got = _run(synth_sqlite, text, tmp_path)
    assert got == _expected(synth_sqlite, change)
    assert got != _expected(synth_sqlite)  # the change touched some rows


def test_queries_may_use_the_period(synth_sqlite, mapping_text, tmp_path) -> None:
    text = _replace_once(
        mapping_text,
        "    FROM client_address\n",
        "    FROM client_address\n    WHERE start_date <= :period_end OR start_date >= :period_start\n",
    )
    assert _run(synth_sqlite, text, tmp_path) == _expected(synth_sqlite)


def test_client_type_default_fills_only_the_client_type(synth_sqlite, mapping_text, tmp_path) -> None:
    """A section whose query has no client_type column takes the Client Type from its default: it sets that
    cell (and the person fields for that client type), and no other."""
    text = _replace_once(
        mapping_text, "           t.client_role                               AS client_type,\n", ""
    )
    text = _replace_once(
        text,
        "  in_scope:\n    contact_type: [CONTACT, CONV1]",
        '  defaults:\n    Client_Type: "Service user"\n  in_scope:\n    contact_type: [CONTACT, CONV1]',
    )
    got = _run(synth_sqlite, text, tmp_path)
    requests = [r for r in got if r[COLUMNS["Event_Type"]] == "Request"]
    assert requests and {r[COLUMNS["Client_Type"]] for r in requests} == {"Service user"}
    # Every cell of the row outside the person's is the generator's for the same request.
    expected = {r[COLUMNS["Event_Reference"]]: r for r in _expected(synth_sqlite)}
    events = slice(COLUMNS["Event_Type"], None)
    carer_block = slice(COLUMNS["Total_Hrs_Caring_per_week"], COLUMNS["Adult_3_Linked_Person_ID"] + 1)
    for r in requests:
        want = list(expected[r[COLUMNS["Event_Reference"]]])
        want[carer_block] = r[carer_block]  # a carer's request is now a service user's: no carer block
        assert r[events] == tuple(want[events])
