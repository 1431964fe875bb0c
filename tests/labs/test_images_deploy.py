"""An image from a registry through the whole life cycle: allowed by the installation's rules,
pulled by the lab host with its progress in the deploy's log and beside the diagram, and pinned
in the lab's assignments so that its next deploys run the same bits."""

import pytest

from labs.hostside import engine
from labs.models import ImageRule, Lab
from tests.labs.live_helpers import deploy, redeploy
from tests.registry import push
from tests.worker.conftest import leftovers
from worker.converge import destroy

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pulling(settings, registry):
    """This lab host pulls from the test registry (and only from it)."""
    settings.WIRELAB_IMAGE_PULL_FROM = (registry,)
    ImageRule.objects.create(pattern=f"{registry}/wltest/*", order=5, note="the test registry")
    engine._engine_of.cache_clear()
    yield
    engine._engine_of.cache_clear()


def test_a_pulled_image_is_pinned_with_the_lab_and_its_next_deploy_uses_the_pin(
    pushed, pulling, registry, docker_client, user
):
    push(docker_client, registry, "wltest/lifecycle:1", "first")
    image = f"{registry}/wltest/lifecycle:1"
    text = f"name: pinned\nnodes:\n  h1: {{kind: host, image: '{image}'}}\n"
    lab = deploy(text, user)
    try:
        op = lab.operations.latest("id")
        assert f"pulling image {image}: " in op.log and f"pulled image {image}" in op.log, op.log
        pin = lab.assignments["images"][image]
        assert pin.startswith(f"{registry}/wltest/lifecycle@sha256:")
        assert lab.status == "running"

        push(docker_client, registry, "wltest/lifecycle:1", "second")  # the tag moves on
        lab = redeploy(lab, user)
        assert lab.operations.latest("id").spec["pins"] == {image: pin}
        assert Lab.objects.get(id=lab.id).assignments["images"] == {image: pin}
    finally:
        destroy(lab.tag, lab.labhost)
        assert leftovers(lab.tag) == []
