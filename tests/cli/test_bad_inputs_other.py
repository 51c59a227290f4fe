"""Bad input other than returns: every file or value a user gives the CLI besides a CLD return.

One case a row. Each must exit 2 with one clear `Error:` line naming the problem and the file, no traceback, no
"Unexpected error", no identifying value of the input, and nothing lost or half-written: a failed ingest leaves an
existing store byte for byte as it was and makes no new one; a failed command leaves no output folder.

Every person is synthetic (NHS numbers in the 999 test range, invented names and postcodes).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "national"))
import ingest_fixtures as fx  # noqa: E402

from ascld.cli import cli  # noqa: E402
from ascld.identity.tracing import INDEX_COLUMNS  # noqa: E402

OTHER_KEY = "01" * 32
PEOPLE = fx.make_people(4, seed=11, la_code="503")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    fx.write_return_csv(d / "la503.csv", fx.return_rows(PEOPLE, "503"))
    fx.write_index(d / "index.csv", PEOPLE)
    fx.write_lookup(d / "lookup.csv")
    (d / "good.key").write_text("7e" * 32 + "\n")
    return d


def _index_text(edit: Callable[[list[list[str]]], None] | None = None) -> str:
    rows = [list(INDEX_COLUMNS)] + [
        [p.nhs, p.last, p.first, p.dob.isoformat(), p.gender, p.postcode, ""] for p in PEOPLE
    ]
    if edit:
        edit(rows)
    return "".join(",".join(r) + "\n" for r in rows)


def _index_parquet(_base: Path) -> bytes:
    """The index as Parquet with dates of birth written yyyymmdd (text): not ISO dates."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [r.split(",") for r in _index_text().splitlines()]
    table = pa.table({c: [r[i] for r in rows[1:]] for i, c in enumerate(rows[0])})
    i = INDEX_COLUMNS.index("date_of_birth")
    table = table.set_column(i, "date_of_birth", pa.array([r[i].replace("-", "") for r in rows[1:]]))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def del_rows(rows: list[list[str]]) -> None:
    del rows[1:]


def _set(rows: list[list[str]], row: int, col: str, value: str) -> None:
    rows[row - 1][INDEX_COLUMNS.index(col)] = value


@dataclass
class Case:
    """args: the command line, with {d} for the folder of inputs and {w} for the case's own work folder.
    files: name -> bytes written into the work folder first. expect: text the one error line must contain."""

    id: str
    args: list[str]
    expect: list[str]
    files: dict[str, bytes | Callable[[Path], bytes]] | None = None
    env: dict[str, str | None] | None = None
    store: str | None = None  # "existing" (one import already in), "new" (must not appear) or "other:<key>"
    absent: list[str] | None = None  # paths (under {w}) that must not exist afterwards


