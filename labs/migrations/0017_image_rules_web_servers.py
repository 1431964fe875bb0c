# Stand-ins for the primer's web servers: Wirelab's nginx and httpd, made from its busybox node
# on the lab host (images/build.sh), so `docker run nginx` typed in a lab runs offline. Rules
# an admin has changed since they were seeded are left as they are.

from django.db import migrations

ADDED = [
    ("nginx:*", "wirelab/nginx:latest", 20, "stand-in: Wirelab's nginx"),
    ("httpd:*", "wirelab/httpd:latest", 20, "stand-in: Wirelab's httpd"),
]


def forwards(apps, schema_editor):
    ImageRule = apps.get_model("labs", "ImageRule")
    for pattern, use_instead, order, note in ADDED:
        ImageRule.objects.get_or_create(
            pattern=pattern, defaults={"use_instead": use_instead, "order": order, "note": note}
        )


def backwards(apps, schema_editor):
    ImageRule = apps.get_model("labs", "ImageRule")
    ImageRule.objects.filter(pattern__in=[p for p, *_ in ADDED], note__startswith="stand-in").delete()


class Migration(migrations.Migration):
    dependencies = [("labs", "0016_labhost_warm")]
    operations = [migrations.RunPython(forwards, backwards)]
