"""A small synthetic run shared by the synth tests: councils chosen so that every behaviour occurs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascld.synth.config import ROW_DEFECT_KINDS, SynthConfig
from ascld.synth.reference import load_councils
from ascld.synth.runner import generate
from ascld.synth.world import council_behaviour

BASE = SynthConfig(
    seed=7,
    people_per_council=300,
    workers=2,
    defect_rates=dict.fromkeys(ROW_DEFECT_KINDS, 0.004),
    outputs=frozenset({"truth", "returns", "clean", "transport", "index", "spells", "cms"}),
)


def pick_councils(config: SynthConfig) -> tuple[str, ...]:
    """The smallest council with each behaviour, and a London council."""
    wanted = {
        "fy_reset": lambda b: b.fy_reset,
        "long_stated": lambda b: b.long_stated,
        "release1": lambda b: b.release1_field is not None,
        "stale_open": lambda b: b.stale_open > 0,
        "topup": lambda b: b.topup > 0,
        "conversations": lambda b: b.conversations > 0,
    }
    chosen: list[str] = []
    councils = sorted(load_councils(), key=lambda c: c.adults)
    for test in wanted.values():
        for c in councils:
            if test(council_behaviour(config, c)):
                if c.la_code not in chosen:
                    chosen.append(c.la_code)
                break
    london = next(c for c in councils if c.region == "London")
    if london.la_code not in chosen:
        chosen.append(london.la_code)
    return tuple(sorted(chosen))


@pytest.fixture(scope="session")
def synth_config() -> SynthConfig:
    return BASE.with_(councils=pick_councils(BASE))


@pytest.fixture(scope="session")
def synth_run(tmp_path_factory: pytest.TempPathFactory, synth_config: SynthConfig) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(synth_config, out)
    return out
