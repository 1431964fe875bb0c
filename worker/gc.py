"""Garbage collection: take down what belongs to labs that no longer exist.

Goes by ownership tags only: containers labelled `wirelab.lab` and `wl-` namespaces.
"""

from __future__ import annotations

from . import fabric, labels
from .config import EngineConfig
from .converge import destroy
from .runtime import Runtime, lab_tags


def collect(
    known: set[str],
    labhost: str,
    config: EngineConfig,
    runtime: Runtime,
    *,
    progress=None,
    dry_run: bool = False,
) -> list[str]:
    """Destroy every lab on this host whose tag is not in `known`; returns their tags.

    Only well-formed tags count: an empty or odd label never selects anything.
    """
    found = {tag for tag in lab_tags(runtime) | fabric.labs_with_fabric() if labels.valid_tag(tag)}
    orphans = sorted(found - known)
    for tag in orphans:
        if progress:
            progress(f"{'would remove' if dry_run else 'removing'} lab {tag}, which no longer exists")
        if not dry_run:
            destroy(tag, labhost, config=config, runtime=runtime)
    return orphans
