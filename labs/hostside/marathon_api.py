"""The lab's orchestrator REST API, Marathon's (v2), as this lab host answers it in every node
namespace of a lab with an `orchestrator` (the transport is `worker.engineapi` with a TcpDoor at
http://marathon:8080, which the lab's DNS resolves).

An app posted, changed, scaled or removed is an edit of the document's `apps` through the one
write path, then a deploy of the lab, answered when done (so `GET /v2/deployments` is empty
once a change is answered); tasks are the instances' containers as the engine has them. Every
guard, quota and image rule of the editor holds, and what they refuse comes back as Marathon
words it: 422 with details naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import connection

from topology.dockerrun import Refused
from topology.document import LabDoc
from topology.marathon import Invalid, app_id, from_marathon, to_marathon
from topology.orchestrator import instance_name
from topology.problems import TopologyError, errors_in
from worker.engineapi import Call, Reply
from worker.runtime import ContainerInfo

from .. import controls, lifecycle
from ..images import current_policy
from ..models import Lab
from ..store.documents import edit_document, lab_assignments, lab_document
from .healer import Healer, stamp
from .lab_changes import LabChanges

PORT = 8080
VERSION = "1.4.13"  # the Marathon whose v2 API this follows
STATES = {"running": "TASK_RUNNING", "created": "TASK_STAGING", "restarting": "TASK_STARTING"}


def error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Reply:
    return Reply(status, {"message": message, **({"details": details} if details else {})})


class LabMarathonApi:
    """The Backend of `worker.engineapi.EngineApi` (with a TcpDoor) for this lab host's labs."""

    headers: dict[str, str] = {}
    server = f"Marathon/{VERSION} (Wirelab)"

    def __init__(self, changes: LabChanges | None = None, healer: Healer | None = None) -> None:
        self.changes = changes or LabChanges()
        self.healer = healer or Healer(self.changes)
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile(r"^/ping$"), lambda lab, call: Reply(200, "pong")),
            ("GET", re.compile(r"^/v2/info$"), _info),
            ("GET", re.compile(r"^/v2/apps/?$"), self._apps),
            ("POST", re.compile(r"^/v2/apps/?$"), self._create),
            ("GET", re.compile(r"^/v2/apps/([^/]+)/?$"), self._app),
            ("PUT", re.compile(r"^/v2/apps/([^/]+)/?$"), self._change),
            ("DELETE", re.compile(r"^/v2/apps/([^/]+)/?$"), self._remove),
            ("POST", re.compile(r"^/v2/apps/([^/]+)/restart$"), self._restart),
            ("GET", re.compile(r"^/v2/apps/([^/]+)/tasks$"), self._app_tasks),
            ("DELETE", re.compile(r"^/v2/apps/([^/]+)/tasks/([^/]+)$"), self._kill_task),
            ("GET", re.compile(r"^/v2/tasks$"), self._tasks),
            ("GET", re.compile(r"^/v2/deployments$"), _deployments),
        ]

    # Backend -------------------------------------------------------------------------

    def serves(self, lab: str, node: str) -> bool:
        try:
            found = Lab.objects.filter(tag=lab).first()
            return found is not None and lab_document(found).orchestrator is not None
        finally:
            connection.close()

    def handle(self, call: Call) -> Reply:
        try:
            lab = Lab.objects.filter(tag=call.lab).first()
            return self._route(lab, call) if lab is not None else error(503, "this lab is being removed")
        except Invalid as exc:
            return error(422, "Object is not valid", exc.details)
        except Refused as exc:
            return error(exc.status, exc.message)
        except TopologyError as exc:
            details = [{"path": p.path, "errors": [p.message]} for p in errors_in(exc.problems)]
            return error(422, "Object is not valid", details)
        except lifecycle.OperationRefused as exc:
            return error(409, str(exc))
        finally:
            connection.close()  # a connection's thread ends with it: none is left behind

    def _route(self, lab: Lab, call: Call) -> Reply:
        for method, pattern, answer in self.routes:
            found = pattern.match(call.path)
            if found and method == call.method:
                return answer(lab, call, *found.groups())
        return error(404, f"{call.method} {call.path} is not served by this lab's orchestrator")

    # Apps ------------------------------------------------------------------------------

    def _apps(self, lab: Lab, call: Call) -> Reply:
        doc, tasks = lab_document(lab), self._all_tasks(lab)
        return Reply(200, {"apps": [_shown(name, doc, tasks) for name in doc.apps]})

    def _app(self, lab: Lab, call: Call, ref: str) -> Reply:
        doc = lab_document(lab)
        name = _existing(doc, ref)
        tasks = self._all_tasks(lab)
        return Reply(200, {"app": {**_shown(name, doc, tasks), "tasks": tasks.get(name, [])}})

    def _create(self, lab: Lab, call: Call) -> Reply:
        name, app, ignored = from_marathon(call.body)
        if name in lab_document(lab).apps:
            return error(409, f"An app with id [/{name}] already exists.")
        self._refuse_image(app)
        version = self._apply(lab, lambda apps: apps.__setitem__(name, app))
        doc, tasks = lab_document(lab), self._all_tasks(lab)
        return Reply(201, {**_shown(name, doc, tasks), "version": version, **_ignoring(ignored)})

    def _change(self, lab: Lab, call: Call, ref: str) -> Reply:
        """Marathon's PUT: the fields given replace the app's (`{"instances": 5}` scales it); an
        app not there yet is made."""
        doc = lab_document(lab)
        name = app_id(ref)
        if not isinstance(call.body, dict):
            raise Invalid([{"path": "/", "errors": ["an app is a JSON object"]}])
        current = to_marathon(name, doc.apps[name]) if name in doc.apps else {}
        merged = {**current, **call.body, "id": f"/{name}"}
        if "container" in call.body and "portDefinitions" not in call.body:
            merged.pop("portDefinitions", None)  # a new container's ports come with it
        _, app, ignored = from_marathon(merged)
        self._refuse_image(app)
        version = self._apply(lab, lambda apps: apps.__setitem__(name, app))
        return Reply(
            200 if current else 201, {"version": version, "deploymentId": version, **_ignoring(ignored)}
        )

    def _remove(self, lab: Lab, call: Call, ref: str) -> Reply:
        name = _existing(lab_document(lab), ref)
        version = self._apply(lab, lambda apps: apps.pop(name, None))
        return Reply(200, {"version": version, "deploymentId": version})

    def _restart(self, lab: Lab, call: Call, ref: str) -> Reply:
        doc = lab_document(lab)
        name = _existing(doc, ref)
        for index in range(1, doc.apps[name].instances + 1):
            self._node_action(lab, instance_name(name, index), "restart")
        version = stamp()
        return Reply(200, {"version": version, "deploymentId": version})

    def _kill_task(self, lab: Lab, call: Call, ref: str, task: str) -> Reply:
        """A task killed is replaced, as Marathon does unless asked to scale down: its instance
        starts again."""
        doc = lab_document(lab)
        name = _existing(doc, ref)
        shown = {t["id"]: t for t in self._all_tasks(lab).get(name, [])}
        if task not in shown:
            return error(404, f"Task '{task}' does not exist")
        self._node_action(lab, task, "restart")
        return Reply(200, {"task": shown[task]})

    def _app_tasks(self, lab: Lab, call: Call, ref: str) -> Reply:
        name = _existing(lab_document(lab), ref)
        return Reply(200, {"tasks": self._all_tasks(lab).get(name, [])})

    def _tasks(self, lab: Lab, call: Call) -> Reply:
        return Reply(200, {"tasks": [t for tasks in self._all_tasks(lab).values() for t in tasks]})

    # Changes ---------------------------------------------------------------------------

    def _apply(self, lab: Lab, change: Callable[[dict[str, Any]], Any]) -> str:
        """Edit the document's apps and deploy; a deploy that fails puts the apps back."""
        with self.changes.lock(lab):
            before = lab_document(lab)
            if before.orchestrator is None:
                raise Refused(409, "this lab has no orchestrator")
            saved = {
                name: app.model_dump(mode="json", exclude_defaults=True) for name, app in before.apps.items()
            }
            edit_document(lab, lambda data: change(data.setdefault("apps", {})))
            try:
                self.changes.converge(lab)
            except Exception:
                edit_document(lab, lambda data: data.__setitem__("apps", saved))
                raise
        return stamp()

    def _node_action(self, lab: Lab, node: str, action: str) -> None:
        with self.changes.lock(lab):
            op = controls.request_node_action(lab, node, action, user=lab.owner, enqueue=False)
            self.changes.carry_out(op)

    @staticmethod
    def _refuse_image(app: dict[str, Any]) -> None:
        if not current_policy().allows(app["image"]):
            path = "/container/docker/image"
            raise Invalid(
                [{"path": path, "errors": [f"image '{app['image']}' is not allowed in this installation"]}]
            )

    def _all_tasks(self, lab: Lab) -> dict[str, list[dict[str, Any]]]:
        """Each app's tasks: its placed instances as their containers run them."""
        doc, assignments = lab_document(lab), lab_assignments(lab)
        running = {info.node: info for info in self.changes.containers(lab)}
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in doc.apps}
        for instance, agent in assignments.instances.items():
            name = instance.rpartition(".")[0]
            if name in out:
                task = _task(doc, instance, agent, assignments, running.get(instance))
                if doc.apps[name].health:
                    task["healthCheckResults"] = self.healer.results(lab.tag, instance)
                out[name].append(task)
        return out


