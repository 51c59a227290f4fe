"""SALT-equivalent tables from CLD: NHS England's Release 1 replication (salt.md). Re-exports only."""

from ascld.measures.salt.common import SALT_INPUT_COLUMNS, SaltPeriod, prepare_input
from ascld.measures.salt.compute import SALT_MEASURES, build_salt, compute_salt, normalise, salt_sql
from ascld.measures.salt.council import council_input

__all__ = [
    "SALT_INPUT_COLUMNS",
    "SALT_MEASURES",
    "SaltPeriod",
    "build_salt",
    "compute_salt",
    "council_input",
    "normalise",
    "prepare_input",
    "salt_sql",
]