def _b(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def _lookup_bytes(d: Path, edit: Callable[[list[str]], list[str]]) -> bytes:
    return "".join(edit((d / "lookup.csv").read_text().splitlines(keepends=True))).encode()


INGEST = ["national", "ingest", "{d}/la503.csv", "--store", "{w}/store", "--import-date", "2025-04-20"]
KEYED = {"ASCLD_PSEUDO_KEY": OTHER_KEY, "ASCLD_PSEUDO_KEY_FILE": None}  # the seeded store's key
NO_KEY = {"ASCLD_PSEUDO_KEY": None, "ASCLD_PSEUDO_KEY_FILE": None}


def _key_cases() -> list[Case]:
    k = [*INGEST, "--key-file", "{w}/k.key"]
    return [
        Case("key-file-empty", k, ["k.key", "neither hex nor base64"], {"k.key": b""}, NO_KEY, "new"),
        Case("key-file-whitespace", k, ["k.key", "neither hex nor base64"], {"k.key": b"  \r\n\t\n"}, NO_KEY, "new"),
        Case("key-file-too-short", k, ["k.key", "2 bytes", "at least 32"], {"k.key": b"abcd\n"}, NO_KEY, "new"),
        Case("key-file-binary-short", k, ["k.key", "raw bytes", "at least 32"], {"k.key": b"\x00\xff\x10\x80"},
             NO_KEY, "new"),
        Case("key-file-missing", [*INGEST, "--key-file", "{w}/none.key"], ["none.key", "cannot read"], None,
             NO_KEY, "new"),
        Case("key-file-a-folder", [*INGEST, "--key-file", "{w}"], ["--key-file", "is a directory"], None, NO_KEY,
             "new"),
        # A key written with a byte-order mark is the same key, not 67 raw bytes: the store's key refuses nothing.
        Case("key-file-bom-is-the-store-key-not-raw-bytes", k, [],
             {"k.key": b"\xef\xbb\xbf" + OTHER_KEY.encode() + b"\r\n"}, NO_KEY, "existing"),
        Case("key-file-non-ascii-text", k, ["k.key", "neither hex nor base64"],
             {"k.key": ("é" + "7e" * 32).encode()}, NO_KEY, "new"),
        Case("key-env-empty", INGEST, ["no pseudonymisation key"], None, {**NO_KEY, "ASCLD_PSEUDO_KEY": ""}, "new"),
        Case("key-env-whitespace", INGEST, ["no pseudonymisation key"], None, {**NO_KEY, "ASCLD_PSEUDO_KEY": " \t"},
             "new"),
        Case("key-env-too-short", INGEST, ["ASCLD_PSEUDO_KEY", "at least 32"], None,
             {**NO_KEY, "ASCLD_PSEUDO_KEY": "abc"}, "new"),
        Case("key-env-not-a-key", INGEST, ["ASCLD_PSEUDO_KEY", "neither hex nor base64"], None,
             {**NO_KEY, "ASCLD_PSEUDO_KEY": "zz\x01!"}, "new"),
        Case("key-env-file-a-folder", INGEST, ["--key-file", "is a directory"], None,
             {**NO_KEY, "ASCLD_PSEUDO_KEY_FILE": "{w}"}, "new"),
        Case("key-not-the-stores", INGEST, ["another key", "nothing was stored"], None,
             {**NO_KEY, "ASCLD_PSEUDO_KEY": "ab" * 32}, "existing"),
        Case("new-key-file-under-a-file", [*INGEST, "--new-key-file", "{w}/f.txt/new.key"],
             ["f.txt/new.key", "cannot write the new key file"], {"f.txt": b"x"}, NO_KEY, "new"),
        Case("new-key-file-exists", [*INGEST, "--new-key-file", "{d}/good.key"], ["good.key", "already exists"],
             None, NO_KEY, "new"),
    ]


def _index_cases() -> list[Case]:
    i = [*INGEST, "--index", "{w}/{name}"]

    def case(cid: str, name: str, content: bytes | Callable[[Path], bytes], expect: list[str]) -> Case:
        return Case(cid, [a.replace("{name}", name) for a in i], [name, *expect], {name: content}, KEYED, "existing")

    def drop_col(rows: list[list[str]]) -> None:
        for r in rows:
            del r[-1]

    return [
        case("index-missing-column", "idx.csv", _b(_index_text(drop_col)), ["lacks the column", "date_of_death"]),
        case("index-empty-file", "idx.csv", b"", ["is empty"]),
        case("index-header-only", "idx.csv", _b(_index_text(del_rows)),
             ["no row with a valid NHS number"]),
        case("index-gzip-junk", "idx.csv.gz", b"\x1f\x8b\x08junk" * 40, ["not a gzip file"]),
        case("index-not-gzip-at-all", "idx.csv.gz", b"plain text, not gzip\n" * 20, ["not a gzip file"]),
        case("index-parquet-junk", "idx.parquet", _b(_index_text()), ["not a Parquet file"]),
        case("index-binary", "idx.csv", bytes(range(256)) * 8, ["binary data"]),
        case("index-windows-1252", "idx.csv",
             _b(_index_text(lambda r: _set(r, 3, "family_name", r[2][1] + "é")), "cp1252"),
             ["row 3", "not UTF-8"]),
        case("index-ragged-row", "idx.csv", _b(_index_text(lambda r: r[2].extend(["x", "y"]))),
             ["row 3 has 9 values", "header has 7"]),
        case("index-uk-dates", "idx.csv",
             _b(_index_text(lambda r: [_set(r, n, "date_of_birth", "07/03/1984") for n in (3, 4)])),
             ["row 3 (and 1 more row)", "date_of_birth", "YYYY-MM-DD"]),
        case("index-bad-death-date", "idx.csv", _b(_index_text(lambda r: _set(r, 5, "date_of_death", "soon"))),
             ["row 5", "date_of_death"]),
        Case("index-bad-dates-first-ingest-leaves-no-store", [*INGEST, "--index", "{w}/idx.csv"],
             ["idx.csv", "row 2", "date_of_birth"],
             {"idx.csv": _b(_index_text(lambda r: _set(r, 2, "date_of_birth", "1984-02-30")))}, KEYED, "new"),
        case("index-huge-row", "idx.csv", _b(_index_text(lambda r: _set(r, 3, "given_name", "Q" * 3_000_000))),
             ["row 3", "not well-formed CSV"]),
        case("index-parquet-dates-not-iso", "idx.parquet", _index_parquet, ["record 1", "date_of_birth"]),
        case("index-gzip-of-ragged", "idx.csv.gz", gzip.compress(_b(_index_text(lambda r: r[1].append("x")))),
             ["row 2 has 8 values"]),
    ]


def _lookup_cases() -> list[Case]:
    p = [*INGEST, "--postcodes", "{w}/pc.csv"]

    def case(cid: str, content: bytes | Callable[[Path], bytes], expect: list[str], name: str = "pc.csv") -> Case:
        return Case(cid, [a.replace("pc.csv", name) for a in p], [name, *expect], {name: content}, KEYED, "existing")

    return [
        case("postcodes-missing-columns", b"pcds,rgn\nZX1 1WT,E12000001\n", ["needs a postcode column", "oslaua"]),
        case("postcodes-empty", b"", ["is empty"]),
        case("postcodes-header-only", lambda d: _lookup_bytes(d, lambda ls: ls[:1]), ["no postcode rows"]),
        case("postcodes-ragged-row", lambda d: _lookup_bytes(d, lambda ls: [*ls[:3], "ZX9 9ZZ,1,2\n", *ls[3:]]),
             ["row 4 has 3 values"]),
        case("postcodes-windows-1252", lambda d: _lookup_bytes(d, lambda ls: ls)
             + ("ZX99ZZ,ZX9 9ZZ,ZX9 9ZZ,199001,,E06000001,Café" + "," * 8 + "\n").encode("cp1252"),
             ["not UTF-8"]),
        case("postcodes-parquet-junk", b"PAR1 not really", ["not a Parquet file"], name="pc.parquet"),
        Case("postcodes-missing-file", [*INGEST, "--postcodes", "{w}/none.csv"], ["none.csv", "does not exist"],
             None, KEYED, "existing"),
    ]


def _la_names_cases() -> list[Case]:
    la = [*INGEST, "--la-names", "{w}/la.csv"]
    return [
        Case("la-names-wrong-columns", la, ["la.csv", "LA_Code and LA_Name"], {"la.csv": b"code,name\n503,N\n"},
             KEYED, "existing"),
        Case("la-names-empty", la, ["la.csv", "LA_Code and LA_Name"], {"la.csv": b""}, KEYED, "existing"),
        Case("la-names-windows-1252", la, ["la.csv", "not UTF-8"],
             {"la.csv": "LA_Code,LA_Name\n503,Northám\n".encode("cp1252")}, KEYED, "existing"),
        Case("la-names-binary", la, ["la.csv", "not UTF-8"], {"la.csv": bytes(range(128, 256)) * 4}, KEYED,
             "existing"),
        Case("la-names-short-row", la, ["la.csv", "row 3", "LA_Code and LA_Name"],
             {"la.csv": b"LA_Code,LA_Name\n504,Southam\n503\n"}, KEYED, "existing"),
        Case("la-names-two-names-for-one-code", la, ["la.csv", "row 3", "'503'", "another name"],
             {"la.csv": b"LA_Name,LA_Code\nNortham,503\nSoutham,503\n"}, KEYED, "existing"),
        Case("la-names-missing", [*INGEST, "--la-names", "{w}/none.csv"], ["none.csv", "does not exist"], None,
             KEYED, "existing"),
    ]


def _store_cases() -> list[Case]:
    def at(path: str) -> list[str]:
        return [a if a != "{w}/store" else path for a in INGEST]

    return [
        Case("store-is-a-file", at("{w}/f.txt"), ["--store", "is a file"], {"f.txt": b"x"}, KEYED),
        Case("store-under-a-file", at("{w}/f.txt/store"), ["f.txt/store", "cannot make the store folder"],
             {"f.txt": b"x"}, KEYED, absent=["f.txt/store"]),
        Case("store-another-tools-folder", at("{w}/other"), ["other", "not a national store", "not empty"],
             {"other/notes.csv": b"a,b\n"}, KEYED, absent=["other/_lock", "other/_store.json"]),
        Case("store-foreign-store-json", at("{w}/other"), ["other", "not an ascld national store"],
             {"other/_store.json": b'{"format": "something-else/2"}'}, KEYED, absent=["other/_lock"]),
        Case("store-damaged-store-json", at("{w}/other"), ["_store.json", "damaged"],
             {"other/_store.json": b"not json"}, KEYED, absent=["other/_lock"]),
        Case("reports-under-a-file", [*INGEST, "--reports", "{w}/f.txt/reports"], ["--reports", "f.txt", "is a file"],
             {"f.txt": b"x"}, KEYED, "existing"),
        Case("store-damaged-register", INGEST, ["_imports", "damaged"],
             {"store/_imports/00000001.json": b"{bad"}, KEYED, "existing"),
        Case("store-register-wrong-fields", INGEST, ["_imports", "damaged"],
             {"store/_imports/00000001.json": b'{"import_id": "00000001"}'}, KEYED, "existing"),
    ]


def _import_date_cases() -> list[Case]:
    return [
        Case("import-date-in-the-future", [*INGEST[:-1], "2205-04-20"], ["--import-date", "in the future"], None,
             KEYED, "existing"),
        Case("import-date-time-in-the-future", [*INGEST[:-1], "9999-12-31T23:59:59"], ["in the future"], None,
             KEYED, "new"),
        *(Case(f"import-date-{cid}", [*INGEST[:-1], value], ["import date", "not an ISO date", "2025-11-05"], None,
               KEYED, "new")
          for cid, value in [("month-13", "2025-13-01"), ("uk-format", "20/04/2025"), ("empty", ""),
                             ("hour-25", "2025-04-20T25:00"), ("word", "tomorrow")]),
    ]


CASES = [*_key_cases(), *_index_cases(), *_lookup_cases(), *_la_names_cases(), *_store_cases(),
         *_import_date_cases()]


def _needles() -> set[str]:
    out = set()
    for p in PEOPLE:
        out |= {p.nhs, p.first, p.last.split("-")[0], p.postcode, p.la_pid, *fx.dob_formats(p.dob)}
    return out


def _snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*")) if p.name != "_lock"
    }


