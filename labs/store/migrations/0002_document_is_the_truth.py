"""The lab document becomes the stored truth: each lab's rows are read once into its
document (keeping its assignments, so no address or port changes), then the old rows are
replaced by a projection of the document."""

import django.db.models.deletion
from django.db import migrations, models


def _position(obj):
    return {"x": obj.x, "y": obj.y} if obj.x is not None and obj.y is not None else None


def _port(p):
    host = p.host_port or "auto"
    if p.container_port is None:
        return host
    proto = "" if p.protocol == "tcp" else f"/{p.protocol}"
    return f"{host}:{p.container_port}{proto}"


def _node(node, Interface, PortMapping, linked):
    item = {"kind": node.kind}
    for field in ("image", "mode", "address", "port_range", "publish_range"):
        if getattr(node, field):
            item[field] = getattr(node, field)
    if node.host_id:
        item["host"] = node.host.name
    if node.command is not None:
        item["command"] = node.command
    for field in ("env", "exec", "routes"):
        if getattr(node, field):
            item[field] = getattr(node, field)
    interfaces = {}
    for iface in Interface.objects.filter(node=node).order_by("id"):
        if iface.network_id or iface.address or iface.id not in linked:
            entry = {}
            if iface.network_id:
                entry["network"] = iface.network.name
            if iface.address:
                entry["address"] = iface.address
            interfaces[iface.name] = entry
    if interfaces:
        item["interfaces"] = interfaces
    ports = [_port(p) for p in PortMapping.objects.filter(node=node).order_by("id")]
    if ports:
        item["ports"] = ports
    if _position(node):
        item["position"] = _position(node)
    return item


def rows_to_documents(apps, schema_editor):
    Lab = apps.get_model("topology", "Lab")
    Node = apps.get_model("topology", "Node")
    Interface = apps.get_model("topology", "Interface")
    Network = apps.get_model("topology", "Network")
    Link = apps.get_model("topology", "Link")
    PortMapping = apps.get_model("topology", "PortMapping")
    for lab in Lab.objects.all():
        links = list(Link.objects.filter(lab=lab).order_by("id").select_related("a__node", "b__node"))
        linked = {link.a_id for link in links} | {link.b_id for link in links}
        doc = {"wirelab": 1, "name": lab.name}
        if lab.description:
            doc["description"] = lab.description
        networks = {}
        for net in Network.objects.filter(lab=lab).order_by("id"):
            entry = {"kind": net.kind}
            if net.subnet:
                entry["subnet"] = net.subnet
            if net.host_id:
                entry["host"] = net.host.name
            if _position(net):
                entry["position"] = _position(net)
            networks[net.name] = entry
        if networks:
            doc["networks"] = networks
        doc["nodes"] = {
            node.name: _node(node, Interface, PortMapping, linked)
            for node in Node.objects.filter(lab=lab).order_by("id")
        }
        if links:
            doc["links"] = []
            for link in links:
                entry = {
                    "endpoints": [f"{link.a.node.name}:{link.a.name}", f"{link.b.node.name}:{link.b.name}"]
                }
                if link.subnet:
                    entry["subnet"] = link.subnet
                doc["links"].append(entry)
        lab.document = doc
        lab.save(update_fields=["document"])


def project_documents(apps, schema_editor):
    Lab = apps.get_model("topology", "Lab")
    Node = apps.get_model("topology", "Node")
    Network = apps.get_model("topology", "Network")
    Link = apps.get_model("topology", "Link")
    for lab in Lab.objects.all():
        doc = lab.document
        Node.objects.bulk_create(
            Node(lab=lab, name=name, kind=item["kind"], data=item)
            for name, item in doc.get("nodes", {}).items()
        )
        Network.objects.bulk_create(
            Network(lab=lab, name=name, kind=item["kind"], data=item)
            for name, item in doc.get("networks", {}).items()
        )
        Link.objects.bulk_create(
            Link(lab=lab, name="|".join(item["endpoints"]), data=item) for item in doc.get("links", [])
        )


def _part(name, constraint):
    return migrations.CreateModel(
        name=name,
        fields=[
            (
                "id",
                models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
            ),
            ("name", models.CharField(max_length=200)),
            ("kind", models.CharField(blank=True, default="", max_length=20)),
            ("data", models.JSONField(blank=True, default=dict)),
            (
                "lab",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name=f"{name.lower()}s",
                    to="topology.lab",
                ),
            ),
        ],
        options={
            "ordering": ["id"],
            "abstract": False,
            "constraints": [models.UniqueConstraint(fields=("lab", "name"), name=constraint)],
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("topology", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="lab",
            name="document",
            field=models.JSONField(blank=True, default=dict, help_text="the validated lab document"),
        ),
        migrations.RunPython(rows_to_documents, migrations.RunPython.noop),
        migrations.DeleteModel(name="PortMapping"),
        migrations.DeleteModel(name="Link"),
        migrations.RemoveField(model_name="interface", name="network"),
        migrations.RemoveField(model_name="network", name="host"),
        migrations.DeleteModel(name="Network"),
        migrations.DeleteModel(name="Interface"),
        migrations.DeleteModel(name="Node"),
        _part("Node", "node_name_unique_in_lab"),
        _part("Network", "network_name_unique_in_lab"),
        _part("Link", "link_ends_unique_in_lab"),
        migrations.RunPython(project_documents, migrations.RunPython.noop),
    ]
