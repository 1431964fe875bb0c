"""Health of what Wirelab depends on: database, Redis, Docker engine, Celery lab hosts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection


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


def check_docker() -> Check:
    import docker

    try:
        client = docker.from_env(timeout=2)
        version = client.version()
        client.close()
        return Check("docker", True, f"Docker engine {version.get('Version')}")
    except Exception as exc:
        return Check("docker", False, f"Docker engine unreachable: {exc}")


def check_labhosts() -> Check:
    from config.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception as exc:
        return Check("labhosts", False, f"Celery broker unreachable: {exc}")
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return Check("labhosts", False, "no Celery lab host answered within 1 s")
    return Check("labhosts", True, f"{len(names)} answering: {', '.join(names)}")


CHECKS = (check_database, check_redis, check_docker, check_labhosts)


def run_checks() -> list[dict]:
    return [asdict(check()) for check in CHECKS]
