"""Settings from one table (defaults, environment, --setting); the store key from the environment or a key
file, never inside the store."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.errors import UsageError
from ascld.landing.settings import Settings, build_config, generate_key_file, load_store_key

DOCS = Path(__file__).resolve().parents[2] / "docs" / "landing.md"


def test_settings_come_from_defaults_environment_then_options():
    s = Settings.from_sources(
        [("raw_retention_days", "7")],
        environ={"ASCLD_RAW_RETENTION_DAYS": "3", "ASCLD_COOKIE_SECURE": "false"},
    )
    assert s.raw_retention_days == 7.0
    assert s.cookie_secure is False
    assert s.max_upload_bytes == 4 * 1024**3 and s.max_gzip_upload_bytes == 800 * 1024**2
    assert s.national_retention_years == 20


def test_unknown_or_malformed_settings_are_usage_errors():
    with pytest.raises(UsageError, match="unknown setting"):
        Settings.from_sources([("max_upload_mb", "1")], environ={})
    with pytest.raises(UsageError, match="not a valid"):
        Settings.from_sources([("worker_threads", "two")], environ={})


def test_every_setting_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    for name, _default, _help in Settings.help_table():
        assert f"`{name}`" in text, f"{name} missing from docs/landing.md"


def test_store_key_from_environment_base64_or_hex(tmp_path):
    key = os.urandom(32)
    assert load_store_key(tmp_path, environ={"ASCLD_STORE_KEY": base64.b64encode(key).decode()}) == key
    assert load_store_key(tmp_path, environ={"ASCLD_STORE_KEY": key.hex()}) == key
    with pytest.raises(UsageError, match="32 bytes"):
        load_store_key(tmp_path, environ={"ASCLD_STORE_KEY": "short"})


def test_store_key_file_never_inside_the_store(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    inside = generate_key_file(store / "key")
    with pytest.raises(UsageError, match="inside the store"):
        load_store_key(store, inside, environ={})
    outside = generate_key_file(tmp_path / "key")
    assert len(load_store_key(store, outside, environ={})) == 32
    assert outside.stat().st_mode & 0o077 == 0


def test_no_key_says_how_to_make_one(tmp_path):
    with pytest.raises(UsageError, match="--generate-key"):
        build_config(tmp_path / "store", environ={})


def test_serve_generate_key_never_overwrites(tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["serve", "--generate-key", str(tmp_path / "k")])
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, ["serve", "--generate-key", str(tmp_path / "k")])
    assert again.exit_code == 2 and "exists already" in again.output


def test_serve_init_creates_the_database_and_one_administrator(tmp_path, monkeypatch):
    runner = CliRunner()
    key = generate_key_file(tmp_path / "store.key")
    args = ["serve", "--store", str(tmp_path / "store"), "--store-key-file", str(key), "--init"]
    monkeypatch.delenv("ASCLD_ADMIN_PASSWORD", raising=False)
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    password = re.search(r"Password \(shown once.*\): (\S+)", first.output).group(1)
    second = runner.invoke(cli, args)
    assert "exists already" in second.output
    from sqlalchemy import select

    from ascld.landing.auth import ADMIN
    from ascld.landing.db import Database
    from ascld.landing.models import AuditEvent, User

    db = Database(f"sqlite:///{tmp_path / 'store' / 'landing.sqlite'}")
    with db.tx() as s:
        admins = s.scalars(select(User).where(User.role == ADMIN)).all()
        assert [a.username for a in admins] == ["admin"]
        assert password not in admins[0].password_hash
        assert s.scalar(select(AuditEvent.action)) == "user_create"
    db.dispose()


def test_serve_refuses_to_start_without_a_pseudonymisation_key(tmp_path, monkeypatch):
    monkeypatch.delenv("ASCLD_PSEUDO_KEY", raising=False)
    monkeypatch.delenv("ASCLD_PSEUDO_KEY_FILE", raising=False)
    key = generate_key_file(tmp_path / "store.key")
    result = CliRunner().invoke(
        cli, ["serve", "--store", str(tmp_path / "store"), "--store-key-file", str(key)]
    )
    assert result.exit_code == 2
    assert "ASCLD_PSEUDO_KEY" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (os.urandom(32) + b"\xff", "is not key text"),  # raw bytes, not base64 or hex
        ("\u00e9t\u00e9".encode("cp1252"), "is not key text"),
        (b"not a key at all", "is not 32 bytes"),
    ],
)
def test_store_key_file_that_is_no_key_text_names_the_file_not_its_bytes(tmp_path, content, expected):
    key_file = tmp_path / "keys" / "store.key"
    key_file.parent.mkdir()
    key_file.write_bytes(content)
    with pytest.raises(UsageError, match=expected) as err:
        load_store_key(tmp_path / "store", key_file)
    message = str(err.value)
    assert str(key_file) in message and "Decode" not in message and "\n" not in message


def test_store_key_file_with_a_byte_order_mark_is_read_as_text(tmp_path):
    key = os.urandom(32)
    key_file = tmp_path / "store.key"
    key_file.write_bytes(b"\xef\xbb\xbf" + base64.b64encode(key) + b"\r\n")
    assert load_store_key(tmp_path / "store", key_file) == key


def test_store_key_file_that_cannot_be_read_names_the_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read the store key file .*missing.key"):
        load_store_key(tmp_path / "store", tmp_path / "missing.key")
