"""The examples in the package's docstrings run and show what they say (they are documentation too)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import ascld

# Alembic's migration environment runs only inside Alembic (it reads `alembic.context` on import).
SKIP = ("ascld.landing.migrations",)
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(ascld.__path__, "ascld.") if not m.name.startswith(SKIP)
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"
