"""The life-cycle half of `manage.py lab`: deploy, destroy, status, exec and trace."""

from __future__ import annotations

import json
import time

from django.core.management.base import CommandError, OutputWrapper

from labs import controls, lifecycle
from labs.models import Lab, Operation
from topology.problems import TopologyError


def add_parsers(sub) -> None:
    for action, text in (("deploy", "build the lab on its lab host"), ("destroy", "take the lab down")):
        parser = sub.add_parser(action, help=text)
        parser.add_argument("slug")
        parser.add_argument("--wait", action="store_true", help="wait and print progress")
        parser.add_argument("--here", action="store_true", help="converge in this process on this lab host")
    status = sub.add_parser("status", help="the lab's status and its nodes")
    status.add_argument("slug")
    status.add_argument("--json", action="store_true", dest="as_json")
    run = sub.add_parser("exec", help="run a command in a node: lab exec SLUG NODE -- CMD...")
    run.add_argument("slug")
    run.add_argument("node")
    run.add_argument("cmd", nargs="+")
    run.add_argument("--timeout", type=float, default=60, help="seconds before the command is stopped")
    trace = sub.add_parser(
        "trace", help="a packet's journey from a node: lab trace SLUG NODE TARGET [--tcp PORT]"
    )
    trace.add_argument("slug")
    trace.add_argument("node")
    trace.add_argument("target", help="an address, or a name the node knows")
    how = trace.add_mutually_exclusive_group()
    how.add_argument("--tcp", type=int, metavar="PORT", help="a TCP SYN to PORT (default: an ICMP echo)")
    how.add_argument("--udp", type=int, metavar="PORT", help="a UDP datagram to PORT")
    trace.add_argument("--timeout", type=float, default=2, help="seconds to wait for an answer (at most 5)")
    trace.add_argument(
        "--json", action="store_true", dest="as_json", help="the journey as the API returns it"
    )


