"""A mapping that cannot be used fails with `<file>, line <n>: what is wrong. what to do.` and no file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from extract_support import line_of, write_mapping

from ascld.extract import MappingError, extract_return, load_mapping


def _extract_fails(council, mapping: Path, out: Path) -> MappingError:
    start, end = council.periods[-1]
    out.mkdir(exist_ok=True)
    with pytest.raises(MappingError) as caught:
        extract_return(council.url, mapping, start, end, out / "return.csv", validate=False)
    assert list(out.iterdir()) == [], "a failed extract left a file behind"
    return caught.value


def _remove_block(text: str, first: str, next_: str) -> str:
    lines = text.splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if line.startswith(first))
    j = next(k for k in range(i + 1, len(lines)) if lines[k].startswith(next_))
    return "".join(lines[:i] + lines[j:])


def test_missing_value_map_names_the_query_line_and_what_to_add(synth_sqlite, mapping_text, tmp_path) -> None:
    text = _remove_block(mapping_text, "  Gender:", "  Ethnicity:")
    mapping = write_mapping(tmp_path, text)
    err = _extract_fails(synth_sqlite, mapping, tmp_path / "out")
    line = line_of(text, "sql:", after="people:")
    message = str(err)
    assert (
        f"mapping.yaml, line {line}: the people query returns gender (Gender, a coded field) but the mapping "
        "has no value map for Gender." in message
    )
    assert "Add `Gender:` with one `LOCAL CODE: Release 2 value` per line under `values:`" in message
    assert len(err.problems) == 1


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_bad_query_names_the_sql_line_and_the_database_error(
    backend, request, mapping_text, tmp_path
) -> None:
    council = request.getfixturevalue("synth_sqlite" if backend == "sqlite" else "synth_postgres")
    text = mapping_text.replace("FROM review r", "FROM reviewz r")
    mapping = write_mapping(tmp_path, text)
    err = _extract_fails(council, mapping, tmp_path / "out")
    line = line_of(text, "sql:", after="reviews:")
    (problem,) = err.problems
    assert problem.line == line
    assert str(problem).startswith(f"mapping.yaml, line {line}: the reviews query failed on the source: ")
    assert "reviewz" in problem.message  # the database's own words: no such table / relation does not exist
    assert "Fix the SQL under reviews.sql" in problem.hint
    assert "[SQL:" not in str(problem)  # SQLAlchemy's echo of the statement and parameters is left out


def test_unknown_target_value_names_its_line_and_suggests_the_list_value(mapping_text, tmp_path) -> None:
    text = mapping_text.replace('M: "Male"', 'M: "Mael"')
    mapping = write_mapping(tmp_path, text)
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping)
    line = line_of(text, 'M: "Mael"')
    (problem,) = caught.value.problems
    assert str(problem).startswith(
        f'mapping.yaml, line {line}: values: Gender code `M` maps to "Mael", which is not a Release 2 Gender '
        "value."
    )
    assert 'Did you mean "Male"?' in problem.hint


def test_unknown_target_value_stops_extract_before_anything_is_written(
    synth_sqlite, mapping_text, tmp_path
) -> None:
    text = mapping_text.replace('FSC:   "Fully social care funded"', 'FSC:   "Council funded"')
    assert text != mapping_text
    err = _extract_fails(synth_sqlite, write_mapping(tmp_path, text), tmp_path / "out")
    assert f"line {line_of(text, 'Council funded')}:" in str(err)


def test_every_problem_is_reported_at_once(mapping_text, tmp_path) -> None:
    text = mapping_text.replace('M: "Male"', 'M: "Mael"').replace('F: "Female"', 'F: "Femal"')
    text = text.replace("\nascld_mapping: 1\n", "\nascld_mapping: 1\nreveiws: {}\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, text))
    lines = [p.line for p in caught.value.problems]
    assert lines == sorted(lines) and len(lines) == 3
    assert "Did you mean `reviews`?" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "needle", "expected"),
    [
        (
            ("CANCELLED: cancelled", "CANCELLED: withdrawn"),
            "CANCELLED: withdrawn",
            "is not a status ascld knows for requests",
        ),
        (
            ('SU:    "Service user"', 'SU:    "Unpaid carer known by association"'),
            'SU:    "Unpaid carer known',
            "which an event row cannot carry",
        ),
        (
            ("  Gender:  # lookup_code domain gender", '  NHS_Number:\n    X: "1"\n  Gender:'),
            "NHS_Number:",
            "NHS_Number is not a coded field",
        ),
        (
            ('    U: "Unknown"\n  Ethnicity', '    U: "Unknown"\n    M: "Male"\n  Ethnicity'),
            '    M: "Male"',
            "appears twice in the same block",
        ),
        (
            ("SAFEG: Safeguarding concern - not a request", "CONTACT: Safeguarding concern - not a request"),
            "CONTACT: Safeguarding",
            "both in and out of scope",
        ),
        (  # a default goes into the file as it is: it must be fit for it
            ("ascld_mapping: 1\n", 'ascld_mapping: 1\ndefaults:\n  GP_Practice_Name: "=HYPERLINK(1)"\n'),
            "GP_Practice_Name:",
            "starts like a spreadsheet formula",
        ),
        (
            ("ascld_mapping: 1\n", 'ascld_mapping: 1\ndefaults:\n  GP_Practice_Name: "Łódź surgery"\n'),
            "GP_Practice_Name:",
            "characters Windows-1252 cannot hold",
        ),
    ],
)
def test_mapping_mistakes_name_their_line(mapping_text, tmp_path, change, needle, expected) -> None:
    old, new = change
    assert old in mapping_text
    text = mapping_text.replace(old, new, 1)
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, text))
    # For the duplicate key the problem is on its second occurrence.
    after = '    U: "Unknown"' if needle == '    M: "Male"' else None
    line = line_of(text, needle, after=after) if after else line_of(text, needle)
    assert any(p.line == line and expected in p.message for p in caught.value.problems), str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "expected", "after"),
    [
        (
            "c.client_id                   AS person_key,",
            "c.client_id AS client_key,",
            "the people query has no person_key column",
            "people:",
        ),
        (
            "c.surname                     AS last_name,",
            "c.surname AS last_nme,",
            "returns a column `last_nme` ascld does not use",
            "people:",
        ),
        (
            "t.outcome_code                              AS event_outcome,",
            "t.outcome_code AS event_outcome, t.contact_date AS reporting_period_start_date,",
            "ascld fills Reporting_Period_Start_Date from the --period option",
            "requests:",
        ),
        (  # SQLite names the second one `last_name:1`, which is not a column the mapping wrote
            "c.surname                     AS last_name,",
            "c.surname AS last_name, c.forename AS LAST_NAME,",
            "the people query returns the column last_name twice",
            "people:",
        ),
        (
            "FROM carer_link",
            "FROM carer_link WHERE start_date > :since",
            "Only :period_start and :period_end are supplied",
            "carer_links:",
        ),
        (
            "           s.status_code                               AS status,\n",
            "",
            "services.status is given but the query returns no status column",
            None,
        ),
    ],
)
def test_source_checks_name_the_query_line(
    synth_sqlite, mapping_text, tmp_path, old, new, expected, after
) -> None:
    assert old in mapping_text
    text = mapping_text.replace(old, new, 1)
    err = _extract_fails(synth_sqlite, write_mapping(tmp_path, text), tmp_path / "out")
    hit = [p for p in err.problems if expected in str(p)]
    assert hit, str(err)
    if after is not None:
        assert hit[0].line == line_of(text, "sql:", after=after)
    else:
        assert hit[0].line == line_of(text, "status:", after="services:")


def test_yaml_syntax_error_gives_the_line(mapping_text, tmp_path) -> None:
    text = mapping_text.replace('    F: "Female"', '    F: "Female\n')
    with pytest.raises(MappingError) as caught:
        load_mapping(write_mapping(tmp_path, text))
    assert re.match(r"mapping\.yaml, line \d+: not valid YAML", str(caught.value))


def test_example_mapping_loads_clean() -> None:
    from ascld.extract import example_mapping_path

    mapping = load_mapping(example_mapping_path())
    assert set(mapping.sections) == {
        "people",
        "addresses",
        "requests",
        "assessments",
        "services",
        "reviews",
        "service_costs",
        "carer_links",
    }
