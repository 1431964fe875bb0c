"""The `exercise:` section of a lab document: instructions, the checks that grade a student's
running copy of the lab, and what students may change.

A check is declarative: one of the kinds below, with a name and a weight. `plan_checks()`
turns them into plain data for the lab host, which runs them against the live lab
(`worker/checks.py`).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .faults import FaultsDoc
from .strict import Strict
from .variants import MAX_VARIABLES, NAME, VariableDoc

MAX_CHECKS = 50
MAX_INSTRUCTIONS = 20_000
MAX_CHECK_SECONDS = 10.0
MAX_COMMAND_SECONDS = 30.0
MIN_CHECK_EVERY = 15
MAX_WAIT_SECONDS = 50.0  # within a round's 60 s
MAX_HINTS = 5
TARGET = re.compile(r"^(?P<host>[^:\s]+)(?::(?P<port>\d{1,5}|PORT[0-9]))?$")


class ReachCheck(Strict):
    """From a node, ping, connect or GET a target: `address`, `node`, either with `:port`."""

    from_: str = Field(alias="from", max_length=63)
    to: str = Field(max_length=300)
    probe: Literal["ping", "tcp", "http"] | None = Field(
        default=None, description="default: ping without a port, tcp with one, http with `contains`"
    )
    path: str = Field(default="/", max_length=300, description="http: the path to GET")
    contains: str | None = Field(default=None, max_length=500, description="http: the body has this text")
    expect: Literal["success", "failure"] = "success"
    timeout: float = Field(default=3.0, gt=0, le=MAX_CHECK_SECONDS)

    @field_validator("to")
    @classmethod
    def _target(cls, value: str) -> str:
        match = TARGET.match(value)
        port = match["port"] if match else None
        if not match or (port and port.isdigit() and not 0 < int(port) < 65536):
            raise ValueError(
                f"'{value}' is not a target: write ADDRESS, NODE, ADDRESS:PORT, NODE:PORT or NODE:PORTn"
            )
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("a path starts with '/' and has no spaces or control characters")
        return value

    def kind_of_probe(self) -> str:
        if self.probe:
            return self.probe
        if self.contains is not None:
            return "http"
        target = TARGET.match(self.to)
        return "tcp" if target and target["port"] else "ping"

    def describe(self) -> str:
        verb = "reaches" if self.expect == "success" else "cannot reach"
        how = {"ping": "(ping)", "tcp": "(TCP)", "http": "(HTTP)"}[self.kind_of_probe()]
        return f"{self.from_} {verb} {self.to} {how}"


class PublishedCheck(Strict):
    """An emulated host's published port answers, as seen from another node."""

    host: str = Field(max_length=63)
    port: int = Field(gt=0, lt=65536)
    from_: str = Field(alias="from", max_length=63)
    contains: str | None = Field(default=None, max_length=500)
    timeout: float = Field(default=3.0, gt=0, le=MAX_CHECK_SECONDS)

    def describe(self) -> str:
        return f"{self.from_} reaches {self.host}:{self.port}"


class ListeningCheck(Strict):
    """A node has a socket listening on a port."""

    node: str = Field(max_length=63)
    port: int | Literal["PORT0", "PORT1", "PORT2", "PORT3"] = Field(
        description="a number, or PORTn: the dynamic port handed to a container"
    )
    protocol: Literal["tcp", "udp"] = "tcp"
    expect: Literal["listening", "closed"] = "listening"

    def describe(self) -> str:
        state = "listens on" if self.expect == "listening" else "does not listen on"
        return f"{self.node} {state} {self.protocol} {self.port}"


class RouteCheck(Strict):
    """A node has a route to a prefix (`default` for the default route), maybe via an address."""

    node: str = Field(max_length=63)
    to: str = Field(max_length=50)
    via: str | None = Field(default=None, max_length=50)

    @field_validator("to")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value == "default":
            return value
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"'{value}' is not a prefix: write e.g. 198.18.1.0/24 or default") from None

    @field_validator("via")
    @classmethod
    def _via(cls, value: str | None) -> str | None:
        return _address(value) if value is not None else None

    def describe(self) -> str:
        via = f" via {self.via}" if self.via else ""
        return f"{self.node} has a route to {self.to}{via}"


