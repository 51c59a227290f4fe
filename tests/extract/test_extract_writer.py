"""The return writer's paths the extractor uses: whole lines at a time, Windows-1252 encoding by the fast
route, and the file's SHA-256 taken as it is written."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from ascld.returns.writer import ReturnWriter, encode_cp1252
from ascld.spec import load_spec

ASCII = 'aZ09 ,"\r\n'
LATIN_1 = ASCII + "éüñÿ×"
WINDOWS_1252 = LATIN_1 + "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"  # the characters Windows-1252 keeps at 0x80-0x9F
# ... where Latin-1 keeps control characters Windows-1252 cannot hold; then characters neither holds.
ANYTHING = WINDOWS_1252 + "\x80\x81\x8d\x9d\x9f" + "Łő李\u2212"


def _cp1252(text: str) -> bytes | None:
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError:
        return None


def _encode(text: str, lines: list[str] | None) -> bytes | None:
    try:
        return encode_cp1252(text, lines)
    except UnicodeEncodeError:
        return None


@pytest.mark.parametrize("seed", range(40))
def test_encode_gives_windows_1252_bytes_or_fails_as_it_does(seed: int) -> None:
    rng = random.Random(seed)
    pool = rng.choice([ASCII, LATIN_1, WINDOWS_1252, ANYTHING])
    lines = ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 30))) for _ in range(rng.randrange(1, 8))]
    text = "\r\n".join(lines)
    assert _encode(text, lines) == _cp1252(text)
    assert _encode(text, None) == _cp1252(text)


def test_write_lines_writes_what_write_line_writes(tmp_path: Path) -> None:
    spec = load_spec()
    rows = [",".join([f"r{i}é"] + [""] * (len(spec.columns) - 1)) for i in range(5000)]
    with ReturnWriter(tmp_path / "a.csv", spec=spec) as one_by_one:
        for row in rows:
            one_by_one.write_line(row)
    with ReturnWriter(tmp_path / "b.csv.gz", spec=spec, gzip=True) as packed:
        packed.write_lines(rows[:10])
        packed.write_lines(rows[10:])
    with ReturnWriter(tmp_path / "c.csv", spec=spec) as at_once:
        at_once.write_lines(rows[:2500])
        at_once.write_lines(rows[2500:])
    import gzip

    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
    assert gzip.decompress((tmp_path / "b.csv.gz").read_bytes()) == (tmp_path / "a.csv").read_bytes()
    for writer in (one_by_one, packed, at_once):
        assert writer.rows == len(rows)
        data = writer.path.read_bytes()
        assert writer.sha256 == hashlib.sha256(data).hexdigest() and writer.bytes == len(data)


def test_text_windows_1252_cannot_hold_still_fails_the_write(tmp_path: Path) -> None:
    with pytest.raises(UnicodeEncodeError), ReturnWriter(tmp_path / "r.csv") as writer:
        writer.write_lines(["Łukasz"])
    assert not (tmp_path / "r.csv").exists()
