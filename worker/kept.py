"""What a lab host keeps of a lab between converges, for the parts that act between them (the
monitor's service refresh, its resolver): `<lock dir>/<what>/<lab>.json`, written whole (a
reader never sees half a file) and removed when the lab has none of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config import EngineConfig


def path(config: EngineConfig, what: str, lab: str) -> Path:
    return config.lock_dir / what / f"{lab}.json"


def keep(config: EngineConfig, what: str, lab: str, data: dict[str, Any] | None) -> bool:
    """Keep `data` (None: forget it); whether the lab has some, or had."""
    where = path(config, what, lab)
    if data is None:
        had = where.exists()
        where.unlink(missing_ok=True)
        return had
    text = json.dumps(data, sort_keys=True)
    if where.exists() and where.read_text() == text:
        return True
    where.parent.mkdir(parents=True, exist_ok=True)
    partial = where.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(where)
    return True


def read(config: EngineConfig, what: str, lab: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path(config, what, lab).read_text())
        return data
    except (FileNotFoundError, json.JSONDecodeError):
        return None
