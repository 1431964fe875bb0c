"""Which images a lab may name, and what runs for an alias: a plain policy, checked by
validation and applied by the compiler (the document keeps the name its author wrote)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase


def with_tag(image: str) -> str:
    """`alpine` -> `alpine:latest` (a digest or a tag is left as it is)."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"


@dataclass(frozen=True)
class Allowed:
    """Images matching `pattern` (a glob, e.g. `wirelab/*` or `alpine:*`) are allowed; with
    `use_instead`, that image runs in their place."""

    pattern: str
    use_instead: str = ""

    def matches(self, image: str) -> bool:
        return fnmatchcase(with_tag(image), self.pattern) or fnmatchcase(image, self.pattern)

    def __str__(self) -> str:
        return f"{self.pattern} (as {self.use_instead})" if self.use_instead else self.pattern


@dataclass(frozen=True)
class ImagePolicy:
    """The first rule that matches an image decides; an image no rule matches is refused."""

    rules: tuple[Allowed, ...] = field(default_factory=tuple)

    def rule_for(self, image: str) -> Allowed | None:
        return next((rule for rule in self.rules if rule.matches(image)), None)

    def allows(self, image: str) -> bool:
        return self.rule_for(image) is not None

    def image_for(self, image: str) -> str:
        """The image that runs when a lab names `image`."""
        rule = self.rule_for(image)
        return rule.use_instead if rule and rule.use_instead else image

    def refusal(self, image: str) -> str:
        allowed = ", ".join(str(rule) for rule in self.rules[:8]) or "none"
        more = f" and {len(self.rules) - 8} more" if len(self.rules) > 8 else ""
        return f"image '{image}' is not allowed on this installation; allowed: {allowed}{more}"


# Capabilities the daemons of an image need beyond its kind's own (by repository). FRR runs as
# root in the node and its bgpd binds port 179.
IMAGE_CAPABILITIES = {"wirelab/frr": ("NET_BIND_SERVICE",)}


def repository(image: str) -> str:
    """`wirelab/frr:latest` -> `wirelab/frr` (a digest or a tag removed; a registry port kept)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def registry_of(image: str) -> str:
    """The registry an image comes from: its first part when that names a host, else Docker Hub."""
    first, sep, _ = image.partition("/")
    return first if sep and ("." in first or ":" in first or first == "localhost") else "docker.io"


def capabilities_for(image: str) -> tuple[str, ...]:
    return IMAGE_CAPABILITIES.get(repository(image), ())
