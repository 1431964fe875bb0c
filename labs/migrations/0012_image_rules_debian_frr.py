# Stand-ins for peers' routers and Debian-like nodes: Wirelab's FRR image and Debian node,
# built on the lab host (images/build.sh), so labs written for containerlab or Kathará run
# offline. Rules an admin has changed since they were seeded are left as they are.

from django.db import migrations

ADDED = [
    ("frrouting/frr:*", "wirelab/frr:latest", 20, "stand-in: Wirelab's FRR router"),
    ("quay.io/frrouting/frr:*", "wirelab/frr:latest", 20, "stand-in: Wirelab's FRR router"),
    ("kathara/frr:*", "wirelab/frr:latest", 20, "stand-in: Wirelab's FRR router"),
    ("debian:*", "wirelab/node:debian", 20, "stand-in: Wirelab's Debian node"),
    ("ubuntu:*", "wirelab/node:debian", 20, "stand-in: Wirelab's Debian node"),
    ("nicolaka/netshoot:*", "wirelab/node:debian", 20, "stand-in: Wirelab's Debian node"),
]
NOW_DEBIAN = ["alpine:*", "kathara/base:*"]  # were Wirelab's busybox node
SEEDED_NOTE = "stand-in: Wirelab's node"


def forwards(apps, schema_editor):
    ImageRule = apps.get_model("labs", "ImageRule")
    for pattern, use_instead, order, note in ADDED:
        ImageRule.objects.get_or_create(
            pattern=pattern, defaults={"use_instead": use_instead, "order": order, "note": note}
        )
    ImageRule.objects.filter(
        pattern__in=NOW_DEBIAN, use_instead="wirelab/node:busybox", note=SEEDED_NOTE
    ).update(use_instead="wirelab/node:debian", note="stand-in: Wirelab's Debian node")


def backwards(apps, schema_editor):
    ImageRule = apps.get_model("labs", "ImageRule")
    ImageRule.objects.filter(pattern__in=[p for p, *_ in ADDED], note__startswith="stand-in").delete()
    ImageRule.objects.filter(pattern__in=NOW_DEBIAN, use_instead="wirelab/node:debian").update(
        use_instead="wirelab/node:busybox", note=SEEDED_NOTE
    )


class Migration(migrations.Migration):
    dependencies = [("labs", "0011_labhost_memory_free")]
    operations = [migrations.RunPython(forwards, backwards)]