class AddressCheck(Strict):
    """A node has an address (with `/prefix`: exactly that) or any address in a `subnet`, on
    any interface or on one."""

    node: str = Field(max_length=63)
    address: str | None = Field(default=None, max_length=50)
    subnet: str | None = Field(default=None, max_length=50)
    interface: str | None = Field(default=None, max_length=15)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        try:
            if value is None or "/" not in value:
                return value and str(ipaddress.ip_address(value))
            return str(ipaddress.ip_interface(value))
        except ValueError:
            raise ValueError(f"'{value}' is not an address: e.g. 198.18.0.11 or 198.18.0.11/24") from None

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str | None) -> str | None:
        try:
            return value and str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"'{value}' is not a subnet: e.g. 198.19.128.0/24") from None

    @model_validator(mode="after")
    def _one(self) -> AddressCheck:
        if (self.address is None) == (self.subnet is None):
            raise ValueError("an address check has either `address` or `subnet`")
        return self

    def describe(self) -> str:
        on = f" on {self.interface}" if self.interface else ""
        what = self.address or f"an address in {self.subnet}"
        return f"{self.node} has {what}{on}"


class LinkCheck(Strict):
    """A node's interface is up (or down)."""

    node: str = Field(max_length=63)
    interface: str = Field(max_length=15)
    state: Literal["up", "down"] = "up"

    def describe(self) -> str:
        return f"{self.node}:{self.interface} is {self.state}"


class CommandCheck(Strict):
    """A command run in a node exits with a code and maybe prints something matching `output`."""

    node: str = Field(max_length=63)
    run: str | list[str] = Field(description="a shell line, or a command as a list")
    exit_code: int = Field(default=0, ge=0, le=255)
    output: str | None = Field(default=None, max_length=500, description="a regular expression")
    timeout: float = Field(default=5.0, gt=0, le=MAX_COMMAND_SECONDS)

    @field_validator("run")
    @classmethod
    def _run(cls, value: str | list[str]) -> str | list[str]:
        words = [value] if isinstance(value, str) else value
        if not words or not all(words) or sum(len(w) for w in words) > 2000:
            raise ValueError("a command is a non-empty line (or list) of at most 2000 characters")
        return value

    @field_validator("output")
    @classmethod
    def _output(cls, value: str | None) -> str | None:
        return _regex(value) if value is not None else None

    def describe(self) -> str:
        run = self.run if isinstance(self.run, str) else " ".join(self.run)
        return f"on {self.node}: {run[:60]}"


class FileCheck(Strict):
    """A file in a node exists, and maybe matches a regular expression."""

    node: str = Field(max_length=63)
    path: str = Field(max_length=255)
    matches: str | None = Field(default=None, max_length=500, description="a regular expression")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or "\0" in value:
            raise ValueError("a file check needs an absolute path")
        return value

    @field_validator("matches")
    @classmethod
    def _matches(cls, value: str | None) -> str | None:
        return _regex(value) if value is not None else None

    def describe(self) -> str:
        return f"{self.node} has {self.path}"


CHECK_KINDS = {
    "reach": ReachCheck,
    "published": PublishedCheck,
    "listening": ListeningCheck,
    "route": RouteCheck,
    "address": AddressCheck,
    "link": LinkCheck,
    "command": CommandCheck,
    "file": FileCheck,
}


class HintDoc(Strict):
    """A hint a student reads under a check once it has failed `after` tries of theirs, or
    `minutes` after they started (whichever comes first; neither given: after one try)."""

    text: str = Field(min_length=1, max_length=500)
    after: int | None = Field(default=None, ge=1, le=100, description="failed tries of the check")
    minutes: int | None = Field(default=None, ge=1, le=10_000, description="minutes since the start")

    def shown(self, failures: int, minutes: float) -> bool:
        after = self.after if self.after is not None or self.minutes is not None else 1
        return (after is not None and failures >= after) or (
            self.minutes is not None and minutes >= self.minutes
        )


