"""Write the corpus of unusable return files the validator must refuse with exit code 2 and a one-line reason.

Seeded and deterministic: the same seed writes the same bytes. Each file's expected transport check is listed
in `expected.csv` beside the files (name,check_id,what,says: words the one-line reason must contain, if any).
The tests build the corpus in a temporary folder with `make_bad_files`; run this script to look at the files
yourself:

    uv run python scripts/make_bad_files.py tests/data/bad_files
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import random
import sys
import zipfile
from pathlib import Path

from ascld.quality.sample import SampleGenerator
from ascld.spec import load_spec


def _csv_bytes(
    header: list[str], rows: list[list[str]], *, delimiter: str = ",", encoding: str = "cp1252"
) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def make_bad_files(folder: str | Path, seed: int = 0) -> dict[str, tuple[str, str, str]]:
    """Write every bad file into `folder`; returns {file name: (expected check id, what is wrong, words the
    one-line reason must contain)}."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    spec = load_spec()
    header = list(spec.headers)
    gen = SampleGenerator(spec, seed=seed)
    rows = [[r[c] for c in spec.columns] for r in gen.rows(12)]
    good = _csv_bytes(header, rows)
    col = {c: i for i, c in enumerate(spec.columns)}
    files: dict[str, tuple[bytes, str, str, str]] = {}

    def add(name: str, data: bytes, check: str, what: str, says: str = "") -> None:
        files[name] = (data, check, what, says)

    def with_cell(row: int, column: str, value: str) -> list[list[str]]:
        changed = [list(r) for r in rows]
        changed[row][col[column]] = value
        return changed

    add("empty.csv", b"", "T001", "0 bytes")
    add("only_blank_lines.csv", b"\r\n\r\n  \r\n", "T001", "only empty lines")
    add("header_only.csv", _csv_bytes(header, []), "T008", "a header and no rows")
    add("bom_utf8.csv", b"\xef\xbb\xbf" + good, "T003", "UTF-8 byte-order mark")
    add("utf16_le_bom.csv", good.decode("cp1252").encode("utf-16"), "T004", "UTF-16 with BOM")
    add("utf16_le_no_bom.csv", good.decode("cp1252").encode("utf-16-le"), "T004", "UTF-16 without BOM")
    utf8_rows = with_cell(3, "First_Name", "Zoë Siân")
    add("utf8_accents.csv", _csv_bytes(header, utf8_rows, encoding="utf-8"), "T005", "UTF-8 accented letters")
    add(
        "undefined_cp1252_byte.csv",
        good.replace(b"Home care", b"Home\x81care", 1) if b"Home care" in good else good + b"\x81\r\n",
        "T004",
        "byte 0x81, undefined in Windows-1252",
    )
    junk = bytes(rng.getrandbits(8) for _ in range(4096))
    add("binary_junk.csv", junk, "T002", "random bytes")
    add("nul_in_text.csv", good[:400] + b"\x00" + good[400:], "T002", "a NUL byte inside text")
    add("only_nul_bytes.csv", b"\x00" * 256, "T002", "nothing but NUL bytes")
    add("utf32.csv", good.decode("cp1252").encode("utf-32"), "T004", "UTF-32 with BOM")
    crlf_lines = good.split(b"\r\n")
    add(
        "mixed_line_endings.csv",
        b"\r\n".join(crlf_lines[:6]) + b"\r\n" + b"\n".join(crlf_lines[6:]),
        "T017",
        "CR LF on the first lines, LF alone after",
    )
    add("cr_line_endings.csv", good.replace(b"\r\n", b"\r"), "T017", "lines ending in CR alone")
    add(
        "repeated_header.csv",
        b"\r\n".join(crlf_lines[:5] + [crlf_lines[0]] + crlf_lines[5:]),
        "T018",
        "the header row again after four rows (two exports joined)",
    )
    add("double_gzip.csv.gz", gzip.compress(gzip.compress(good, mtime=0), mtime=0), "T002", "gzip inside gzip")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        for member, text in (("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>")):
            zf.writestr(zipfile.ZipInfo(member, date_time=(2025, 1, 1, 0, 0, 0)), text)
    add("excel_workbook.csv", zbuf.getvalue(), "T002", "an .xlsx workbook renamed .csv")
    add(
        "excel_97.csv",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(rng.getrandbits(8) for _ in range(512)),
        "T002",
        "an Excel 97-2003 workbook",
    )
    add("document.pdf.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "T002", "a PDF")
    gz = gzip.compress(good, mtime=0)
    add("truncated.csv.gz", gz[: len(gz) // 2], "T006", "gzip cut in half")
    add(
        "corrupt.csv.gz",
        gz[:10] + bytes(rng.getrandbits(8) for _ in range(300)),
        "T006",
        "gzip header, garbage",
    )
    add("empty_inside.csv.gz", gzip.compress(b"", mtime=0), "T001", "gzip of nothing")
    add("bzip2.csv.bz2", bz2.compress(good), "T002", "bzip2, not gzip")
    short = [list(r) for r in rows]
    short[5] = short[5][:-3]
    add("ragged_short_row.csv", _csv_bytes(header, short), "T009", "a row with three values too few")
    long = [list(r) for r in rows]
    long[7] = long[7] + ["surplus"]
    add("ragged_long_row.csv", _csv_bytes(header, long), "T009", "a row with a value too many")
    trailing = [list(r) for r in rows]
    trailing[8] = trailing[8] + [""]
    add(
        "ragged_trailing_comma.csv",
        _csv_bytes(header, trailing),
        "T009",
        "one row ending with an extra empty value",
    )
    lines = good.split(b"\r\n")
    lines[4] = lines[4].replace(b",", b',"', 1)
    add("unclosed_quote.csv", b"\r\n".join(lines[:6]) + b"\r\n", "T010", "a quote that never closes")
    add(
        "huge_single_field.csv",
        _csv_bytes(header, with_cell(2, "Event_Description", "x" * 2_000_000)),
        "T011",
        "a 2 MB value",
    )
    add(
        "formula_equals.csv",
        _csv_bytes(header, with_cell(4, "Event_Description", '=HYPERLINK("http://x","y")')),
        "T012",
        "a value starting =",
    )
    add(
        "formula_plus.csv",
        _csv_bytes(header, with_cell(1, "Event_Reference", "+441234567890")),
        "T012",
        "a value starting +",
    )
    add(
        "formula_at.csv",
        _csv_bytes(header, with_cell(6, "Event_Description", "@SUM(A1:A2)")),
        "T012",
        "a value starting @",
    )
    add(
        "formula_minus_text.csv",
        _csv_bytes(header, with_cell(2, "Event_Description", "-cmd|' /C calc'!A0")),
        "T012",
        "a value starting - that is not a number",
    )
    add(
        "semicolon_delimited.csv",
        _csv_bytes(header, rows, delimiter=";"),
        "T015",
        "semicolons between values",
    )
    add("tab_delimited.csv", _csv_bytes(header, rows, delimiter="\t"), "T015", "tabs between values")
    add(
        "header_national_names.csv",
        _csv_bytes(list(spec.columns), rows),
        "T007",
        "national column names (underscores) as headers",
    )
    add(
        "header_lower_case.csv",
        _csv_bytes([h.lower() for h in header], rows),
        "T007",
        "headers in lower case",
    )
    add(
        "header_missing_colon.csv",
        _csv_bytes([h.replace(":", "") for h in header], rows),
        "T007",
        "'Request Route of Access' without its colon",
    )
    swapped = list(header)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    add("header_reordered.csv", _csv_bytes(swapped, rows), "T007", "two columns swapped")
    add(
        "header_missing_column.csv",
        _csv_bytes(header[:-1], [r[:-1] for r in rows]),
        "T007",
        "the last column left out",
    )
    add(
        "header_trailing_empty_columns.csv",
        _csv_bytes(header + ["", ""], [r + ["", ""] for r in rows]),
        "T007",
        "empty columns after the last one",
    )
    two_la = with_cell(3, "LA_Code", "902")
    add("two_la_codes.csv", _csv_bytes(header, two_la), "T013", "two LA codes")
    two_periods = with_cell(3, "Reporting_Period_End_Date", "31/12/2025")
    add("two_periods.csv", _csv_bytes(header, two_periods), "T014", "two stated reporting periods")

    # Found by probing the validator with files nobody had thought of (see tests/quality/test_bad_files.py).
    clean = good.split(b"\r\n")  # `lines` above has been changed
    add("no_header_row.csv", b"\r\n".join(clean[1:]), "T007", "the header row left out", "the header row is missing")
    add("sep_line.csv", b"sep=,\r\n" + good, "T007", "Excel's 'sep=,' line before the header", "'sep=' line")
    add(
        "empty_lines_before_header.csv",
        b"\r\n  \r\n" + good,
        "T007",
        "two empty lines before the header",
        "the first line with text is line 3",
    )
    add(
        "html_page.csv",
        b"<!DOCTYPE html>\r\n<html><body><table><tr><td>LA Code</td></tr></table></body></html>\r\n",
        "T002",
        "a web page saved as .csv",
        "web page",
    )
    add(
        "header_extra_first_column.csv",
        _csv_bytes(["Row", *header], [[str(i), *r] for i, r in enumerate(rows)]),
        "T007",
        "a row-number column before the CLD columns",
        "column 1 ('Row') is not a CLD column",
    )
    add(
        "header_10000_columns.csv",
        _csv_bytes(header + [f"c{i}" for i in range(10_000)], [r + [""] * 10_000 for r in rows[:3]]),
        "T007",
        "10,000 columns after the CLD ones",
        "10,000 columns after column 50",
    )
    add(
        "rows_10000_surplus_values.csv",
        b"\r\n".join([clean[0]] + [ln + b"," * 10_000 for ln in clean[1:] if ln]) + b"\r\n",
        "T009",
        "every data row with 10,000 surplus empty values (DuckDB took 20 s over 12 rows)",
        "10,050 values",
    )
    add(
        "header_duplicate_name.csv",
        _csv_bytes(header[:5] + [header[6]] + header[6:], rows),
        "T007",
        "'Last Name' in place of 'First Name' as well",
        "appears twice (columns 6 and 7)",
    )
    add(
        "header_nbsp.csv",
        good.replace(b"LA Code", b"LA\xa0Code", 1),
        "T007",
        "a non-breaking space in a column name",
        "a non-breaking space instead of a space",
    )
    add(
        "header_line_break.csv",
        good.replace(b"LA Code", b'"LA\nCode"', 1),
        "T007",
        "a line break inside a quoted column name",
        "'LA\\nCode'",
    )
    add("header_all_empty.csv", b"," * 49 + b"\r\n" + b"\r\n".join(clean[1:]), "T007", "no names", "no column names")
    add(
        "bom_in_the_middle.csv",
        b"\r\n".join(clean[:4] + [b"\xef\xbb\xbf" + clean[4]] + clean[5:]),
        "T019",
        "a UTF-8 byte-order mark at the start of line 5 (two files joined)",
        "row 5: the line holds a UTF-8 byte-order mark",
    )
    add(
        "formula_after_tab.csv",
        _csv_bytes(header, with_cell(3, "Event_Description", "\t=1+1")),
        "T012",
        "a value starting with a tab then =",
    )
    add(
        "formula_after_carriage_return.csv",
        _csv_bytes(header, with_cell(5, "Event_Description", "\r@SUM(A1:A2)")),
        "T012",
        "a value starting with a carriage return then @",
    )
    add("ctrl_z_at_end.csv", good + b"\x1a", "T002", "a DOS end-of-file mark after the last line", "Ctrl-Z")
    add(
        "header_quote_not_closed.csv",
        b'"' + good,
        "T007",
        "a double quote before the first column name, never closed in the header",
        "a double quote in line 1 is not closed",
    )
    add(
        "header_name_over_128k.csv",
        good.replace(b"LA Code", b"LA Code" + b"x" * 200_000, 1),
        "T007",
        "a 200 KB column name (Python's csv module stops at 128 KiB)",
        "the specification has 'LA Code' there",
    )
    add(
        "header_trailing_space.csv",
        good.replace(b"LA Code,", b"LA Code ,", 1),
        "T007",
        "a space after a column name",
        "instead of 'LA Code' (spaces before or after the name)",
    )
    body = [ln for ln in clean[1:] if ln]
    add(
        "ragged_6000_rows.csv",
        b"\r\n".join([clean[0]] + [ln + b",x,y" for ln in body] * 500) + b"\r\n",
        "T009",
        "6,000 rows with two surplus values each (the listing is cut at 1,000)",
        "row 2: the row has more values",
    )
    add(
        "wide_rows_after_first_mib.csv",
        b"\r\n".join([clean[0]] + body * 300 + [ln + b"," * 2000 for ln in body] * 8) + b"\r\n",
        "T009",
        "96 rows of 2,000 surplus values after 1.8 MB of good rows (DuckDB took 20 s)",
        "2,050 values",
    )
    add("no_line_breaks.csv", b"x" * (1 << 21), "T011", "2 MiB with no line break", "no header row")
    # DuckDB 2.0 loses such rows without a word once they pass its 32 MiB buffer: both files exited 0.
    add(
        "line_over_buffer.csv",
        b"\r\n".join(clean[:3] + [clean[3].replace(b",", b"," + b"y" * (33 << 20), 1)] + clean[4:]),
        "T011",
        "one unquoted 33 MiB value (the row vanished: 11 rows checked, exit 0)",
        "longer than 1 MiB",
    )
    add(
        "repeated_header_upper_case.csv",
        b"\r\n".join(crlf_lines[:5] + [crlf_lines[0].upper()] + crlf_lines[5:]),
        "T018",
        "the header row again in capitals (it was named as a second LA code)",
        "repeats the header row",
    )
    lower_spaced = b",".join(b" " + name.lower() + b" " for name in crlf_lines[0].split(b","))
    add(
        "repeated_header_lower_case_spaces.csv",
        b"\r\n".join(crlf_lines[:5] + [lower_spaced] + crlf_lines[5:]),
        "T018",
        "the header row again in lower case with spaces around the names",
        "repeats the header row",
    )
    commas = b"," * (len(header) - 1)
    add(
        "rows_only_commas.csv",
        crlf_lines[0] + b"\r\n" + (commas + b"\r\n") * 5,
        "T008",
        "five rows of commas only (gave 60 blank-field failures, exit 1)",
        "every value in them is blank",
    )
    add(
        "some_rows_only_commas.csv",
        b"\r\n".join(crlf_lines[:4] + [commas] + crlf_lines[4:-1] + [commas] * 3) + b"\r\n",
        "T020",
        "a row of commas inside the data and three after it (a spreadsheet's used range)",
        "row 5: the row is empty",
    )
    plain = [ln for ln in clean[1:] if ln and b'"' not in ln]
    tail = plain * ((34 << 20) // sum(len(ln) + 2 for ln in plain) + 1)
    add(
        "quote_never_closed_large.csv",
        b"\r\n".join([clean[0], plain[0], plain[1].replace(b",", b',"', 1), *tail]) + b"\r\n",
        "T010",
        "a quote on row 3 never closed, 34 MiB before the end (every row after it vanished: exit 0)",
        "never closed",
    )

    with open(out / "expected.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "check_id", "what", "says"])
        for name, (data, check, what, says) in files.items():
            (out / name).write_bytes(data)
            writer.writerow([name, check, what, says])
    return {name: (check, what, says) for name, (_, check, what, says) in files.items()}


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bad_files")
    made = make_bad_files(target)
    print(f"wrote {len(made)} bad files into {target}")
