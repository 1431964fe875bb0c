"""Converge a lab host to a spec: discover what the lab owns, make what is missing,
remove what is not wanted, fix drift, and report. Converging twice changes nothing.

This module sequences the steps; containers, wiring, NAT and startup commands each
live in their own module.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from topology.spec import FABRIC, OWN_NAMESPACE_MODES, LabHostSpec

from . import cni, containers, execs, fabric, images, labels, names, nat, pool, services, sockets, wiring
from .config import EngineConfig
from .docker_runtime import DockerRuntime
from .errors import EngineError, Stopped
from .netlink import Namespaces, create_veth, delete_link
from .plan import namespace_plans
from .report import NodeState, Progress, Report
from .runtime import NAMESPACE_ROLES, ContainerInfo, Role, Runtime, node_state

StopCheck = Callable[[], str]  # a reason to stop now, or ''


@contextmanager
def lab_lock(config: EngineConfig, lab: str) -> Iterator[Callable[[], None]]:
    """One converge (or node action) of a lab at a time on this host; the kernel drops the
    lock if we die. Yields a callable that removes the lock file before the lock is let go
    (a destroyed lab leaves none behind); whoever was waiting on it then tries again."""
    config.lock_dir.mkdir(parents=True, exist_ok=True)
    path = config.lock_dir / f"{lab}.lock"
    while True:
        handle = open(path, "a")  # noqa: SIM115 (held across the yield)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(handle.fileno()).st_ino:
                continue  # removed (or replaced) while we waited: lock the one in place now
            yield lambda: path.unlink(missing_ok=True)
            return
        finally:
            handle.close()


def converge(
    spec: LabHostSpec,
    config: EngineConfig | None = None,
    runtime: Runtime | None = None,
    progress: Progress | None = None,
    *,
    locked: bool = False,
    stop: StopCheck | None = None,
) -> Report:
    """Converge under the lab's lock (`locked`: the caller already holds it)."""
    config = config or EngineConfig()
    own_runtime = runtime is None
    runtime = runtime or DockerRuntime(config)
    try:
        if locked:
            return _Converge(spec, config, runtime, progress or (lambda _: None), stop).run()
        with lab_lock(config, spec.lab) as remove_lock:
            report = _Converge(spec, config, runtime, progress or (lambda _: None), stop).run()
            if not spec.sandboxes and not spec.apps:
                remove_lock()
            return report
    finally:
        if own_runtime:
            runtime.close()


def destroy(lab: str, labhost: str, **kwargs: Any) -> Report:
    return converge(LabHostSpec.empty(lab, labhost), **kwargs)


