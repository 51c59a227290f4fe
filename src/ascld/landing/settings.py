"""Landing service configuration: one table of settings, plus the places and keys the service needs.

Every tunable lives in `Settings` (one dataclass field each, with its help text), so the defaults, the
`ascld serve --setting NAME VALUE` option, the `ASCLD_<NAME>` environment variables and docs/landing.md all
come from one place. Keys are read from the environment or from a key file, never from the store folder.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascld.errors import UsageError

GB = 1024**3
MB = 1024**2

STORE_KEY_ENV = "ASCLD_STORE_KEY"
STORE_KEY_FILE_ENV = "ASCLD_STORE_KEY_FILE"


def _s(default: object, help_text: str, minimum: float = 0, above: bool = False) -> Any:
    """A setting: its default, help text and range (at least `minimum`, or above it if `above`)."""
    return field(default=default, metadata={"help": help_text, "minimum": minimum, "above": above})


@dataclass(frozen=True)
class Settings:
    """Tunable behaviour of the landing service; each field is also `ASCLD_<FIELD>` and `--setting NAME V`."""

    max_upload_bytes: int = _s(
        4 * GB,
        "Largest plain (uncompressed) upload accepted, in bytes: the national portal's 4 GB.",
        above=True,
    )
    max_gzip_upload_bytes: int = _s(
        800 * MB,
        "Largest gzip-compressed upload accepted, in bytes: the national portal's 800 MB.",
        above=True,
    )
    max_form_bytes: int = _s(
        64 * 1024,
        "Largest body accepted by any request that is not an upload (forms, JSON), in bytes.",
        above=True,
    )
    max_problems_listed: int = _s(
        20,
        "How many of a refused file's problems the API response and the submit "
        "client show; the full list is in the report.",
    )
    max_concurrent_checks: int = _s(
        1,
        "Uploads checked and encrypted at the same time; others wait their turn once received. Memory for "
        "checks is about this times the checker's peak (one check already uses every core).",
        minimum=1,
    )
    check_process: bool = _s(
        True,
        "Run each check in a separate checker process (one per check slot), so the service process stays "
        "small whatever the file size; false runs checks inside the service process.",
    )
    check_process_idle_seconds: float = _s(
        0,
        "How long a checker process waits for another upload before it exits and gives its memory back. 0: "
        "it exits after its check unless an upload is already waiting for one (a fresh process starts each "
        "check with the least memory).",
    )
    check_memory_mb: int = _s(
        256,
        "Memory limit of the validator's DuckDB during one check (the checker's ASCLD_MEMORY_LIMIT); it "
        "spills to the service's temporary folder beyond that (after the scan the checker uses one thread and 5/8 "
        "of it). At 224 the validator ran out of memory on a 1,000,000-row file.",
        above=True,
    )
    raw_retention_days: float = _s(
        30, "Days after ingest (or after a final ingest failure) before the encrypted raw file is deleted."
    )
    national_retention_years: float = _s(
        20,
        "Years after import before a submission's rows are purged from the national store.",
        above=True,
    )
    retention_interval_seconds: float = _s(3600, "How often the worker runs the retention schedule.", above=True)
    session_minutes: float = _s(480, "Lifetime of a web log-in session, in minutes.", above=True)
    token_days: float = _s(90, "Default lifetime of a new API token, in days.", above=True)
    max_token_days: float = _s(366, "Longest lifetime an API token may be given, in days.", above=True)
    cookie_secure: bool = _s(True, "Mark cookies Secure (HTTPS only). Turn off only for loopback testing without TLS.")
    login_lockout_failures: int = _s(
        10,
        "Failed log-ins in a row after which an account is locked for `login_lockout_minutes`.",
        minimum=1,
    )
    login_lockout_minutes: float = _s(15, "How long an account stays locked after too many failed log-ins.")
    worker_threads: int = _s(1, "Ingest worker threads run by `ascld serve` (0: no worker in this process).")
    worker_poll_seconds: float = _s(1.0, "How often an idle worker looks for queued jobs.", above=True)
    job_lease_seconds: float = _s(
        60,
        "How long a running job is reserved by its worker; a job whose lease "
        "lapses (worker killed) is picked up again.",
        above=True,
    )
    job_max_attempts: int = _s(5, "Attempts before a job is marked failed.", minimum=1)
    orphan_grace_seconds: float = _s(
        3600,
        "Age after which a stored file with no database row (left by a crash "
        "between writing and committing) is deleted.",
    )

    def __post_init__(self) -> None:
        """Refuse a value out of its setting's range.

        Raises:
            UsageError: not a finite number, or below the setting's minimum.
        """
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            low, above = f.metadata["minimum"], f.metadata["above"]
            if not math.isfinite(value):
                wanted = "a finite number"
            elif value < low or (above and value == low):
                wanted = f"a number above {low:g}" if above else f"{low:g} or more"
            else:
                continue
            raise UsageError(f"setting {f.name}: {value:g} is out of range; give {wanted}. ({f.metadata['help']})")

    @classmethod
    def help_table(cls) -> list[tuple[str, object, str]]:
        """(name, default, help) for every setting, in order (used by --list-settings and the docs test)."""
        return [(f.name, f.default, f.metadata["help"]) for f in dataclasses.fields(cls)]

    @classmethod
    def from_sources(
        cls, overrides: Iterable[tuple[str, str]] = (), environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults, then `ASCLD_<NAME>` environment variables, then explicit `(name, value)` overrides.

        Raises:
            UsageError: an unknown setting name or a value of the wrong type.
        """
        environ = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for name, f in fields.items():
            env = environ.get(f"ASCLD_{name.upper()}")
            if env is not None:
                values[name] = _parse(name, env, f.type)
        for name, raw in overrides:
            if name not in fields:
                raise UsageError(f"unknown setting {name!r}. Known settings: {', '.join(fields)}.")
            values[name] = _parse(name, raw, fields[name].type)
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, raw: str, type_name: object) -> object:
    text = raw.strip()
    try:
        if type_name in ("bool", bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if type_name in ("int", int):
            return int(text)
        return float(text)
    except ValueError:
        raise UsageError(
            f"setting {name}: {raw!r} is not a valid {type_name}. Give a number (or true/false)."
        ) from None


@dataclass(frozen=True)
class LandingConfig:
    """Everything one landing service process needs.

    Attributes:
        db_url: SQLAlchemy URL of the metadata database (SQLite by default, PostgreSQL in production).
        store_dir: folder for received files (encrypted), reports and temporary files.
        store_key: 32-byte AES-256-GCM key for raw files at rest.
        national_dir: the national store the worker ingests into.
        settings: the tunables.
        pseudo_key_file: the pseudonymisation key file for ingest (None: `ASCLD_PSEUDO_KEY` or
            `ASCLD_PSEUDO_KEY_FILE`, as `ascld national ingest` reads them).
    """

    db_url: str
    store_dir: Path
    store_key: bytes = field(repr=False)
    national_dir: Path
    settings: Settings = field(default_factory=Settings)
    pseudo_key_file: Path | None = None

    @property
    def tmp_dir(self) -> Path:
        return self.store_dir / "tmp"

    @property
    def raw_dir(self) -> Path:
        return self.store_dir / "raw"

    @property
    def reports_dir(self) -> Path:
        return self.store_dir / "reports"


def decode_key(text: str, source: str) -> bytes:
    """A 32-byte key from base64 (44 characters) or hex (64 characters) text.

    Raises:
        UsageError: the text is neither, or does not decode to 32 bytes; the message names the source only.
    """
    text = text.strip()
    key: bytes | None = None
    if len(text) == 64:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = None
    if key is None:
        try:
            key = base64.b64decode(text, altchars=b"-_" if ("-" in text or "_" in text) else None, validate=True)
        except (binascii.Error, ValueError):
            key = None
    if key is None or len(key) != 32:
        raise UsageError(
            f"the store key from {source} is not 32 bytes in base64 or hex. Make one with "
            "`ascld serve --generate-key PATH`."
        )
    return key


def load_store_key(
    store_dir: Path, key_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> bytes:
    """The store key from `key_file`, else `ASCLD_STORE_KEY`, else the file named by `ASCLD_STORE_KEY_FILE`.

    A key file inside the store folder is refused: the key must never sit beside the data it protects.

    Raises:
        UsageError: no key configured, a key file inside the store, or a malformed key.
    """
    environ = os.environ if environ is None else environ
    path = key_file or environ.get(STORE_KEY_FILE_ENV)
    if not key_file and environ.get(STORE_KEY_ENV):
        return decode_key(environ[STORE_KEY_ENV], STORE_KEY_ENV)
    if not path:
        raise UsageError(
            f"no store key: set {STORE_KEY_ENV} or {STORE_KEY_FILE_ENV}, or pass --store-key-file. "
            "Make a key with `ascld serve --generate-key PATH` (keep it outside the store folder)."
        )
    resolved = Path(path).resolve()
    if resolved.is_relative_to(Path(store_dir).resolve()):
        raise UsageError(
            "the store key file is inside the store folder. Keep keys apart from the data they "
            "protect: move it elsewhere and point --store-key-file at it."
        )
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read the store key file {path}: {exc.strerror or type(exc).__name__}. "
            "Check the path and its permissions."
        ) from None
    # A key saved by an editor may start with a UTF-8 byte-order mark; anything else that is not ASCII text is
    # not a key (the message never shows the file's bytes).
    data = data.removeprefix(codecs.BOM_UTF8)
    if not data.isascii():
        raise UsageError(
            f"the store key file {path} is not key text (it holds bytes other than letters, digits and "
            "punctuation). Make one with `ascld serve --generate-key PATH`."
        )
    return decode_key(data.decode("ascii"), f"the key file {path}")


def generate_key_file(path: str | os.PathLike[str]) -> Path:
    """Write a new random 32-byte key (base64) readable by its owner only; refuses to overwrite a file."""
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(os.urandom(32)).decode("ascii") + "\n")
    return target


