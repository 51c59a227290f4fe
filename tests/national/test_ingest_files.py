"""`ingest_files` and `ascld national ingest`: validation first, refusal, DQ codes, idempotency, keys."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import duckdb
import ingest_fixtures as fx
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.errors import UsageError
from ascld.identity import PseudoKey, PseudoKeyError
from ascld.identity.pseudonym import KEY_ENV, KEY_FILE_ENV
from ascld.national.ingest import PAUSE_ENV, PAUSE_FILE_ENV, ingest_files
from ascld.national.store import NationalStore
from ascld.spec import load_spec

KEY = PseudoKey.from_text("7e" * 32)


@pytest.fixture()
def files(tmp_path):
    a = fx.make_people(12, seed=3, la_code="503")
    b = fx.make_people(8, seed=4, la_code="504", start=500)
    rows_a = fx.return_rows(a, "503")
    rows_a[0]["NHS_Number"] = "9990000017"  # a field failure: kept, with its DQ code
    return {
        "a": fx.write_return_csv(tmp_path / "la503.csv", rows_a),
        "b": fx.write_return_csv(tmp_path / "la504.csv", fx.return_rows(b, "504")),
        "index": fx.write_index(tmp_path / "index.csv", a + b),
        "people": a + b,
        "tmp": tmp_path,
    }


def test_files_are_stored_with_their_dq_codes(files):
    store = NationalStore(files["tmp"] / "store")
    report = ingest_files([files["a"], files["b"]], store, key=KEY, index=files["index"],
                          import_date="2025-04-20", la_names={"503": "Northam"})
    assert [o.status for o in report.outcomes] == ["stored", "stored"] and report.exit_code == 0
    recs = store.imports()
    assert [(r.import_id, r.la_code, r.load_file_name) for r in recs] == [
        ("00000001", "503", "la503.csv"), ("00000002", "504", "la504.csv")]
    dq = pq.read_table(store.root / recs[0].dq_file)
    spec_cols = load_spec().columns
    assert {f"chk_{c}" for c in spec_cols} | {f"cond_{c}" for c in spec_cols} <= set(dq.column_names)
    con = duckdb.connect()
    store.register_duckdb(con, "cld")
    store.register_duckdb(con, "dq", dq=True)
    # the row with the bad check digit keeps a failing chk_ code, joined by record id
    got = con.execute(
        "SELECT d.chk_NHS_Number, c.Der_NHS_Number_Pseudo, c.Der_DBS_Check_Status, c.LA_Name FROM cld c "
        "JOIN dq d USING (Der_Unique_Record_ID) WHERE c.Der_Unique_Record_ID = 1"
    ).fetchall()
    assert got[0][0] < 0 and got[0][1] is None and got[0][2] == "Match" and got[0][3] == "Northam"
    n_dq, n_rows = (con.execute(f"SELECT count(*) FROM {t}").fetchall() for t in ("dq", "cld"))
    assert n_dq == n_rows
    assert recs[0].details["validation_exit_code"] == 1


def test_a_file_with_transport_failures_is_refused_and_nothing_is_stored(files):
    store = NationalStore(files["tmp"] / "store")
    bad = files["tmp"] / "bad.csv"
    text = files["a"].read_text(encoding="cp1252").replace("LA Code", "LA code", 1)
    bad.write_text(text, encoding="cp1252")
    reports = files["tmp"] / "reports"
    report = ingest_files([bad, files["b"]], store, key=KEY, report_dir=reports)
    assert [o.status for o in report.outcomes] == ["refused", "stored"] and report.exit_code == 1
    assert [r.load_file_name for r in store.imports()] == ["la504.csv"]
    assert (reports / "bad.csv.report" / "summary.json").exists()
    assert list((store.root / "_tmp").iterdir()) == []
    assert len(list((store.root / "data").glob("*/*"))) == 1
    for p in files["people"]:  # the refusal message never repeats identifying values
        assert p.nhs not in report.outcomes[0].message and p.last not in report.outcomes[0].message


def test_same_bytes_recognised_across_runs_and_names(files):
    store = NationalStore(files["tmp"] / "store")
    ingest_files([files["a"]], store, key=KEY)
    copy = files["tmp"] / "renamed.csv"
    copy.write_bytes(files["a"].read_bytes())
    report = ingest_files([copy, files["a"]], store, key=KEY)
    assert [o.status for o in report.outcomes] == ["duplicate", "duplicate"]
    assert len(store.imports()) == 1


def test_no_key_means_nothing_is_read_or_written(files, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    with pytest.raises(PseudoKeyError):
        ingest_files([files["a"]], files["tmp"] / "store")
    assert not (files["tmp"] / "store").exists()


def test_key_file_inside_the_store_is_refused(files):
    store = files["tmp"] / "store"
    store.mkdir()
    key_file = store / "key.txt"
    key_file.write_text("ab" * 32)
    with pytest.raises(UsageError, match="keys never sit beside the data"):
        ingest_files([files["a"]], store, key_file=key_file)


def test_the_key_is_never_written_into_the_store(files, monkeypatch):
    hex_key = "3c" * 32
    monkeypatch.setenv(KEY_ENV, hex_key)
    store = files["tmp"] / "store"
    ingest_files([files["a"]], store, index=files["index"])
    for path in store.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert hex_key.encode() not in data and bytes.fromhex(hex_key) not in data, path


# ---- command line ---------------------------------------------------------------------------------------

def test_cli_ingest_exit_codes_and_messages(files, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "5d" * 32)
    runner = CliRunner()
    store = files["tmp"] / "store"
    names = files["tmp"] / "names.csv"
    names.write_text("LA_Code,LA_Name\n503,Northam\n")
    args = ["national", "ingest", str(files["a"]), str(files["b"]), "--store", str(store), "--index",
            str(files["index"]), "--import-date", "2025-04-20T09:30:00", "--la-names", str(names)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "stored as import 00000001" in result.output
    assert "2 stored, 0 already present, 0 refused" in result.output
    for p in files["people"]:
        assert p.nhs not in result.output and p.last not in result.output and p.postcode not in result.output
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "0 stored, 2 already present" in again.output
    bad = files["tmp"] / "empty.csv"
    bad.write_bytes(b"")
    refused = runner.invoke(cli, ["national", "ingest", str(bad), "--store", str(store)])
    assert refused.exit_code == 1 and "refused, nothing stored" in refused.output
    # the reason itself is on the line, not only its check id
    assert "(T001). First: empty.csv: " in refused.output and "[T001]" in refused.output
    assert (files["tmp"] / "ingest-reports" / "empty.csv.report").is_dir()
    assert NationalStore(store).imports()[0].import_date == "2025-04-20T09:30:00.000"


def test_cli_refuses_to_run_without_a_key(files, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    args = ["national", "ingest", str(files["a"]), "--store", str(files["tmp"] / "s")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "no pseudonymisation key" in result.output
    assert not (files["tmp"] / "s").exists()


def test_cli_new_key_file(files, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    key_file = files["tmp"] / "keys" / "national.key"
    key_file.parent.mkdir()
    store = files["tmp"] / "store"
    runner = CliRunner()
    result = runner.invoke(cli, ["national", "ingest", str(files["a"]), "--store", str(store),
                                 "--new-key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert "Created a new pseudonymisation key" in result.output
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # the store remembers which key made it: a different key is refused, the same key accepted
    other = runner.invoke(cli, ["national", "ingest", str(files["b"]), "--store", str(store),
                                "--new-key-file", str(files["tmp"] / "other.key")])
    assert other.exit_code == 2 and "another key" in other.output
    same = runner.invoke(cli, ["national", "ingest", str(files["b"]), "--store", str(store),
                               "--key-file", str(key_file)])
    assert same.exit_code == 0, same.output
    inside = runner.invoke(cli, ["national", "ingest", str(files["b"]), "--store", str(store),
                                 "--new-key-file", str(store / "k")])
    assert inside.exit_code == 2 and "inside the store" in inside.output


def test_cli_ingest_killed_part_way_then_rerun(files):
    """The whole command path (validation, reader, ingest) killed with SIGKILL after writing rows."""
    store = files["tmp"] / "store"
    marker = files["tmp"] / "paused"
    temp = files["tmp"] / "system-temp"  # the process's temporary folder, where the ingest works
    temp.mkdir()
    env = dict(os.environ)
    env.update({KEY_ENV: "5d" * 32, PAUSE_ENV: "after_rows_written", PAUSE_FILE_ENV: str(marker),
                "TMPDIR": str(temp)})
    cmd = [sys.executable, "-c", "from ascld.cli import main; main()", "national", "ingest", str(files["a"]),
           "--store", str(store)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert NationalStore(store).imports() == [] and list((store / "_tmp").iterdir())
    assert [p.name.startswith(NationalStore(store).work_prefix()) for p in temp.iterdir()] == [True]
    con = duckdb.connect()
    NationalStore(store).register_duckdb(con, "cld")
    assert con.execute("SELECT count(*) FROM cld").fetchall() == [(0,)]
    env.pop(PAUSE_ENV)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert [r.row_count for r in NationalStore(store).imports()] == [24]
    assert list((store / "_tmp").iterdir()) == []
    # The killed run's working folder held the file's values in clear (NHS numbers, names, dates of birth):
    # the rerun's recovery removed it, and nothing else of the file is left in the temporary folder.
    assert list(temp.iterdir()) == []


def test_each_file_can_have_its_own_import_date(files):
    store = NationalStore(files["tmp"] / "store")
    dates = {files["a"].name: "2025-04-20T09:00:00", files["b"].name: "2025-07-21"}
    ingest_files([files["a"], files["b"]], store, key=KEY, import_date=lambda p: dates[p.name])
    assert [r.import_date for r in store.imports()] == ["2025-04-20T09:00:00.000", "2025-07-21T00:00:00.000"]


def test_a_bad_index_leaves_no_new_store_behind(files):
    """The references load before the key is registered: a library call with an unusable index makes no store."""
    bad = files["tmp"] / "bad_index.csv"
    bad.write_text("nhs_number,family_name\n9990000017,Testperson\n", encoding="utf-8")
    root = files["tmp"] / "new_store"
    with pytest.raises(UsageError, match="bad_index.csv"):
        ingest_files([files["a"]], NationalStore(root), key=KEY, index=bad, import_date="2025-04-20")
    assert not (root / "_store.json").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"LA_Code,LA_Name\n503,Northam\n504\n", "row 3: it needs both"),
        (b"LA_Code,LA_Name\n503,Northam\n503,Southam\n", "row 3: LA code '503' already has another name"),
        ("LA_Code,LA_Name\n503,Bront\u00eb\n".encode("cp1252"), "is not UTF-8 text"),
        (b"LA_Name,LA_Code\r\nNortham,503\r\n", None),  # columns by header, any order
    ],
)
def test_read_la_names_refuses_bad_files_by_row(files, content, expected):
    from ascld.national.ingest import read_la_names

    path = files["tmp"] / "names.csv"
    path.write_bytes(content)
    if expected is None:
        assert read_la_names(path) == {"503": "Northam"}
        return
    with pytest.raises(UsageError, match=expected):
        read_la_names(path)


def test_a_path_that_exists_but_is_not_a_file_is_not_called_missing(files):
    """A folder or a device (here a link to /dev/null) exists: the refusal says it is not a file, not that
    there is no such file, and nothing is stored."""
    link = files["tmp"] / "device.csv"
    link.symlink_to(os.devnull)
    store = files["tmp"] / "store"
    for path in (link, files["tmp"]):
        with pytest.raises(UsageError, match="not a file") as err:
            ingest_files([path], store, key=KEY)
        assert "no such file" not in str(err.value)
    with pytest.raises(UsageError, match="no such file"):
        ingest_files([files["tmp"] / "absent.csv"], store, key=KEY)
    assert not store.exists() or not NationalStore(store).imports()


def test_a_file_with_empty_lines_keeps_consecutive_record_ids_and_reports_spreadsheet_rows(tmp_path):
    """Empty lines between rows are no records: Der_Unique_Record_ID stays consecutive and the DQ codes stay on
    their records, while the validation names the row a spreadsheet shows (issue 4)."""
    people = fx.make_people(6, seed=3, la_code="503")
    rows = fx.return_rows(people, "503")
    rows[4]["NHS_Number"] = "9990000017"  # data row 5 (line 6 as written) fails its check digit
    path = fx.write_return_csv(tmp_path / "la503.csv", rows)
    lines = path.read_bytes().split(b"\r\n")
    # Two empty lines after line 2 and one after line 4: line 6 is row 9 in a spreadsheet.
    path.write_bytes(b"\r\n".join(lines[:2] + [b"", b""] + lines[2:4] + [b""] + lines[4:]))
    store = NationalStore(tmp_path / "store")
    report = ingest_files([path], store, key=KEY, index=fx.write_index(tmp_path / "index.csv", people))
    outcome = report.outcomes[0]
    assert outcome.status == "stored"
    failed = [p.row for p in outcome.validation.problems if p.field == "NHS_Number" and p.severity == "error"]
    assert failed == [9]
    con = duckdb.connect()
    store.register_duckdb(con, "cld")
    store.register_duckdb(con, "dq", dq=True)
    ids = [r[0] for r in con.execute("SELECT Der_Unique_Record_ID FROM cld ORDER BY 1").fetchall()]
    assert ids == list(range(1, len(rows) + 1))
    bad = con.execute("SELECT Der_Unique_Record_ID FROM dq WHERE chk_NHS_Number < 0").fetchall()
    assert bad == [(5,)]
