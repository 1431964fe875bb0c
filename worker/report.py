"""What a converge did and found: the changes it made and the state of every node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Progress = Callable[[str], None]  # a sentence for the person waiting


@dataclass
class NodeState:
    """A node as the engine sees it: running, failed or exited (with the reason)."""

    state: str
    reason: str = ""
    exit_code: int = 0


@dataclass
class Report:
    """The outcome of one converge."""

    lab: str
    changes: list[str] = field(default_factory=list)
    nodes: dict[str, NodeState] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # image -> its registry digest reference
    cni: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # container on a CNI network -> its chain's result

    @property
    def failed_nodes(self) -> dict[str, NodeState]:
        return {name: s for name, s in self.nodes.items() if s.state != "running"}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
