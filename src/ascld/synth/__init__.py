"""Synthetic councils: people, journeys, case-management databases and CLD returns (`ascld synth`)."""

from ascld.synth.cms import metadata as cms_metadata
from ascld.synth.cms import write_cms
from ascld.synth.config import ROW_DEFECT_KINDS, TRANSPORT_DEFECT_KINDS, Quarter, SynthConfig
from ascld.synth.reference import Council, load_councils
from ascld.synth.returns import ReturnBuilder, Row
from ascld.synth.world import build_council

__all__ = [
    "ROW_DEFECT_KINDS",
    "TRANSPORT_DEFECT_KINDS",
    "Council",
    "Quarter",
    "ReturnBuilder",
    "Row",
    "SynthConfig",
    "build_council",
    "cms_metadata",
    "load_councils",
    "write_cms",
]
