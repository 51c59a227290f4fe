"""Quarter on quarter (--previous): each Q check on a pair of small returns."""

from __future__ import annotations

from validate_helpers import found, validate_rows

from ascld.quality.sample import write_rows


def _pair(gen, n=12):
    rows = [gen.row(client_type="Service user", new_person=True) for _ in range(n)]
    return rows, [dict(r) for r in rows]


def _ids(result, check):
    return [p for p in result.problems if p.check_id == check]


def test_identical_returns_give_no_comparison_problem(tmp_path, gen):
    prev, cur = _pair(gen)
    result = validate_rows(tmp_path, cur, previous=write_rows(tmp_path / "prev.csv", prev))
    assert not [p for p in result.problems if p.check_id.startswith("Q")]
    assert result.summary["comparison"]["events_disappeared"] == 0


def test_q001_events_that_disappeared(tmp_path, gen):
    prev, cur = _pair(gen)
    gone = gen.row(client_type="Service user", event_type="Request", new_person=True)
    prev.append(gone)
    result = validate_rows(tmp_path, cur, previous=write_rows(tmp_path / "prev.csv", prev))
    hits = _ids(result, "Q001")
    assert len(hits) == 1 and "1 (e.g. rows 14 of prev.csv)" in hits[0].message
    assert result.exit_code == 0


def test_q002_service_start_reset_to_the_financial_year(tmp_path, gen):
    service = gen.row(client_type="Service user", event_type="Service", new_person=True, open_service=True)
    service["Event_Start_Date"] = "01/05/2023"
    reset = dict(service, Event_Start_Date="01/04/2025")
    result = validate_rows(tmp_path, [reset], previous=write_rows(tmp_path / "prev.csv", [service]))
    assert (2, "Event_Start_Date", "Q002") in found(result, "warning")


def test_q003_open_services_missing(tmp_path, gen):
    prev, cur = _pair(gen, 4)
    prev.append(gen.row(client_type="Service user", event_type="Service", new_person=True, open_service=True))
    result = validate_rows(tmp_path, cur, previous=write_rows(tmp_path / "prev.csv", prev))
    assert len(_ids(result, "Q003")) == 1 and result.summary["comparison"]["open_services_missing"] == 1


def test_q004_person_details_changed(tmp_path, gen):
    prev, cur = _pair(gen, 3)
    cur[1]["Gender"] = "Female" if cur[1]["Gender"] == "Male" else "Male"
    result = validate_rows(tmp_path, cur, previous=write_rows(tmp_path / "prev.csv", prev))
    assert (3, "Gender", "Q004") in found(result, "warning")


def test_q005_rows_by_event_type_changed(tmp_path, gen):
    prev = [gen.row(client_type="Service user", event_type="Request", new_person=True) for _ in range(8)]
    cur = prev[:4]
    result = validate_rows(tmp_path, cur, previous=write_rows(tmp_path / "prev.csv", prev))
    hits = _ids(result, "Q005")
    assert len(hits) == 1 and "Request: 4 rows now against 8" in hits[0].message and "-50%" in hits[0].message
    by_type = {r["event_type"]: r for r in result.summary["comparison"]["rows_by_event_type"]}
    assert by_type["Request"] == {"event_type": "Request", "current": 4, "previous": 8}


def test_q006_suspected_partial_file(tmp_path, gen):
    prev = [gen.row(new_person=True) for _ in range(20)]
    result = validate_rows(tmp_path, prev[:5], previous=write_rows(tmp_path / "prev.csv", prev))
    hits = _ids(result, "Q006")
    assert len(hits) == 1 and "5 rows against 20" in hits[0].message


def test_q007_previous_return_unusable(tmp_path, gen):
    bad = tmp_path / "prev.csv"
    bad.write_bytes(b"\xef\xbb\xbfnot a return")
    result = validate_rows(tmp_path, [gen.row(new_person=True)], previous=bad)
    assert len(_ids(result, "Q007")) == 1 and result.summary["comparison"] is None and result.exit_code == 0


def test_q001_q003_match_events_and_services_case_insensitively(tmp_path, gen):
    """An open service whose Service Type is now written in capitals is the same event under the national
    unique-event key (main-tables.md §0, §5.3) and the same service: neither disappeared nor missing."""
    prev, cur = _pair(gen, 4)
    service = gen.row(client_type="Service user", event_type="Service", new_person=True, open_service=True)
    service.update(Date_of_Death="", Event_End_Date="")
    prev.append(service)
    cur.append(dict(service, Service_Type=service["Service_Type"].upper()))
    result = validate_rows(tmp_path, cur, previous=write_rows(tmp_path / "prev.csv", prev))
    assert not _ids(result, "Q001") and not _ids(result, "Q003")
    assert result.summary["comparison"]["open_services_missing"] == 0


def test_q004_matches_people_case_insensitively(tmp_path, gen):
    """The same LA person ID in other capitals is the same person (main-tables.md §0): a changed gender is
    reported."""
    prev, cur = _pair(gen, 3)
    cur[1]["Gender"] = "Female" if cur[1]["Gender"] == "Male" else "Male"
    cur[1]["LA_Person_Unique_Identifier"] = cur[1]["LA_Person_Unique_Identifier"].lower()
    result = validate_rows(tmp_path, cur, previous=write_rows(tmp_path / "prev.csv", prev))
    assert (3, "Gender", "Q004") in found(result, "warning")
