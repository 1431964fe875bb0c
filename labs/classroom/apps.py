"""Django app configuration for classrooms."""

from django.apps import AppConfig


class ClassroomConfig(AppConfig):
    name = "labs.classroom"
    label = "classroom"
    verbose_name = "Classroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401 (connects the receivers)
