"""Health of what Wirelab depends on: database, Redis, the lab hosts' monitors and workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection

CACHE_KEY = "wirelab:health"
CACHE_SECONDS = 3


@dataclass
class Check:
    """One dependency: up or down, with the reason."""

    name: str
    up: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", True, f"{connection.vendor} {connection.settings_dict.get('NAME')}")
    except Exception as exc:  # any driver error means down, with its reason
        return Check("database", False, str(exc).strip() or type(exc).__name__)


def check_redis() -> Check:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        info = client.info("server")
        client.close()
        return Check("redis", True, f"Redis {info.get('redis_version')} at {settings.REDIS_URL}")
    except Exception as exc:
        return Check("redis", False, f"{settings.REDIS_URL}: {exc}")


def check_monitors() -> Check:
    """Each lab host's monitor says every few seconds that it runs, with its engine's version;
    the web side reads that, and never talks to a container engine itself."""
    import json

    import redis

    from .live.state import HEARTBEAT_TTL, heartbeat_key

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            keys = list(client.scan_iter(heartbeat_key()))
            beats = [json.loads(raw) for raw in client.mget(keys) if raw] if keys else []
        finally:
            client.close()
    except Exception as exc:
        return Check("monitors", False, f"{settings.REDIS_URL}: {exc}")
    beats = [b for b in beats if b.get("labhost")]
    if not beats:
        return Check("monitors", False, f"no lab host monitor reported within {HEARTBEAT_TTL} s")
    listed = ", ".join(
        f"{b['labhost']} ({b.get('engine', '?')}, {b.get('namespaces', 0)} namespaces)" for b in beats
    )
    return Check("monitors", True, listed)


def check_labhosts() -> Check:
    from config.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception as exc:
        return Check("labhosts", False, f"Celery broker unreachable: {exc}")
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return Check("labhosts", False, "no Celery lab host answered within 1 s" + _fleet())
    return Check("labhosts", True, f"{len(names)} answering: {', '.join(names)}" + _fleet())


def _fleet() -> str:
    """The registered lab hosts that are lost, cordoned or draining (what an admin acts on)."""
    from . import fleet
    from .models import LabHost

    try:
        fleet.sweep()
        hosts = list(LabHost.objects.all())
    except Exception:  # the database check says why
        return ""
    odd = [
        f"{h.name} lost" if h.lost else f"{h.name} {h.state}" for h in hosts if h.lost or h.state != "active"
    ]
    return f"; {len(hosts)} registered" + (f" ({', '.join(odd)})" if odd else "")


CHECKS = (check_database, check_redis, check_monitors, check_labhosts)


def run_checks() -> list[dict]:
    """Every check, at most once every few seconds however often the page is asked for."""
    from django.core.cache import cache

    checks = cache.get(CACHE_KEY)
    if checks is None:
        checks = [asdict(check()) for check in CHECKS]
        cache.set(CACHE_KEY, checks, CACHE_SECONDS)
    return checks
