"""The lab's Docker Engine API, as this lab host answers it (the transport is
`worker.engineapi`): each emulated Docker host answers for the containers the lab document
places on it. A read shows the engine's real containers through the document's eyes; a change
(`run`, `rm`, `stop`, ...) is an edit of the lab document through the one write path, or a node
action, carried out at once like any deploy or control of the lab, and answered when done.

So every guard, quota and image rule of the editor holds, and what they refuse comes back in
dockerd's words; the diagram follows because the document changed.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.db import connection

from topology.dockerrun import Refused, fresh_name, is_docker_host, network_from_create, node_from_create
from topology.document import LabDoc
from topology.images import with_tag
from topology.problems import TopologyError, errors_in
from worker.engineapi import API_VERSION, DOCKER_HEADERS, MIN_API_VERSION, Call, Pass, Reply, error
from worker.runtime import ContainerInfo

from .. import controls, lifecycle
from ..images import current_policy
from ..models import Lab
from ..store.documents import edit_document, lab_assignments, lab_document
from . import docker_shapes as shapes
from .lab_changes import LabChanges

START_SECONDS = 30  # how long a --rm container ended before its client's start waits for it
EXEC_FIELDS = {"AttachStdin", "AttachStdout", "AttachStderr", "DetachKeys", "Tty", "Env", "Cmd", "WorkingDir",
               "User", "ConsoleSize"}  # fmt: skip
PASSED_THROUGH = {"/logs": "GET", "/resize": "POST", "/top": "GET"}
ACTIONS = {"/start": "start", "/stop": "stop", "/restart": "restart", "/kill": "kill"}
KILLING = ("", "KILL", "SIGKILL", "9")  # `docker kill`'s signal: others go to the container as they are
PORT_TAKEN = re.compile(r"host port (\d+) on host \S+ is already published")


class LabDockerApi:
    """The Backend of `worker.engineapi.EngineApi` for this lab host's labs."""

    headers = DOCKER_HEADERS
    server = "Docker/20.10"

    def __init__(self) -> None:
        self.changes = LabChanges()
        self.execs: dict[str, tuple[str, str]] = {}  # exec id -> the lab and Docker host that made it
        # Containers run at their create, which the CLI starts, attaches to and waits for next: the
        # start is answered as done, an attach replays what they printed since, and those made
        # with --rm leave the lab once waited for.
        self.unstarted: dict[str, threading.Event] = {}  # set by the client's start
        self.auto_remove: set[str] = set()
        self.routes = self._routes()
        self.verbs = self._verbs()

    # Backend -------------------------------------------------------------------------

    def serves(self, lab: str, node: str) -> bool:
        try:
            found = Lab.objects.filter(tag=lab).first()
            return found is not None and is_docker_host(lab_document(found), node)
        finally:
            connection.close()  # asked once per new node: no connection is held between

    def handle(self, call: Call) -> Reply | Pass:
        try:
            return self._handle(call)
        finally:
            connection.close()  # a connection's thread ends with it: none is left behind

    def _handle(self, call: Call) -> Reply | Pass:
        if call.path == "/_ping":
            return Reply(
                200, "OK", {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
            )
        lab = Lab.objects.filter(tag=call.lab).first()
        if lab is None:
            return error(503, "this lab is being removed")
        try:
            return self._route(lab, call)
        except Refused as exc:
            return error(exc.status, exc.message)
        except TopologyError as exc:
            return error(*_docker_words(exc))
        except lifecycle.OperationRefused as exc:
            return error(409, str(exc))

    def _route(self, lab: Lab, call: Call) -> Reply | Pass:
        for method, pattern, answer in self.routes:
            found = pattern.match(call.path)
            if found and method == call.method:
                return answer(lab, call, *found.groups())
        return error(
            404, f"page not found: {call.method} {call.path} is not served by this lab's Docker hosts"
        )

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Reply | Pass]]]:
        return [
            ("GET", re.compile(r"^/version$"), _version),
            ("GET", re.compile(r"^/info$"), self._info),
            ("GET", re.compile(r"^/containers/json$"), self._list),
            ("POST", re.compile(r"^/containers/create$"), self._create),
            (
                "GET",
                re.compile(r"^/networks$"),
                lambda lab, call: Reply(200, shapes.networks(lab_document(lab, instances=True), call.node)),
            ),
            ("GET", re.compile(r"^/networks/([^/]+)$"), self._network),
            ("POST", re.compile(r"^/networks/create$"), self._create_network),
            ("DELETE", re.compile(r"^/networks/([^/]+)$"), self._remove_network),
            ("POST", re.compile(r"^/networks/([^/]+)/(connect|disconnect)$"), _one_network),
            ("GET", re.compile(r"^/images/json$"), _images),
            ("POST", re.compile(r"^/images/create$"), self._pull),
            *(
                (m, re.compile(r"^/exec/([0-9a-f]{64})/(start|resize|json)$"), self._exec)
                for m in ("GET", "POST")
            ),
            *(
                (m, re.compile(r"^/containers/([^/]+)(/[a-z]+)?$"), self._container)
                for m in ("GET", "POST", "DELETE")
            ),
        ]

    def _exec(self, lab: Lab, call: Call, exec_id: str, verb: str) -> Reply | Pass:
        if self.execs.get(exec_id) != (call.lab, call.node):
            return error(404, f"No such exec instance: {exec_id}")
        return Pass(call.method, f"/exec/{exec_id}/{verb}{call.query_string}", _body(call))

    # Containers ------------------------------------------------------------------------

    def _container(self, lab: Lab, call: Call, ref: str, verb: str | None) -> Reply | Pass:
        verb = verb or ""
        name, info = self._find(lab, lab_document(lab, instances=True), call.node, ref)
        answer = self.verbs.get((call.method, verb))
        if answer is not None:
            return answer(lab, call, name, info)
        if PASSED_THROUGH.get(verb) == call.method:
            return Pass(call.method, f"/containers/{info.id}{verb}{call.query_string}", _body(call))
        return error(404, f"page not found: {call.method} /containers/{{id}}{verb}")

    def _verbs(self) -> dict[tuple[str, str], Callable[[Lab, Call, str, ContainerInfo], Reply | Pass]]:
        """What is done to one container (the rest is passed on as it is, see PASSED_THROUGH)."""

        def act(action: str) -> Callable[[Lab, Call, str, ContainerInfo], Reply | Pass]:
            return lambda lab, call, name, info: self._act(lab, call, name, info, action)

        return {
            ("GET", "/json"): self._inspect,
            ("DELETE", ""): self._remove,
            **{("POST", verb): act(action) for verb, action in ACTIONS.items()},
            ("POST", "/exec"): self._exec_create,
            ("POST", "/attach"): self._attach,
            ("POST", "/wait"): self._wait,
        }

    def _inspect(self, lab: Lab, call: Call, name: str, info: ContainerInfo) -> Pass:
        node, assignments = lab_document(lab, instances=True).nodes[name], lab_assignments(lab)
        return Pass("GET", f"/containers/{info.id}/json",
                    rewrite=lambda found: shapes.inspected(found, name, node, assignments))  # fmt: skip

    def _exec_create(self, lab: Lab, call: Call, name: str, info: ContainerInfo) -> Pass:
        """An exec as the CLI asks for one, never with more than the container has (no
        --privileged: its capabilities are its kind's)."""
        asked = call.body if isinstance(call.body, dict) else {}
        body = json.dumps({k: v for k, v in asked.items() if k in EXEC_FIELDS}).encode()
        return Pass("POST", f"/containers/{info.id}/exec", body,
                    opened=lambda found: self._remember_exec(found, call))  # fmt: skip

    def _attach(self, lab: Lab, call: Call, name: str, info: ContainerInfo) -> Pass:
        if info.id in self.unstarted:  # it runs since its create: what it printed, on until it ends
            return Pass("GET", f"/containers/{info.id}/logs?follow=1&stdout=1&stderr=1", upgraded=True)
        return Pass("POST", f"/containers/{info.id}/attach{call.query_string}", _body(call))

    def _wait(self, lab: Lab, call: Call, name: str, info: ContainerInfo) -> Pass:
        """Wait for the container to stop: it started at its create, so "the next exit" is its
        first, and "removed" (--rm) is its end, after which it leaves the lab."""
        condition = call.arg("condition", "not-running")
        query = "?condition=not-running" if condition in ("next-exit", "removed") else call.query_string
        start = self.unstarted.get(info.id)

        def removed() -> None:
            if info.id not in self.auto_remove:
                return
            self.auto_remove.discard(info.id)
            if start is not None:  # the CLI waits, then starts: it finds it started before it goes
                start.wait(timeout=START_SECONDS)
            try:
                with self.changes.lock(lab):
                    edit_document(lab, lambda data: data.get("nodes", {}).pop(name, None))
                    self.changes.converge(lab)
            finally:
                connection.close()

        return Pass("POST", f"/containers/{info.id}/wait{query}", done=removed)

    def _find(self, lab: Lab, doc: LabDoc, host: str, ref: str) -> tuple[str, ContainerInfo]:
        """The container `ref` names on `host` (a name, an id, or the start of one), as dockerd
        finds it; only the containers the document places on that host are found."""
        mine = {info.node: info for info in self.changes.containers(lab) if _on(doc, info.node, host)}
        if ref in mine:
            return ref, mine[ref]
        if len(ref) >= 1 and re.fullmatch(r"[0-9a-f]+", ref):
            hits = [(n, i) for n, i in mine.items() if i.id.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise Refused(400, f"multiple IDs found with provided prefix: {ref}")
        raise Refused(404, f"No such container: {ref}")

    def _list(self, lab: Lab, call: Call) -> Pass:
        doc, assignments, show_all = lab_document(lab, instances=True), lab_assignments(lab), call.flag("all")
        filters = json.dumps({"label": [f"wirelab.lab={lab.tag}", "wirelab.role=app"]})

        def view(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for entry in found or []:
                name = (entry.get("Labels") or {}).get("wirelab.node", "")
                if _on(doc, name, call.node) and (show_all or entry.get("State") == "running"):
                    out.append(shapes.listed(entry, name, doc.nodes[name], assignments))
            return out

        return Pass("GET", f"/containers/json?all=1&filters={quote(filters)}", rewrite=view)

    def _create(self, lab: Lab, call: Call) -> Reply:
        with self.changes.lock(lab):
            doc = lab_document(lab)
            name = call.arg("name").lstrip("/") or fresh_name(set(doc.nodes))
            if name in doc.nodes:
                taken = self._id_of(lab, name)
                raise Refused(409, f'Conflict. The container name "/{name}" is already in use by container '
                              f'"{taken}". You have to remove (or rename) that container to be able to reuse '
                              "that name.")  # fmt: skip
            node = node_from_create(doc, call.node, name, call.body)
            if not current_policy().allows(node["image"]):  # the CLI then pulls it: refused there
                raise Refused(404, f"No such image: {with_tag(node['image'])}")
            edit_document(lab, lambda data: data.setdefault("nodes", {}).__setitem__(name, node))
            try:
                self.changes.converge(lab)
            except Exception:
                edit_document(lab, lambda data: data.get("nodes", {}).pop(name, None))
                raise
            made = self._id_of(lab, name)
            if len(self.unstarted) > 10_000:  # never started by a client that went away
                self.unstarted.clear()
            self.unstarted[made] = threading.Event()
            if (call.body.get("HostConfig") or {}).get("AutoRemove"):
                self.auto_remove.add(made)
            return Reply(201, {"Id": made, "Warnings": []})

    def _remove(self, lab: Lab, call: Call, name: str, info: ContainerInfo) -> Reply:
        if name not in lab_document(lab).nodes:  # an instance of an app: the orchestrator keeps it
            app = name.rpartition(".")[0]
            how = f"scale the app (PUT http://marathon:8080/v2/apps/{app}) to end it"
            raise Refused(
                409, f"{name} is an instance of app /{app}, which the lab's orchestrator keeps running: {how}"
            )
        if info.status == "running" and not call.flag("force"):
            raise Refused(409, f"You cannot remove a running container {info.id}. Stop the container before "
                          "attempting removal or force remove")  # fmt: skip
        with self.changes.lock(lab):
            edit_document(lab, lambda data: data.get("nodes", {}).pop(name, None))
            self.changes.converge(lab)
        return Reply(204)

    def _act(self, lab: Lab, call: Call, name: str, info: ContainerInfo, action: str) -> Reply | Pass:
        if action == "kill" and info.status != "running":
            raise Refused(409, f"cannot kill container: {name}: container {info.id} is not running")
        if action == "kill" and call.arg("signal").upper() not in KILLING:
            return Pass("POST", f"/containers/{info.id}/kill{call.query_string}")  # the container stays
        if action == "start" and info.id in self.unstarted:
            self.unstarted.pop(info.id).set()
            return Reply(204)  # it started at its create
        if action == "start" and info.status == "running":
            return Reply(304)
        if action == "stop" and info.status != "running":
            return Reply(304)
        with self.changes.lock(lab):
            op = controls.request_node_action(lab, name, action, user=lab.owner, enqueue=False)
            self.changes.carry_out(op)
        return Reply(204)

    def _id_of(self, lab: Lab, name: str) -> str:
        found = [info.id for info in self.changes.containers(lab) if info.node == name]
        return found[0] if found else ""

    def _remember_exec(self, found: Any, call: Call) -> None:
        if isinstance(found, dict) and isinstance(found.get("Id"), str):
            if len(self.execs) > 10_000:
                self.execs.clear()
            self.execs[found["Id"]] = (call.lab, call.node)

    # Networks and images -------------------------------------------------------------

    def _network(self, lab: Lab, call: Call, ref: str) -> Reply:
        doc = lab_document(lab, instances=True)
        for network in shapes.networks(doc, call.node):
            if ref in (network["Name"], network["Id"]) or (len(ref) >= 3 and network["Id"].startswith(ref)):
                ids = {
                    info.node: info.id
                    for info in self.changes.containers(lab)
                    if _on(doc, info.node, call.node)
                }
                network["Containers"] = shapes.attached(doc, network["Name"], ids, lab_assignments(lab))
                return Reply(200, network)
        return error(404, f"network {ref} not found")

    def _create_network(self, lab: Lab, call: Call) -> Reply:
        with self.changes.lock(lab):
            name, network = network_from_create(lab_document(lab), call.body)
            network["position"] = _near_networks(lab_document(lab))
            edit_document(lab, lambda data: data.setdefault("networks", {}).__setitem__(name, network))
            self.changes.converge(lab)
        return Reply(201, {"Id": shapes.network_id(name, "swarm"), "Warning": ""})

    def _remove_network(self, lab: Lab, call: Call, ref: str) -> Reply:
        found = self._network(lab, call, ref)
        name = found.body.get("Name") if isinstance(found.body, dict) else None
        if found.status != 200 or not name:
            return found
        if found.body.get("Scope") != "swarm":
            raise Refused(403, f"{name} is a pre-defined network and cannot be removed")
        doc = lab_document(lab, instances=True)
        users = sorted(n for n, node in doc.nodes.items() if node.mode == f"overlay:{name}")
        if users:
            held = f"network {name} id {found.body['Id']} has active endpoints ({', '.join(users)})"
            raise Refused(403, f"error while removing network: {held}")
        with self.changes.lock(lab):
            edit_document(lab, lambda data: data.get("networks", {}).pop(name, None))
            self.changes.converge(lab)
        return Reply(204)

    def _pull(self, lab: Lab, call: Call) -> Reply:
        name = call.arg("fromImage").removeprefix("docker.io/").removeprefix("library/")  # as it was typed
        image = name + (f":{call.arg('tag')}" if call.arg("tag") else "")
        policy = current_policy()
        if not policy.allows(image):
            raise Refused(404, f"pull access denied for {name}, repository does not exist or may not be "
                          f"pulled here: {policy.refusal(image)}")  # fmt: skip
        return Reply(200, {"status": f"Status: Image is up to date for {with_tag(image)}"})

    def _info(self, lab: Lab, call: Call) -> Reply:
        doc = lab_document(lab, instances=True)
        mine = [info for info in self.changes.containers(lab) if _on(doc, info.node, call.node)]
        running = sum(1 for info in mine if info.status == "running")
        return Reply(200, {
            "ID": lab.tag, "Name": call.node, "Containers": len(mine), "ContainersRunning": running,
            "ContainersPaused": 0, "ContainersStopped": len(mine) - running, "Driver": "overlay2",
            "OperatingSystem": "Wirelab Docker host", "OSType": "linux", "Architecture": "x86_64",
            "ServerVersion": "20.10.24", "Swarm": {"LocalNodeState": "inactive"}, "Plugins": {
                "Network": ["bridge", "host", "null", "overlay"]}, "Warnings": [],
        })  # fmt: skip


def _one_network(lab: Lab, call: Call, ref: str, verb: str) -> Reply:
    return error(
        400,
        f"a container of this lab is on one network: to move it to {ref}, remove it and run it again "
        f"with --network {ref}",
    )


def _near_networks(doc: LabDoc) -> dict[str, float]:
    placed = [n.position for n in doc.networks.values() if n.position is not None]
    if not placed:
        return {"x": 400.0, "y": 60.0}
    return {"x": max(p.x for p in placed) + 160, "y": min(p.y for p in placed)}


def _on(doc: LabDoc, name: str, host: str) -> bool:
    node = doc.nodes.get(name)
    return node is not None and node.host == host


def _body(call: Call) -> bytes:
    return json.dumps(call.body).encode() if call.body else b""


def _version(lab: Lab, call: Call) -> Pass:
    """The engine's own version, as this Docker host's (the API version the lab's speaks)."""

    def shown(found: dict[str, Any]) -> dict[str, Any]:
        platform = {"Name": f"Wirelab Docker host {call.node}"}
        return {
            **(found or {}),
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "Platform": platform,
        }

    return Pass("GET", "/version", rewrite=shown)


def _images(lab: Lab, call: Call) -> Pass:
    """The images this lab's containers run, as the engine lists them."""
    used = {node.image for node in lab_document(lab, instances=True).nodes.values() if node.image}

    def shown(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for entry in found or []:
            tags = [t for t in entry.get("RepoTags") or [] if t in used or t.removesuffix(":latest") in used]
            if tags:
                out.append({**entry, "RepoTags": tags, "Labels": {}})
        return out

    return Pass("GET", "/images/json", rewrite=shown)


def _docker_words(exc: TopologyError) -> tuple[int, str]:
    """A refused edit as dockerd would say it where it has words for it."""
    problems = errors_in(exc.problems)
    for problem in problems:
        taken = PORT_TAKEN.search(problem.message)
        if taken:
            bind = f"Bind for {shapes.ANY}:{taken[1]} failed: port is already allocated"
            return 500, f"driver failed programming external connectivity: {bind}"
    text = "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems)
    return 400, text or str(exc)
