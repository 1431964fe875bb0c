"""`manage.py labhost gc`: remove what belongs to labs that no longer exist on this host."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Lab host upkeep."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        gc = sub.add_parser("gc", help="remove containers and namespaces of labs that no longer exist")
        gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")
        sub.add_parser("monitor", help="stream the live state of this host's labs until stopped")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_monitor(self, **_):
        import signal

        from labs.live.service import MonitorService

        _raise_fd_limit()  # two sockets per watched namespace
        service = MonitorService()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: service.done.set())
        service.start()
        self.stdout.write(f"monitoring the labs of lab host {settings.WIRELAB_LABHOST}")
        service.done.wait()
        service.stop()
        if service.failure is not None:
            raise CommandError(f"the monitor stopped: {service.failure}")

    def do_gc(self, dry_run=False, **_):
        from labs.hostside.housekeeping import collect_orphans

        removed = collect_orphans(progress=self.stdout.write, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(f"{verb} {len(removed)} orphaned lab(s)" if removed else "nothing to remove")


def _raise_fd_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
