"""A seeded fuzz campaign of bad return files against the validator (and, for a sample, the CLI and the national
ingest).

Each case starts from a clean small synthetic return (`ascld.quality.sample`), plain or gzip, and applies one or
more seeded random mutations; `make_case(seed)` is a pure function of the seed, so any case can be replayed.
`check_case` checks the invariants every bad file must keep:

* `validate_return` raises nothing (a project error, `AscldError`, is reported as such: it must not happen for a
  file that exists);
* the exit code is 0, 1 or 2 and agrees with the summary; 2 comes with at least one problem, each one line,
  naming the file;
* problems of checks that are about a row have a row number, within the file;
* the summary matches docs/dq-summary.schema.json (a small validator of the keywords the schema uses: the
  `jsonschema` package is not a dependency) and its counts add up;
* no identifying value of the clean rows (NHS number, first and last name, date of birth, postcode) appears in
  the summary, the listing, problems.csv or the HTML report;
* with `cli=True`: `ascld validate FILE --format json` in a process of its own exits with the same code, prints
  the same summary and no traceback;
* with `ingest=True`: `ascld national ingest FILE --store DIR` stores nothing of a refused file, exactly the
  rows of an accepted one, and nothing more when run again.

Run locally (one process):

    .venv/bin/python -m tests.quality.fuzz_returns --start 0 --count 2000
    .venv/bin/python -m tests.quality.fuzz_returns --replay 1234 --save /tmp/case   # one case, file kept

Every person is synthetic (NHS numbers in the 999 test range, invented names and postcodes).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import functools
import gzip
import html
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUBMISSION = dt.date(2025, 10, 20)
SCHEMA_PATH = ROOT / "docs" / "dq-summary.schema.json"
TEST_KEY = "5a" * 32  # a synthetic pseudonymisation key for the ingest runs

# --- clean returns ------------------------------------------------------------------------------------------

BASES = ((8, 11), (3, 5), (12, 29))  # (rows, seed) of the clean returns mutated


@functools.cache
def base_rows(i: int) -> tuple[dict[str, str], ...]:
    from ascld.quality.sample import sample_rows

    n, seed = BASES[i]
    return tuple(sample_rows(n, seed=seed))


@functools.cache
def base_bytes(i: int) -> bytes:
    from ascld.quality.sample import write_rows

    with tempfile.TemporaryDirectory() as tmp:
        return write_rows(Path(tmp) / "clean.csv", base_rows(i)).read_bytes()


IDENTIFYING = ("NHS_Number", "First_Name", "Last_Name", "Date_of_Birth", "Postcode")


@functools.cache
def identifying_values() -> frozenset[str]:
    """Every base return's identifying values long enough to be unmistakable (short first names such as "Jo"
    or "Lee" occur inside ordinary words), with a date of birth also in ISO form."""
    out = set()
    for i in range(len(BASES)):
        for r in base_rows(i):
            for c in IDENTIFYING:
                v = r[c].strip()
                # NHS pseudo-postcodes (ZZ99 3VZ: no fixed abode) are not identifying; hints name them.
                if len(v) >= 4 and not v.startswith("ZZ99"):
                    out.add(v)
                    if c == "Date_of_Birth":
                        d, m, y = v.split("/")
                        out.add(f"{y}-{m}-{d}")
    return frozenset(out)


@functools.cache
def _identifying_pattern() -> re.Pattern[str]:
    values = sorted(identifying_values(), key=len, reverse=True)
    return re.compile("|".join(rf"(?<![\w/-]){re.escape(v)}(?![\w/-])" for v in values))


def find_identifying(text: str) -> str | None:
    found = _identifying_pattern().search(text)
    return found.group(0) if found else None


# --- mutations ----------------------------------------------------------------------------------------------

SPECIALS: tuple[bytes, ...] = (
    b'"',
    b'""',
    b",",
    b";",
    b"\t",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\r",
    b"\x00",
    b"|",
    b"\x80",
    b"\x81",
    b"\x85",
    b"\x8d",
    b"\x8f",
    b"\x90",
    b"\x92",
    b"\x93",
    b"\x96",
    b"\x9d",
    b"\x9f",
    "é".encode(),
    "€".encode(),
    "😀".encode(),
    b"\xc3",
    b"\xe2\x82",
    b"\xef\xbf\xbd",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    b"\x1a",
    b"\x0b",
    b"\x0c",
    b"\x7f",
    b"=",
    b"+",
    b"-",
    b"@",
    b" ",
    b"NULL",
    b"\xa0",
    b"\xe9",
    b'","',
    b'"\r\n"',
)


@dataclass
class Work:
    """A file being built: its bytes, whether they are gzip-compressed, and its name."""

    data: bytes
    gz: bool
    name: str
    notes: list[str] = field(default_factory=list)

    def text_lines(self) -> list[bytes]:
        return self.plain().split(b"\r\n")

    def plain(self) -> bytes:
        if self.gz:
            return gzip.decompress(self.data)
        return self.data

    def set_plain(self, data: bytes) -> None:
        self.data = gzip.compress(data, compresslevel=1, mtime=0) if self.gz else data


def _offset(rng: random.Random, n: int) -> int:
    return rng.randrange(n + 1) if n else 0


def m_byte_flip(rng: random.Random, w: Work) -> None:
    d = bytearray(w.plain())
    k = rng.choice((1, 1, 2, 5, 20))
    for _ in range(k):
        if d:
            i = rng.randrange(len(d))
            d[i] = rng.randrange(256)
    w.notes.append(f"{k} bytes")
    w.set_plain(bytes(d))


def m_delete(rng: random.Random, w: Work) -> None:
    d = w.plain()
    i = _offset(rng, len(d))
    n = rng.choice((1, 1, 2, 10, 100, 1000))
    w.notes.append(f"at {i} len {n}")
    w.set_plain(d[:i] + d[i + n :])


def m_insert(rng: random.Random, w: Work) -> None:
    d = w.plain()
    for _ in range(rng.choice((1, 1, 2, 4))):
        tok = rng.choice(SPECIALS)
        i = _offset(rng, len(d))
        w.notes.append(f"{tok!r}@{i}")
        d = d[:i] + tok + d[i:]
    w.set_plain(d)


def m_insert_at_boundary(rng: random.Random, w: Work) -> None:
    """A special token next to a comma or a line end, where quoting and splitting are decided."""
    d = w.plain()
    spots = [m.start() + rng.choice((0, 1)) for m in re.finditer(rb"[,\r\n]", d)]
    tok = rng.choice(SPECIALS)
    i = rng.choice(spots) if spots else 0
    w.notes.append(f"{tok!r}@{i}")
    w.set_plain(d[:i] + tok + d[i:])


def m_truncate(rng: random.Random, w: Work) -> None:
    d = w.plain()
    i = _offset(rng, len(d))
    w.notes.append(f"at {i}")
    w.set_plain(d[:i])


def m_gzip_truncate(rng: random.Random, w: Work) -> None:
    z = gzip.compress(w.plain(), compresslevel=rng.choice((1, 9)), mtime=0)
    i = _offset(rng, len(z))
    w.notes.append(f"at {i}/{len(z)}")
    w.data, w.gz = z[:i], False  # raw bytes: no longer a whole gzip
    w.name = "r.csv.gz"


def m_gzip_flip(rng: random.Random, w: Work) -> None:
    z = bytearray(gzip.compress(w.plain(), compresslevel=1, mtime=0))
    i = rng.randrange(len(z))
    z[i] = rng.randrange(256)
    w.notes.append(f"at {i}/{len(z)}")
    w.data, w.gz = bytes(z), False
    w.name = "r.csv.gz"


def m_gzip_concat(rng: random.Random, w: Work) -> None:
    """Two gzip members: the file cut in two anywhere (one file, valid) or the file twice (a repeated header)."""
    d = w.plain()
    if rng.random() < 0.5:
        i = _offset(rng, len(d))
        parts = [d[:i], d[i:]]
        w.notes.append(f"split at {i}")
    else:
        parts = [d, d]
        w.notes.append("twice")
    w.data = b"".join(gzip.compress(p, mtime=0) for p in parts)
    w.gz = False
    w.name = "r.csv.gz"


def m_gzip_of_gzip(rng: random.Random, w: Work) -> None:
    w.data = gzip.compress(gzip.compress(w.plain(), mtime=0), mtime=0)
    w.gz = False
    w.name = rng.choice(("r.csv.gz", "r.csv.gz.gz", "r.csv"))


def m_gzip_trailing(rng: random.Random, w: Work) -> None:
    """Bytes after the gzip stream: zeros (padding), junk, or a plain copy."""
    tail = rng.choice((b"\x00" * rng.randrange(1, 600), bytes(rng.randrange(256) for _ in range(20)), w.plain()))
    w.data = gzip.compress(w.plain(), mtime=0) + tail
    w.gz = False
    w.name = "r.csv.gz"
    w.notes.append(f"{len(tail)} bytes")


def m_lying_name(rng: random.Random, w: Work) -> None:
    w.name = rng.choice(("r.gz", "r.csv.gz", "r.xlsx", "r.txt", "r", "r.CSV", "r.csv.zip", "r.parquet", ".csv"))
    w.notes.append(w.name)


def _split_line(line: bytes) -> list[bytes]:
    return [v.encode("latin-1") for v in next(csv.reader([line.decode("latin-1")]))]


def _join(values: list[bytes]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([v.decode("latin-1") for v in values])
    return out.getvalue().encode("latin-1")


def m_header(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    names = _split_line(lines[0])
    how = rng.choice(("duplicate", "missing", "reorder", "extra", "case", "space", "underscore", "blank", "all"))
    i, j = rng.randrange(len(names)), rng.randrange(len(names))
    if how == "duplicate":
        names[i] = names[j]
    elif how == "missing":
        del names[i]
    elif how == "reorder":
        names[i], names[j] = names[j], names[i]
    elif how == "extra":
        names.insert(i, rng.choice((b"Extra", b"", names[j], b"Column51")))
    elif how == "case":
        names[i] = names[i].upper() if rng.random() < 0.5 else names[i].lower()
    elif how == "space":
        names[i] = b" " + names[i] + b" "
    elif how == "underscore":
        names[i] = names[i].replace(b" ", b"_")
    elif how == "blank":
        names[i] = b""
    else:
        names = [n.lower() for n in names]
    w.notes.append(f"{how} {i} {j}")
    lines[0] = _join(names)
    w.set_plain(b"\r\n".join(lines))


def m_extra_column(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    where = rng.choice(("rows", "header", "both", "one_row"))
    k = rng.choice((1, 1, 2, 60, 200))
    targets = {
        "rows": range(1, len(lines)),
        "header": range(0, 1),
        "both": range(len(lines)),
        "one_row": [rng.randrange(1, len(lines))],
    }[where]
    for t in targets:
        if lines[t]:
            lines[t] += b",x" * k
    w.notes.append(f"{where} {k}")
    w.set_plain(b"\r\n".join(lines))


def _data_line(rng: random.Random, lines: list[bytes]) -> int:
    full = [i for i in range(1, len(lines)) if lines[i]]
    return rng.choice(full) if full else 0


def _set_cell(rng: random.Random, w: Work, value: bytes, col: int | None = None) -> None:
    lines = w.text_lines()
    t = _data_line(rng, lines)
    cells = _split_line(lines[t]) if lines[t] else [b""]
    c = rng.randrange(len(cells)) if col is None else min(col, len(cells) - 1)
    cells[c] = value
    lines[t] = _join(cells)
    w.notes.append(f"line {t + 1} col {c}")
    w.set_plain(b"\r\n".join(lines))


def m_long_field(rng: random.Random, w: Work) -> None:
    n = rng.choice((300, 70_000, 140_000, (1 << 20) - 900, (1 << 20) + 10, 3 << 20))
    fill = rng.choice((b"a", b"a,b", b'""', b"\r\n", b" "))
    value = (fill * (n // len(fill) + 1))[:n]
    w.notes.append(f"{n} x {fill!r}")
    _set_cell(rng, w, value)


def m_long_line_unquoted(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    t = _data_line(rng, lines)
    n = rng.choice((200_000, (1 << 20) + 100, 2 << 20))
    lines[t] += b"z" * n
    w.notes.append(f"line {t + 1} +{n}")
    w.set_plain(b"\r\n".join(lines))


def m_unbalanced_quote(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    t = rng.randrange(len(lines))
    line = lines[t]
    commas = [m.start() + 1 for m in re.finditer(rb",", line)] or [0]
    i = rng.choice(commas + [0, len(line)])
    tok = rng.choice((b'"', b'"x', b'x"', b'"""', b'"a"b'))
    lines[t] = line[:i] + tok + line[i:]
    w.notes.append(f"line {t + 1} at {i} {tok!r}")
    w.set_plain(b"\r\n".join(lines))


