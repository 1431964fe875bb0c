"""Live state end to end: the lab host's monitor, the Redis channel layer, the consumers,
the controls and the kernel, all real."""

import asyncio
import contextlib
import os
import struct
from collections import Counter

import pytest
import redis
from django.conf import settings

from labs.hostside.jobs import run_capture
from labs.models import Capture, LabEvent
from tests.apart import redis_connections
from tests.conftest import DEMOS
from tests.waiting import wait_for

from .live_helpers import TWO_ROUTERS, apply, cable, collect, connect, events_of, impair, last_said, run_sync
from .live_helpers import read_until as _read_until

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def link_down(messages, node, iface):
    return any(e["node"] == node and e["iface"] == iface and e["oper"] == "down"
               for e in events_of(messages, "link.state"))  # fmt: skip


async def test_pulled_cable_reaches_the_browser_for_both_ends(monitor, labs_up, user, api):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    ws = await connect(f"/ws/labs/{lab.id}/", user)
    connected, _ = await ws.connect()
    assert connected
    snapshot = await ws.receive_json_from(timeout=30)
    assert snapshot["type"] == "snapshot"
    await collect(ws, lambda m: any(e.get("oper") == "up" for e in events_of(m, "link.state"))
                  or snapshot["links"].get("a:eth1", {}).get("oper") == "up", 30)  # fmt: skip

    ends = [["a", "eth1"], ["b", "eth1"]]
    await run_sync(cable, lab.id, ends, False)

    def both_down(m):
        cables = {(e["node"], e["cable"]) for e in events_of(m, "cable.state")}
        return (
            link_down(m, "a", "eth1")
            and link_down(m, "b", "eth1")
            and {("a", "pulled"), ("b", "pulled")} <= cables
        )

    def newer(messages):
        # a message sent before the snapshot was read may arrive after it: clients skip those
        return [m for m in messages if m["type"] == "events" and m["seq"] > snapshot["seq"]]

    # latency figures live in bench/live.py; here only that both ends arrive, in order
    messages, _ = await collect(ws, lambda m: both_down(newer(m)), timeout=30)
    seqs = [m["seq"] for m in messages if m["type"] == "events"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    await ws.disconnect()

    # the socket's snapshot and the REST state agree when they reflect the same number (the
    # counters sampled each second may move it between the two reads: then read both again)
    for _ in range(20):
        await asyncio.sleep(0.3)
        again = await connect(f"/ws/labs/{lab.id}/", user)
        await again.connect()
        fresh = await again.receive_json_from(timeout=30)
        rest = (await run_sync(api.get, f"/api/labs/{lab.id}/state/")).json()
        await again.disconnect()
        if fresh["seq"] == rest["seq"]:
            break
    assert fresh["seq"] == rest["seq"]
    assert {k: v for k, v in fresh.items() if k != "type"} == rest
    assert rest["links"]["a:eth1"]["cable"] == "pulled" and rest["links"]["a:eth1"]["oper"] == "down"
    events = await run_sync(lambda: list(LabEvent.objects.filter(lab=lab).values_list("message", flat=True)))
    assert "a:eth1 cable pulled" in events


async def test_ports_published_mappings_and_the_clash(monitor, labs_up, user, run_in):
    lab = await run_sync(labs_up, (DEMOS / "docker-modes.yaml").read_text(), user)
    ws = await connect(f"/ws/labs/{lab.id}/", user)
    await ws.connect()
    snapshot = await ws.receive_json_from(timeout=30)
    assert {"host": "h1", "protocol": "tcp", "host_port": 10000, "address": "198.19.0.2", "port": 80,
            "container": "nginx-2"} in snapshot["published"]  # fmt: skip
    assert snapshot["status"]["status"] == "degraded"

    await run_sync(run_in, lab.tag, "client", "nc -l -p 8080 >/dev/null 2>&1 &")

    def listening_8080(messages):
        return any(
            e["node"] == "client" and any(p["port"] == 8080 and p["process"] == "nc" for p in e["listening"])
            for e in events_of(messages, "port.state")
        )

    await collect(ws, listening_8080, timeout=30)
    await ws.disconnect()
    state = await run_sync(_rest_state, user, lab.id)
    assert state["nodes"]["nginx-1b"]["state"] == "exited"
    assert "Address already in use" in state["nodes"]["nginx-1b"]["reason"]
    h1_ports = {p["port"]: p["process"] for p in state["ports"]["h1"]["listening"]}
    assert h1_ports.get(80) == "httpd"


def _rest_state(user, lab_id):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/labs/{lab_id}/state/").json()


async def test_counters_rise_while_pinging(monitor, labs_up, user, run_in):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    ws = await connect(f"/ws/labs/{lab.id}/", user)
    await ws.connect()
    await ws.receive_json_from(timeout=30)
    pinging = asyncio.ensure_future(run_sync(run_in, lab.tag, "a", "ping -c 30 -i 0.1 198.18.30.2"))

    def rates(messages):
        return [e for e in events_of(messages, "counters") if e["node"] == "b" and e["rx_pps"] >= 5]

    messages, _ = await collect(ws, rates, timeout=30)
    sample = rates(messages)[-1]
    assert sample["rx_packets"] > 0 and sample["rx_bps"] > 0
    await pinging
    await ws.disconnect()


async def test_routes_are_read_from_the_kernel_as_they_change(monitor, labs_up, user, run_in):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    ws = await connect(f"/ws/labs/{lab.id}/", user)
    await ws.connect()
    snapshot = await ws.receive_json_from(timeout=30)

    def connected_route(routes):
        return {"to": "198.18.30.0/30", "via": None, "dev": "eth1"} in routes

    if not connected_route(snapshot["routes"].get("a", {}).get("routes", [])):
        await collect(ws, lambda m: any(e["node"] == "a" and connected_route(e["routes"])
                                        for e in events_of(m, "route.state")), timeout=30)  # fmt: skip
    await run_sync(run_in, lab.tag, "a", "ip route add 10.99.0.0/16 via 198.18.30.2")
    added = {"to": "10.99.0.0/16", "via": "198.18.30.2", "dev": "eth1"}
    await collect(ws, lambda m: any(e["node"] == "a" and added in e["routes"]
                                    for e in events_of(m, "route.state")), timeout=30)  # fmt: skip
    await run_sync(run_in, lab.tag, "a", "ip route del 10.99.0.0/16")
    await collect(ws, lambda m: any(e["node"] == "a" and added not in e["routes"]
                                    for e in events_of(m, "route.state")), timeout=30)  # fmt: skip
    await ws.disconnect()
    state = await run_sync(_rest_state, user, lab.id)
    assert connected_route(state["routes"]["a"]["routes"]) and added not in state["routes"]["a"]["routes"]


async def test_a_routers_ospf_routes_reach_the_browser_as_they_converge_and_reroute(monitor, labs_up, user):
    lab = await run_sync(labs_up, (DEMOS / "ospf-triangle.yaml").read_text(), user)
    ws = await connect(f"/ws/labs/{lab.id}/", user)
    await ws.connect()
    snapshot = await ws.receive_json_from(timeout=30)

    def r1_routes_lan3(via: str):
        wanted = {"to": "198.18.3.0/24", "via": via}

        def seen(messages) -> bool:
            routes = [snapshot["routes"].get("r1", {}).get("routes", [])]
            routes += [e["routes"] for e in events_of(messages, "route.state") if e["node"] == "r1"]
            return any(wanted.items() <= route.items() for route in routes[-1])

        return seen

    direct, through_r2 = "198.18.0.10", "198.18.0.2"
    if not r1_routes_lan3(direct)([]):
        await collect(ws, r1_routes_lan3(direct), timeout=90)  # OSPF's adjacencies, then its routes
    await run_sync(cable, lab.id, [["r1", "eth2"]], False)  # r1 - r3 pulled
    await collect(ws, r1_routes_lan3(through_r2), timeout=60)
    await ws.disconnect()


async def test_impairments(labs_up, user, run_in):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)

    def rtt() -> float:
        _, out = run_in(lab.tag, "a", "ping -c 5 -i 0.2 198.18.30.2 | tail -1")
        return float(out.split("=")[1].split("/")[1])

    def burst() -> tuple[float, float]:
        """(loss %, average RTT ms) of 100 full-size pings sent at about 2 Mbit/s."""
        _, out = run_in(lab.tag, "a", "ping -q -c 100 -i 0.005 -s 1400 -W 2 198.18.30.2")
        loss = float(out.split("% packet loss")[0].rsplit(" ", 1)[1])
        avg = float(out.split("=")[-1].split("/")[1]) if "round-trip" in out else 1e9
        return loss, avg

    base_rtt, (base_loss, base_avg) = await run_sync(rtt), await run_sync(burst)
    assert base_loss == 0
    netem = await run_sync(_kernel_has_netem)
    await run_sync(impair, lab.id, [["b", "eth1"]], {"delay_ms": 100})
    events = await run_sync(lambda: [e.message for e in LabEvent.objects.filter(lab=lab)])
    if netem:
        assert 80 < await run_sync(rtt) - base_rtt < 150
    else:
        assert any("kernel has no netem" in e for e in events), events
    # a rate limit works on every kernel (tbf)
    await run_sync(impair, lab.id, [["b", "eth1"]], {"rate_kbit": 1000})
    loss, avg = await run_sync(burst)
    assert loss > 20 or avg > 20 * base_avg, (loss, avg, base_avg)
    state = await run_sync(_rest_state, user, lab.id)
    assert state["impairments"]["b:eth1"]["rate_kbit"] == 1000
    await run_sync(impair, lab.id, [["b", "eth1"]], {})
    assert (await run_sync(burst))[0] == 0


