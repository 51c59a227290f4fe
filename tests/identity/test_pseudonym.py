"""Pseudonymisation keys and keyed HMAC pseudonyms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascld.errors import UsageError
from ascld.identity.pseudonym import (
    KEY_ENV,
    KEY_FILE_ENV,
    NHS_DOMAIN,
    PseudoKey,
    PseudoKeyError,
    Pseudonymiser,
    la_person_domain,
    load_key,
    sql_pseudonym,
    write_key_file,
)

HEX_KEY = "0f" * 32


def reference_pseudonym(master: bytes, domain: str, value: str) -> str:
    """The documented construction, written out independently of the module."""
    sub = hmac.new(master, b"ascld/pseudonym/v1\x00" + domain.encode(), hashlib.sha256).digest()
    return hmac.new(sub, value.encode(), hashlib.sha256).hexdigest()


def test_pseudonym_matches_documented_construction():
    p = Pseudonymiser(PseudoKey.from_text(HEX_KEY))
    expected = reference_pseudonym(bytes.fromhex(HEX_KEY), "nhs", "9990000018")
    assert p.pseudonym("9990000018", NHS_DOMAIN) == expected


def test_load_key_refuses_to_run_without_a_key():
    with pytest.raises(PseudoKeyError) as err:
        load_key(environ={})
    assert KEY_ENV in str(err.value) and "--key-file" in str(err.value)
    assert isinstance(err.value, UsageError)


def test_load_key_from_environment_hex_and_base64():
    raw = bytes(range(32))
    by_hex = load_key(environ={KEY_ENV: raw.hex()})
    by_b64 = load_key(environ={KEY_ENV: base64.b64encode(raw).decode()})
    by_urlsafe = load_key(environ={KEY_ENV: base64.urlsafe_b64encode(raw).decode().rstrip("=")})
    assert by_hex.secret == by_b64.secret == by_urlsafe.secret == raw


def test_load_key_prefers_explicit_file_then_env_then_env_file(tmp_path):
    f1, f2 = tmp_path / "k1", tmp_path / "k2"
    f1.write_text("11" * 32 + "\n")
    f2.write_text("22" * 32)
    env = {KEY_ENV: "33" * 32, KEY_FILE_ENV: str(f2)}
    assert load_key(f1, environ=env).secret == bytes.fromhex("11" * 32)
    assert load_key(environ=env).secret == bytes.fromhex("33" * 32)
    assert load_key(environ={KEY_FILE_ENV: str(f2)}).secret == bytes.fromhex("22" * 32)


def test_raw_binary_key_file(tmp_path):
    f = tmp_path / "raw.key"
    f.write_bytes(bytes([0, 255] * 20))
    assert load_key(f, environ={}).secret == bytes([0, 255] * 20)


@pytest.mark.parametrize("text", ["abcd", "00" * 31, "not a key!!", ""])
def test_short_or_malformed_key_refused_without_echoing_it(text):
    with pytest.raises(PseudoKeyError) as err:
        load_key(environ={KEY_ENV: text}) if text else PseudoKey.from_text(text)
    if len(text) > 3:
        assert text not in str(err.value)


def test_missing_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(PseudoKeyError, match="cannot read"):
        load_key(tmp_path / "absent.key", environ={})


def test_key_never_shown_in_repr():
    key = PseudoKey.from_text(HEX_KEY)
    assert HEX_KEY not in repr(key) and HEX_KEY not in repr(Pseudonymiser(key))
    assert bytes.fromhex(HEX_KEY).hex() not in repr(Pseudonymiser(key))


def test_write_key_file_is_private_and_never_overwritten(tmp_path):
    f = tmp_path / "new.key"
    key = write_key_file(f)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert load_key(f, environ={}).secret == key.secret
    with pytest.raises(UsageError, match="never overwritten"):
        write_key_file(f)


def test_same_key_same_pseudonym_other_key_different():
    a1 = Pseudonymiser(PseudoKey.from_text(HEX_KEY))
    a2 = Pseudonymiser(PseudoKey.from_text(HEX_KEY))
    b = Pseudonymiser(PseudoKey.from_text("f0" * 32))
    assert a1.pseudonym("9990000018", NHS_DOMAIN) == a2.pseudonym("9990000018", NHS_DOMAIN)
    assert a1.pseudonym("9990000018", NHS_DOMAIN) != b.pseudonym("9990000018", NHS_DOMAIN)


def test_domains_separate_councils_kinds_and_releases():
    p = Pseudonymiser(PseudoKey.from_text(HEX_KEY))
    values = {
        p.pseudonym("12345", la_person_domain("503")),
        p.pseudonym("12345", la_person_domain("504")),
        p.pseudonym("12345", NHS_DOMAIN),
        Pseudonymiser(PseudoKey.from_text(HEX_KEY), release="r1").pseudonym("12345", NHS_DOMAIN),
        Pseudonymiser(PseudoKey.from_text(HEX_KEY), release="r2").pseudonym("12345", NHS_DOMAIN),
    }
    assert len(values) == 5
    assert la_person_domain(" 503") == la_person_domain("503 ")


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=30))
def test_batch_pseudonyms_equal_single(values):
    p = Pseudonymiser(PseudoKey.from_text(HEX_KEY))
    batch = p.pseudonyms(values, "d")
    assert batch == [None if v is None else p.pseudonym(v, "d") for v in values]
    assert all(v is None or (len(v) == 64 and int(v, 16) >= 0) for v in batch)


# Text as a return can hold it: no NUL, and no lone surrogates (a decoded file never has them, and DuckDB
# cannot take them).
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@settings(deadline=None, max_examples=50)
@given(st.lists(st.one_of(st.none(), _TEXT), max_size=30))
def test_sql_pseudonyms_equal_python(values):
    import duckdb

    con = duckdb.connect()
    p = Pseudonymiser(PseudoKey.from_text(HEX_KEY))
    p.register_sql_keys(con, "k", {"a": "la_person:503", "n": NHS_DOMAIN})
    got = con.execute(
        f"SELECT {sql_pseudonym('k', 'v.x')} FROM unnest($1::VARCHAR[]) WITH ORDINALITY v(x, i) "
        "JOIN k ON k.name = 'a' ORDER BY i",
        [values],
    ).fetchall()
    assert [g[0] for g in got] == p.pseudonyms(values, "la_person:503")


def test_sql_pseudonyms_follow_domains_and_releases():
    import duckdb

    con = duckdb.connect()
    plain = Pseudonymiser(PseudoKey.from_text(HEX_KEY))
    release = Pseudonymiser(PseudoKey.from_text(HEX_KEY), release="r1")
    plain.register_sql_keys(con, "k1", {"nhs": NHS_DOMAIN, "503": la_person_domain("503")})
    release.register_sql_keys(con, "k2", {"nhs": NHS_DOMAIN})
    value = "'9990000018'"
    got = dict(con.execute(
        f"SELECT 'plain ' || name, {sql_pseudonym('k1', value)} FROM k1 UNION ALL "
        f"SELECT 'release ' || name, {sql_pseudonym('k2', value)} FROM k2"
    ).fetchall())
    assert got == {
        "plain nhs": plain.pseudonym("9990000018", NHS_DOMAIN),
        "plain 503": plain.pseudonym("9990000018", la_person_domain("503")),
        "release nhs": release.pseudonym("9990000018", NHS_DOMAIN),
    }
    assert reference_pseudonym(bytes.fromhex(HEX_KEY), "nhs", "9990000018") == got["plain nhs"]


def test_fingerprint_distinguishes_keys_without_revealing_them():
    k = PseudoKey.from_text(HEX_KEY)
    assert k.fingerprint != PseudoKey.from_text("f0" * 32).fingerprint
    assert len(k.fingerprint) == 16 and k.fingerprint not in HEX_KEY
