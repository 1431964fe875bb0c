"""Problems found in a topology: a path to the element, a plain sentence, a severity.

Every stage of loading and validation reports these, so the API, the CLI, the editor
and the engine all speak of problems in one way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) at one place in a lab document."""

    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.severity}: {where}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def error(path: str, message: str) -> Problem:
    return Problem(path, message, "error")


def warning(path: str, message: str) -> Problem:
    return Problem(path, message, "warning")


def errors_in(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def join_path(*parts: str | int) -> str:
    """Build `nodes.web2.ports[0]` from ("nodes", "web2", "ports", 0)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


class TopologyError(Exception):
    """Raised when a document cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
