"""Keyed pseudonyms: HMAC-SHA-256 under a secret key that never sits beside the data (DESIGN.md principle 3).

The key comes from the environment variable `ASCLD_PSEUDO_KEY` or from a key file. Its text is 64 or more hex
digits, or base64 for 32 or more bytes; a key file may instead hold 32 or more raw bytes. ascld refuses to
pseudonymise without a key and never writes one into a store.

Every identifier kind is pseudonymised in its own *domain*: a sub-key is derived from the master key for each
domain (`HMAC(master, "ascld/pseudonym/v1" 0x00 domain)`), and the pseudonym is `HMAC(sub-key, value)` as
64 lower-case hex digits. So the same NHS number gives the same pseudonym in every file and resubmission,
while LA person IDs are scoped by council (`la_person:<LA code>`): two councils' "12345" never collide, and a
carer's linked person ID gets exactly the pseudonym of the cared-for person's LA person ID. A *release* (an
extract for one approved recipient) adds its own prefix to every domain, so one recipient's pseudonyms cannot
be joined to another's.

Examples:
    >>> key = PseudoKey.from_text("00" * 32)
    >>> p = Pseudonymiser(key)
    >>> p.pseudonym("9990000018", NHS_DOMAIN) == p.pseudonym("9990000018", NHS_DOMAIN)
    True
    >>> p.pseudonym("12345", la_person_domain("503")) == p.pseudonym("12345", la_person_domain("504"))
    False
    >>> len(p.pseudonym("12345", la_person_domain("503")))
    64
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascld.errors import UsageError

KEY_ENV = "ASCLD_PSEUDO_KEY"
KEY_FILE_ENV = "ASCLD_PSEUDO_KEY_FILE"
MIN_KEY_BYTES = 32
SCHEME = "hmac-sha256/v1"

NHS_DOMAIN = "nhs"
_SUBKEY_LABEL = b"ascld/pseudonym/v1\x00"
_FINGERPRINT_LABEL = b"ascld/key-fingerprint/v1"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SHA256_BLOCK = 64  # HMAC pads the key to the hash's block size (RFC 2104)

_HOW_TO_GET_ONE = (
    f"Set {KEY_ENV} to 64 hex digits, or pass --key-file (or set {KEY_FILE_ENV}) naming a file that holds "
    "them; "
    "`ascld national ingest --new-key-file FILE` writes a fresh one (keep it away from the store)."
)


class PseudoKeyError(UsageError):
    """No usable pseudonymisation key: missing, too short or unreadable. The message says how to get one."""


def la_person_domain(la_code: str) -> str:
    """The pseudonym domain of a council's person IDs (LA Person Unique Identifier and Linked Person IDs).

    Examples:
        >>> la_person_domain(" 503 ")
        'la_person:503'
    """
    return f"la_person:{la_code.strip().upper()}"


@dataclass(frozen=True)
class PseudoKey:
    """A secret pseudonymisation key. Its repr never shows the key bytes.

    Attributes:
        source: where it came from ("environment ASCLD_PSEUDO_KEY", "key file <path>", ...); never the key.
    """

    secret: bytes = field(repr=False)
    source: str = "given"

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise PseudoKeyError(
                f"the pseudonymisation key from {self.source} is {len(self.secret)} bytes; at least "
                f"{MIN_KEY_BYTES} are needed. {_HOW_TO_GET_ONE}"
            )

    @classmethod
    def from_text(cls, text: str, source: str = "given") -> PseudoKey:
        """Parse key text: 64+ hex digits, else base64 (standard or URL-safe) of 32+ bytes.

        Raises:
            PseudoKeyError: the text is neither, or too short.
        """
        stripped = text.strip()
        if stripped and _HEX.match(stripped) and len(stripped) % 2 == 0:
            return cls(bytes.fromhex(stripped), source)
        try:
            padded = stripped + "=" * (-len(stripped) % 4)
            decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if not decoded:
            raise PseudoKeyError(
                f"the pseudonymisation key from {source} is neither hex nor base64. {_HOW_TO_GET_ONE}"
            )
        return cls(decoded, source)

    @classmethod
    def from_file(cls, path: str | Path) -> PseudoKey:
        """Read a key file: key text (hex or base64; UTF-8, a byte-order mark ignored) or, failing that, 32+ raw
        bytes.

        Raises:
            PseudoKeyError: the file is missing, unreadable, empty or too short.
        """
        p = Path(path)
        source = f"key file {p}"
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise PseudoKeyError(f"cannot read the {source}: {exc.strerror}. {_HOW_TO_GET_ONE}") from exc
        # Text is read as text: a key saved by an editor with a byte-order mark or a stray non-ASCII character
        # must not silently become a raw-bytes key (another key than the one written down).
        try:
            text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and text.strip().isprintable():
            return cls.from_text(text, source)
        if len(raw) < MIN_KEY_BYTES:
            raise PseudoKeyError(
                f"the {source} holds {len(raw)} raw bytes; at least {MIN_KEY_BYTES} are needed. "
                f"{_HOW_TO_GET_ONE}"
            )
        return cls(raw, source)

    @property
    def fingerprint(self) -> str:
        """A short public id of the key (HMAC of a fixed label), so a store can tell two keys apart without
        holding either.

        Examples:
            >>> PseudoKey.from_text("00" * 32).fingerprint == PseudoKey.from_text("01" * 32).fingerprint
            False
        """
        return hmac.digest(self.secret, _FINGERPRINT_LABEL, "sha256").hex()[:16]


def generate_key_text() -> str:
    """A fresh random key as 64 hex digits."""
    return secrets.token_hex(MIN_KEY_BYTES)


def write_key_file(path: str | Path) -> PseudoKey:
    """Write a fresh key to a new file readable only by its owner, and return it.

    Raises:
        UsageError: the file already exists (a key is never overwritten), or cannot be written there.
    """
    p = Path(path)
    text = generate_key_text()
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise UsageError(f"{p} already exists; a key file is never overwritten. Choose a new name.") from exc
    except OSError as exc:
        raise UsageError(
            f"cannot write the new key file {p} ({exc.strerror or type(exc).__name__}). Give a path in an existing "
            "folder you can write to, away from the store."
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return PseudoKey.from_text(text, f"key file {p}")


def load_key(key_file: str | Path | None = None, environ: Mapping[str, str] | None = None) -> PseudoKey:
    """The pseudonymisation key: an explicit key file, else `ASCLD_PSEUDO_KEY`, else `ASCLD_PSEUDO_KEY_FILE`.

    Args:
        key_file: a key file named by the caller (e.g. `--key-file`).
        environ: the environment to read (default `os.environ`).

    Raises:
        PseudoKeyError: no key anywhere, or the one found is unusable (ascld never pseudonymises without one).
    """
    env = os.environ if environ is None else environ
    if key_file is not None:
        return PseudoKey.from_file(key_file)
    if env.get(KEY_ENV, "").strip():
        return PseudoKey.from_text(env[KEY_ENV], f"environment {KEY_ENV}")
    if env.get(KEY_FILE_ENV, "").strip():
        return PseudoKey.from_file(env[KEY_FILE_ENV])
    raise PseudoKeyError(f"no pseudonymisation key was given, so nothing was done. {_HOW_TO_GET_ONE}")


class Pseudonymiser:
    """Turns identifier values into keyed pseudonyms, one domain at a time.

    Args:
        key: the secret key.
        release: optional release (recipient) name; every domain is prefixed with it, so pseudonyms of
            different releases cannot be joined.

    Examples:
        >>> key = PseudoKey.from_text("ab" * 32)
        >>> Pseudonymiser(key).pseudonym("x", "nhs") != Pseudonymiser(key, release="r1").pseudonym("x", "nhs")
        True
    """

    def __init__(self, key: PseudoKey, *, release: str | None = None) -> None:
        self._key = key
        self.release = release
        self._subkeys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"Pseudonymiser(key={self._key.fingerprint}, release={self.release!r})"

    @property
    def key_fingerprint(self) -> str:
        return self._key.fingerprint

    def qualified_domain(self, domain: str) -> str:
        return f"release:{self.release}/{domain}" if self.release else domain

    def _subkey(self, domain: str) -> bytes:
        full = self.qualified_domain(domain)
        sub = self._subkeys.get(full)
        if sub is None:
            sub = hmac.digest(self._key.secret, _SUBKEY_LABEL + full.encode("utf-8"), "sha256")
            self._subkeys[full] = sub
        return sub

    def pseudonym(self, value: str, domain: str) -> str:
        """The pseudonym of one value (64 hex digits)."""
        return hmac.digest(self._subkey(domain), value.encode("utf-8"), "sha256").hex()

    def pseudonyms(self, values: Iterable[str | None], domain: str) -> list[str | None]:
        """Pseudonyms of many values in one domain; None stays None. Callers pass distinct values (speed)."""
        sub = self._subkey(domain)
        digest = hmac.digest
        return [None if v is None else digest(sub, v.encode("utf-8"), "sha256").hex() for v in values]

    def register_sql_keys(self, con: Any, table: str, domains: Mapping[str, str]) -> str:
        """Create a DuckDB temporary table `table(name, ipad, opad)`: for each `name -> domain`, the domain's
        HMAC pads, so `sql_pseudonym` can compute pseudonyms inside DuckDB (in parallel, no Python per value).

        The pads are key material: they are passed as query parameters, so they never appear in SQL text (an
        error message or a logged statement cannot show them), and the caller drops the table as soon as the
        pseudonyms are made.

        Args:
            con: a DuckDB connection.
            table: the temporary table to create (replaced if present).
            domains: a name the caller joins on (e.g. an LA code) -> the pseudonym domain for it.
        """
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (name VARCHAR, ipad BLOB, opad BLOB)")
        for name, domain in domains.items():
            # HMAC(k, m) = H((k ^ opad) || H((k ^ ipad) || m)), k zero-padded to the block (a sub-key is 32 bytes).
            padded = self._subkey(domain).ljust(_SHA256_BLOCK, b"\x00")
            con.execute(
                f"INSERT INTO {table} VALUES (?, ?, ?)",
                [name, bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)],
            )
        return table


def sql_pseudonym(keys: str, value: str) -> str:
    """DuckDB SQL for the pseudonym of the text `value` under the pads of row alias `keys` (a row of a table
    made by `Pseudonymiser.register_sql_keys`): HMAC-SHA-256 written out with `sha256`, the same 64 lower-case
    hex digits as `Pseudonymiser.pseudonym` (the value is hashed as its UTF-8 bytes); NULL stays NULL.

    Examples:
        >>> import duckdb
        >>> con = duckdb.connect()
        >>> p = Pseudonymiser(PseudoKey.from_text("00" * 32))
        >>> _ = p.register_sql_keys(con, "k", {"nhs": NHS_DOMAIN})
        >>> sql = "SELECT " + sql_pseudonym("k", "'9990000018'") + " FROM k"
        >>> con.execute(sql).fetchone()[0] == p.pseudonym("9990000018", NHS_DOMAIN)
        True
    """
    return f"sha256({keys}.opad || unhex(sha256({keys}.ipad || encode({value}))))"