def _kernel_has_netem() -> bool:
    import gzip

    try:
        with gzip.open("/proc/config.gz", "rt") as handle:
            return any(
                line.startswith(("CONFIG_NET_SCH_NETEM=y", "CONFIG_NET_SCH_NETEM=m")) for line in handle
            )
    except OSError:
        return os.path.exists("/sys/module/sch_netem")


async def test_console_echo_resize_and_refusal(labs_up, user, other_user, console_relay):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    path = f"/ws/labs/{lab.id}/nodes/a/console/"
    intruder = await connect(path, other_user)
    connected, code = await intruder.connect()
    assert not connected and code == 4403

    ws = await connect(path, user)
    connected, _ = await ws.connect()
    assert connected
    await ws.send_to(bytes_data=b"echo hel''lo\n")
    await _read_until(ws, b"hello")
    await ws.send_json_to({"type": "resize", "cols": 100, "rows": 40})
    await asyncio.sleep(0.2)
    await ws.send_to(bytes_data=b"stty size\n")
    await _read_until(ws, b"40 100")
    await ws.disconnect()


async def test_capture_holds_the_pings(labs_up, user, run_in):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    cap = await run_sync(
        lambda: Capture.objects.create(lab=lab, node="b", iface="eth1", seconds=3, max_bytes=1_000_000)
    )
    # pings all through the capture's three seconds, however late a busy machine starts it
    pinging = asyncio.ensure_future(run_sync(run_in, lab.tag, "a", "ping -c 300 -i 0.2 198.18.30.2"))
    started = await run_sync(run_capture, cap.id)
    assert started.status == "running"  # it runs detached: the job is over, its worker free
    cap = await run_sync(
        wait_for, lambda: Capture.objects.exclude(status="running").filter(id=cap.id).first(), 60, "its end"
    )
    await run_sync(run_in, lab.tag, "a", "killall ping")
    await pinging
    assert cap.status == "done", cap.error
    requests, replies = count_icmp(bytes(cap.pcap))
    assert requests >= 5 and replies >= 5
    said = await run_sync(last_said, lab.tag, "capture")  # the page waiting for it hears the end
    assert said == {"type": "capture", "id": cap.id, "status": "done", "error": "", "size": len(cap.pcap)}


