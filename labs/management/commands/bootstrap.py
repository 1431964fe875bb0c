"""`manage.py bootstrap`: the admin account (password printed once) and the demo labs.

Safe to run again: an existing admin is left as it is, and demo labs are refreshed
from their documents.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from labs import services

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = "Create the admin account if missing and load the demo labs."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        user = self._admin(username)
        for path in sorted(DEMO_DIR.glob("*.yaml")):
            self._load_demo(path, user)

    def _admin(self, username):
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is not None:
            return user
        password = secrets.token_urlsafe(12)
        user = users.create_superuser(username, "", password)
        note = Path(settings.STATE_DIR) / "admin-password"
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(f"{username} {password}\n")
        note.chmod(0o600)
        self.stdout.write(
            self.style.SUCCESS(f"Created the admin account: user {username}, password {password}")
        )
        self.stdout.write(f"(printed once; also kept in {note})")
        return user

    def _load_demo(self, path: Path, user):
        lab, _, created = services.import_or_replace(path.read_bytes(), user)
        self.stdout.write(f"demo lab {lab.slug} {'loaded' if created else 'up to date'}")
