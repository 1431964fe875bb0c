"""A test underlay: lab hosts' underlay namespaces joined by a bridge, all on this machine.

Each lab host gets a namespace of its own holding its underlay address (what `--underlay-netns`
names), with a veth to a bridge that lives in a namespace of its own too (a bridge in the
machine's own namespace would meet Docker's FORWARD DROP). Nothing of it touches the machine's
own network; it is all removed afterwards, even when the test fails.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field

SUBNET = "198.19.254"  # the lab hosts' underlay: within 198.18.0.0/15, beside the labs' own


def ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Underlay:
    """`netns[host]`: a lab host's underlay namespace; `address[host]` its address there;
    `switch`: the bridge's namespace, `port[host]`: the host's port on the bridge."""

    netns: dict[str, str] = field(default_factory=dict)
    address: dict[str, str] = field(default_factory=dict)
    port: dict[str, str] = field(default_factory=dict)
    switch: str = ""

    def links(self, host: str) -> list[str]:
        """The interfaces and addresses of a lab host's underlay namespace, as `ip` prints them."""
        return sorted(ip("-n", self.netns[host], "-brief", "address").split("\n"))

    def remove(self) -> None:
        for name in [*self.netns.values(), self.switch]:
            if name:
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def make_underlay(hosts: list[str]) -> Underlay:
    suffix = secrets.token_hex(2)
    made = Underlay(switch=f"wlt-sw-{suffix}")
    try:
        ip("netns", "add", made.switch)
        ip("-n", made.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", made.switch, "link", "set", "br0", "up")
        for number, host in enumerate(hosts, start=1):
            made.netns[host] = f"wlt-u{host}-{suffix}"
            made.address[host] = f"{SUBNET}.{number}"
            made.port[host] = f"p{host}"
            ip("netns", "add", made.netns[host])
            ip("-n", made.switch, "link", "add", made.port[host], "type", "veth",
               "peer", "name", "eth0", "netns", made.netns[host])  # fmt: skip
            ip("-n", made.switch, "link", "set", made.port[host], "master", "br0", "up")
            ip("-n", made.netns[host], "addr", "add", f"{made.address[host]}/24", "dev", "eth0")
            ip("-n", made.netns[host], "link", "set", "eth0", "up")
            ip("-n", made.netns[host], "link", "set", "lo", "up")
    except Exception:
        made.remove()
        raise
    return made


def capture(underlay: Underlay, host: str, seconds: float, packets: int, during) -> str:
    """What tcpdump decodes of the VXLAN packets crossing a lab host's underlay port while
    `during()` runs."""
    command = ["ip", "netns", "exec", underlay.switch, "timeout", str(seconds),
               "tcpdump", "-l", "-n", "-v", "-i", underlay.port[host], "-c", str(packets), "udp port 4789"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        listening = proc.stderr.readline()  # "listening on ...": it captures from here on
        assert "listening" in listening, listening
        during()
        out, _ = proc.communicate(timeout=seconds + 10)
    return out
