"""`manage.py labhost gc`: remove what belongs to labs that no longer exist on this host."""

from django.conf import settings
from django.core.management.base import BaseCommand

from topology.models import Lab
from worker.gc import collect


class Command(BaseCommand):
    help = "Lab host upkeep."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("gc", help="remove containers and namespaces of labs that no longer exist")

    def handle(self, *args, action, **options):
        known = set(Lab.objects.values_list("uid", flat=True))
        removed = collect(known, settings.WIRELAB_LABHOST, progress=self.stdout.write)
        self.stdout.write(f"removed {len(removed)} orphaned lab(s)" if removed else "nothing to remove")
