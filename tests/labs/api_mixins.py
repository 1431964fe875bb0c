"""Test mixins that give each API resource its list/create/update/delete and ownership
tests from a few lines, as NetBox's do."""

import pytest


class APIResourceTests:
    """Subclasses set `url`, and `make_payload(lab)` / `update_payload` for their model."""

    url: str
    update_payload: dict

    def make_payload(self, lab) -> dict:
        raise NotImplementedError

    def test_list_shows_only_own_labs_parts(self, api, lab, other_user, demo_text):
        from labs.labfiles import import_lab

        other = import_lab(demo_text("docker-modes"), other_user)[0]
        mine = api.post(self.url, self.make_payload(lab), format="json").json()["id"]
        api.force_authenticate(other_user)
        theirs = api.post(self.url, self.make_payload(other), format="json").json()["id"]
        api.force_authenticate(lab.owner)
        ids = {row["id"] for row in api.get(self.url).json()}
        assert mine in ids
        assert theirs not in ids

    def test_create_get_update_delete(self, api, lab):
        created = api.post(self.url, self.make_payload(lab), format="json")
        assert created.status_code == 201, created.json()
        item = f"{self.url}{created.json()['id']}/"
        assert api.get(item).status_code == 200
        updated = api.patch(item, self.update_payload, format="json")
        assert updated.status_code == 200, updated.json()
        for key, value in self.update_payload.items():
            assert updated.json()[key] == value
        assert api.delete(item).status_code == 204
        assert api.get(item).status_code == 404

    def test_other_users_cannot_see_or_write(self, api, lab, other_user):
        created = api.post(self.url, self.make_payload(lab), format="json").json()
        item = f"{self.url}{created['id']}/"
        api.force_authenticate(other_user)
        assert api.get(item).status_code == 404
        assert api.patch(item, self.update_payload, format="json").status_code == 404
        assert api.delete(item).status_code == 404

    def test_anonymous_is_refused(self, lab):
        from rest_framework.test import APIClient

        assert APIClient().get(self.url).status_code in (401, 403)


pytestmark = pytest.mark.django_db