def default_db_url(store_dir: Path) -> str:
    """The embedded default: a SQLite file in the store folder."""
    return f"sqlite:///{(Path(store_dir) / 'landing.sqlite').resolve()}"


def build_config(
    store_dir: str | os.PathLike[str],
    *,
    db_url: str | None = None,
    national_dir: str | os.PathLike[str] | None = None,
    store_key_file: str | os.PathLike[str] | None = None,
    pseudo_key_file: str | os.PathLike[str] | None = None,
    overrides: Iterable[tuple[str, str]] = (),
    environ: Mapping[str, str] | None = None,
) -> LandingConfig:
    """A LandingConfig from command-line style options and the environment.

    Every option is checked before the store folder is made, so a refused one leaves no folder behind.

    Raises:
        UsageError: no store key, a key inside the store, a bad setting, a database URL that is not one.
    """
    store = Path(store_dir).resolve()
    if pseudo_key_file is not None and Path(pseudo_key_file).resolve().is_relative_to(store):
        raise UsageError(
            "the pseudonymisation key file is inside the store folder. Keep keys apart from the data they protect."
        )
    if db_url is not None:
        _check_db_url(db_url)
    config = LandingConfig(
        db_url=db_url or default_db_url(store),
        store_dir=store,
        store_key=load_store_key(store, store_key_file, environ),
        national_dir=Path(national_dir).resolve() if national_dir else store / "national",
        settings=Settings.from_sources(overrides, environ),
        pseudo_key_file=Path(pseudo_key_file).resolve() if pseudo_key_file else None,
    )
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    return config


def _check_db_url(url: str) -> None:
    """Refuse a --db that SQLAlchemy cannot parse (a bare path, a typo); the URL is not repeated, since it may
    hold a password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except (ArgumentError, ValueError):
        raise UsageError(
            "--db is not a database URL. Use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB."
        ) from None
