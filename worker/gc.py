"""Garbage collection: take down what belongs to labs that no longer exist.

Goes by ownership tags only: containers labelled `wirelab.lab` and `wl-` namespaces.
"""

from __future__ import annotations

from . import fabric
from .config import EngineConfig
from .converge import destroy
from .runtime import Runtime, lab_tags


def collect(
    known: set[str], labhost: str, config: EngineConfig, runtime: Runtime, progress=None
) -> list[str]:
    """Destroy every lab on this host whose tag is not in `known`; returns their tags."""
    orphans = sorted((lab_tags(runtime) | fabric.labs_with_fabric()) - known)
    for tag in orphans:
        if progress:
            progress(f"removing lab {tag}, which no longer exists")
        destroy(tag, labhost, config=config, runtime=runtime)
    return orphans
