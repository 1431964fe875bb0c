"""`manage.py labhost gc`: remove what belongs to labs that no longer exist on this host."""

from django.conf import settings
from django.core.management.base import BaseCommand

from labs.models import Lab


class Command(BaseCommand):
    help = "Lab host upkeep."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("gc", help="remove containers and namespaces of labs that no longer exist")
        sub.add_parser("monitor", help="stream the live state of this host's labs until stopped")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")()

    def do_monitor(self):
        import signal
        import threading

        from labs.live.service import MonitorService

        service = MonitorService()
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        service.start()
        self.stdout.write(f"monitoring the labs of lab host {settings.WIRELAB_LABHOST}")
        done.wait()
        service.stop()

    def do_gc(self):
        known = set(Lab.objects.values_list("uid", flat=True))
        from labs.hostside.engine import this_labhost

        removed = this_labhost().gc(known, settings.WIRELAB_LABHOST, progress=self.stdout.write)
        self.stdout.write(f"removed {len(removed)} orphaned lab(s)" if removed else "nothing to remove")
