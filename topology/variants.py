"""An exercise's variables: values drawn for each student from a seed (a subnet from a pool, a
number from a range, one of a list), and the places in a document that name them.

A place is `{{name}}` anywhere in a string or a mapping's key; a subnet also gives
`{{name.len}}` (its prefix length) and `{{name.N}}` (its N-th address). A string that is only
a place holding a number becomes that number, so `port: "{{port}}"` is a port.
"""

from __future__ import annotations

import ipaddress
import random
import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from .problems import Problem, error, join_path
from .strict import Strict

MAX_VARIABLES = 20
MAX_TRIES = 200  # draws of a subnet that overlaps one drawn before, before giving up
PLACE = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]*)(?:\.([A-Za-z0-9]+))?\s*\}\}")
NAME = r"^[A-Za-z][A-Za-z0-9_]{0,31}$"

Value = ipaddress.IPv4Network | ipaddress.IPv6Network | int | str


class VariableDoc(Strict):
    """One variable: exactly one of `subnet` (with `prefix`), `range` or `choice`."""

    subnet: str | None = Field(
        default=None, description="the pool a subnet is drawn from, e.g. 198.18.0.0/16"
    )
    prefix: int | None = Field(default=None, ge=1, le=127, description="the drawn subnet's prefix length")
    range: tuple[int, int] | None = Field(
        default=None, description="a number from FIRST to LAST, both included"
    )
    choice: list[str] | None = Field(default=None, min_length=1, max_length=100, description="one of these")

    @field_validator("subnet")
    @classmethod
    def _pool(cls, value: str | None) -> str | None:
        try:
            return value and str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"'{value}' is not a subnet: e.g. 198.18.0.0/16") from None

    @field_validator("choice")
    @classmethod
    def _words(cls, value: list[str] | None) -> list[str] | None:
        if value and any(not word or len(word) > 200 for word in value):
            raise ValueError("each choice is a non-empty text of at most 200 characters")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> VariableDoc:
        kinds = [k for k in ("subnet", "range", "choice") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a variable has exactly one of subnet (with prefix), range, choice")
        if self.subnet is not None:
            pool = ipaddress.ip_network(self.subnet)
            if self.prefix is None or not pool.prefixlen <= self.prefix <= pool.max_prefixlen - 2:
                raise ValueError(
                    f"a subnet variable needs a prefix from {pool.prefixlen} to {pool.max_prefixlen - 2}"
                )
        elif self.prefix is not None:
            raise ValueError("`prefix` goes with `subnet`")
        if self.range is not None and not 0 <= self.range[0] <= self.range[1] <= 1_000_000_000:
            raise ValueError("a range is [FIRST, LAST] with 0 <= FIRST <= LAST")
        return self


def draw(variables: dict[str, VariableDoc], seed: str) -> dict[str, Value]:
    """The values for one seed: the same seed draws the same values; subnets drawn from one
    pool never overlap."""
    rng = random.Random(seed)  # noqa: S311 - reproducible from the seed, which is the secret part
    values: dict[str, Value] = {}
    for name in sorted(variables):
        variable = variables[name]
        if variable.subnet is not None and variable.prefix is not None:
            values[name] = _subnet(rng, name, variable.subnet, variable.prefix, values)
        elif variable.range is not None:
            values[name] = rng.randint(*variable.range)
        else:
            values[name] = rng.choice(variable.choice or [""])
    return values


def _subnet(
    rng: random.Random, name: str, pool_text: str, prefix: int, drawn: dict[str, Value]
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    pool = ipaddress.ip_network(pool_text)
    count = 2 ** (prefix - pool.prefixlen)
    taken = [v for v in drawn.values() if isinstance(v, ipaddress.IPv4Network | ipaddress.IPv6Network)]
    for _ in range(MAX_TRIES):
        start = int(pool.network_address) + rng.randrange(count) * 2 ** (pool.max_prefixlen - prefix)
        subnet = ipaddress.ip_network((start, prefix))
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise ValueError(f"{name}: {pool} has too few /{prefix} subnets left to draw one")


def substitute(data: Any, values: dict[str, Value], path: str = "") -> tuple[Any, list[Problem]]:
    """The data with every place filled in from `values`, and the places that could not be."""
    problems: list[Problem] = []

    def fill(text: str, where: str) -> Any:
        whole = PLACE.fullmatch(text.strip())
        if whole is not None:
            value = _render(whole, values, where, problems)
            return int(value) if value.isdigit() else value
        return PLACE.sub(lambda m: _render(m, values, where, problems), text)

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, str):
            return fill(node, where) if "{{" in node else node
        if isinstance(node, list):
            return [walk(item, join_path(where, i)) for i, item in enumerate(node)]
        if isinstance(node, dict):
            out = {}
            for key, item in node.items():
                filled = str(fill(key, where)) if isinstance(key, str) and "{{" in key else key
                out[filled] = walk(item, join_path(where, filled) if where else str(filled))
            return out
        return node

    return walk(data, path), problems


def _render(match: re.Match[str], values: dict[str, Value], where: str, problems: list[Problem]) -> str:
    name, part = match[1], match[2]
    if name not in values:
        problems.append(error(where, f"{{{{{name}}}}} names no variable of the exercise"))
        return match[0]
    value = values[name]
    if part is None:
        return str(value)
    if not isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        problems.append(error(where, f"{{{{{name}.{part}}}}}: only a subnet variable has parts"))
        return match[0]
    if part == "len":
        return str(value.prefixlen)
    if part.isdigit() and 0 < int(part) < value.num_addresses - 1:
        return str(value[int(part)])
    problems.append(
        error(where, f"{{{{{name}.{part}}}}}: a subnet's parts are len and 1 to {value.num_addresses - 2}")
    )
    return match[0]