def m_delimiter_rows(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    k = rng.choice((1, 3, 1500))
    sep = rng.choice((b",", b";", b"\t", b'"",'))
    width = rng.choice((49, 49, 48, 50, 10, 0))
    row = sep * width
    at = rng.randrange(1, len(lines) + 1)
    lines[at:at] = [row] * k
    w.notes.append(f"{k} x {sep!r}*{width} at line {at + 1}")
    w.set_plain(b"\r\n".join(lines))


def m_empty_lines(rng: random.Random, w: Work) -> None:
    d = w.plain()
    ends = [m.end() for m in re.finditer(rb"\r\n", d)] or [0]
    for _ in range(rng.choice((1, 2, 5))):
        i = rng.choice(ends + [0])
        tok = rng.choice((b"\r\n", b"\n", b" \r\n", b"\t\r\n"))
        d = d[:i] + tok + d[i:]
        w.notes.append(f"{tok!r}@{i}")
    w.set_plain(d)


def m_repeated_header(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    header = lines[0]
    header = rng.choice((header, header.upper(), header.lower(), header.replace(b",", b" , ")))
    at = rng.randrange(1, len(lines) + 1)
    lines.insert(at, header)
    w.notes.append(f"at line {at + 1}")
    w.set_plain(b"\r\n".join(lines))


def m_tiny_rows(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    k = rng.choice((2000, 20_000, 120_000))
    row = rng.choice((b"a", b",", b"1,2", b'""', b""))
    lines[1:1] = [row] * k if rng.random() < 0.5 else []
    if not lines[1:2] or lines[1] != row:
        lines.extend([row] * k)
    w.notes.append(f"{k} x {row!r}")
    w.set_plain(b"\r\n".join(lines))


def m_line_endings(rng: random.Random, w: Work) -> None:
    d = w.plain()
    how = rng.choice(("lf", "cr", "some_lf", "some_cr", "lfcr"))
    if how == "lf":
        d = d.replace(b"\r\n", b"\n")
    elif how == "cr":
        d = d.replace(b"\r\n", b"\r")
    elif how == "lfcr":
        d = d.replace(b"\r\n", b"\n\r")
    else:
        parts = d.split(b"\r\n")
        alt = b"\n" if how == "some_lf" else b"\r"
        d = b"".join(p + (rng.choice((b"\r\n", alt)) if k < len(parts) - 1 else b"") for k, p in enumerate(parts))
    w.notes.append(how)
    w.set_plain(d)


def m_encoding(rng: random.Random, w: Work) -> None:
    d = w.plain()
    how = rng.choice(("bom8", "bom16le", "bom16be", "utf16", "utf8", "utf32", "bom8_mid"))
    text = d.decode("cp1252")
    if how == "bom8":
        d = codecs.BOM_UTF8 + d
    elif how == "bom16le":
        d = codecs.BOM_UTF16_LE + d
    elif how == "bom16be":
        d = codecs.BOM_UTF16_BE + d
    elif how == "utf16":
        d = text.encode(rng.choice(("utf-16", "utf-16-le", "utf-16-be")))
    elif how == "utf32":
        d = text.encode("utf-32")
    elif how == "utf8":
        d = text.encode("utf-8")
    else:
        i = d.find(b"\r\n", rng.randrange(len(d))) + 2
        d = d[:i] + codecs.BOM_UTF8 + d[i:]
    w.notes.append(how)
    w.set_plain(d)


def m_cell(rng: random.Random, w: Work) -> None:
    """One value replaced with an awkward one."""
    value = rng.choice(
        (
            b"=1+1",
            b"+44",
            b"-",
            b"@SUM(A1)",
            b"\t=cmd",
            b"\r\n=x",
            b'"',
            b"a\x00b",
            b"\x1b[31mred",
            b"\x85\x92",
            b"NULL",
            b"null",
            b" ",
            b"-0",
            b"1e308",
            b"99999999999999999999.999",
            b"\xa0",
            b"31/02/2025",
            b"00/00/0000",
            b"9999-99-99",
            b"1/1/1",
            b"x" * 5000,
            b"\x96\x97\x80",
        )
    )
    w.notes.append(repr(value[:20]))
    _set_cell(rng, w, value)


def m_duplicate_rows(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    t = _data_line(rng, lines)
    k = rng.choice((1, 3, 50))
    lines[t + 1 : t + 1] = [lines[t]] * k
    w.notes.append(f"line {t + 1} x{k}")
    w.set_plain(b"\r\n".join(lines))


def m_shuffle_lines(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    rng.shuffle(lines)
    w.notes.append("shuffled")
    w.set_plain(b"\r\n".join(lines))


def m_only_header(rng: random.Random, w: Work) -> None:
    lines = w.text_lines()
    how = rng.choice(("header", "header_crlf", "nothing", "spaces", "newlines", "half_header"))
    d = {
        "header": lines[0],
        "header_crlf": lines[0] + b"\r\n",
        "nothing": b"",
        "spaces": b"   \r\n \t ",
        "newlines": b"\r\n\r\n\n",
        "half_header": lines[0][: len(lines[0]) // 2],
    }[how]
    w.notes.append(how)
    w.set_plain(d)


def m_swap_fields(rng: random.Random, w: Work) -> None:
    """Two columns' values swapped on one row: identifying values moved into fields whose values are shown."""
    lines = w.text_lines()
    t = _data_line(rng, lines)
    cells = _split_line(lines[t])
    i, j = rng.randrange(len(cells)), rng.randrange(len(cells))
    cells[i], cells[j] = cells[j], cells[i]
    lines[t] = _join(cells)
    w.notes.append(f"line {t + 1} {i}<->{j}")
    w.set_plain(b"\r\n".join(lines))


def m_quoted_breaks(rng: random.Random, w: Work) -> None:
    """A value holding line breaks, quotes or commas, properly quoted (valid CSV, read by one thread)."""
    inner = rng.choice((b"a\r\nb", b"a\nb", b"a\rb", b'a""b', b"a,b", b"\r\n", b"\n=1", b'""', b"a\n\nb"))
    value = b'"' + inner + b'"'
    lines = w.text_lines()
    t = _data_line(rng, lines)
    cells = _split_line(lines[t])
    c = rng.randrange(len(cells))
    cells[c] = value
    lines[t] = b",".join(_join([v]) if k != c else v for k, v in enumerate(cells))
    w.notes.append(f"line {t + 1} col {c} {inner!r}")
    w.set_plain(b"\r\n".join(lines))


def m_la_period(rng: random.Random, w: Work) -> None:
    """Another LA code or reporting period on some rows."""
    col = rng.choice((0, 1, 2))
    value = rng.choice((b"902", b"", b"31/03/2025", b"01/04/2024", b"30/09/2025", b"x"))
    lines = w.text_lines()
    for t in range(1, len(lines)):
        if lines[t] and rng.random() < 0.4:
            cells = _split_line(lines[t])
            cells[col] = value
            lines[t] = _join(cells)
    w.notes.append(f"col {col} {value!r}")
    w.set_plain(b"\r\n".join(lines))


def m_trailing(rng: random.Random, w: Work) -> None:
    """The end of the file: no final line break, spaces, commas, a Ctrl-Z, or lines of white space."""
    d = w.plain().rstrip(b"\r\n")
    tail = rng.choice(
        (b"", b"\r\n", b"\n", b"\r", b" ", b",", b"\r\n\x1a", b"\x1a", b"\r\n \r\n\t\r\n", b"\r\n\r\n\r\n")
    )
    w.notes.append(repr(tail))
    w.set_plain(d + tail)


def m_many_rows(rng: random.Random, w: Work) -> None:
    """Thousands of copies of the data rows (duplicates past the listing's 1,000 and the small-file size)."""
    lines = [x for x in w.text_lines() if x]
    k = rng.choice((200, 2500))
    body = lines[1:] * k
    w.notes.append(f"x{k} ({len(body)} rows)")
    w.set_plain(b"\r\n".join([lines[0], *body]) + b"\r\n")


MUTATIONS: dict[str, Callable[[random.Random, Work], None]] = {
    "byte_flip": m_byte_flip,
    "delete": m_delete,
    "insert": m_insert,
    "insert_at_boundary": m_insert_at_boundary,
    "truncate": m_truncate,
    "gzip_truncate": m_gzip_truncate,
    "gzip_flip": m_gzip_flip,
    "gzip_concat": m_gzip_concat,
    "gzip_of_gzip": m_gzip_of_gzip,
    "gzip_trailing": m_gzip_trailing,
    "lying_name": m_lying_name,
    "header": m_header,
    "extra_column": m_extra_column,
    "long_field": m_long_field,
    "long_line": m_long_line_unquoted,
    "unbalanced_quote": m_unbalanced_quote,
    "delimiter_rows": m_delimiter_rows,
    "empty_lines": m_empty_lines,
    "repeated_header": m_repeated_header,
    "tiny_rows": m_tiny_rows,
    "line_endings": m_line_endings,
    "encoding": m_encoding,
    "cell": m_cell,
    "duplicate_rows": m_duplicate_rows,
    "shuffle_lines": m_shuffle_lines,
    "only_header": m_only_header,
    "swap_fields": m_swap_fields,
    "quoted_breaks": m_quoted_breaks,
    "la_period": m_la_period,
    "trailing": m_trailing,
    "many_rows": m_many_rows,
}
# Mutations that make the bytes no longer a plain text file a later mutation can edit.
_FINAL = {"gzip_truncate", "gzip_flip", "gzip_concat", "gzip_of_gzip", "gzip_trailing"}
_HEAVY = {"tiny_rows", "long_field", "long_line", "many_rows"}  # large files: a lower share of the cases


@dataclass
class Case:
    seed: int
    kinds: list[str]
    notes: list[str]
    name: str
    data: bytes
    base: int

    @property
    def label(self) -> str:
        return f"seed={self.seed} base={self.base} {'+'.join(self.kinds)} name={self.name} [{'; '.join(self.notes)}]"


def make_case(seed: int, kinds: list[str] | None = None) -> Case:
    """The case of `seed`: a pure function of it (and of `kinds`, when forced)."""
    rng = random.Random(seed)
    base = rng.randrange(len(BASES))
    gz = rng.random() < 0.2
    w = Work(
        gzip.compress(base_bytes(base), compresslevel=1, mtime=0) if gz else base_bytes(base),
        gz,
        "r.csv.gz" if gz else "r.csv",
    )
    if kinds is None:
        names = list(MUTATIONS)
        weights = [0.25 if n in _HEAVY else 1.0 for n in names]
        count = rng.choice((1, 1, 1, 2, 2, 3))
        kinds = []
        for _ in range(count):
            k = rng.choices(names, weights)[0]
            kinds.append(k)
            if k in _FINAL:
                break
    for k in kinds:
        w.notes.append(f"{k}:")
        try:
            MUTATIONS[k](rng, w)
        except (UnicodeError, csv.Error, ValueError, EOFError, OSError, IndexError, StopIteration):
            w.notes.append("(not applicable)")  # e.g. a header no longer readable by an earlier mutation
        if k in _FINAL:
            break
    return Case(seed, kinds, w.notes, w.name, w.data, base)


# --- invariants ---------------------------------------------------------------------------------------------

# Checks whose problems are about one row: they must give it.
ROW_CHECKS = {
    "T003",
    "T009",
    "T010",
    "T011",
    "T012",
    "T016",
    "T018",
    "T019",
    "T020",
    "X001",
    "X002",
    "X003",
    "X004",
    "X005",
}
FILE_CHECKS_C = {"C017", "C047"}  # C checks about the whole file


def _is_row_check(check_id: str) -> bool:
    return check_id in ROW_CHECKS or (check_id.startswith("C") and check_id not in FILE_CHECKS_C)


@functools.cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_errors(value: Any, schema: dict[str, Any] | None = None, where: str = "$") -> list[str]:
    """Errors of `value` against the summary schema: the keywords it uses (type, required,
    additionalProperties false, properties, items, enum, const, pattern, minimum, $ref, format date)."""
    root = _schema()
    schema = root if schema is None else schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return schema_errors(value, root["$defs"][name], where)
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_TYPES[t](value) for t in types):
            return [f"{where}: {type(value).__name__} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date":
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                errors.append(f"{where}: {value!r} is not a date")
    if isinstance(value, int) and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{where}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        for k in schema.get("required", ()):
            if k not in value:
                errors.append(f"{where}: missing {k}")
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            errors += [f"{where}: unexpected {k}" for k in value if k not in props]
        for k, sub in props.items():
            if k in value:
                errors += schema_errors(value[k], sub, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{where}[{i}]")
    return errors


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def summary_failures(summary: dict[str, Any], name: str, n_lines: int) -> list[str]:
    """The invariants of a summary (library or CLI)."""
    out = [f"schema: {e}" for e in schema_errors(summary)[:5]]
    if out:
        return out
    code = summary["exit_code"]
    if summary["usable"] != (code != 2):
        out.append(f"usable {summary['usable']} with exit code {code}")
    if summary["file"]["name"] != name:
        out.append(f"summary names {summary['file']['name']!r}, not {name!r}")
    t, listing, problems = summary["totals"], summary["listing"], summary["problems"]
    counts = summary["problem_counts"]
    if t["problems"] != t["errors"] + t["warnings"]:
        out.append(f"totals do not add up: {t}")
    if t["problems"] != sum(c["count"] for c in counts):
        out.append(f"totals.problems {t['problems']} != sum of problem_counts {sum(c['count'] for c in counts)}")
    if t["errors"] != sum(c["count"] for c in counts if c["severity"] == "error"):
        out.append("totals.errors != the errors of problem_counts")
    if listing["listed"] != len(problems):
        out.append(f"listing.listed {listing['listed']} != {len(problems)} problems")
    if listing["listed"] + listing["not_listed"] != t["problems"]:
        out.append(f"listed {listing['listed']} + not_listed {listing['not_listed']} != {t['problems']} problems")
    if listing["listed"] > listing["max_problems"]:
        out.append("more problems listed than max_problems")
    listed = Counter(p["check_id"] for p in problems)
    by_id = {c["check_id"]: c for c in counts}
    for cid, n in listed.items():
        if cid not in by_id:
            out.append(f"{cid} listed but not counted")
        elif by_id[cid]["count"] < n:
            out.append(f"{cid}: {n} listed but counted {by_id[cid]['count']}")
    for c in counts:
        if c["count"] < 1 or c["rows"] < 0 or c["rows"] > c["count"]:
            out.append(f"odd count {c}")
    if summary["row_count"] is not None and t["rows_with_errors"] > summary["row_count"] + 1:
        out.append(f"rows_with_errors {t['rows_with_errors']} > row_count {summary['row_count']}")
    errors_listed = sum(1 for p in problems if p["severity"] == "error")
    if code == 0 and (t["errors"] or errors_listed):
        out.append("exit code 0 with errors")
    if code == 1 and not t["errors"]:
        out.append("exit code 1 without errors")
    if code == 2:
        if not problems:
            out.append("exit code 2 without a problem listed")
        reason = summary["reason"]
        if not reason or "\n" in reason or "\r" in reason:
            out.append(f"reason is not one line: {reason!r}")
    for p in problems:
        out += problem_failures(p, name, n_lines)
    return out


def problem_failures(p: dict[str, Any], name: str, n_lines: int) -> list[str]:
    out = []
    text = f"{p['message']} {p['hint']}"
    if any(ch in text for ch in "\r\n\x00"):
        out.append(f"{p['check_id']}: message not one line: {text[:120]!r}")
    if p["file"] != name:
        out.append(f"{p['check_id']}: problem names {p['file']!r}")
    if not p["message"].strip() or not p["hint"].strip():
        out.append(f"{p['check_id']}: empty message or hint")
    if _is_row_check(p["check_id"]):
        if p["row"] is None:
            out.append(f"{p['check_id']}: no row number: {p['message'][:100]!r}")
        elif not 1 <= p["row"] <= n_lines + 1:
            out.append(f"{p['check_id']}: row {p['row']} outside the file's {n_lines} lines")
    return out


def _line_count(data: bytes) -> int:
    try:
        plain = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError, gzip.BadGzipFile, ValueError):
        plain = data
    except Exception:  # noqa: BLE001 - zlib.error
        plain = data
    return plain.count(b"\n") + plain.count(b"\r") + 1


@dataclass
class Outcome:
    case: Case
    exit_code: int | None = None
    check_ids: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def check_case(
    case: Case,
    workdir: Path,
    *,
    outputs: bool = True,
    cli: bool = False,
    ingest: bool = False,
    ingest_if_usable: bool = False,
    previous: bool = False,
    slow_seconds: float = 60.0,
) -> Outcome:
    """Run the validator (and optionally the CLI and ingest) on `case`; the invariants broken, if any."""
    from ascld.errors import AscldError
    from ascld.quality import validate_return

    out = Outcome(case)
    folder = Path(tempfile.mkdtemp(prefix="case-", dir=workdir))
    path = folder / case.name
    path.write_bytes(case.data)
    n_lines = _line_count(case.data)
    start = time.perf_counter()
    try:
        result = validate_return(path, submission_date=SUBMISSION)
    except AscldError as exc:
        out.failures.append(f"validate_return raised {type(exc).__name__}: {str(exc)[:200]}")
        return out
    except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
        tb = traceback.format_exception(exc)[-3:]
        out.failures.append(f"validate_return raised {type(exc).__name__}: {str(exc)[:300]} | {''.join(tb)[-600:]}")
        return out
    finally:
        out.seconds = time.perf_counter() - start
    if out.seconds > slow_seconds:
        out.failures.append(f"slow: {out.seconds:.1f} s")
    out.exit_code = result.exit_code
    out.check_ids = sorted({p.check_id for p in result.problems})
    if result.exit_code not in (0, 1, 2) or result.exit_code != result.summary["exit_code"]:
        out.failures.append(f"exit code {result.exit_code} / summary {result.summary['exit_code']}")
    if [p.to_dict() for p in result.problems] != result.summary["problems"]:
        out.failures.append("result.problems differ from the summary's listing")
    for p in result.problems:
        if result.exit_code == 2 and not str(p).startswith(case.name):
            out.failures.append(f"{p.check_id}: the problem does not name the file first: {str(p)[:80]!r}")
    out.failures += summary_failures(result.summary, case.name, n_lines)
    texts = {"summary": json.dumps(result.summary, ensure_ascii=False)}
    texts["listing"] = "\n".join(str(p) for p in result.problems)
    if outputs:
        written = result.write_outputs(folder / "out")
        texts["summary.json"] = json.dumps(json.loads(written["summary.json"].read_text("utf-8")), ensure_ascii=False)
        problems_csv = written["problems.csv"].read_text("utf-8-sig")
        texts["problems.csv"] = problems_csv
        report = written["report.html"].read_text("utf-8")
        texts["report.html"] = html.unescape(report)
        n_csv = len(list(csv.reader(io.StringIO(problems_csv)))) - 1
        expected = result.summary["totals"]["problems"] if result.usable else len(result.problems)
        if n_csv != expected:
            out.failures.append(f"problems.csv holds {n_csv} problems, expected {expected}")
        if "<script" in report.lower():
            out.failures.append("report.html holds a script")
    for where, text in texts.items():
        hit = find_identifying(text)
        if hit:
            out.failures.append(f"identifying value {hit!r} in {where}")
    if previous:
        out.failures += _previous_failures(case, path, folder)
    if cli:
        out.failures += _cli_failures(case, path, result)
    if ingest or (ingest_if_usable and result.usable):
        out.failures += _ingest_failures(case, path, folder, result)
    return out


@functools.cache
def _clean_exit_code(base: int) -> int:
    from ascld.quality import validate_return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clean.csv"
        path.write_bytes(base_bytes(base))
        return validate_return(path, submission_date=SUBMISSION).exit_code


def _previous_failures(case: Case, path: Path, folder: Path) -> list[str]:
    """The case's file as the --previous return of its clean base: never an error, nor a refusal of the current
    return (an unreadable previous return is a Q007 warning)."""
    from ascld.quality import validate_return

    current = folder / "current.csv"
    current.write_bytes(base_bytes(case.base))
    try:
        result = validate_return(current, previous=path, submission_date=SUBMISSION)
    except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
        return [f"previous: validate_return raised {type(exc).__name__}: {str(exc)[:300]}"]
    out = [
        f"previous: {f}" for f in summary_failures(result.summary, "current.csv", _line_count(base_bytes(case.base)))
    ]
    if not result.usable or result.exit_code != _clean_exit_code(case.base):
        out.append(f"previous: exit code {result.exit_code}, the clean return alone {_clean_exit_code(case.base)}")
    hit = find_identifying(json.dumps(result.summary, ensure_ascii=False))
    if hit:
        out.append(f"previous: identifying value {hit!r} in the summary")
    return out


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    exe = ROOT / ".venv" / "bin" / "ascld"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from ascld.cli import main; main()"]
    return subprocess.run([*cmd, *args], capture_output=True, timeout=timeout, env=env)


def _cli_failures(case: Case, path: Path, result: Any) -> list[str]:
    proc = _run(["validate", str(path), "--format", "json", "--submission-date", SUBMISSION.isoformat()])
    out = []
    stdout, stderr = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    if "Traceback" in stdout + stderr or "Unexpected error" in stderr:
        out.append(f"cli: traceback or unexpected error: {stderr[-300:]!r}")
    if proc.returncode != result.exit_code:
        out.append(f"cli: exit {proc.returncode}, library {result.exit_code}: {stderr[-200:]!r}")
    try:
        summary = json.loads(stdout)
    except ValueError:
        return [*out, f"cli: stdout is not JSON: {stdout[:200]!r}"]
    out += [f"cli: {f}" for f in summary_failures(summary, case.name, _line_count(case.data))]
    if summary.get("problems") != result.summary["problems"]:
        out.append("cli: listing differs from the library's")
    hit = find_identifying(stdout + stderr) or find_identifying(json.dumps(summary, ensure_ascii=False))
    if hit:
        out.append(f"cli: identifying value {hit!r} in the output")
    return out


def _store_rows(store: Path) -> tuple[int, int]:
    """(imports, rows) in a store folder (0, 0 when there is none)."""
    if not (store / "store.json").exists() and not store.exists():
        return 0, 0
    from ascld.national.store import NationalStore

    s = NationalStore(store)
    imports = s.imports()
    files = s.row_files()
    if not files:
        return len(imports), 0
    import pyarrow.parquet as pq

    return len(imports), sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _ingest_failures(case: Case, path: Path, folder: Path, result: Any) -> list[str]:
    store = folder / "store"
    env = {**os.environ, "ASCLD_PSEUDO_KEY": TEST_KEY}
    env.pop("ASCLD_PSEUDO_KEY_FILE", None)
    args = [
        "national",
        "ingest",
        str(path),
        "--store",
        str(store),
        "--import-date",
        "2025-10-20",
        "--reports",
        str(folder / "reports"),
    ]
    out = []
    for attempt in (1, 2):
        proc = _run(args, env=env)
        stdout, stderr = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        if "Traceback" in stdout + stderr or "Unexpected error" in stderr:
            out.append(f"ingest {attempt}: traceback or unexpected error: {stderr[-400:]!r}")
        hit = find_identifying(stdout + stderr)
        if hit:
            out.append(f"ingest {attempt}: identifying value {hit!r} in the output")
        expected = 1 if result.exit_code == 2 else 0
        if proc.returncode != expected:
            out.append(f"ingest {attempt}: exit {proc.returncode}, expected {expected}: {(stdout + stderr)[-300:]!r}")
        try:
            imports, rows = _store_rows(store)
        except Exception as exc:  # noqa: BLE001
            out.append(f"ingest {attempt}: store unreadable: {type(exc).__name__}: {exc}")
            break
        if result.exit_code == 2:
            if imports or rows:
                out.append(f"ingest {attempt}: a refused file left {imports} imports, {rows} rows")
        elif (imports, rows) != (1, result.row_count):
            out.append(f"ingest {attempt}: store holds {imports} imports, {rows} rows; expected 1, {result.row_count}")
    # The reports of refused files, and every text value the store holds, hold no identifying value either
    # (the store keeps pseudonyms, sectors and years, never names, NHS numbers, postcodes or dates of birth).
    for report in sorted((folder / "reports").rglob("*")) if (folder / "reports").exists() else []:
        if report.is_file() and report.suffix in (".json", ".csv", ".html", ".txt"):
            hit = find_identifying(html.unescape(report.read_text("utf-8", "replace")))
            if hit:
                out.append(f"ingest: identifying value {hit!r} in {report.name}")
    for value in _store_texts(store):
        hit = find_identifying(value)
        if hit:
            out.append(f"ingest: identifying value {hit!r} stored")
            break
    return out


def _store_texts(store: Path) -> list[str]:
    """Every distinct text value in the store's Parquet files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts: set[str] = set()
    for path in sorted(store.rglob("*.parquet")) if store.exists() else []:
        table = pq.read_table(path)
        for column in table.columns:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                texts.update(v for v in column.unique().to_pylist() if v)
    return sorted(texts)


# --- the campaign -------------------------------------------------------------------------------------------


def run(
    seeds: list[int],
    *,
    cli_every: int = 0,
    ingest_every: int = 0,
    outputs_every: int = 1,
    log: Callable[[str], None] = print,
    save: Path | None = None,
    ingest_usable: int = 0,
    previous_every: int = 0,
) -> list[Outcome]:
    outcomes = []
    usable_seen = 0
    with tempfile.TemporaryDirectory(prefix="ascld-fuzz-") as tmp:
        for n, seed in enumerate(seeds):
            case = make_case(seed)
            o = check_case(
                case,
                Path(tmp),
                outputs=bool(outputs_every) and n % outputs_every == 0,
                cli=bool(cli_every) and n % cli_every == 0,
                ingest=bool(ingest_every) and n % ingest_every == 0,
                # Accepted files are the ingest's harder half (stored rows, reruns): every Nth of them too.
                ingest_if_usable=bool(ingest_usable) and usable_seen % ingest_usable == 0,
                previous=bool(previous_every) and n % previous_every == 0,
            )
            usable_seen += o.exit_code in (0, 1)
            outcomes.append(o)
            if n and n % 250 == 0:
                log(f"... {n} cases, {sum(bool(x.failures) for x in outcomes)} failed")
            if o.failures:
                log(f"FAIL {case.label}")
                for f in o.failures:
                    log(f"    {f}")
                if save:
                    save.mkdir(parents=True, exist_ok=True)
                    (save / f"{seed}-{case.name}").write_bytes(case.data)
            case.data = b""  # the outcomes are kept; the files (some tens of MB) are not
            # Each case's files go as soon as it is done (some are tens of MB).
            for p in Path(tmp).iterdir():
                _rmtree(p)
    return outcomes


def _rmtree(p: Path) -> None:
    import shutil

    shutil.rmtree(p, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--replay", type=int, help="run one seed and print its case")
    ap.add_argument("--save", type=Path, help="folder to keep failing (or replayed) files in")
    ap.add_argument("--cli-every", type=int, default=25, help="run the CLI on every Nth case (0: never)")
    ap.add_argument("--ingest-every", type=int, default=100, help="run the ingest on every Nth case (0: never)")
    ap.add_argument("--ingest-usable", type=int, default=0, help="also ingest every Nth usable case (0: never)")
    ap.add_argument("--previous-every", type=int, default=0, help="use every Nth case as --previous (0: never)")
    ap.add_argument("--outputs-every", type=int, default=1, help="write the outputs of every Nth case")
    args = ap.parse_args(argv)
    if args.replay is not None:
        case = make_case(args.replay)
        print(case.label)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / case.name).write_bytes(case.data)
        with tempfile.TemporaryDirectory() as tmp:
            o = check_case(case, Path(tmp), cli=True, ingest=True)
        print(f"exit {o.exit_code} checks {o.check_ids} {o.seconds:.2f}s")
        for f in o.failures:
            print("   ", f)
        return 1 if o.failures else 0
    started = time.time()
    outcomes = run(
        list(range(args.start, args.start + args.count)),
        cli_every=args.cli_every,
        ingest_every=args.ingest_every,
        outputs_every=args.outputs_every,
        save=args.save,
        log=lambda s: print(s, flush=True),
        ingest_usable=args.ingest_usable,
        previous_every=args.previous_every,
    )
    kinds = Counter(k for o in outcomes for k in o.case.kinds)
    codes = Counter(o.exit_code for o in outcomes)
    failed = [o for o in outcomes if o.failures]
    print(f"{len(outcomes)} cases in {time.time() - started:.0f}s; exit codes {dict(codes)}; {len(failed)} failed")
    print("by mutation: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    slowest = sorted(outcomes, key=lambda o: -o.seconds)[:3]
    print("slowest: " + "; ".join(f"{o.case.seed} {'+'.join(o.case.kinds)} {o.seconds:.1f}s" for o in slowest))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
