"""Helpers shared by test folders: real services started for a test run (PostgreSQL, servers, browsers)."""

from __future__ import annotations

import os


def services_required() -> bool:
    """In CI (CI=true) or with ASCLD_REQUIRE_SERVICES=1 a missing server or browser fails a test, never skips
    it.

    Same rule as `services_required` in tests/conftest.py, importable from helper modules (a conftest is not).
    """
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("ASCLD_REQUIRE_SERVICES") == "1"