SERVICE_PORTS = (6379, 5432)  # Redis, PostgreSQL


def fds_but_service_connections() -> dict[str, str]:
    """This process's descriptors (fd -> what it is: a socket says its protocol, a TCP one the port
    it reaches), leaving out its TCP connections to Redis and PostgreSQL: their pools grow with the
    threads a busy machine makes (at most one database connection per thread), and Redis's are
    counted on the server."""
    sockets = _sockets()
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            found[fd] = sockets.get(target) or target.split(":[", 1)[0]
    services = tuple(f" to port {port}" for port in SERVICE_PORTS)
    return {
        fd: what for fd, what in found.items() if not (what.startswith("tcp") and what.endswith(services))
    }


def _sockets() -> dict[str, str]:
    """The sockets of this process's network namespace, by descriptor target ("socket:[inode]")."""
    found = {}
    for table, inode in (("tcp", 9), ("tcp6", 9), ("udp", 9), ("udp6", 9), ("unix", 6), ("netlink", 9)):
        with open(f"/proc/self/net/{table}") as lines:
            for fields in (line.split() for line in list(lines)[1:]):
                if len(fields) <= inode:
                    continue
                if table == "unix":
                    what = " ".join(["unix", *fields[7:8]])
                elif table == "netlink":
                    what = f"netlink {fields[1]}"
                else:
                    what = f"{table} to port {int(fields[2].rsplit(':', 1)[1], 16)}"
                found[f"socket:[{fields[inode]}]"] = what
    return found


