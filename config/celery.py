"""The Celery app: one queue per lab host, configured from Django settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("wirelab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
