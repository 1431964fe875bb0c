"""Django app configuration for classrooms."""

from django.apps import AppConfig
from pylti1p3.contrib.django.lti1p3_tool_config.apps import PyLTI1p3ToolConfig


class ClassroomConfig(AppConfig):
    name = "labs.classroom"
    label = "classroom"
    verbose_name = "Classroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401 (connects the receivers)


class LmsRegistrationsConfig(PyLTI1p3ToolConfig):
    """PyLTI1p3's registrations of LMS platforms, with the keys its own migrations made (this
    project's default of big integer keys would otherwise ask to change its tables)."""

    default_auto_field = "django.db.models.AutoField"
