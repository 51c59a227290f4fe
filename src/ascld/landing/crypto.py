"""Encryption at rest for received files: AES-256-GCM in fixed-size chunks, streamed.

Format (version 1):

    header  = b"ASCLDENC" | version (1) | key id (8) | nonce prefix (7) | chunk size (4, big-endian)
    chunk i = AES-GCM(key, nonce = prefix | i (4, big-endian) | last (1), plaintext chunk, aad = header)

Each chunk carries its own tag, so memory stays at one chunk whatever the file size. The chunk counter and the
"last chunk" flag in the nonce make reordering, dropping or truncating chunks fail authentication (the STREAM
construction of Hoang, Reyhanitabar, Rogaway and Vizár, 2015). The key id (first 8 bytes of SHA-256 of the
key) lets decryption say "wrong key" plainly instead of "corrupt file".
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ascld.errors import AscldError

MAGIC = b"ASCLDENC"
VERSION = 1
CHUNK_SIZE = 1024 * 1024
_TAG = 16
_HEADER = struct.Struct(">8sB8s7sI")


class DecryptionError(ValueError, AscldError):
    """An encrypted file cannot be read: wrong key, not ours, or altered/truncated."""


def key_id(key: bytes) -> bytes:
    """A short, non-secret fingerprint of the key, stored in each file's header."""
    return hashlib.sha256(b"ascld-store-key-id:" + key).digest()[:8]


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 2**32:
        raise ValueError("file too large for one encrypted stream")
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes, chunk_size: int = CHUNK_SIZE) -> int:
    """Encrypt everything readable from `src` into `dst`; returns the plaintext byte count."""
    aead = AESGCM(key)
    header = _HEADER.pack(MAGIC, VERSION, key_id(key), os.urandom(7), chunk_size)
    prefix = header[17:24]
    dst.write(header)
    total, index = 0, 0
    current = src.read(chunk_size)
    while True:
        following = src.read(chunk_size) if len(current) == chunk_size else b""
        last = not following
        dst.write(aead.encrypt(_nonce(prefix, index, last), current, header))
        total += len(current)
        if last:
            return total
        current, index = following, index + 1


def decrypt_chunks(src: BinaryIO, key: bytes) -> Iterator[bytes]:
    """Yield the plaintext of an encrypted stream chunk by chunk.

    Raises:
        DecryptionError: the file is not in this format, was made with another key, or was altered or
            cut short.
    """
    header = src.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise DecryptionError("not an ascld encrypted file (header too short)")
    magic, version, kid, prefix, chunk_size = _HEADER.unpack(header)
    if magic != MAGIC or version != VERSION:
        raise DecryptionError("not an ascld encrypted file (unknown header)")
    if kid != key_id(key):
        raise DecryptionError("the file was encrypted with another store key")
    aead = AESGCM(key)
    block = chunk_size + _TAG
    index = 0
    current = src.read(block)
    while True:
        following = src.read(block) if len(current) == block else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(prefix, index, last), current, header)
        except InvalidTag:
            raise DecryptionError("the encrypted file was altered or is incomplete") from None
        if last:
            return
        current, index = following, index + 1


def encrypt_file(plain: Path, target: Path, key: bytes) -> None:
    """Encrypt `plain` to `target` durably: written beside it, fsynced, then renamed into place."""
    partial = target.with_name(target.name + ".partial")
    with open(plain, "rb") as src, open(partial, "wb") as dst:
        encrypt_stream(src, dst, key)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, target)
    fsync_dir(target.parent)


def decrypt_file(encrypted: Path, target: Path, key: bytes) -> int:
    """Decrypt `encrypted` to `target` (created readable by its owner only); returns the byte count."""
    total = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(encrypted, "rb") as src, os.fdopen(fd, "wb") as dst:
        for chunk in decrypt_chunks(src, key):
            dst.write(chunk)
            total += len(chunk)
    return total


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
