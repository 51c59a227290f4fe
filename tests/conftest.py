"""Shared fixtures. Parts keep their own fixtures in their folders' conftest/fixture modules."""

from __future__ import annotations

import os

import pytest

from ascld.spec import load_spec


def services_required() -> bool:
    """In CI (CI=true) or with ASCLD_REQUIRE_SERVICES=1 a missing server or browser is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("ASCLD_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def spec():
    return load_spec()
