"""Example mappings shipped with ascld (`synth_cms.yaml`: the synthetic councils' case-management system)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

EXAMPLES = ("synth_cms",)


def example_mapping_path(name: str = "synth_cms") -> Path:
    """The path of a shipped example mapping.

    Args:
        name: the example's name (`synth_cms`).

    Examples:
        >>> example_mapping_path().name
        'synth_cms.yaml'
    """
    if name not in EXAMPLES:
        raise ValueError(f"no example mapping {name!r}; known: {', '.join(EXAMPLES)}")
    return Path(str(resources.files("ascld.extract.examples") / f"{name}.yaml"))
