"""Share links: a lab seen live and read-only by others, or copied into their own account.

A token is 192 random bits, shown once when its link is made; only its SHA-256 is stored.
Pages carry it in the URL fragment (`/s/#<token>`), which browsers never send to a server,
so it stays out of access logs, proxies and Referer headers; the API takes it in the
`X-Wirelab-Share` header and the view socket in its first message.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import datetime

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from topology.document import parse_document

from .labfiles import copy_of
from .models import Lab, ShareLink

TOKEN_BYTES = 24
HEADER = "HTTP_X_WIRELAB_SHARE"
GONE = "this link does not exist, has expired or was revoked"


class ShareRefused(Exception):
    """A share link that cannot be made, with the field it concerns."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(lab: Lab, user, *, mode: str = ShareLink.Mode.VIEW, label: str = "",
                expires: datetime | None = None, snapshot: bool = False,
                present: bool = False) -> tuple[ShareLink, str]:  # fmt: skip
    """A new link to `lab` and its token (the only time the token is known)."""
    if present and (snapshot or mode == ShareLink.Mode.CLONE):
        raise ShareRefused("present", "presenting needs a view link of the live lab, not a snapshot")
    if expires is not None and expires <= timezone.now():
        raise ShareRefused("expires", "the expiry must be in the future")
    with transaction.atomic():
        Lab.objects.select_for_update().filter(id=lab.id).first()  # one count at a time per lab
        limit = settings.WIRELAB_SHARE_LINKS_PER_LAB
        if active_links(lab).count() >= limit:
            raise ShareRefused("lab", f"this lab has {limit} open share links: revoke one first")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        kept = {"document": _shareable(lab.document), "assignments": lab.assignments} if snapshot else None
        link = ShareLink.objects.create(
            lab=lab, created_by=user, label=label, mode=mode, present=present, expires=expires,
            token_hash=hash_token(token),
            snapshot=kept,
        )  # fmt: skip
    return link, token


def active_links(lab: Lab):
    now = timezone.now()
    return lab.share_links.filter(revoked__isnull=True).exclude(expires__lte=now)


def find_link(token) -> ShareLink | None:
    """The open link with this token, or None (unknown, malformed, expired or revoked)."""
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        return None
    link = (
        ShareLink.objects.select_related("lab", "lab__owner")
        .filter(token_hash=hash_token(token), revoked__isnull=True)
        .first()
    )
    return link if link is not None and is_open(link) else None


def is_open(link: ShareLink) -> bool:
    return link.revoked is None and (link.expires is None or link.expires > timezone.now())


def still_open(link_id: int) -> bool:
    link = ShareLink.objects.filter(id=link_id).first()
    return link is not None and is_open(link)


def mark_used(link: ShareLink) -> None:
    ShareLink.objects.filter(id=link.id).update(last_used=timezone.now(), uses=F("uses") + 1)


def status_of(link: ShareLink) -> str:
    if link.revoked is not None:
        return "revoked"
    return "open" if is_open(link) else "expired"


def revoke(link: ShareLink) -> None:
    """Close the link: its next use is refused and its open sockets close now."""
    if link.revoked is None:
        link.revoked = timezone.now()
        link.save(update_fields=["revoked"])
    async_to_sync(get_channel_layer().group_send)(link_group(link.id), {"type": "share.revoked"})


def shared_document(link: ShareLink) -> tuple[dict, dict]:
    """The document and addresses the link shows: its snapshot, or the lab as it is now."""
    if link.snapshot is not None:
        return _shareable(link.snapshot["document"]), link.snapshot["assignments"]
    return _shareable(link.lab.document), link.lab.assignments


def _shareable(document: dict) -> dict:
    """A document as a link shows and clones it: an exercise section (its checks, patterns and
    answers) stays with the lab's owner."""
    return {key: value for key, value in document.items() if key != "exercise"}


def clone(link: ShareLink, user) -> Lab:
    """A new, undeployed lab of `user` with the shared document and its addresses."""
    document, assignments = shared_document(link)
    copy = copy_of(parse_document(document), assignments, user)
    mark_used(link)
    return copy


# Channel-layer groups --------------------------------------------------------------------


def link_group(link_id: int) -> str:
    return f"share.{link_id}"


def present_group(lab_tag: str) -> str:
    return f"present.{lab_tag}"


# Viewers connected now, over every web process: one Redis sorted set per link whose
# members are sockets and whose scores say until when each was last seen alive.

VIEWER_TTL = 90  # seconds a viewer counts without a heartbeat (a web process that died)
HEARTBEAT = 30


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _viewers_key(link: ShareLink) -> str:
    # by the token's hash, not the row's id: ids come again (another database on the same
    # Redis, a test database made afresh), hashes of random tokens do not
    return f"wirelab:viewers:{link.token_hash[:32]}"


def viewer_seen(link: ShareLink, channel: str) -> int:
    """Note a viewer socket alive; returns how many viewers the link has now."""
    key, now = _viewers_key(link), time.time()
    client = _redis()
    try:
        pipe = client.pipeline()
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {channel: now + VIEWER_TTL})
        pipe.expire(key, VIEWER_TTL)
        pipe.zcard(key)
        return pipe.execute()[-1]
    finally:
        client.close()


def viewer_gone(link: ShareLink, channel: str) -> None:
    client = _redis()
    try:
        client.zrem(_viewers_key(link), channel)
    finally:
        client.close()


def viewers_now(links: list[ShareLink]) -> dict[int, int] | None:
    """Viewers of each link now, by id; None when Redis cannot say (the list is still shown)."""
    if not links:
        return {}
    client, now = _redis(), time.time()
    try:
        pipe = client.pipeline()
        for link in links:
            pipe.zcount(_viewers_key(link), now, "+inf")
        return dict(zip([link.id for link in links], pipe.execute(), strict=True))
    except redis.RedisError:
        return None
    finally:
        client.close()


# What the owner shows when presenting: kept so that a viewer who joins late sees it too.


def _present_key(lab_tag: str) -> str:
    return f"wirelab:present:{lab_tag}"


def store_presentation(lab_tag: str, view: dict) -> None:
    client = _redis()
    try:
        client.set(_present_key(lab_tag), json.dumps(view), ex=3600)
    finally:
        client.close()


def last_presentation(lab_tag: str) -> dict | None:
    client = _redis()
    try:
        raw = client.get(_present_key(lab_tag))
    finally:
        client.close()
    return json.loads(raw) if raw else None


def presentation(content: dict) -> dict | None:
    """The owner's view from a `present` message, or None when it is not well formed:
    `extent` (x1, y1, x2, y2 in model coordinates) and `selected` (up to 50 element ids)."""
    extent, selected = content.get("extent"), content.get("selected", [])
    if not isinstance(extent, dict) or not isinstance(selected, list) or len(selected) > 50:
        return None
    try:
        box = {k: float(extent[k]) for k in ("x1", "y1", "x2", "y2")}
    except (KeyError, TypeError, ValueError):
        return None
    if not all(abs(v) < 1e7 for v in box.values()) or box["x2"] <= box["x1"] or box["y2"] <= box["y1"]:
        return None
    if not all(isinstance(s, str) and len(s) <= 200 for s in selected):
        return None
    return {"extent": box, "selected": selected}