def _task(
    doc: LabDoc, instance: str, agent: str, assignments: Any, info: ContainerInfo | None
) -> dict[str, Any]:
    name = instance.rpartition(".")[0]
    app = doc.apps[name]
    base, _, _ = app.mode.partition(":")
    ports = []
    for index, port in enumerate(app.ports):
        brokered = assignments.ports.get(f"{instance}:{index}")
        fixed = port.container if base == "host" and port.container is not None else port.host
        ports.append(brokered if brokered is not None else fixed)
    address = assignments.containers.get(instance, "").split("/")[0] if base == "overlay" else ""
    if not address:
        address = _first_address(doc, agent, assignments)
    state = (
        "TASK_LOST"
        if info is None
        else STATES.get(info.status, "TASK_FAILED" if info.exit_code else "TASK_FINISHED")
    )
    return {
        "id": instance,
        "appId": f"/{name}",
        "host": agent,
        "slaveId": agent,
        "ports": ports,
        "ipAddresses": [{"ipAddress": address, "protocol": "IPv4"}] if address else [],
        "state": state,
    }


def _first_address(doc: LabDoc, host: str, assignments: Any) -> str:
    node = doc.nodes.get(host)
    for iface_name, iface in (node.interfaces if node else {}).items():
        given = (
            iface.address
            if iface.address and iface.address != "auto"
            else assignments.interfaces.get(f"{host}:{iface_name}", "")
        )
        if given:
            return given.split("/")[0]
    return ""


