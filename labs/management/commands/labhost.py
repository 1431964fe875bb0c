"""`manage.py labhost run`: this machine's lab host side (its workers and live monitor);
`labhost monitor`: the monitor alone; `labhost gc`: remove what belongs to labs that no
longer exist (or moved away) on this lab host."""

import ipaddress
import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


class Command(BaseCommand):
    help = "Lab host upkeep."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        gc = sub.add_parser("gc", help="remove containers and namespaces of labs that no longer exist")
        gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")
        sub.add_parser("monitor", help="stream the live state of this host's labs until stopped")
        run = sub.add_parser("run", help="run this machine's lab host: its two workers and its monitor")
        run.add_argument("--name", default=settings.WIRELAB_LABHOST, help="the lab host's name and queue")
        run.add_argument(
            "--underlay", default=settings.WIRELAB_UNDERLAY, help="where other lab hosts reach it"
        )
        run.add_argument("--containers", type=int, default=settings.WIRELAB_LABHOST_CONTAINERS,
                         help="lab containers it may hold at once")  # fmt: skip
        run.add_argument("--log-dir", help="write worker.log, worker-slow.log and monitor.log here")

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

    def do_run(self, name, underlay, containers, log_dir=None, **_):
        from labs.hostside.processes import run_labhost

        if not NAME.match(name or ""):
            raise CommandError(
                f"--name: '{name}' is not a lab host name (lower-case letters, digits, - and _)"
            )
        if underlay:
            try:
                ipaddress.ip_address(underlay)
            except ValueError:
                raise CommandError(f"--underlay: '{underlay}' is not an IP address") from None
        if containers < 1:
            raise CommandError("--containers: a lab host holds at least one container")
        code = run_labhost(name, underlay, containers, log_dir, say=self.stdout.write)
        if code:
            raise CommandError(f"lab host {name} stopped: a process ended with code {code}")

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
