"""The identity of a live event: which entity's state it carries, shared by the monitor
(to send only changes) and the publisher (to keep the latest state of each entity)."""

from typing import Any

PER_INTERFACE = ("link.state", "cable.state", "counters", "impairment")
PER_NODE = ("node.state", "port.state", "route.state", "node.health")


def entity_key(event: dict[str, Any]) -> str:
    kind = str(event["type"])
    if kind in PER_INTERFACE:
        return f"{kind}:{event['node']}:{event['iface']}"
    if kind in PER_NODE:
        return f"{kind}:{event['node']}"
    return kind
