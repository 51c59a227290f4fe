"""Fixtures for the validator's tests."""

from __future__ import annotations

import pytest

from ascld.quality.sample import SampleGenerator


@pytest.fixture
def gen(spec) -> SampleGenerator:
    return SampleGenerator(spec, seed=11)
