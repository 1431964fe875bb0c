"""An emulated host's NAT as its kernel has it: the rules of Wirelab's table with their
counters, and the connections being tracked with their original and reply tuples (where
they differ, the rewrite: DNAT of a published port, the masquerade of outbound traffic).

Both are read inside the host's own namespace: `nft list table` through nsenter (the text
form, which is what a student would type), and `/proc/net/nf_conntrack`, which shows the
connections of the namespace that reads it.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

from .errors import EngineError
from .nat import FAMILY, TABLE

MAX_CONNECTIONS = 200
COUNTER = re.compile(r"\s*counter packets (\d+) bytes (\d+)")
COMMENT = re.compile(r'\s*comment "[^"]*"')
CHAIN = re.compile(r"^\s*chain (\S+) \{")
SETTINGS = ("type ", "policy ")
TUPLE_FIELDS = ("src", "dst", "sport", "dport")


def in_namespace(pid: int, command: list[str]) -> str:
    try:
        result = subprocess.run(
            ["nsenter", f"--net=/proc/{pid}/ns/net", *command],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise EngineError(f"reading {' '.join(command)} took too long") from None
    if result.returncode != 0:
        raise EngineError(result.stderr.strip() or f"{command[0]} failed")
    return result.stdout


def rules(pid: int) -> list[dict[str, Any]]:
    """The NAT rules, chain by chain, each with its packet and byte counters."""
    try:
        text = in_namespace(pid, ["nft", "list", "table", FAMILY, TABLE])
    except EngineError as exc:
        if "No such file or directory" in str(exc):
            return []  # the host publishes nothing and masquerades nothing
        raise
    return parse_rules(text)


def parse_rules(text: str) -> list[dict[str, Any]]:
    found, chain = [], None
    for line in text.splitlines():
        if match := CHAIN.match(line):
            chain = match.group(1)
            continue
        stripped = line.strip()
        if chain in (None, "spec") or not stripped or stripped == "}" or stripped.startswith(SETTINGS):
            continue
        counter = COUNTER.search(stripped)
        rule = COMMENT.sub("", COUNTER.sub("", stripped)).strip()
        packets, size = (int(counter.group(1)), int(counter.group(2))) if counter else (None, None)
        found.append({"chain": chain, "rule": rule, "packets": packets, "bytes": size})
    return found


def connections(pid: int) -> list[dict[str, Any]]:
    """The namespace's tracked connections (at most MAX_CONNECTIONS)."""
    return parse_conntrack(in_namespace(pid, ["cat", "/proc/net/nf_conntrack"]))


def parse_conntrack(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines()[:MAX_CONNECTIONS]:
        words = line.split()
        if len(words) < 5:
            continue
        protocol = words[2]
        pairs = [w.split("=", 1) for w in words if "=" in w]
        tuples: list[dict[str, Any]] = [{}, {}]
        side = 0
        for key, value in pairs:
            if key in TUPLE_FIELDS:
                if key in tuples[side]:
                    side = 1
                    if key in tuples[1]:
                        break
                tuples[side][key] = value
        state = next((w for w in words[3:6] if w.isupper() and "=" not in w), "")
        original, reply = tuples
        out.append({
            "protocol": protocol, "state": state, "original": original, "reply": reply,
            "dnat": bool(reply) and reply.get("src") != original.get("dst"),
            "snat": bool(reply) and reply.get("dst") != original.get("src"),
        })  # fmt: skip
    return out


def nat_view(pid: int) -> dict[str, Any]:
    return {"rules": rules(pid), "connections": connections(pid)}
