"""CRUD and ownership for every API resource, from the shared mixin."""

import pytest

from .api_mixins import APIResourceTests

pytestmark = pytest.mark.django_db


class TestLabs(APIResourceTests):
    url = "/api/labs/"
    update_payload = {"description": "edited"}

    def make_payload(self, lab):
        return {"name": "My lab"}


class TestNodes(APIResourceTests):
    url = "/api/nodes/"
    update_payload = {"image": "wirelab/node:busybox", "position": {"x": 12.5, "y": 3.0}}

    def make_payload(self, lab):
        return {
            "lab": lab.id,
            "name": "h9",
            "kind": "host",
            "interfaces": {"eth0": {"network": "lan", "address": "198.18.0.99/24"}},
        }


class TestNetworks(APIResourceTests):
    url = "/api/networks/"
    update_payload = {"subnet": "198.18.99.0/24"}

    def make_payload(self, lab):
        return {"lab": lab.id, "name": "lan9", "kind": "segment", "subnet": "198.18.9.0/24"}


class TestLinks(APIResourceTests):
    url = "/api/links/"
    update_payload = {"subnet": "198.18.50.0/30"}

    def make_payload(self, lab):
        return {"lab": lab.id, "endpoints": ["h1:eth7", "h2:eth7"], "subnet": "198.18.40.0/30"}
