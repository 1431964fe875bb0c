"""`manage.py lab ...`: import, export, validate and list labs from the command line.

Uses the same services as the API; problems print one per line and exit 1.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from labs import labfiles
from labs.management.lab_lifecycle import LifecycleActions, add_parsers
from labs.models import Lab
from topology.kathara import MAX_FILES
from topology.problems import TopologyError, errors_in


class Command(LifecycleActions, BaseCommand):
    help = "Work with labs: import, export, validate, list, deploy, destroy, status, exec."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        imp = sub.add_parser(
            "import", help="create a lab from a document, a containerlab file or a Kathará lab"
        )
        imp.add_argument(
            "file", help="path to the document (or a Kathará lab's folder or zip), or - for standard input"
        )
        imp.add_argument("--owner", default=None, help="username (default: the first superuser)")
        imp.add_argument("--replace", action="store_true", help="replace the lab with the same name")
        exp = sub.add_parser("export", help="print a lab's document (or write it as another tool's lab)")
        exp.add_argument("slug")
        exp.add_argument("--json", action="store_true", help="JSON instead of YAML")
        exp.add_argument(
            "--as", dest="fmt", choices=labfiles.EXPORT_FORMATS, default=None,
            help="containerlab: a .clab.yml file; kathara: a zipped Kathará lab folder",
        )  # fmt: skip
        val = sub.add_parser("validate", help="check a document; exit 1 on errors")
        val.add_argument("file")
        sub.add_parser("list", help="list labs")
        add_parsers(sub)

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def _read(self, path: str) -> bytes:
        if path == "-":
            return sys.stdin.buffer.read()
        if Path(path).is_dir():
            return self._zip_folder(Path(path))
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None

    def _zip_folder(self, folder: Path) -> bytes:
        """A Kathará lab folder as the zip the importer reads (bounded like an uploaded one)."""
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        if len(files) > MAX_FILES:
            raise CommandError(f"{folder} holds {len(files)} files; a lab has at most {MAX_FILES}")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for path in files:
                archive.write(path, path.relative_to(folder).as_posix())
        return out.getvalue()

    def _fail(self, problems) -> None:
        for problem in problems:
            self.stderr.write(str(problem))
        raise SystemExit(1)

    def _owner(self, username: str | None):
        users = get_user_model().objects
        user = (
            users.filter(username=username).first()
            if username
            else users.filter(is_superuser=True).order_by("id").first()
        )
        if user is None:
            raise CommandError(f"no user {username!r}" if username else "no superuser: pass --owner")
        return user

    def do_import(self, file, owner, replace, **_):
        text, user = self._read(file), self._owner(owner)
        try:
            if replace:
                lab, problems, _ = labfiles.import_or_replace(text, user)
            else:
                lab, problems = labfiles.import_lab(text, user)
        except TopologyError as exc:
            self._fail(exc.problems)
        for problem in problems:
            self.stderr.write(str(problem))
        self.stdout.write(f"imported {lab.name} as {lab.slug} ({lab.nodes.count()} nodes)")

    def do_export(self, slug, json, fmt, **_):
        lab = Lab.objects.filter(slug=slug).first()
        if lab is None:
            raise CommandError(f"no lab {slug!r}; `manage.py lab list` shows them")
        out = labfiles.export_lab(lab, fmt or ("json" if json else "yaml"))
        if isinstance(out, bytes):
            self.stdout.flush()
            sys.stdout.buffer.write(out)
            sys.stdout.buffer.flush()
        else:
            self.stdout.write(out, ending="")

    def do_validate(self, file, **_):
        problems = labfiles.check_text(self._read(file))
        for problem in problems:
            self.stdout.write(str(problem))
        if errors_in(problems):
            raise SystemExit(1)
        self.stdout.write(f"valid ({len(problems)} warning{'s' if len(problems) != 1 else ''})")

    def do_list(self, **_):
        labs = Lab.objects.select_related("owner").order_by("slug")
        if not labs:
            self.stdout.write("no labs")
        for lab in labs:
            self.stdout.write(
                f"{lab.slug:30} {lab.status:11} {lab.nodes.count():4} nodes  owner {lab.owner.username}"
            )
