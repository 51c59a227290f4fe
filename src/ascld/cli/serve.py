"""`ascld serve`: run the landing service (web pages + API), or set up its database."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from ascld.errors import UsageError

if TYPE_CHECKING:
    from ascld.landing.settings import LandingConfig


def _settings_help() -> str:
    from ascld.landing.settings import Settings

    return "\n\n".join(
        f"{name} (default {default!r}): {text}" for name, default, text in Settings.help_table()
    )


@click.command(
    "serve",
    epilog="Settings (`--setting NAME VALUE`, or the environment variable ASCLD_<NAME>):\n\n"
    "See docs/landing.md, or run `ascld serve --list-settings`.",
)
@click.option(
    "--db",
    "db_url",
    envvar="ASCLD_DB_URL",
    metavar="URL",
    help="SQLAlchemy URL of the metadata database. Default: SQLite file landing.sqlite in --store. "
    "Production: postgresql+psycopg://USER:PASSWORD@HOST/DB.",
)
@click.option(
    "--store",
    "store_dir",
    envvar="ASCLD_STORE",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Folder for received files (encrypted), reports and temporary files.",
)
@click.option(
    "--national",
    "national_dir",
    envvar="ASCLD_NATIONAL_STORE",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="National store to ingest into. Default: DIR/national inside --store.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option(
    "--store-key-file",
    type=click.Path(dir_okay=False),
    envvar="ASCLD_STORE_KEY_FILE",
    help="File holding the 32-byte encryption key for files at rest (or set ASCLD_STORE_KEY). Never "
    "inside --store.",
)
@click.option(
    "--pseudo-key-file",
    type=click.Path(dir_okay=False),
    help="Pseudonymisation key file for ingest (or set ASCLD_PSEUDO_KEY / ASCLD_PSEUDO_KEY_FILE).",
)
@click.option(
    "--setting",
    "settings",
    multiple=True,
    type=(str, str),
    metavar="NAME VALUE",
    help="Change a setting (repeatable); see --list-settings.",
)
@click.option(
    "--init",
    "init",
    is_flag=True,
    help="Create (or upgrade) the database and a first administrator, then exit. The password comes "
    "from ASCLD_ADMIN_PASSWORD, or is made up and printed once.",
)
@click.option(
    "--admin-user", default="admin", show_default=True, help="User name of the first administrator."
)
@click.option("--migrate", is_flag=True, help="Upgrade the database schema to this version, then exit.")
@click.option(
    "--generate-key",
    type=click.Path(dir_okay=False),
    metavar="PATH",
    help="Write a new random store key to PATH (readable by you only), then exit.",
)
@click.option("--list-settings", is_flag=True, help="Show every setting with its default, then exit.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve_command(
    db_url: str | None,
    store_dir: str | None,
    national_dir: str | None,
    host: str,
    port: int,
    store_key_file: str | None,
    pseudo_key_file: str | None,
    settings: tuple[tuple[str, str], ...],
    init: bool,
    admin_user: str,
    migrate: bool,
    generate_key: str | None,
    list_settings: bool,
    log_level: str,
) -> None:
    """Run the landing service: councils upload returns, which are checked, encrypted and ingested.

    \b
    First time:
      ascld serve --generate-key /etc/ascld/store.key
      ascld serve --store /srv/ascld --store-key-file /etc/ascld/store.key --init
    Then:
      ascld serve --store /srv/ascld --store-key-file /etc/ascld/store.key --port 8000

    Put it behind a TLS proxy in production; cookies are Secure unless `--setting cookie_secure false`.
    """
    from ascld.landing.settings import build_config, generate_key_file

    if list_settings:
        click.echo(_settings_help())
        return
    if generate_key:
        try:
            path = generate_key_file(generate_key)
        except FileExistsError:
            raise UsageError(
                f"{generate_key} exists already; choose another path (keys are never overwritten)."
            ) from None
        except OSError as exc:
            raise UsageError(
                f"--generate-key {generate_key}: cannot write the key there ({exc.strerror or type(exc).__name__})."
                " Give a path in an existing folder you can write to."
            ) from None
        click.echo(
            f"Wrote a new store key to {path}. Keep it outside the store folder and back it up: files "
            "encrypted with it cannot be read without it."
        )
        return
    if not store_dir:
        raise UsageError("give --store DIR (or set ASCLD_STORE): the folder for received files and reports.")
    config = build_config(
        store_dir,
        db_url=db_url,
        national_dir=national_dir,
        store_key_file=store_key_file,
        pseudo_key_file=pseudo_key_file,
        overrides=settings,
    )
    if init or migrate:
        with _database_errors(config):
            _setup(config, init, admin_user)
        return
    _check_pseudo_key(config)
    with _database_errors(config):
        _check_schema(config)
    _run(config, host, port, log_level)


@contextlib.contextmanager
def _database_errors(config: LandingConfig) -> Iterator[None]:
    """A database that cannot be opened (server down, wrong host or password, a folder that does not exist)
    becomes a usage error naming it, without its password."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        raise UsageError(
            f"cannot open the landing database {_shown_url(config.db_url)} ({lines[0] if lines else 'no reason given'}"
            "). Check --db (or ASCLD_DB_URL), and that the database server is running and this machine may "
            "reach it."
        ) from None


