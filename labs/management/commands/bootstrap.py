"""`manage.py bootstrap`: the admin account (password printed once), the demo labs and the
demo course (the primer's four exercises, taught by the admin).

Safe to run again: an existing admin is left as it is, demo labs are refreshed from their
documents, and the demo course is made once.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from labs import labfiles
from labs.classroom.courses import create_course
from labs.classroom.models import Course
from labs.classroom.roles import make_teacher
from labs.demos import demos

DEMO_COURSE_NAME = "Container networking: the primer"


class Command(BaseCommand):
    help = "Create the admin account if missing and load the demo labs and the demo course."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        user = self._admin(username)
        for demo in demos():
            self._load_demo(demo.path, user)
        self._demo_course(user)

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
        lab, _, created = labfiles.import_or_replace(path.read_bytes(), user)
        self.stdout.write(f"demo lab {lab.slug} {'loaded' if created else 'up to date'}")

    def _demo_course(self, user):
        make_teacher(user)
        course = Course.objects.filter(name=DEMO_COURSE_NAME, created_by=user).first()
        if course is None:
            course = create_course(DEMO_COURSE_NAME, user, from_demo=True)
            self.stdout.write(f"demo course loaded: students join at /join/ with the code {course.join_code}")
        else:
            self.stdout.write(f"demo course up to date (join code {course.join_code})")
