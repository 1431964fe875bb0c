"""Garbage collection: take down what belongs to labs that no longer exist.

Goes by ownership tags only: containers labelled `wirelab.lab` and `wl-` namespaces.
"""

from __future__ import annotations

from . import fabric
from .config import EngineConfig
from .converge import destroy
from .runtime import DockerRuntime


def lab_tags_on_host(runtime: DockerRuntime) -> set[str]:
    return _container_tags(runtime) | fabric.labs_with_fabric()


def _container_tags(runtime: DockerRuntime) -> set[str]:
    raw = runtime.client.api.containers(all=True, filters={"label": "wirelab.lab"})
    return {c["Labels"]["wirelab.lab"] for c in raw}


def collect(known: set[str], labhost: str, config: EngineConfig | None = None, progress=None) -> list[str]:
    """Destroy every lab on this host whose tag is not in `known`; returns their tags."""
    config = config or EngineConfig()
    runtime = DockerRuntime(config)
    try:
        orphans = sorted(lab_tags_on_host(runtime) - known)
        for tag in orphans:
            if progress:
                progress(f"removing lab {tag}, which no longer exists")
            destroy(tag, labhost, config=config, runtime=runtime)
        return orphans
    finally:
        runtime.close()
