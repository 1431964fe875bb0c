"""Between the document and the database: save a LabDoc as rows, read rows back as one.

Export then import gives back an equal lab: `lab_to_document(save_document(doc))` equals
the document, with interfaces that only name a link end folded into the link.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.text import slugify

from .addressing import Assignments
from .document import InterfaceDoc, LabDoc, LinkDoc, NetworkDoc, NodeDoc, PortDoc, Position, Route
from .models import Interface, Lab, Link, Network, Node, PortMapping
from .problems import TopologyError, errors_in
from .validation import check


def unique_slug(name: str, exclude_id: int | None = None) -> str:
    base = slugify(name)[:100] or "lab"
    slug, n = base, 2
    while Lab.objects.filter(slug=slug).exclude(id=exclude_id).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _position(obj) -> Position | None:
    return Position(x=obj.x, y=obj.y) if obj.x is not None and obj.y is not None else None


def lab_to_document(lab: Lab) -> LabDoc:
    """Read a lab's rows back as a document."""
    nodes = list(lab.nodes.select_related("host").prefetch_related("interfaces__network", "ports"))
    links = list(lab.links.select_related("a__node", "b__node"))
    linked = {link.a_id for link in links} | {link.b_id for link in links}
    return LabDoc(
        name=lab.name,
        description=lab.description,
        networks={
            net.name: NetworkDoc(
                kind=net.kind,
                subnet=net.subnet or None,
                host=net.host.name if net.host else None,
                position=_position(net),
            )
            for net in lab.networks.select_related("host")
        },
        nodes={node.name: _node_to_document(node, linked) for node in nodes},
        links=[
            LinkDoc(
                endpoints=[f"{link.a.node.name}:{link.a.name}", f"{link.b.node.name}:{link.b.name}"],
                subnet=link.subnet or None,
            )
            for link in links
        ],
    )


def _node_to_document(node: Node, linked: set[int]) -> NodeDoc:
    fields = {
        "kind": node.kind,
        "image": node.image or None,
        "host": node.host.name if node.host else None,
        "mode": node.mode or None,
        "address": node.address or None,
        "command": node.command,
        "env": node.env or {},
        "exec": node.exec or [],
        "routes": [Route(**r) for r in node.routes or []],
        "port_range": node.port_range or None,
        "publish_range": node.publish_range or None,
        "position": _position(node),
        "interfaces": {
            i.name: InterfaceDoc(network=i.network.name if i.network else None, address=i.address or None)
            for i in node.interfaces.all()
            if i.network or i.address or i.id not in linked
        },
        "ports": [
            PortDoc(host=p.host_port or "auto", container=p.container_port, protocol=p.protocol)
            for p in node.ports.all()
        ],
    }
    return NodeDoc(**{k: v for k, v in fields.items() if v not in (None, [], {})})


@transaction.atomic
def save_document(doc: LabDoc, owner, lab: Lab | None = None, labhost: str = "local") -> Lab:
    """Store a document as a lab (a new one, or replacing `lab`'s topology).

    Refuses a document with errors; automatic addresses handed out before are kept
    where they still fit.
    """
    previous = Assignments.from_dict(lab.assignments) if lab else None
    assignments, problems = check(doc, previous)
    if errors_in(problems):
        raise TopologyError(errors_in(problems))
    if lab is None:
        lab = Lab(owner=owner, slug=unique_slug(doc.name), labhost=labhost)
    lab.name = doc.name
    lab.description = doc.description
    lab.assignments = assignments.as_dict()
    lab.save()
    lab.links.all().delete()
    lab.networks.all().delete()
    lab.nodes.filter(host__isnull=False).delete()
    lab.nodes.all().delete()
    _create_rows(lab, doc)
    return lab


def _create_rows(lab: Lab, doc: LabDoc) -> None:
    nodes: dict[str, Node] = {}
    for name, nd in doc.nodes.items():
        pos = nd.position
        nodes[name] = Node.objects.create(
            lab=lab,
            name=name,
            kind=nd.kind,
            image=nd.image or "",
            mode=nd.mode or "",
            address=nd.address or "",
            command=nd.command,
            env=nd.env,
            exec=nd.exec,
            routes=[r.model_dump() for r in nd.routes],
            port_range=nd.port_range or "",
            publish_range=nd.publish_range or "",
            x=pos.x if pos else None,
            y=pos.y if pos else None,
        )
    for name, nd in doc.nodes.items():
        if nd.host:
            nodes[name].host = nodes[nd.host]
            nodes[name].save(update_fields=["host"])
        PortMapping.objects.bulk_create(
            PortMapping(
                node=nodes[name],
                host_port=None if p.host == "auto" else p.host,
                container_port=p.container,
                protocol=p.protocol,
            )
            for p in nd.ports
        )
    networks = {
        name: Network.objects.create(
            lab=lab,
            name=name,
            kind=net.kind,
            subnet=net.subnet or "",
            host=nodes.get(net.host) if net.host else None,
            x=net.position.x if net.position else None,
            y=net.position.y if net.position else None,
        )
        for name, net in doc.networks.items()
    }
    interfaces: dict[str, Interface] = {}
    for name, nd in doc.nodes.items():
        for if_name, iface in nd.interfaces.items():
            interfaces[f"{name}:{if_name}"] = Interface.objects.create(
                node=nodes[name],
                name=if_name,
                network=networks.get(iface.network) if iface.network else None,
                address=iface.address or "",
            )
    for link in doc.links:
        ends = []
        for endpoint in link.endpoints:
            node_name, _, if_name = endpoint.partition(":")
            if endpoint not in interfaces:
                interfaces[endpoint] = Interface.objects.create(node=nodes[node_name], name=if_name)
            ends.append(interfaces[endpoint])
        Link.objects.create(lab=lab, a=ends[0], b=ends[1], subnet=link.subnet or "")