def _setup(config: LandingConfig, init: bool, admin_user: str) -> None:
    from sqlalchemy import select

    from ascld.landing.audit import SYSTEM, record_event
    from ascld.landing.auth import ADMIN, create_user
    from ascld.landing.db import Database, migrate
    from ascld.landing.models import User

    db = Database(config.db_url)
    try:
        migrate(db)
        click.echo(f"Database ready at {_shown_url(db.url)}.")
        if not init:
            return
        with db.tx() as s:
            if s.scalar(select(User.id).where(User.role == ADMIN)) is not None:
                click.echo("An administrator exists already; none was added.")
                return
            password = os.environ.get("ASCLD_ADMIN_PASSWORD") or secrets.token_urlsafe(18)
            user = create_user(s, admin_user, password, ADMIN)
            record_event(
                s, SYSTEM, "user_create", object_type="user", object_id=str(user.id), detail={"role": ADMIN}
            )
        if os.environ.get("ASCLD_ADMIN_PASSWORD"):
            click.echo(f"Administrator {admin_user!r} created with the password from ASCLD_ADMIN_PASSWORD.")
        else:
            click.echo(
                f"Administrator {admin_user!r} created. Password (shown once, change it by making a new "
                f"account): {password}"
            )
    finally:
        db.dispose()


def _check_schema(config: LandingConfig) -> None:
    """Refuse a database that was never set up here, before the server starts (the service checks again at
    start-up, but a refusal from there comes wrapped in the web server's traceback)."""
    from ascld.landing.db import Database, require_current_schema

    db = Database(config.db_url)
    try:
        require_current_schema(db)
    finally:
        db.dispose()


def _check_pseudo_key(config: LandingConfig) -> None:
    from ascld.identity.pseudonym import PseudoKeyError, load_key

    try:
        load_key(config.pseudo_key_file)
    except PseudoKeyError as exc:
        # The message names `ascld national ingest`'s option; this command's is --pseudo-key-file.
        raise PseudoKeyError(str(exc).replace("pass --key-file", "pass --pseudo-key-file")) from None


def _shown_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _run(config: LandingConfig, host: str, port: int, log_level: str) -> None:
    import uvicorn

    from ascld.landing.app import create_app

    app = create_app(config, own_process=True)
    click.echo(
        f"ascld landing service on http://{host}:{port} (database {_shown_url(config.db_url)}, "
        f"store {config.store_dir})",
        err=True,
    )
    uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=16 * 1024,
        )
    ).run()


commands = [serve_command]
