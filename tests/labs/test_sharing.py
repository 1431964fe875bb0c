"""Share links over HTTP: made by the owner, used by anyone with the token, revoked, expired,
cloned; tokens unguessable and kept out of URLs and logs; every control refused."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labs import sharing
from labs.labfiles import import_lab
from labs.models import Lab, Operation, ShareLink

pytestmark = pytest.mark.django_db

TWO = "name: {name}\nnodes:\n  a: {{kind: router}}\n  b: {{kind: router}}\nlinks:\n  - {{endpoints: [a:eth1, b:eth1]}}\n"


@pytest.fixture
def shared_lab(user):
    lab, _ = import_lab(TWO.format(name="shared"), user)
    return lab


def make(api, lab, **fields):
    answer = api.post("/api/shares/", {"lab": lab.id, **fields}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def visit(client, token, path="/api/shared/", method="get"):
    return getattr(client, method)(path, HTTP_X_WIRELAB_SHARE=token)


def test_a_link_is_shown_once_and_only_its_hash_is_kept(api, shared_lab):
    made = make(api, shared_lab, label="class", mode="view")
    token = made["token"]
    assert len(token) >= 32 and made["url"].endswith(f"/s/#{token}")  # the fragment never reaches a server
    link = ShareLink.objects.get(id=made["id"])
    assert link.token_hash == sharing.hash_token(token) and token not in str(link.__dict__)
    listed = api.get(f"/api/shares/?lab={shared_lab.id}").json()
    assert [entry["label"] for entry in listed] == ["class"] and "token" not in listed[0]


def test_a_view_link_shows_the_lab_to_anyone_read_only(shared_lab, user):
    link, token = sharing.create_link(shared_lab, user, label="x")
    answer = visit(APIClient(), token)
    assert answer.status_code == 200
    body = answer.json()
    assert body["lab"]["owner"] == "alice" and set(body["document"]["nodes"]) == {"a", "b"}
    assert body["mode"] == "view"
    link.refresh_from_db()
    assert link.uses == 1 and link.last_used is not None


def test_unknown_revoked_and_expired_links_are_404(api, shared_lab, user):
    client = APIClient()
    assert visit(client, "").status_code == 404
    assert visit(client, "not-a-token-at-all-but-long-enough").status_code == 404
    link, token = sharing.create_link(shared_lab, user)
    assert api.delete(f"/api/shares/{link.id}/").status_code == 204
    assert visit(client, token).status_code == 404
    assert api.get(f"/api/shares/{link.id}/").json()["status"] == "revoked"
    later, later_token = sharing.create_link(shared_lab, user, expires=timezone.now() + timedelta(hours=1))
    assert visit(client, later_token).status_code == 200
    ShareLink.objects.filter(id=later.id).update(expires=timezone.now() - timedelta(seconds=1))
    assert visit(client, later_token).status_code == 404


def test_ten_thousand_random_tokens_all_miss(shared_lab, user):
    for _ in range(5):
        sharing.create_link(shared_lab, user)
    import secrets

    assert not any(sharing.find_link(secrets.token_urlsafe(sharing.TOKEN_BYTES)) for _ in range(10_000))
    assert not any(sharing.find_link(bad) for bad in (None, 7, "", "a" * 65, ["x"], {"t": 1}))


END = {"node": "a", "iface": "eth1"}
CONTROLS = [  # each with a body that its owner would have accepted
    ("get", "/api/labs/{lab}/", {}), ("get", "/api/labs/{lab}/export/", {}), ("get", "/api/labs/{lab}/state/", {}),
    ("get", "/api/labs/{lab}/events/", {}), ("get", "/api/labs/{lab}/operations/", {}),
    ("post", "/api/labs/{lab}/deploy/", {}), ("post", "/api/labs/{lab}/destroy/", {}),
    ("post", "/api/labs/{lab}/cable/", {**END, "plugged": False}),
    ("post", "/api/labs/{lab}/impair/", {**END, "delay_ms": 50}), ("get", "/api/labs/{lab}/captures/", {}),
    ("post", "/api/labs/{lab}/captures/", END), ("put", "/api/labs/{lab}/document/", {"name": "taken"}),
    ("patch", "/api/labs/{lab}/", {"name": "taken"}), ("delete", "/api/labs/{lab}/", {}),
    ("get", "/api/nodes/{node}/", {}), ("post", "/api/nodes/{node}/action/", {"action": "restart"}),
    ("get", "/api/captures/{capture}/pcap/", {}), ("get", "/labs/{lab}/", {}), ("post", "/labs/{lab}/duplicate/", {}),
    ("post", "/labs/{lab}/delete/", {}), ("get", "/api/shares/", {}), ("post", "/api/shares/", {"lab": "{lab}"}),
]  # fmt: skip


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "another-user"])
def test_a_view_link_opens_no_control_export_capture_or_other_lab(shared_lab, user, other_user, signed_in):
    _, token = sharing.create_link(shared_lab, user, mode=ShareLink.Mode.VIEW_CLONE)
    capture = shared_lab.captures.create(node="a", iface="eth1", status="done", pcap=b"x")
    client = APIClient()
    if signed_in:
        client.force_login(other_user)
    ids = {"lab": shared_lab.id, "node": shared_lab.nodes.get(name="a").id, "capture": capture.id}
    for method, path, template in CONTROLS:
        body = {k: v.format(**ids) if isinstance(v, str) else v for k, v in template.items()}
        answer = getattr(client, method)(path.format(**ids), body, format="json", HTTP_X_WIRELAB_SHARE=token)
        if signed_in and path == "/api/shares/" and method == "get":
            assert answer.json() == []  # her own links: none
            continue
        assert answer.status_code in (302, 400, 401, 403, 404), (method, path, answer.status_code)
        assert answer.status_code != 400 or "lab" in answer.json(), answer.content  # "not one of your labs"
    assert not Operation.objects.exists() and Lab.objects.count() == 1 and shared_lab.captures.count() == 1
    shared_lab.refresh_from_db()
    assert shared_lab.name == "shared"
    assert ShareLink.objects.filter(lab__owner=other_user).count() == 0
    # the link's own API is read-only too: no clone without signing in, no writes
    assert visit(client, token, "/api/shared/", "post").status_code == 405
    assert visit(client, token, "/api/shared/", "delete").status_code == 405


def test_only_the_owner_makes_or_revokes_links_of_a_lab(api, shared_lab, user, other_user):
    link, _ = sharing.create_link(shared_lab, user)
    intruder = APIClient()
    intruder.force_authenticate(other_user)
    refused = intruder.post("/api/shares/", {"lab": shared_lab.id}, format="json")
    assert refused.status_code == 400 and "lab" in refused.json()
    assert intruder.delete(f"/api/shares/{link.id}/").status_code == 404
    assert ShareLink.objects.get(id=link.id).revoked is None


def test_a_clone_link_gives_a_signed_in_visitor_an_identical_undeployed_copy(shared_lab, user, other_user):
    Lab.objects.filter(id=shared_lab.id).update(status="running")
    _, token = sharing.create_link(shared_lab, user, mode=ShareLink.Mode.CLONE)
    anonymous = APIClient()
    assert visit(anonymous, token, "/api/shared/clone/", "post").status_code == 403
    visitor = APIClient()
    visitor.force_login(other_user)
    answer = visit(visitor, token, "/api/shared/clone/", "post")
    assert answer.status_code == 201, answer.content
    copy = Lab.objects.get(id=answer.json()["id"])
    assert copy.owner == other_user and copy.status == "draft" and copy.id != shared_lab.id
    assert copy.document == shared_lab.document and copy.assignments == shared_lab.assignments
    assert answer.json()["url"] == f"/labs/{copy.id}/"


def test_a_view_link_does_not_clone_and_a_snapshot_link_clones_the_lab_as_it_was(
    api, shared_lab, user, other_user
):
    visitor = APIClient()
    visitor.force_login(other_user)
    _, view_token = sharing.create_link(shared_lab, user)
    assert visit(visitor, view_token, "/api/shared/clone/", "post").status_code == 403
    _, frozen = sharing.create_link(shared_lab, user, mode=ShareLink.Mode.VIEW_CLONE, snapshot=True)
    api.post("/api/nodes/", {"lab": shared_lab.id, "name": "c", "kind": "router"}, format="json")
    shared_lab.refresh_from_db()
    assert "c" in shared_lab.document["nodes"]
    assert set(visit(visitor, frozen).json()["document"]["nodes"]) == {"a", "b"}
    copy = Lab.objects.get(id=visit(visitor, frozen, "/api/shared/clone/", "post").json()["id"])
    assert set(copy.document["nodes"]) == {"a", "b"}


def test_bad_link_settings_are_refused_with_the_field(api, shared_lab):
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert (
        "expires" in api.post("/api/shares/", {"lab": shared_lab.id, "expires": past}, format="json").json()
    )
    far = (timezone.now() + timedelta(days=400)).isoformat()
    assert "expires" in api.post("/api/shares/", {"lab": shared_lab.id, "expires": far}, format="json").json()
    both = {"lab": shared_lab.id, "present": True, "snapshot": True}
    assert "present" in api.post("/api/shares/", both, format="json").json()
    assert "mode" in api.post("/api/shares/", {"lab": shared_lab.id, "mode": "edit"}, format="json").json()
    assert (
        "label" in api.post("/api/shares/", {"lab": shared_lab.id, "label": "x" * 101}, format="json").json()
    )


def test_open_links_per_lab_are_capped(api, shared_lab, settings):
    settings.WIRELAB_SHARE_LINKS_PER_LAB = 2
    first = make(api, shared_lab)
    make(api, shared_lab)
    refused = api.post("/api/shares/", {"lab": shared_lab.id}, format="json")
    assert refused.status_code == 400 and "revoke one first" in refused.json()["lab"][0]
    api.delete(f"/api/shares/{first['id']}/")
    make(api, shared_lab)  # a revoked link no longer counts


def test_making_and_using_links_is_rate_limited(api, shared_lab, user, monkeypatch):
    from labs.api.sharing import ShareLinkThrottle, ShareUseThrottle

    monkeypatch.setattr(ShareLinkThrottle, "THROTTLE_RATES", {"share_links": "3/hour"})
    monkeypatch.setattr(ShareUseThrottle, "THROTTLE_RATES", {"share_use": "5/minute"})
    codes = [api.post("/api/shares/", {"lab": shared_lab.id}, format="json").status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    _, token = sharing.create_link(shared_lab, user)
    client = APIClient()
    guesses = [visit(client, f"guess-{i:020d}").status_code for i in range(5)]
    assert guesses == [404] * 5
    assert visit(client, token).status_code == 429  # the right token too, once guessing used the rate


def test_tokens_stay_out_of_urls_and_logs(api, shared_lab, client, caplog):
    made = make(api, shared_lab)
    page = client.get("/s/")
    assert page.status_code == 200 and b'id="viewer"' in page.content
    assert page["X-Frame-Options"] == "DENY"  # only the embed may be framed
    with caplog.at_level(logging.INFO):
        APIClient().get("/api/shared/", HTTP_X_WIRELAB_SHARE=made["token"][:-2] + "xx")
        APIClient().get("/api/shared/", HTTP_X_WIRELAB_SHARE=made["token"])
    assert made["token"] not in caplog.text and made["token"][:-2] not in caplog.text


def test_the_embed_may_be_framed_and_relaxes_nothing_else(client, settings):
    embed = client.get("/s/embed/")
    assert embed.status_code == 200 and "X-Frame-Options" not in embed
    assert b"<header>" not in embed.content and "Content-Security-Policy" not in embed
    assert embed["X-Content-Type-Options"] == "nosniff"
    settings.WIRELAB_EMBED_ANCESTORS = "https://course.example"
    assert client.get("/s/embed/")["Content-Security-Policy"] == "frame-ancestors https://course.example"
