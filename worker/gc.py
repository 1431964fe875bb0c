"""Garbage collection: take down what belongs to labs that no longer exist.

Goes by ownership tags only: containers labelled `wirelab.lab` and `wl-` namespaces.
"""

from __future__ import annotations

from collections.abc import Callable

from . import fabric, labels, pool
from .config import EngineConfig
from .converge import destroy
from .report import Progress
from .runtime import Runtime, lab_tags


def collect(
    known: set[str] | Callable[[], set[str]],
    labhost: str,
    config: EngineConfig,
    runtime: Runtime,
    *,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> list[str]:
    """Destroy every lab on this host whose tag is not in `known`; returns their tags.

    Only what carries this installation's mark and a well-formed tag counts: another
    installation's labs, or an empty or odd label, never select anything. `known` may be a
    call, made after looking, so that a lab made meanwhile is known by then.
    """
    mine = lab_tags(runtime, config.mark) | fabric.labs_with_fabric(config.mark)
    found = {tag for tag in mine if labels.valid_tag(tag)}
    orphans = sorted(found - (known() if callable(known) else known))
    for tag in orphans:
        if progress:
            progress(f"{'would remove' if dry_run else 'removing'} lab {tag}, which no longer exists")
        if not dry_run:
            destroy(tag, labhost, config=config, runtime=runtime)
    if not dry_run:
        pool.forget_stale_claims(runtime, config)  # of claimed sandboxes removed behind our back
    return orphans
