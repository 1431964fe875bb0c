"""This lab host's engine facade, configured from the settings in one place."""

from __future__ import annotations

from functools import cache

from worker.config import EngineConfig
from worker.labhost import LabHost

from ..models import Installation


@cache
def this_labhost() -> LabHost:
    return LabHost(EngineConfig(installation=Installation.current_key()))
