"""The wall between the web side and the lab host's side, in the fast tier: the web process,
having loaded every URL's view, the ASGI application with every socket's consumer, and served
its health page, holds none of the engine's libraries (pyroute2, the Docker SDK). It runs in a
process of its own, on a database of its own, with no service reachable."""

import os
import subprocess
import sys

ENGINE_MODULES = ("pyroute2", "docker")

WEB_PROCESS = f"""
import sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import config.asgi
from channels.routing import URLRouter
from django.test import Client
from django.urls import URLResolver, get_resolver

def views(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from views(pattern.url_patterns)
        else:
            yield pattern.callback

def consumers(router):
    for route in router.routes:
        app = route.callback
        if isinstance(app, URLRouter):
            yield from consumers(app)
        else:
            yield getattr(app, "consumer_class", app)

from config.routing import websocket_urlpatterns
assert list(views(get_resolver().url_patterns)) and list(consumers(URLRouter(websocket_urlpatterns)))
status = Client().get("/health/", HTTP_HOST="localhost").status_code
assert status in (200, 503), status
print(sorted({{m.split(".")[0] for m in sys.modules if m.split(".")[0] in {ENGINE_MODULES!r}}}))
"""


def test_the_web_side_loads_no_engine_library(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/web.sqlite3",
        "WIRELAB_STATE_DIR": str(tmp_path),
        "WIRELAB_CHANNEL_LAYER": "memory",
        "CELERY_BROKER_URL": "memory://",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens: the health page says so
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS], check=False, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
