"""The demo labs shipped with Wirelab (`labs/demo/*.yaml`): what the front page offers to open."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DEMO_DIR = Path(__file__).resolve().parent / "demo"


@dataclass(frozen=True)
class Demo:
    slug: str  # the file's name without .yaml
    name: str
    description: str
    path: Path


@cache
def demos() -> tuple[Demo, ...]:
    out = []
    for path in sorted(DEMO_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        out.append(Demo(path.stem, doc.get("name", path.stem), doc.get("description", ""), path))
    return tuple(out)


def demo(slug: str) -> Demo | None:
    return next((d for d in demos() if d.slug == slug), None)
