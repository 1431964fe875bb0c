"""What the environment can set, each variable with its default and what it means.

`config/settings.py` reads every variable through `env()`, which also records it here; the
table in docs/configuration.md is written from these records (`make docs`), and a test holds
the two together.
"""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as the table shows it
    meaning: str


DOCUMENTED: dict[str, Variable] = {}

# Read by `make run` and `make test`, not by Django: in the table all the same, last.
READ_BY_SCRIPTS = [
    Variable("WIRELAB_BIND", "`127.0.0.1`", "where `make run` serves"),
    Variable("WIRELAB_PORT", "`8000`", "the port `make run` serves on"),
    Variable("TEST_DATABASE_URL", "`postgres://wirelab:wirelab@127.0.0.1:5432/wirelab`", "`make test` only"),
]


def env(name: str, default: str, meaning: str, *, shown: str | None = None) -> str:
    """The variable's value, or `default`; `shown` is the default in words where the literal
    would mislead (a value worked out at start, say)."""
    DOCUMENTED[name] = Variable(name, shown if shown is not None else _literal(default), meaning)
    return os.environ.get(name, default)


def env_bool(name: str, default: bool, meaning: str) -> bool:
    value = env(name, "true" if default else "false", meaning)
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _literal(default: str) -> str:
    return f"`{default}`" if default else "empty"


def settings_table() -> str:
    """docs/configuration.md's table, in the order settings.py reads the variables."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for variable in [*DOCUMENTED.values(), *READ_BY_SCRIPTS]:
        rows.append(f"| `{variable.name}` | {variable.default} | {variable.meaning} |")
    return "\n".join(rows) + "\n"
