"""What each lab host keeps of a lab's names, for its embedded DNS (`live/resolver.py`) to answer
from: written by each converge, removed when the lab goes."""

from __future__ import annotations

from dataclasses import asdict

from topology.spec import LabHostSpec, NamesSpec, from_data

from . import kept
from .config import EngineConfig

KEPT = "names"


def keep(config: EngineConfig, spec: LabHostSpec) -> None:
    kept.keep(config, KEPT, spec.lab, asdict(spec.names) if spec.names.views else None)


def read(config: EngineConfig, lab: str) -> NamesSpec | None:
    data = kept.read(config, KEPT, lab)
    return from_data(NamesSpec, data) if data is not None else None
