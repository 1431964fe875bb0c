"""What each lab host keeps of a lab's names, for its embedded DNS (`live/resolver.py`) to answer
from: `<lock dir>/names/<lab>.json`, written by each converge and removed when the lab goes."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from topology.spec import LabHostSpec, NamesSpec, from_data

from .config import EngineConfig


def kept_path(config: EngineConfig, lab: str) -> Path:
    return config.lock_dir / "names" / f"{lab}.json"


def keep(config: EngineConfig, spec: LabHostSpec) -> None:
    path = kept_path(config, spec.lab)
    if not spec.names.views:
        path.unlink(missing_ok=True)
        return
    text = json.dumps(asdict(spec.names), sort_keys=True)
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(path)  # the resolver never reads half a file


def read(config: EngineConfig, lab: str) -> NamesSpec | None:
    try:
        return from_data(NamesSpec, json.loads(kept_path(config, lab).read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