class _Converge:
    def __init__(
        self,
        spec: LabHostSpec,
        config: EngineConfig,
        runtime: Runtime,
        progress: Progress,
        stop: StopCheck | None = None,
    ):
        self.spec, self.config, self.runtime = spec, config, runtime
        self.stop = stop
        self.report = Report(lab=spec.lab)
        self._progress = progress
        self.threads = ThreadPoolExecutor(config.workers)
        self.holders: dict[str, ContainerInfo] = {}  # node -> the container holding its netns
        self.apps: dict[str, ContainerInfo] = {}
        self.created: set[str] = set()
        self.failed: dict[str, str] = {}
        self.plans = namespace_plans(spec)
        self.references: dict[str, str] = {}  # image -> what its containers are made from

    def say(self, message: str) -> None:
        self.report.log.append(message)
        self._progress(message)

    def changed(self, what: str) -> None:
        self.report.changes.append(what)

    def checkpoint(self) -> None:
        """Before each step: give up here if the caller says so (a deadline, a destroy)."""
        reason = self.stop() if self.stop else ""
        if reason:
            raise Stopped(reason)

    def run(self) -> Report:
        try:
            self.checkpoint()
            self.preflight()
            existing = self.runtime.list_containers(self.spec.lab)
            self.checkpoint()
            self.sync_holders(existing)
            self.checkpoint()
            self.sync_fabric()
            self.checkpoint()
            with_nat = self.wire()
            self.checkpoint()
            self.sync_nat(with_nat)
            self.sync_cni()
            names.keep(self.config, self.spec)
            self.startup([s.name for s in self.spec.sandboxes], self.holders)
            self.checkpoint()
            self.sync_apps(existing)
            self.startup([a.name for a in self.spec.apps], self.apps)
            self.checkpoint()
            self.observe()
            self.sync_services()
            self.remove_fabrics()
        finally:
            self.threads.shutdown(wait=True)
        self.say(f"done: {len(self.report.changes)} change(s)")
        return self.report

    def preflight(self) -> None:
        """Every image the lab names is here (built or pulled now if need be), and pinned."""
        wanted = {s.image for s in self.spec.sandboxes} | {a.image for a in self.spec.apps}
        if self.spec.own_namespace_apps():
            wanted.add(containers.HOLDER_IMAGE)
        self.references = images.provide(
            self.runtime, wanted, self.spec.pins, self.config, say=self.say, checkpoint=self.checkpoint
        )
        self.report.images = images.pins_of(self.runtime, self.references)

    # Containers -------------------------------------------------------------------------

    def _parallel(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return list(self.threads.map(fn, items))

    def _remove(self, infos: list[ContainerInfo]) -> None:
        if not infos:
            return
        self.say(f"removing {len(infos)} container(s)")
        self._parallel(lambda info: self.runtime.remove(info.id), infos)
        for info in infos:
            self.changed(f"{info.node}: {info.role} container removed")

    def _create(
        self,
        wanted: list[containers.Wanted],
        holders: dict[str, str] | None = None,
        batches: list[list[containers.Wanted]] | None = None,
    ) -> dict[str, ContainerInfo]:
        """Start containers in parallel; items of one batch start in order, one by one."""
        if not wanted:
            return {}
        total = len(wanted)
        out: dict[str, ContainerInfo] = {}
        self.say(f"starting {total} container(s)")
        batches = batches or [[item] for item in wanted]

        def make(item: containers.Wanted) -> None:
            self.checkpoint()
            holder = (holders or {}).get(item.node, "")
            try:
                image = self.references.get(item.image, item.image)
                info = self.runtime.run(item.name, image, item.labels(self.spec.lab, holder), **item.options)
            except EngineError as exc:
                self.failed[item.node] = str(exc)
                return
            out[item.node] = info
            self.created.add(item.node)
            self.changed(f"{item.node}: {item.role} container created")
            if len(out) % 10 == 0 or len(out) == total:
                self.say(f"started {len(out)}/{total}")
            if item.ports:
                self._wait_bound(info, item.ports)

        def make_batch(batch: list[containers.Wanted]) -> None:
            for item in batch:
                make(item)

        self._parallel(make_batch, batches)
        return out

    def _wait_bound(self, info: ContainerInfo, ports: set[Any]) -> None:
        def alive() -> bool:
            return self.runtime.inspect(info.id).status == "running"

        sockets.wait_listening(info.pid, ports, self.config.app_settle_seconds, alive)

    def sync_holders(self, existing: list[ContainerInfo]) -> None:
        """Sandboxes and namespace holders: everything that owns a namespace to wire."""
        wanted = {s.name: containers.sandbox(self.spec.lab, s) for s in self.spec.sandboxes}
        for app in self.spec.apps:
            if app.mode in OWN_NAMESPACE_MODES:
                wanted[app.name] = containers.holder(self.spec.lab, app)
        stale = []
        for info in existing:
            if info.role not in NAMESPACE_ROLES:
                continue
            want = wanted.get(info.node)
            if (
                want
                and want.role == info.role
                and want.spec_hash == info.spec_hash
                and info.status == "running"
            ):
                self.holders[info.node] = info
            else:
                stale.append(info)
        self._remove(stale)
        missing = [w for n, w in wanted.items() if n not in self.holders]
        self.holders.update(self._claim(missing))
        self.holders.update(self._create([w for w in missing if w.node not in self.holders]))
        self._personalize()

    def _claim(self, missing: list[containers.Wanted]) -> dict[str, ContainerInfo]:
        """Warm sandboxes from this lab host's pool for the nodes one can become (worker/pool.py)."""
        fits = {s.name for s in self.spec.warmable()} if self.config.pool else set()
        wanted = [w for w in missing if w.node in fits]
        if not wanted:
            return {}
        self.checkpoint()
        claimed = pool.claim(self.runtime, self.config, wanted, self.threads)
        files = {s.name: s.files for s in self.spec.sandboxes}

        def put_files(node: str) -> None:
            try:
                if files.get(node):
                    self.runtime.put_files(claimed[node].id, files[node])
            except EngineError as exc:
                self.failed[node] = str(exc)

        self._parallel(put_files, list(claimed))
        for node in claimed:
            self.created.add(node)
            self.changed(f"{node}: sandbox claimed from the warm pool")
        if claimed:
            self.say(f"claimed {len(claimed)} warm sandbox(es)")
        return claimed

    def _personalize(self) -> None:
        """A claimed sandbox's hostname, and every sandbox's sysctls (forwarding), made again
        after a restart reset them or a change of the lab asked for them."""
        sandboxes = {s.name: s for s in self.spec.sandboxes}

        def one(node: str) -> None:
            info = self.holders[node]
            try:
                if pool.personalize(info.pid, node, sandboxes[node].sysctls):
                    self.runtime.write_hostname(info.id, node)
            except EngineError as exc:
                self.failed[node] = str(exc)

        wanted = [
            n
            for n, i in self.holders.items()
            if n in sandboxes and (i.pooled or sandboxes[n].sysctls) and n not in self.failed
        ]
        self._parallel(one, wanted)

    def sync_apps(self, existing: list[ContainerInfo]) -> None:
        wanted = {}
        for app in self.spec.apps:
            holder = self.holders.get(app.host if app.mode == "host" else app.name)
            if app.mode != "none" and holder is None:
                self.failed.setdefault(
                    app.name, f"its {'host' if app.mode == 'host' else 'namespace'} is not up"
                )
                continue
            holder_name = holder.name if holder and app.mode != "host" else None
            wanted[app.name] = (containers.app(self.spec.lab, app, holder_name), holder.id if holder else "")
        stale = []
        for info in existing:
            if info.role != Role.APP:
                continue
            want = wanted.get(info.node)
            if (
                want
                and want[0].spec_hash == info.spec_hash
                and want[1] == info.sandbox_id
                and self._same_netns(info)
            ):
                self.apps[info.node] = info
            else:
                stale.append(info)
        self._remove(stale)
        missing = [w for n, (w, _) in wanted.items() if n not in self.apps]
        self.apps.update(
            self._create(missing, {n: h for n, (_, h) in wanted.items()}, self._app_batches(missing))
        )

    def _same_netns(self, app: ContainerInfo) -> bool:
        """A running app still in its holder's namespace (not one a restart left behind)."""
        spec = next((a for a in self.spec.apps if a.name == app.node), None)
        holder = self.holders.get(spec.host if spec and spec.mode == "host" else app.node)
        if app.status != "running" or holder is None or spec is None or spec.mode == "none":
            return True
        mine = self.runtime.netns_id(app)
        return mine is not None and mine == self.runtime.netns_id(holder)

    def _app_batches(self, missing: list[containers.Wanted]) -> list[list[containers.Wanted]]:
        """Host-mode apps of one host start in the lab's order, so the first one gets the port."""
        hosts = {a.name: a.host for a in self.spec.apps if a.mode == "host"}
        batches: dict[str, list[Any]] = {}
        for item in missing:
            batches.setdefault(hosts.get(item.node) or f"own:{item.node}", []).append(item)
        return list(batches.values())

    # Namespaces -----------------------------------------------------------------------

    @property
    def fabric_name(self) -> str:
        return fabric.fabric_namespace(self.spec.lab, self.spec.part)

    def sync_fabric(self) -> None:
        if FABRIC in self.plans and fabric.create(self.fabric_name, self.config.mark):
            self.changed("fabric namespace created")

    def remove_fabrics(self) -> None:
        """The lab's fabric namespaces this lab host made and no longer needs: all of them once
        it holds nothing of the lab, else one named for another part (the lab began or ceased
        to span lab hosts)."""
        empty = not self.spec.sandboxes and not self.spec.apps
        for name in fabric.owned(self.config.seen_mark, self.spec.lab):
            if (empty or name != self.fabric_name) and fabric.remove(name):
                self.changed(f"fabric namespace {name} removed")

    def _path(self, owner: str) -> str | None:
        if owner == FABRIC:
            return fabric.path_of(self.fabric_name)
        holder = self.holders.get(owner)
        return f"/proc/{holder.pid}/ns/net" if holder and holder.pid else None

    def wire(self) -> set[str]:
        """Veth pairs first (from the root namespace), then each namespace's own settings."""
        ns = Namespaces(self.config.underlay_path)
        alias = labels.alias(self.spec.lab)
        try:
            paths = {owner: self._path(owner) for owner in self.plans}
            ns.open_readers(p for p in paths.values() if p)
            current = {}
            for owner, path in paths.items():
                try:
                    current[owner] = ns.at(path).links() if path else None
                except EngineError as exc:  # its container went away meanwhile
                    self.failed[owner], paths[owner] = str(exc), None
            had_nat = {o for o, found in current.items() if found and "docker0" in found and o != FABRIC}
            touched = self._make_wires(ns, paths, current)
            for owner, path in paths.items():
                if path is None:
                    continue
                try:
                    fresh = None if owner in touched else current[owner]
                    changes = wiring.configure(ns.at(path), self.plans[owner], alias, fresh)
                except EngineError as exc:
                    self.failed[owner] = str(exc)
                    continue
                where = "fabric" if owner == FABRIC else owner
                self.report.changes += [f"{where}: {c}" for c in changes]
            return had_nat
        finally:
            ns.close()

    def _make_wires(self, ns: Namespaces, paths: dict[str, Any], current: dict[str, Any]) -> set[str]:
        """Make the missing veth pairs; returns the namespaces whose links changed."""
        made, touched = 0, set()
        for wire in self.spec.wires:
            a_path, b_path = paths.get(wire.a.node), paths.get(wire.b.node)
            if a_path is None or b_path is None:
                continue
            a_link = current[wire.a.node].get(wire.a.ifname)
            b_link = current[wire.b.node].get(wire.b.ifname)
            if a_link is not None and b_link is not None:
                continue
            touched |= {wire.a.node, wire.b.node}
            for owner, link in ((wire.a.node, a_link), (wire.b.node, b_link)):
                if link is not None:
                    delete_link(ns[paths[owner]], link.index)
            try:
                create_veth(ns, (a_path, wire.a.ifname), (b_path, wire.b.ifname), wire.mtu)
            except EngineError as exc:
                self.failed[wire.a.node if wire.a.node != FABRIC else wire.b.node] = str(exc)
                continue
            made += 1
            self.changed(f"wire {wire.a.node}:{wire.a.ifname} -- {wire.b.node}:{wire.b.ifname}")
        if made:
            self.say(f"wired {made} link(s)")
        return touched

    def sync_nat(self, had_nat: set[str]) -> None:
        for sandbox in self.spec.sandboxes:
            holder = self.holders.get(sandbox.name)
            wants = bool(sandbox.publish or sandbox.masquerade)
            if holder is None or not (wants or sandbox.name in had_nat):
                continue
            try:
                changes = nat.sync_nat(self.spec.lab, sandbox, holder.pid)
            except EngineError as exc:
                self.failed[sandbox.name] = str(exc)
                continue
            self.report.changes += [f"{sandbox.name}: {c}" for c in changes]

    def sync_cni(self) -> None:
        """Containers on CNI networks: their chain ADDed once their namespace is held, CHECKed on
        each converge (DELeted and ADDed again when that fails or the list changed), DELeted when
        they go (worker/cni.py)."""
        lab = cni.lab_dir(self.config.lock_dir, self.spec.lab)
        wanted = {a.name: a for a in self.spec.apps if a.mode == "cni"}
        kept = cni.kept_results(lab)
        for name in sorted(set(kept) - set(wanted)):
            self._cni_delete(lab, name, kept[name].get("host", ""))
            self.changed(f"{name}: CNI networking deleted")
        for name, app in wanted.items():
            holder, host = self.holders.get(name), self.holders.get(app.host)
            if holder is None or host is None or not holder.pid or not host.pid or name in self.failed:
                continue  # reported where its container failed
            mappings = tuple(app.cni.get("port_mappings", []))
            netns = (f"/proc/{host.pid}/ns/net", f"/proc/{holder.pid}/ns/net")
            attachment = cni.Attachment(lab, name, app.host, holder.id, *netns, app.cni["config"], mappings)
            if self._cni_still_there(attachment):
                self.report.cni[name] = kept[name]["result"]
                continue
            self.checkpoint()
            try:
                if name in kept:  # made for a container gone since, or from another list
                    same = kept[name]["container_id"] == holder.id
                    self._cni_delete(lab, name, app.host, netns[1] if same else "")
                self.report.cni[name] = cni.add(attachment)
            except EngineError as exc:
                self.failed[name] = str(exc)
                continue
            plugins = " + ".join(p.get("type", "?") for p in app.cni["config"]["plugins"])
            self.say(f"{name}: CNI network {app.cni['network']} added ({plugins})")
            self.changed(f"{name}: CNI networking added")
        if not wanted:
            cni.forget(lab)

    def _cni_still_there(self, attachment: cni.Attachment) -> bool:
        """Whether what ADD made for this container from this list is still there: CHECK says so;
        when a plugin's CHECK complains (portmap 1.1.1 looks for IPv6 chains it never made for an
        IPv4 container), the container's interface being there decides, and the complaint is told."""
        kept = cni.kept_for(attachment)
        if kept is None:
            return False
        complaint = cni.check(attachment, kept)
        if not complaint:
            return True
        ns = Namespaces()
        try:
            there = cni.IFNAME in ns.at(attachment.netns).links()
        except EngineError:
            there = False
        finally:
            ns.close()
        self.say(f"{attachment.container}: CNI CHECK: {complaint}" + ("" if there else "; adding it again"))
        return there

    def _cni_delete(self, lab: Path, name: str, host: str, netns: str = "") -> None:
        holder = self.holders.get(host)
        cni.delete(
            lab, name, f"/proc/{holder.pid}/ns/net" if holder and holder.pid else "/nonexistent", netns
        )

    def sync_services(self) -> None:
        """The lab's services in every host and router here, over the backends that run now."""
        if not services.keep(self.config, self.spec):
            return  # never had any: no table to look at
        running = {name for name, state in self.report.nodes.items() if state.state == "running"}
        running -= services.unhealthy(self.config, self.spec.lab)
        wanted = services.live(self.spec.services, running, set(self.spec.node_names()))
        hosts = {
            s.name: holder.pid
            for s in self.spec.sandboxes
            if (holder := self.holders.get(s.name)) and holder.pid and s.name in running
        }
        changes, failed = services.apply(self.spec.lab, wanted, hosts)
        self.report.changes += changes
        for host, reason in failed.items():
            self.say(f"{host}: services not set: {reason}")

    # Startup commands and node states -------------------------------------------------

    def startup(self, names: list[str], running: dict[str, ContainerInfo]) -> None:
        commands = {s.name: s.exec for s in self.spec.sandboxes} | {a.name: a.exec for a in self.spec.apps}

        def run_one(name: str) -> None:
            info = running.get(name)
            if info is None or not commands.get(name) or name in self.failed:
                return
            self.checkpoint()
            info = self.runtime.inspect(info.id)
            outcome = (
                None if name in self.created else execs.previous_outcome(self.runtime, info.id, info.pid)
            )
            if outcome is None:
                outcome = execs.run_startup(
                    self.runtime, info.id, info.pid, name, commands[name], log=self.say, config=self.config
                )
                self.changed(f"{name}: startup commands run")
            if outcome:
                self.failed[name] = outcome

        self._parallel(run_one, names)

    def observe(self) -> None:
        new_apps = [n for n in self.apps if n in self.created]
        if new_apps:
            time.sleep(self.config.app_settle_seconds)
        names = [s.name for s in self.spec.sandboxes] + [a.name for a in self.spec.apps]
        fresh = self._fresh(names)
        for name in names:
            self.report.nodes[name] = self._state(name, fresh)
        for name, state in self.report.failed_nodes.items():
            self.say(f"{name}: {state.state}: {state.reason}")

    def _fresh(self, names: list[str]) -> dict[str, ContainerInfo]:
        """The nodes made in this converge or not running when listed, as they are now (what
        was listed running is fresh enough): one listing for many, an inspect each for few."""
        known = {n: self.apps.get(n) or self.holders.get(n) for n in names if n not in self.failed}
        stale = {n: i for n, i in known.items() if i and (n in self.created or i.status != "running")}
        if len(stale) > 4:
            ids = {i.id for i in stale.values()}
            return {i.node: i for i in self.runtime.list_containers(self.spec.lab) if i.id in ids}
        return {n: self.runtime.inspect(i.id) for n, i in stale.items()}

    def _state(self, name: str, fresh: dict[str, ContainerInfo]) -> NodeState:
        if name in self.failed:
            return NodeState("failed", self.failed[name])
        info = self.apps.get(name) or self.holders.get(name)
        if info is None:
            return NodeState("failed", "not created")
        if name in self.created or info.status != "running":
            info = fresh.get(name)
            if info is None:
                return NodeState("failed", "its container is gone")
        state = node_state(self.runtime, info)
        if state.state == "running":
            return state
        return NodeState("failed", f"{info.status} (exit {info.exit_code}): {state.reason}", info.exit_code)


__all__ = ["EngineError", "Report", "converge", "destroy"]
