"""Django app configuration for stored labs.

The label stays `topology` so that databases made before the document became the stored
truth keep their tables and migration history.
"""

from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "labs.store"
    label = "topology"
    verbose_name = "Labs"
    default_auto_field = "django.db.models.BigAutoField"
