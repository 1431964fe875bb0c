"""Images a lab names, for real: pulled from a registry (Debian's Docker registry, started here
on loopback) with progress in the deploy's log, pinned to their digest so a redeploy runs the
same bits after the tag has moved; refused from a registry the lab host may not pull from."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.registry import push
from tests.worker.conftest import CONFIG
from worker.errors import ImageMissing
from worker.labels import container_name

pytestmark = pytest.mark.kernel


def lab_text(image: str) -> str:
    return f"""
name: pulled
networks:
  lan: {{kind: segment, subnet: 198.18.6.0/24}}
nodes:
  h1:
    kind: host
    image: {image}
    interfaces: {{eth0: {{network: lan, address: 198.18.6.1/24}}}}
"""


def test_a_missing_image_is_pulled_with_progress_and_pinned_to_its_digest(
    pushed, engine, registry, docker_client, run_in
):
    first = push(docker_client, registry, "wltest/pulled:1", "first")
    image = f"{registry}/wltest/pulled:1"
    config = replace(CONFIG, pull_from=("127.0.0.1:*",))
    lab = engine(lab_text(image), config=config)
    log = "\n".join(lab.report.log)
    progress = rf"pulling image {re.escape(image)}: [0-9.]+ of [0-9.]+ MB \([0-9]+ layers\)"
    assert re.search(progress, log) and f"pulled image {image}" in log, log
    pinned = lab.report.images[image]
    assert pinned.startswith(f"{registry}/wltest/pulled@sha256:"), lab.report.images
    assert run_in(lab.tag, "h1", "cat /marker") == (0, "first")

    # The tag moves on in the registry; the lab's next deploy, given its pins, runs the first bits.
    push(docker_client, registry, "wltest/pulled:1", "second")
    docker_client.containers.get(container_name(lab.tag, "h1")).remove(force=True)
    docker_client.images.remove(pinned)
    pins = replace(lab.assignments, images=lab.report.images)
    again = engine(lab_text(image), tag=lab.tag, previous=pins, config=config)
    assert again.spec.pins == {image: pinned}
    assert f"pulling image {pinned}" in "\n".join(again.report.log)
    assert run_in(lab.tag, "h1", "cat /marker") == (0, "first")
    assert docker_client.containers.get(container_name(lab.tag, "h1")).image.id == first


def test_an_image_from_a_registry_not_allowed_is_refused_before_anything_is_made(engine, registry):
    image = f"{registry}/wltest/elsewhere:1"  # allowed by nobody: this lab host pulls from no registry
    with pytest.raises(ImageMissing, match=rf"pulling from {registry} is not allowed there"):
        engine(lab_text(image))


def test_an_image_too_large_for_the_lab_host_is_refused(pushed, engine, registry, docker_client):
    push(docker_client, registry, "wltest/large:1", "large")
    image = f"{registry}/wltest/large:1"
    config = replace(CONFIG, pull_from=("127.0.0.1:*",), image_max_mb=0)
    with pytest.raises(ImageMissing, match=r"is larger than 0 MB \(WIRELAB_IMAGE_MAX_MB\)"):
        engine(lab_text(image), config=config)
    assert docker_client.images.list(name=f"{registry}/wltest/large") == []  # the pull was cut


@pytest.mark.alone  # it removes an image other tests' routers run from
def test_a_wirelab_image_missing_on_the_lab_host_is_built_there_with_progress(engine, docker_client, run_in):
    docker_client.images.remove("wirelab/frr:latest")  # as on a lab host that never ran a router
    lab = engine(lab_text("wirelab/frr"))
    log = "\n".join(lab.report.log)
    assert "building image wirelab/frr on this lab host (its first use here" in log, log
    assert re.search(r"Built wirelab/frr:latest in [0-9]+ s \([0-9]+ MB\)", log), log
    assert lab.report.images == {}  # made here: pinned by its recipe, not by a registry digest
    code, output = run_in(lab.tag, "h1", "vtysh -c 'show version'")
    assert code == 0 and "FRRouting" in output, output