def _run(args: list[str], env: dict[str, str | None] | None = None):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=True)


@pytest.fixture(scope="module")
def seeded_store(base, tmp_path_factory) -> Path:
    """A store with one import, made with OTHER_KEY: every 'existing' case runs on a copy of it."""
    root = tmp_path_factory.mktemp("seed") / "store"
    (root.parent / "other.csv").write_bytes(
        (base / "la503.csv").read_bytes().replace(b"503,", b"504,")
    )
    result = _run(["national", "ingest", str(root.parent / "other.csv"), "--store", str(root),
                   "--import-date", "2025-01-01"], {"ASCLD_PSEUDO_KEY": OTHER_KEY, "ASCLD_PSEUDO_KEY_FILE": None})
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_ingest_input_is_one_clear_line_and_loses_nothing(case, base, seeded_store, tmp_path):
    import shutil

    w = tmp_path
    if case.store == "existing":
        shutil.copytree(seeded_store, w / "store")
    for name, content in (case.files or {}).items():
        target = w / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content(base) if callable(content) else content)
    env = {k: (v.replace("{w}", str(w)) if v else v) for k, v in (case.env or {}).items()}
    before = _snapshot(w / "store")
    args = [a.replace("{d}", str(base)).replace("{w}", str(w)) for a in case.args]
    result = _run(args, env)
    out = result.output
    if case.id == "key-file-bom-is-the-store-key-not-raw-bytes":
        # the store's own key, saved with a byte-order mark and CRLF: read as that key, so the file is stored
        assert result.exit_code == 0, out
        assert "1 stored" in out
        return
    assert result.exit_code == 2, out
    assert "Traceback" not in out and "Unexpected error" not in out, out
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out
    for text in case.expect:
        assert text in errors[0], (text, errors[0])
    leaked = sorted(n for n in _needles() if n in out)
    assert not leaked, leaked
    if case.store == "new":
        assert not (w / "store").exists(), sorted(p.name for p in (w / "store").iterdir())
    elif case.store == "existing":
        assert _snapshot(w / "store") == before
    for rel in case.absent or []:
        assert not (w / rel).exists(), rel