class LifecycleActions:
    """Mixed into the `lab` command."""

    stdout: OutputWrapper  # the command's

    def _lab(self, slug: str) -> Lab:
        lab = Lab.objects.filter(slug=slug).first()
        if lab is None:
            raise CommandError(f"no lab {slug!r}; `manage.py lab list` shows them")
        return lab

    def do_deploy(self, slug, wait, here, **_):
        self._run(slug, lifecycle.request_deploy, wait, here)

    def do_destroy(self, slug, wait, here, **_):
        self._run(slug, lifecycle.request_destroy, wait, here)

    def _run(self, slug, request, wait, here):
        lab = self._lab(slug)
        try:
            op = request(lab, enqueue=not here)
        except TopologyError as exc:
            self._fail(exc.problems)
        except lifecycle.OperationRefused as exc:
            raise CommandError(str(exc)) from None
        if here:
            from labs.hostside.jobs import carry_out

            op = carry_out(op.id, progress=self.stdout.write)
        elif wait:
            op = self._follow(op)
        else:
            self.stdout.write(f"{op.kind} #{op.id} queued on lab host {op.labhost}")
            return
        self._summary(op)

    def _follow(self, op: Operation) -> Operation:
        self.stdout.write(f"{op.kind} #{op.id} queued on lab host {op.labhost}")
        shown = 0
        while True:
            op.refresh_from_db()
            lines = op.log.splitlines()
            for line in lines[shown:]:
                self.stdout.write(line)
            shown = len(lines)
            if op.done:
                return op
            time.sleep(0.3)

    def _summary(self, op: Operation) -> None:
        lab = Lab.objects.get(id=op.lab_id)
        self.stdout.write(
            f"lab {lab.slug}: {lab.status}" + (f" ({lab.status_reason})" if lab.status_reason else "")
        )
        if op.status == Operation.Status.FAILED:
            raise SystemExit(1)

    def do_status(self, slug, as_json: bool, **_):
        lab = self._lab(slug)
        last = lab.operations.filter(kind=Operation.Kind.DEPLOY, status=Operation.Status.SUCCEEDED).first()
        nodes = last.result.get("nodes", {}) if last and lab.status not in ("stopped", "draft") else {}
        data = {"lab": lab.slug, "status": lab.status, "reason": lab.status_reason, "nodes": nodes}
        if as_json:
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(
            f"{lab.slug}: {lab.status}" + (f" ({lab.status_reason})" if lab.status_reason else "")
        )
        for name, state in nodes.items():
            reason = f"  {state['reason']}" if state.get("reason") else ""
            self.stdout.write(f"  {name:20} {state['state']}{reason}")

    def do_exec(self, slug, node, cmd, timeout, **_):
        """Run a command in a node on the lab host that holds the lab, and print its output."""
        lab = self._lab(slug)
        try:
            op = controls.request_exec(lab, node, list(cmd), timeout)
        except lifecycle.OperationRefused as exc:
            raise CommandError(str(exc)) from None
        op = self._await(op, timeout + 60)
        if op.status != Operation.Status.SUCCEEDED:
            raise CommandError(op.error or f"the command did not run ({op.status})")
        self.stdout.write(op.result.get("output", ""), ending="")
        raise SystemExit(op.result.get("exit_code", 1))

    def do_trace(self, slug, node, target, *, tcp, udp, timeout, as_json, **_):
        """Trace a probe from a node on the lab host that holds it, and print its journey."""
        lab = self._lab(slug)
        protocol, port = ("tcp", tcp) if tcp else ("udp", udp) if udp else ("icmp", None)
        probe = {"target": target, "protocol": protocol, "timeout": min(max(timeout, 0.2), 5.0)}
        try:
            op = controls.request_trace(lab, node, {**probe, **({"port": port} if port else {})})
        except lifecycle.OperationRefused as exc:
            raise CommandError(str(exc)) from None
        op = self._await(op, 120)
        if op.status != Operation.Status.SUCCEEDED:
            raise CommandError(op.error or f"the trace did not run ({op.status})")
        if as_json:
            self.stdout.write(json.dumps(op.result, indent=2))
            return
        for line in journey_lines(op.result):
            self.stdout.write(line)

    def _await(self, op: Operation, ceiling: float) -> Operation:
        deadline = time.monotonic() + ceiling
        while not op.done:
            if time.monotonic() > deadline:
                raise CommandError(f"lab host {op.labhost} did not run #{op.id} within {ceiling:g} s; "
                                   "is its worker running?")  # fmt: skip
            time.sleep(0.1)
            op.refresh_from_db()
        return op


def journey_lines(journey: dict) -> list[str]:
    """A journey as text: its outcome, then a line a hop."""

    def end(packet: dict, side: str) -> str:
        port = packet.get("sport" if side == "src" else "dport")
        return f"{packet[side]}:{port}" if port else packet[side]

    probe, outcome = journey["probe"], journey["outcome"]
    target = f"{probe['to']}:{probe['port']}" if probe.get("port") else probe["to"]
    lines = [
        f"{probe['protocol']} {probe['from']} -> {target} ({probe['address']}): {outcome['result']} at "
        f"{outcome['at']}: {outcome['reason']} ({journey['seconds']} s)"
    ]
    for hop in journey["hops"]:
        packet = hop["packet"]
        place = hop["node"] or f"cable {hop['cable']}"
        what = packet.get("flags") or packet.get("icmp", "")
        line = f"{hop['leg']:8} {place:24} {hop['iface']:16} {hop['direction']:3} "
        line += f"{end(packet, 'src')} -> {end(packet, 'dst')} {what}"
        if rewrite := hop.get("rewrite"):
            line += f"  [{rewrite['kind']} {rewrite['from']} -> {rewrite['to']}]"
        if tunnel := hop.get("tunnel"):
            line += f"  [VXLAN {tunnel['src']} -> {tunnel['dst']} VNI {tunnel['vni']}]"
        lines.append(line.rstrip())
    return lines


__all__ = ["LifecycleActions", "add_parsers", "journey_lines"]
