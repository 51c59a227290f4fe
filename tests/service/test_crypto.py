"""Encryption at rest: AES-256-GCM in chunks; wrong keys, altered, cut or reordered files are refused."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from ascld.landing.crypto import (
    CHUNK_SIZE,
    DecryptionError,
    decrypt_chunks,
    decrypt_file,
    encrypt_file,
    encrypt_stream,
)

KEY = bytes(range(32))


def _roundtrip(data: bytes, chunk: int = 64) -> bytes:
    out = io.BytesIO()
    assert encrypt_stream(io.BytesIO(data), out, KEY, chunk_size=chunk) == len(data)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 64 * 3, 64 * 3 + 5])
def test_encrypt_then_decrypt_gives_the_same_bytes(size):
    data = os.urandom(size)
    enc = _roundtrip(data)
    assert b"".join(decrypt_chunks(io.BytesIO(enc), KEY)) == data


def test_ciphertext_does_not_contain_the_plaintext():
    data = b"NHS_Number,Postcode\r\n9990000018,LS1 4AP\r\n" * 20
    enc = _roundtrip(data)
    assert b"9990000018" not in enc and b"LS1 4AP" not in enc


def test_same_bytes_encrypt_differently_each_time():
    data = b"x" * 100
    assert _roundtrip(data) != _roundtrip(data)


def test_wrong_key_is_named_as_such():
    enc = _roundtrip(b"hello" * 50)
    with pytest.raises(DecryptionError, match="another store key"):
        b"".join(decrypt_chunks(io.BytesIO(enc), bytes(32)))


@pytest.mark.parametrize("damage", ["flip", "truncate_last", "drop_middle", "swap", "append"])
def test_altered_files_are_refused(damage):
    enc = bytearray(_roundtrip(os.urandom(64 * 3 + 10)))
    header, block = 28, 64 + 16
    chunks = [bytes(enc[header + i : header + i + block]) for i in range(0, len(enc) - header, block)]
    if damage == "flip":
        enc[header + 5] ^= 1
        altered = bytes(enc)
    elif damage == "truncate_last":
        altered = enc[:header] + b"".join(chunks[:-1])
    elif damage == "drop_middle":
        altered = enc[:header] + chunks[0] + b"".join(chunks[2:])
    elif damage == "swap":
        altered = enc[:header] + chunks[1] + chunks[0] + b"".join(chunks[2:])
    else:
        altered = bytes(enc) + b"extra"
    with pytest.raises(DecryptionError):
        b"".join(decrypt_chunks(io.BytesIO(bytes(altered)), KEY))


def test_not_our_format_is_refused():
    with pytest.raises(DecryptionError, match="not an ascld encrypted file"):
        b"".join(decrypt_chunks(io.BytesIO(b"plain,csv\r\n1,2\r\n" * 3), KEY))


def test_files_roundtrip_with_owner_only_permissions(tmp_path):
    plain = tmp_path / "in.csv"
    plain.write_bytes(os.urandom(CHUNK_SIZE + 123))
    encrypt_file(plain, tmp_path / "x.enc", KEY)
    assert not (tmp_path / "x.enc.partial").exists()
    assert decrypt_file(tmp_path / "x.enc", tmp_path / "out.csv", KEY) == CHUNK_SIZE + 123
    assert (tmp_path / "out.csv").read_bytes() == plain.read_bytes()
    assert (tmp_path / "out.csv").stat().st_mode & 0o077 == 0


class _Zeros(io.RawIOBase):
    """A large stream of zeros that never exists in memory at once."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


class _Sink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        return len(b)


def test_memory_stays_flat_whatever_the_size():
    peaks = []
    for size in (8 * CHUNK_SIZE, 64 * CHUNK_SIZE):
        tracemalloc.start()
        encrypt_stream(_Zeros(size), _Sink(), KEY)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 6 * CHUNK_SIZE
    assert peaks[1] < peaks[0] * 1.5