# ---- other commands: overlays, output paths, measures inputs and settings ---------------------------------------

POP_HEADER = "Code,Name,Geography,Gender,Age_Band,Population\n"
LA_HEADER = "LA_Code,LA_Name,LA_Area_Code,Region\n"
VALIDATE = ["validate", "{d}/la503.csv", "--submission-date", "2025-04-20"]
COUNCIL = ["measures", "council", "{d}/la503.csv", "--period", "2024-04-01:2025-03-31", "--out", "{w}/out",
           "--no-salt"]
BUILD = ["national", "build", "--store", "{w}", "--as-of", "2025-05-01", "--period", "2024-04-01:2025-03-31",
         "--mode", "single", "--out", "{w}/out"]


def _other_cases() -> list[Case]:
    overlay_cmds = {
        "validate": [*VALIDATE, "--out", "{w}/out"],
        "spec-lists": ["spec", "lists"],
        "spec-export": ["spec", "export", "--out", "{w}/out/spec.json"],
        "build": [*BUILD],
    }
    overlays = {
        "binary": (bytes(range(128, 160)) * 20, ["ov.csv", "neither UTF-8 nor Windows-1252"]),
        "nul-bytes": (b"list,value\n\x00\x00\x00\n", ["ov.csv", "binary data"]),
        "unknown-list": (b"list,value\ngender,Male\nno_such_list,Priya Oyelaran\n",
                         ["ov.csv", "row 3", "column list", "no list named 'no_such_list'"]),
        "blank-value": (b"list,value\ngender,\n", ["ov.csv", "row 2", "list and value"]),
        "wrong-columns": (b"name,code\ngender,Male\n", ["ov.csv", "row 1", "columns list and value"]),
        "empty": (b"", ["ov.csv", "no header"]),
    }
    cases = [
        Case(f"overlay-{oid}-{cid}", [*args, "--spec-overlay", "{w}/ov.csv"], expect, {"ov.csv": content},
             absent=["out"])
        for cid, args in overlay_cmds.items()
        for oid, (content, expect) in overlays.items()
        if cid == "validate" or oid in ("binary", "unknown-list")
    ]
    blocked = {"f.txt": b"x"}
    cases += [
        Case("validate-out-under-a-file", [*VALIDATE, "--out", "{w}/f.txt/out"], ["--out", "f.txt", "is a file"],
             blocked),
        Case("validate-report-under-a-file", [*VALIDATE, "--report", "{w}/f.txt/r.html"],
             ["--report", "f.txt", "is a file"], blocked),
        Case("validate-dq-out-under-a-file", [*VALIDATE, "--dq-out", "{w}/f.txt/x/dq.parquet"],
             ["--dq-out", "f.txt", "is a file"], blocked),
        Case("spec-export-out-under-a-file", ["spec", "export", "--out", "{w}/f.txt/spec.json"],
             ["--out", "f.txt", "cannot write there"], blocked),
        Case("build-out-under-a-file", [*BUILD[:-1], "{w}/f.txt/out"], ["--out", "f.txt", "is a file"], blocked),
        Case("measures-out-under-a-file", [*COUNCIL[:-2], "{w}/f.txt/out", "--no-salt"],
             ["--out", "f.txt", "is a file"], blocked),
        Case("measures-work-dir-under-a-file", [*COUNCIL, "--work-dir", "{w}/f.txt/work"],
             ["--work-dir", "f.txt", "is a file"], blocked, absent=["out"]),
        Case("measures-memory-limit-word", [*COUNCIL, "--memory-limit", "lots"],
             ["--memory-limit", "'lots'", "e.g. 4GB"], absent=["out"]),
        Case("measures-nothing-to-compute", [*COUNCIL, "--no-ascof"], ["--no-ascof and --no-salt", "nothing"],
             absent=["out"]),
        Case("measures-ascof-and-no-ascof", [*COUNCIL, "--ascof", "2A", "--no-ascof"],
             ["--ascof FAMILIES or --no-ascof, not both"], absent=["out"]),
        # DuckDB itself takes a negative size as "none given" and runs with 80% of RAM.
        Case("measures-memory-limit-negative", [*COUNCIL, "--memory-limit=-4GB"], ["--memory-limit", "'-4GB'"],
             absent=["out"]),
        Case("measures-memory-limit-no-unit", [*COUNCIL, "--memory-limit", "4"], ["--memory-limit", "'4'"],
             absent=["out"]),
    ]
    submit = ["submit", "{d}/la503.csv", "--to", "http://127.0.0.1:9", "--retries", "0", "--quiet", "--token-file",
              "{w}/token.txt"]
    cases += [
        Case("submit-token-file-binary", submit, ["token.txt", "characters no token has"],
             {"token.txt": bytes(range(128, 200))}),
        Case("submit-token-file-two-lines", submit, ["token.txt", "characters no token has"],
             {"token.txt": b"first-part\nsecond-part\n"}),
        Case("serve-generate-key-under-a-file", ["serve", "--generate-key", "{w}/f.txt/store.key"],
             ["--generate-key", "f.txt/store.key", "cannot write the key there"], blocked),
        Case("synth-out-under-a-file", ["synth", "{w}/f.txt/out", "--councils", "1", "--quarters", "1"],
             ["OUT", "f.txt", "is a file"], blocked),
        Case("demo-out-under-a-file", ["demo", "--out", "{w}/f.txt/out"], ["--out", "f.txt", "is a file"], blocked),
        Case("serve-db-not-a-url", ["serve", "--store", "{w}/srv", "--db", "{w}/landing.sqlite", "--init"],
             ["--db", "not a database URL", "sqlite:///PATH"], absent=["srv", "landing.sqlite"]),
        Case("serve-short-store-key-makes-no-store", ["serve", "--store", "{w}/srv", "--store-key-file", "{w}/k.key",
                                                      "--init"], ["k.key", "not 32 bytes"], {"k.key": b"short\n"},
             absent=["srv"]),
        Case("synth-la-codes-only-commas", ["synth", "{w}/out", "--la-codes", ",", "--quarters", "1"],
             ["--la-codes ','", "names no council"], absent=["out"]),
        Case("synth-cms-url-a-path-not-a-url", ["synth", "{w}/out", "--councils", "1", "--people-per-council", "5",
                                                "--quarters", "1", "--workers", "1", "--cms", "--cms-url",
                                                "cms/{la_code}.sqlite"],
             ["--cms-url", "not an SQLAlchemy URL"], absent=["out"]),
    ]
    extract = ["extract", "--source", "sqlite:///{w}/cms.sqlite", "--period", "2024-04-01:2025-03-31", "--mapping",
               str(Path(__file__).resolve().parents[2] / "examples" / "synth_cms_mapping.yaml")]
    cases += [
        Case("extract-out-under-a-file", [*extract, "--out", "{w}/f.txt/return.csv"], ["--out", "f.txt", "is a file"],
             blocked),
        Case("extract-report-dir-without-validation", [*extract, "--out", "{w}/r.csv", "--no-validate",
                                                       "--report-dir", "{w}/rep"],
             ["--report-dir", "--no-validate", "drop one"], absent=["r.csv", "rep"]),
        Case("extract-report-dir-under-a-file", [*extract, "--out", "{w}/r.csv", "--report-dir", "{w}/f.txt/rep"],
             ["--report-dir", "f.txt", "is a file"], blocked, absent=["r.csv"]),
    ]
    cases += [
        # The refusal must not point at a report in the run's scratch folder, which is deleted at the end.
        Case("measures-council-unusable-return", ["measures", "council", "{w}/bad.csv", *COUNCIL[3:]],
             ["bad.csv", "cannot be used", "ascld validate"], {"bad.csv": b"\x00\x01binary" * 100},
             absent=["out"]),
    ]
    pop = [*COUNCIL, "--ascof", "2BC", "--populations"]
    cases += [
        Case("population-parquet-junk", [*pop, "{w}/pop.parquet"], ["pop.parquet", "not a Parquet file"],
             {"pop.parquet": b"PAR1 but not really"}, absent=["out"]),
        Case("population-not-a-number", [*pop, "{w}/pop.csv"],
             ["pop.csv", "row 3", "field Population", "whole number"],
             {"pop.csv": (POP_HEADER + "E06000001,Northam,Local Authority,All,18 to 64,120\n"
                          "E06000001,Northam,Local Authority,All,65 and above,12x\n").encode()}, absent=["out"]),
        Case("population-empty-value", [*pop, "{w}/pop.csv"], ["pop.csv", "row 2", "field Population", "empty"],
             {"pop.csv": (POP_HEADER + "E06000001,Northam,Local Authority,All,18 to 64,\n").encode()},
             absent=["out"]),
        Case("population-missing-columns", [*pop, "{w}/pop.csv"], ["pop.csv", "missing column", "`Population`"],
             {"pop.csv": b"Code,Name\nE06000001,Northam\n"}, absent=["out"]),
        Case("population-empty-file", [*pop, "{w}/pop.csv"], ["pop.csv", "empty"], {"pop.csv": b""},
             absent=["out"]),
        Case("population-windows-1252", [*pop, "{w}/pop.csv"], ["pop.csv", "row 3", "UTF-8"],
             {"pop.csv": (POP_HEADER + "E06000001,Northam,Local Authority,All,18 to 64,120\n"
                          "E06000002,Sóutham,Local Authority,All,18 to 64,120\n").encode("cp1252")},
             absent=["out"]),
        Case("population-ragged-row", [*pop, "{w}/pop.csv"], ["pop.csv", "row 2", "8 values", "header has 6"],
             {"pop.csv": (POP_HEADER + "E06000001,Northam,Local Authority,All,18 to 64,120,x,y\n").encode()},
             absent=["out"]),
        Case("la-lookup-repeated-code", [*COUNCIL, "--ascof", "2A", "--la-lookup", "{w}/la.csv"],
             ["la.csv", "row 3", "field LA_Code", "repeated"],
             {"la.csv": (LA_HEADER + "503,Northam,E06000001,North\n503,Southam,E06000002,South\n").encode()},
             absent=["out"]),
        Case("main-table-parquet-junk", ["measures", "national", "--main-tables", "{w}/mt", "--period",
                                         "2024-04-01:2025-03-31", "--out", "{w}/out", "--no-salt"],
             ["CLD_2024-04-01_2025-03-31_JoinedSubmissions.parquet", "not a Parquet file"],
             {"mt/CLD_2024-04-01_2025-03-31_JoinedSubmissions.parquet": b"PAR1" + b"\x00" * 40},
             absent=["out"]),
        Case("measures-store-a-return-not-a-store", ["measures", "national", "--store", "{d}/la503.csv", "--as-of",
                                                     "2025-05-01", *COUNCIL[3:]],
             ["--store", "la503.csv", "not a Parquet file", "national store folder"], absent=["out"]),
        Case("build-store-parquet-junk", [*BUILD[:3], "{w}/rows.parquet", *BUILD[4:]],
             ["--store", "rows.parquet", "not a Parquet file"], {"rows.parquet": b"PAR1 junk"}, absent=["out"]),
        Case("discharges-parquet-junk", [*COUNCIL, "--ascof", "2D", "--synthetic-references", "--discharges",
                                         "{w}/spells.parquet"], ["spells.parquet", "cannot be read as Parquet"],
             {"spells.parquet": b"\x00" * 64}, absent=["out"]),
        # Arrow's own message quotes the bad row: here an NHS number in clear.
        Case("discharges-ragged-row-with-nhs-numbers", [*COUNCIL, "--ascof", "2D", "--synthetic-references",
                                                        "--discharges", "{w}/spells.csv"],
             ["spells.csv", "cannot be read as CSV"],
             {"spells.csv": (f"nhs_number,admission_date,discharge_date\n{PEOPLE[0].nhs},2024-05-01,2024-05-03\n"
                             f"{PEOPLE[1].nhs},2024-06-01,2024-06-02,{PEOPLE[1].last}\n").encode()},
             absent=["out"]),
    ]
    return cases


OTHER = _other_cases()


@pytest.mark.parametrize("case", OTHER, ids=[c.id for c in OTHER])
def test_bad_input_to_other_commands_is_one_clear_line_and_writes_nothing(case, base, tmp_path):
    w = tmp_path
    for name, content in (case.files or {}).items():
        (w / name).parent.mkdir(parents=True, exist_ok=True)
        (w / name).write_bytes(content(base) if callable(content) else content)
    args = [a.replace("{d}", str(base)).replace("{w}", str(w)) for a in case.args]
    result = _run(args, {"ASCLD_PSEUDO_KEY": None, "ASCLD_PSEUDO_KEY_FILE": None})
    out = result.output
    assert result.exit_code == 2, out
    assert "Traceback" not in out and "Unexpected error" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out
    for text in case.expect:
        assert text in errors[0], (text, errors[0])
    leaked = sorted(n for n in _needles() | {"Priya Oyelaran", "Sóutham"} if n in out)
    assert not leaked, leaked
    for rel in case.absent or []:
        assert not (w / rel).exists(), rel
    for named in re.findall(r"Report: (\S+?)\.?(?:\s|$)", errors[0]):
        assert Path(named).exists(), f"the message names a report that is not there: {named}"