def count_icmp(pcap: bytes) -> tuple[int, int]:
    """Echo requests and replies in a pcap of Ethernet frames."""
    magic = struct.unpack("<I", pcap[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    offset, requests, replies = 24, 0, 0
    while offset + 16 <= len(pcap):
        _, _, length, _ = struct.unpack(endian + "IIII", pcap[offset : offset + 16])
        frame = pcap[offset + 16 : offset + 16 + length]
        offset += 16 + length
        if len(frame) > 34 and frame[12:14] == b"\x08\x00" and frame[23] == 1:
            icmp_type = frame[14 + (frame[14] & 0x0F) * 4]
            requests += icmp_type == 8
            replies += icmp_type == 0
    return requests, replies


async def test_restarted_node_gets_its_links_back(labs_up, user, run_in):
    lab = await run_sync(labs_up, (DEMOS / "routed.yaml").read_text(), user)
    op = await run_sync(lambda: apply(lab.id, "node", node="r1", action="restart"))
    assert op.status == "succeeded", op.error
    code, out = await run_sync(run_in, lab.tag, "h1", "ping -c 2 -W 2 198.18.2.10")
    assert code == 0, out
    _, addresses = await run_sync(run_in, lab.tag, "r1", "ip -4 -o addr")
    assert "198.18.1.1/24" in addresses and "198.18.2.1/24" in addresses


async def test_socket_closes_when_the_lab_is_deleted_and_strangers_are_refused(user, other_user):
    from labs.labfiles import import_lab

    lab, _ = await run_sync(import_lab, TWO_ROUTERS, user)
    stranger = await connect(f"/ws/labs/{lab.id}/", other_user)
    assert (await stranger.connect())[0] is False
    ws = await connect(f"/ws/labs/{lab.id}/", user)
    assert (await ws.connect())[0]
    await ws.receive_json_from(timeout=30)
    await run_sync(lab.delete)
    closed = await ws.receive_output(timeout=30)
    assert closed == {"type": "websocket.close", "code": 4403}


async def test_a_watcher_reads_the_labs_socket_and_presents_nothing(user, other_user):
    from django.db.models import Q

    from labs import access, sharing
    from labs.labfiles import import_lab

    lab, _ = await run_sync(import_lab, TWO_ROUTERS, user)

    def watches(who) -> Q:  # a rule as the classroom's (its teachers watch their students' labs)
        return Q(owner__username=user.username) if who.id == other_user.id else Q(pk__in=[])

    access.let_watch(watches)
    try:
        ws = await connect(f"/ws/labs/{lab.id}/", other_user)
        assert (await ws.connect())[0]
        snapshot = await ws.receive_json_from(timeout=30)
        assert snapshot["type"] == "snapshot" and "nodes" in snapshot
        await ws.send_json_to(
            {"type": "present", "extent": {"x1": 0, "y1": 0, "x2": 9, "y2": 9}, "selected": []}
        )
        await asyncio.sleep(0.5)
        assert await run_sync(sharing.last_presentation, lab.tag) is None  # only the owner presents
        owner = await connect(f"/ws/labs/{lab.id}/", user)
        assert (await owner.connect())[0]
        await owner.receive_json_from(timeout=30)
        await owner.send_json_to(
            {"type": "present", "extent": {"x1": 0, "y1": 0, "x2": 9, "y2": 9}, "selected": []}
        )
        for _ in range(100):
            if await run_sync(sharing.last_presentation, lab.tag):
                break
            await asyncio.sleep(0.1)
        assert (await run_sync(sharing.last_presentation, lab.tag))["extent"]["x2"] == 9
        await ws.disconnect()
        await owner.disconnect()
    finally:
        access.WATCH_RULES.remove(watches)


async def settled_fds() -> dict[str, str]:
    """This process's descriptors once what was under way has ended: the fewest over a few
    looks (a Docker call or an event loop of another thread, open at one look, is not a leak)."""
    looks = []
    for _ in range(5):
        await asyncio.sleep(0.4)
        looks.append(fds_but_service_connections())
    return min(looks, key=len)


async def test_no_leaks_over_200_flaps(monitor, labs_up, user):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    client = redis.Redis.from_url(settings.REDIS_URL)

    def flap(times: int) -> None:
        for _ in range(times):
            cable(lab.id, [["a", "eth1"]], False)
            cable(lab.id, [["a", "eth1"]], True)

    # Pools (the Docker SDK's, at most ten connections a client) grow to the concurrency a busy
    # machine brings, then stay: the second hundred flaps, not the first, must leave nothing.
    await run_sync(flap, 100)
    fds_before = await settled_fds()
    redis_before = redis_connections(client)
    await run_sync(flap, 100)
    fds_after = await settled_fds()
    redis_after = redis_connections(client)
    client.close()
    assert len(fds_after) - len(fds_before) <= 2, Counter(fds_after.values()) - Counter(fds_before.values())
    assert redis_after - redis_before <= 2
    assert monitor.publisher.sent > 0
