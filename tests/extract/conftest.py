"""Fixtures for the extraction tests: a synthetic council's case-management database and the generator's own
returns for the same periods (`clean` output: what a correct extraction gives).

The expected rows come from the generator (`ascld.synth`), which builds its returns from its world model, not
from the database: the extractor reads only the database and the mapping, so the two are independent.
PostgreSQL is a throwaway cluster on loopback (tests/support/postgres.py), started once per session.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ascld.extract import example_mapping_path
from ascld.synth import SynthConfig
from ascld.synth.cms import sqlite_url
from ascld.synth.runner import generate

# Council 131 with seed 11 records some first contacts as "initial conversations" (CONV1) and has services
# whose end the system never received; both must come through the mapping.
SEED = 11
LA = "131"
PEOPLE = 1500


@dataclass(frozen=True)
class SynthCouncil:
    """A generated council: its case-management database and the generator's clean returns by period."""

    url: str
    clean: dict[tuple[dt.date, dt.date], Path]
    folder: Path

    @property
    def periods(self) -> list[tuple[dt.date, dt.date]]:
        return sorted(self.clean)


def _config(**changes: object) -> SynthConfig:
    return SynthConfig(
        seed=SEED, councils=(LA,), people_per_council=PEOPLE, outputs=frozenset({"cms", "clean"})
    ).with_(**changes)


def _clean_files(folder: Path) -> dict[tuple[dt.date, dt.date], Path]:
    out = {}
    for path in sorted((folder / "clean" / LA).glob("*.csv")):
        _, _, start, end = path.stem.split("_")
        out[(dt.datetime.strptime(start, "%Y%m%d").date(), dt.datetime.strptime(end, "%Y%m%d").date())] = path
    assert out, "the generator wrote no clean returns"
    return out


@pytest.fixture(scope="session")
def synth_sqlite(tmp_path_factory: pytest.TempPathFactory) -> SynthCouncil:
    folder = tmp_path_factory.mktemp("synth_sqlite")
    generate(_config(), folder)
    return SynthCouncil(sqlite_url(folder / "cms" / f"{LA}.sqlite"), _clean_files(folder), folder)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    from support.postgres import postgres_cluster

    with postgres_cluster() as pg:
        yield pg


@pytest.fixture(scope="session")
def synth_postgres(pg_cluster: object, tmp_path_factory: pytest.TempPathFactory) -> SynthCouncil:
    folder = tmp_path_factory.mktemp("synth_postgres")
    url = pg_cluster.create_database(f"cms_{LA}")  # type: ignore[attr-defined]
    generate(_config(cms_url=url), folder)
    return SynthCouncil(url, _clean_files(folder), folder)


@pytest.fixture
def cms_copy(synth_sqlite: SynthCouncil, tmp_path: Path) -> Path:
    """A private copy of the SQLite database, for tests that change records."""
    target = tmp_path / "cms.sqlite"
    shutil.copyfile(synth_sqlite.url.removeprefix("sqlite:///"), target)
    return target


@pytest.fixture
def mapping_text() -> str:
    return example_mapping_path().read_text(encoding="utf-8")
