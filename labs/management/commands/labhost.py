"""`manage.py labhost run`: this machine's lab host side (its workers and live monitor);
`labhost monitor`: the monitor alone; `labhost gc`: remove what belongs to labs that no
longer exist (or moved away) on this lab host; `labhost pool`: its warm sandboxes. For
admins, from any machine of the installation: `labhost list`, and `cordon`, `activate`,
`drain`, `evacuate NAME`."""

import ipaddress
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from worker.config import EngineConfig

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
ACTIONS = {
    "cordon": "take no new labs on a lab host",
    "activate": "take new labs on a lab host again",
    "drain": "take no new labs and move a lab host's running labs to others",
    "evacuate": "redeploy a lost lab host's labs on others",
}


class Command(BaseCommand):
    help = "Lab host upkeep."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        gc = sub.add_parser("gc", help="remove containers and namespaces of labs that no longer exist")
        gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")
        sub.add_parser("monitor", help="stream the live state of this host's labs until stopped")
        warm = sub.add_parser("pool", help="this lab host's warm sandboxes: how many are ready")
        what = warm.add_mutually_exclusive_group()
        what.add_argument("--fill", action="store_true", help="start the missing ones now")
        what.add_argument("--drain", action="store_true", help="remove every unclaimed one")
        what.add_argument("--prepare", metavar="IMAGE=COUNT", help="keep at least COUNT ready (a class)")
        warm.add_argument("--minutes", type=int, default=120, help="how long --prepare holds (120)")
        run = sub.add_parser("run", help="run this machine's lab host: its two workers and its monitor")
        run.add_argument("--name", default=settings.WIRELAB_LABHOST, help="the lab host's name and queue")
        run.add_argument(
            "--underlay", default=settings.WIRELAB_UNDERLAY, help="where other lab hosts reach it"
        )
        run.add_argument(
            "--underlay-netns",
            default=settings.WIRELAB_UNDERLAY_NETNS,
            help="the network namespace holding the underlay address (default: the machine's own)",
        )
        run.add_argument("--containers", type=int, default=settings.WIRELAB_LABHOST_CONTAINERS,
                         help="lab containers it may hold at once")  # fmt: skip
        run.add_argument("--log-dir", help="write worker.log, worker-slow.log and monitor.log here")
        sub.add_parser("list", help="the lab hosts: state, whether alive, labs and containers")
        for action, what in ACTIONS.items():
            sub.add_parser(action, help=what).add_argument("name", help="the lab host")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_monitor(self, **_):
        import signal

        from labs.hostside.monitor import MonitorService

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

    def do_run(self, name, underlay, containers, log_dir=None, underlay_netns="", **_):
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
        if underlay_netns and not Path(EngineConfig(underlay_netns=underlay_netns).underlay_path).exists():
            raise CommandError(f"--underlay-netns: there is no network namespace '{underlay_netns}'")
        code = run_labhost(
            name, underlay, containers, log_dir, underlay_netns=underlay_netns, say=self.stdout.write
        )
        if code:
            raise CommandError(f"lab host {name} stopped: a process ended with code {code}")

    def do_list(self, **_):
        from labs import fleet
        from labs.models import LabHost

        fleet.sweep()
        hosts = list(LabHost.objects.all())
        if not hosts:
            self.stdout.write("no lab host has registered yet (`labhost run` registers one)")
            return
        usage = fleet.usage([h.name for h in hosts])
        self.stdout.write(
            f"{'NAME':20} {'STATE':9} {'ALIVE':5} {'LABS':>4} {'PLACED/CAPACITY':>15}  UNDERLAY"
        )
        for h in hosts:
            labs, placed = usage[h.name]
            load = f"{placed}/{h.capacity_containers}"
            alive = "no" if h.lost else "yes"
            self.stdout.write(f"{h.name:20} {h.state:9} {alive:5} {labs:4} {load:>15}  {h.underlay or '-'}")

    def _host(self, name):
        from labs.models import LabHost

        host = LabHost.objects.filter(name=name).first()
        if host is None:
            raise CommandError(f"there is no lab host named '{name}' (see `labhost list`)")
        return host

    def do_cordon(self, name, **_):
        from labs import labhost_actions

        labhost_actions.set_state(self._host(name), "cordoned")
        self.stdout.write(f"lab host {name} takes no new labs")

    def do_activate(self, name, **_):
        from labs import labhost_actions

        labhost_actions.set_state(self._host(name), "active")
        self.stdout.write(f"lab host {name} takes new labs")

    def do_drain(self, name, **_):
        from labs import labhost_actions

        for line in labhost_actions.drain(self._host(name)):
            self.stdout.write(line)

    def do_evacuate(self, name, **_):
        from labs import labhost_actions

        host = self._host(name)
        if not host.lost:
            raise CommandError(f"lab host {name} is alive: drain it to move its labs")
        for line in labhost_actions.evacuate(host):
            self.stdout.write(line)

    def do_pool(self, fill=False, drain=False, prepare=None, minutes=120, **_):
        from labs.hostside.engine import this_labhost

        labhost = this_labhost()
        if drain:
            self.stdout.write(f"removed {labhost.drain_warm()} warm sandbox(es)")
            return
        if prepare:
            image, _, count = prepare.rpartition("=")
            if not image or not count.isdigit() or not 0 < minutes <= 24 * 60:
                raise CommandError("--prepare IMAGE=COUNT (e.g. wirelab/node:busybox=60), --minutes 1-1440")
            labhost.prepare_warm({image: int(count)}, minutes * 60)
        sizes, most = settings.WIRELAB_POOL, settings.WIRELAB_POOL_MAX
        if fill or prepare:
            labhost.keep_warm(sizes, most, progress=self.stdout.write)
        rows = labhost.warm_status(sizes, most)
        if not rows:
            self.stdout.write("no warm sandboxes are kept (WIRELAB_POOL is empty)")
        for row in rows:
            self.stdout.write(f"{row['image']}: {row['ready']} ready of {row['size']}")

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