def _shown(name: str, doc: LabDoc, tasks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    mine = tasks.get(name, [])
    counts = {
        "tasksRunning": sum(1 for t in mine if t["state"] == "TASK_RUNNING"),
        "tasksStaged": sum(1 for t in mine if t["state"] in ("TASK_STAGING", "TASK_STARTING")),
        "tasksHealthy": sum(1 for t in mine if _health_of(t) is True),
        "tasksUnhealthy": sum(1 for t in mine if _health_of(t) is False),
    }
    return {**to_marathon(name, doc.apps[name]), **counts, "deployments": []}


def _health_of(task: dict[str, Any]) -> bool | None:
    results = task.get("healthCheckResults")
    if not results:
        return None
    return all(r["alive"] for r in results)


def _existing(doc: LabDoc, ref: str) -> str:
    name = app_id(ref)
    if name not in doc.apps:
        raise Refused(404, f"App '/{name}' does not exist")
    return name


def _ignoring(ignored: list[str]) -> dict[str, Any]:
    return {"ignoredFields": ignored} if ignored else {}


def _info(lab: Lab, call: Call) -> Reply:
    return Reply(200, {
        "name": "marathon", "version": VERSION, "frameworkId": lab.tag, "leader": f"marathon:{PORT}",
        "elected": True, "marathon_config": {"master": f"wirelab lab {lab.slug}"},
    })  # fmt: skip


def _deployments(lab: Lab, call: Call) -> Reply:
    """Each change is answered once carried out: what is under way is the lab's operation, if any."""
    op = lab.operations.filter(status__in=("queued", "running")).order_by("id").first()
    if op is None:
        return Reply(200, [])
    shown = {"id": str(op.id), "version": op.created.isoformat(), "affectedApps": [], "steps": [],
             "currentActions": [{"action": op.kind}], "currentStep": 1, "totalSteps": 1}  # fmt: skip
    return Reply(200, [shown])
