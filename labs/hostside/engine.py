"""This lab host's engine facade, configured from the settings in one place."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings

from worker.config import EngineConfig
from worker.labhost import Engine

from ..models import Installation


def this_labhost() -> Engine:
    """The engine of the lab host named by WIRELAB_LABHOST: it sees only what it made itself."""
    return _engine_of(settings.WIRELAB_LABHOST)


@cache
def _engine_of(labhost: str) -> Engine:
    config = EngineConfig(
        installation=Installation.current_key(),
        labhost=labhost,
        pool=settings.WIRELAB_POOL_MAX > 0,
        pull_from=settings.WIRELAB_IMAGE_PULL_FROM,
        image_max_mb=settings.WIRELAB_IMAGE_MAX_MB,
        underlay_netns=settings.WIRELAB_UNDERLAY_NETNS,
        lock_dir=Path(settings.WIRELAB_RUN_DIR),
    )
    return Engine(config)
