"""Port publishing and masquerade inside an emulated host, as one nftables JSON batch.

The table lives in the host's own namespace, so it never reaches the lab host's firewall;
a marker rule carries the lab's tag and the hash of the rules, so an unchanged host is
left alone and a changed one is rewritten atomically.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from topology.spec import SandboxSpec, digest

from .errors import EngineError

TABLE = "wirelab"
FAMILY = "ip"


def nft(pid: int, payload: dict[str, Any] | None, *args: str) -> str:
    command = ["nsenter", f"--net=/proc/{pid}/ns/net", "nft", "-j", *args]
    result = subprocess.run(
        command,
        input=json.dumps(payload) if payload is not None else None,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise EngineError(f"nftables: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


RULES_FORMAT = 2  # 2: every rule counts its packets and bytes (a changed format rewrites the table)
COUNT = {"counter": None}


def wanted_hash(lab: str, sandbox: SandboxSpec) -> str:
    return f"wl:{lab}:" + digest([[p.__dict__ for p in sandbox.publish], sandbox.masquerade, RULES_FORMAT])


def current_marker(pid: int, table: str = TABLE) -> str | None:
    try:
        data = json.loads(nft(pid, None, "list", "table", FAMILY, table))
    except EngineError:
        return None  # no table yet
    for item in data.get("nftables", []):
        rule = item.get("rule")
        if rule and rule.get("chain") == "spec":
            return str(rule.get("comment") or "") or None
    return None


def fresh_table(name: str = TABLE) -> list[dict[str, Any]]:
    """Commands that empty a table (made if missing) at the start of a batch: the batch then
    replaces it atomically."""
    table = {"family": FAMILY, "name": name}
    return [{"add": {"table": table}}, {"delete": {"table": table}}, {"add": {"table": table}}]


def drop_table(pid: int, name: str = TABLE) -> None:
    nft(pid, {"nftables": [{"delete": {"table": {"family": FAMILY, "name": name}}}]}, "-f", "-")


def chain(
    name: str, hook: str | None = None, prio: int = 0, *, table: str = TABLE, kind: str = "nat"
) -> dict[str, Any]:
    made: dict[str, Any] = {"family": FAMILY, "table": table, "name": name}
    if hook:
        made.update(type=kind, hook=hook, prio=prio, policy="accept")
    return {"add": {"chain": made}}


def rule(chain: str, expr: list[Any], comment: str | None = None, *, table: str = TABLE) -> dict[str, Any]:
    made = {"family": FAMILY, "table": table, "chain": chain, "expr": expr}
    if comment:
        made["comment"] = comment
    return {"add": {"rule": made}}


def dport(protocol: str, port: int) -> dict[str, Any]:
    return {
        "match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "dport"}}, "right": port}
    }


def address_is(field: str, address: str) -> dict[str, Any]:
    """Match an IPv4 header's `saddr` or `daddr`."""
    return {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}}, "right": address}}


LOCAL_DESTINATION = {
    "match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}
}


def batch(lab: str, sandbox: SandboxSpec) -> dict[str, Any]:
    commands = fresh_table()
    commands += [
        chain("prerouting", "prerouting", -100),
        chain("output", "output", -100),
        chain("postrouting", "postrouting", 100),
        chain("spec"),
        rule("spec", [{"accept": None}], wanted_hash(lab, sandbox)),
    ]
    for pub in sandbox.publish:
        dnat = {"dnat": {"addr": pub.address, "port": pub.port}}
        tag = f"wl:{lab} publish {pub.container}"
        commands.append(rule("prerouting", [dport(pub.protocol, pub.host_port), COUNT, dnat], tag))
        commands.append(
            rule("output", [LOCAL_DESTINATION, dport(pub.protocol, pub.host_port), COUNT, dnat], tag)
        )
    for subnet in sandbox.masquerade:
        net, prefix = subnet.split("/")
        prefix_match = {"prefix": {"addr": net, "len": int(prefix)}}
        field = {"payload": {"protocol": "ip", "field": "saddr"}}
        dest = {"payload": {"protocol": "ip", "field": "daddr"}}
        commands.append(
            rule(
                "postrouting",
                [
                    {"match": {"op": "==", "left": field, "right": prefix_match}},
                    {"match": {"op": "!=", "left": dest, "right": prefix_match}},
                    COUNT,
                    {"masquerade": None},
                ],
                f"wl:{lab} masquerade",
            )
        )
    return {"nftables": commands}


def sync_nat(lab: str, sandbox: SandboxSpec, pid: int) -> list[str]:
    """Make the host's NAT table match its spec; returns what changed."""
    needed = bool(sandbox.publish or sandbox.masquerade)
    marker = current_marker(pid)
    if not needed:
        if marker is None:
            return []
        drop_table(pid)
        return ["NAT rules removed"]
    if marker == wanted_hash(lab, sandbox):
        return []
    nft(pid, batch(lab, sandbox), "-f", "-")
    return [f"NAT: {len(sandbox.publish)} published port(s), masquerade {', '.join(sandbox.masquerade)}"]


def local_redirect(table: str, address: str, protocol: str, port: int, to: int) -> dict[str, Any]:
    """A namespace's own table (made afresh) sending what its processes ask of `address:port`
    to `address:to`, where a socket of the lab host listens."""
    expr = [
        address_is("daddr", address),
        dport(protocol, port),
        {"dnat": {"family": "ip", "addr": address, "port": to}},
    ]
    return {
        "nftables": [
            *fresh_table(table),
            chain("output", "output", -100, table=table),
            rule("output", expr, table=table),
        ]
    }