class CheckDoc(Strict):
    """One check: exactly one of the kinds, a name shown to students, and a weight."""

    name: str = Field(default="", max_length=200)
    weight: int = Field(default=1, ge=0, le=100)
    wait: float = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="seconds the check keeps trying until it passes (a routing protocol converging)",
    )
    hint: str = Field(
        default="",
        max_length=500,
        description="what a student reads when the check fails (default: a sentence that gives "
        "nothing of the check away)",
    )
    hints: list[HintDoc] = Field(
        default_factory=list,
        max_length=MAX_HINTS,
        description="more help, each shown after more failed tries or more time",
    )
    pulled: list[str] = Field(
        default_factory=list,
        max_length=4,
        description="cables (NODE:INTERFACE) pulled while this check runs, plugged back after: "
        "the lab still works without them",
    )
    reach: ReachCheck | None = None
    published: PublishedCheck | None = None
    listening: ListeningCheck | None = None
    route: RouteCheck | None = None
    address: AddressCheck | None = None
    link: LinkCheck | None = None
    command: CommandCheck | None = None
    file: FileCheck | None = None

    @field_validator("pulled")
    @classmethod
    def _ends(cls, value: list[str]) -> list[str]:
        for end in value:
            if end.count(":") != 1 or not all(end.split(":")):
                raise ValueError(f"'{end}' is not a cable's end: write NODE:INTERFACE")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> CheckDoc:
        given = [k for k in CHECK_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            kinds = ", ".join(CHECK_KINDS)
            raise ValueError(f"a check has exactly one of {kinds}; this one has {len(given)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CHECK_KINDS if getattr(self, k) is not None)

    @property
    def body(self) -> Any:
        return getattr(self, self.kind)

    def nodes(self) -> list[tuple[str, str]]:
        """The nodes the check names, as (field, node)."""
        body = self.body
        named = (("from", "from_"), ("node", "node"), ("host", "host"))
        return [(field, getattr(body, attr)) for field, attr in named if hasattr(body, attr)]

    def title(self) -> str:
        """The check as its teacher reads it."""
        return self.name or self.body.describe()

    def public_title(self) -> str:
        """The check as a student reads it: a command check does not show its command."""
        if self.name:
            return self.name
        return f"a check on {self.body.node}" if self.kind == "command" else self.body.describe()

    def secrets(self) -> list[str]:
        """What of the check a student must never read: the patterns, expected texts and
        commands the grade depends on."""
        body = self.body
        found = [getattr(body, field, None) for field in ("output", "matches", "contains")]
        if self.kind == "command":
            found.append(body.run if isinstance(body.run, str) else " ".join(body.run))
        return [text for text in found if text]

    def revealed(self, failures: int, minutes: float) -> list[str]:
        """The hints a student has been shown, in order: each shows once its own condition
        holds and every hint before it shows."""
        out: list[str] = []
        for hint in self.hints:
            if not hint.shown(failures, minutes):
                break
            out.append(hint.text)
        return out

    def traceable(self) -> bool:
        """A check whose probe can be traced when it passes: the way a reference takes."""
        return self.kind == "published" or (self.kind == "reach" and self.body.expect == "success")

    def neutral(self) -> str:
        """A failure as a student reads it when the check has no hint of its own."""
        body = self.body
        if self.kind == "command":
            return f"the check on {body.node} did not pass yet"
        if self.kind == "file":
            return f"{body.path} on {body.node} is not what the exercise asks for yet"
        return "this is not what the exercise asks for yet"


class ExerciseDoc(Strict):
    """What makes a lab an exercise."""

    title: str = Field(default="", max_length=200)
    instructions: str = Field(default="", max_length=MAX_INSTRUCTIONS, description="Markdown")
    checks: list[CheckDoc] = Field(default_factory=list, max_length=MAX_CHECKS)
    locked: list[str] = Field(
        default_factory=list,
        description="nodes students may not change or remove; their cables, their networks and the "
        "lab's services stay as they are too (see `unlocked`)",
    )
    unlocked: list[Literal["cables", "services"]] = Field(
        default_factory=list,
        description="what students may still change around locked nodes: `cables` to them, and the "
        "lab's `services` (which rewrite traffic in every host and router, locked ones too)",
    )
    kinds: list[str] | None = Field(default=None, description="kinds of node students may add (default: any)")
    consoles: bool = Field(default=True, description="students may open consoles")
    check_every: int = Field(
        default=0, ge=0, le=3600, description="seconds between automatic checks of a running lab (0: off)"
    )
    opens: datetime | None = None
    closes: datetime | None = None
    late: Literal["refused", "marked"] = Field(
        default="refused",
        description="after `closes`: starts, edits and checks are refused, or allowed and marked late",
    )
    variables: dict[str, VariableDoc] = Field(
        default_factory=dict,
        description="values drawn for each student (a subnet, a number, a word), named as "
        "{{name}} anywhere in the document, its instructions, checks and solution",
    )
    faults: FaultsDoc | None = Field(
        default=None,
        description="troubleshooting: each student's lab gets `pick` faults drawn from this catalogue",
    )
    solution: dict[str, Any] | None = Field(
        default=None,
        description="a lab document that solves the exercise: teachers try it, and its journeys "
        "tell students where theirs part from it (never shown to students)",
    )

    @field_validator("check_every")
    @classmethod
    def _every(cls, value: int) -> int:
        if 0 < value < MIN_CHECK_EVERY:
            raise ValueError(f"automatic checks run at most every {MIN_CHECK_EVERY} seconds (or 0: off)")
        return value

    @field_validator("variables")
    @classmethod
    def _names(cls, value: dict[str, VariableDoc]) -> dict[str, VariableDoc]:
        if len(value) > MAX_VARIABLES:
            raise ValueError(f"an exercise has at most {MAX_VARIABLES} variables")
        for name in value:
            if not re.match(NAME, name):
                raise ValueError(f"'{name}' is not a variable's name: a letter, then letters, digits or _")
        return value

    @model_validator(mode="after")
    def _window(self) -> ExerciseDoc:
        if self.opens and self.closes and self.closes <= self.opens:
            raise ValueError("`closes` must be after `opens`")
        return self


def plan_checks(
    exercise: ExerciseDoc, references: dict[str, list[Any]] | None = None, solution: bool = False
) -> list[dict[str, Any]]:
    """The checks as plain data for the lab host: index, kind, title, and the kind's fields.
    `references`: the way the solution's probe took, by check index, to compare a failed
    journey with; `solution`: the lab is the solution, so passed probes are traced too."""
    references = references or {}
    return [
        {
            "index": index,
            "kind": check.kind,
            "title": check.title(),
            "weight": check.weight,
            "wait": check.wait,
            **check.body.model_dump(mode="json", by_alias=True),
            **({"probe": check.body.kind_of_probe()} if check.kind == "reach" else {}),
            **({"reference": references[str(index)]} if str(index) in references else {}),
            **({"trace_passed": True} if solution and check.traceable() else {}),
            **({"pulled": check.pulled} if check.pulled else {}),
        }
        for index, check in enumerate(exercise.checks)
    ]


def public_result(
    check: CheckDoc | None, result: dict[str, Any], hints: list[str] | None = None
) -> dict[str, Any]:
    """One check's result as a student may read it: the teacher's title and message give way to
    the public title and, where the message could tell what the check wants, the hint (or a
    neutral sentence); `hints` are the further ones the student has been shown. `check` is
    None when the exercise changed since the round."""
    shown = {k: v for k, v in result.items() if k != "journey"}
    shown["title"] = check.public_title() if check else f"check {result.get('index', 0) + 1}"
    shown["hints"] = hints or []
    message = str(result.get("message", ""))
    if check is None:
        shown["message"] = "passed" if result.get("passed") else "not passed"
    elif check.kind == "command" or any(secret in message for secret in check.secrets()):
        shown["message"] = "passed" if result.get("passed") else (check.hint or check.neutral())
    elif not result.get("passed") and check.hint:
        shown["message"] = f"{message}. {check.hint}" if message else check.hint
    return shown


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"'{value}' is not an address") from None


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value
