"""Images a lab names, for real: pulled from a registry (Debian's Docker registry, started here
on loopback) with progress in the deploy's log, pinned to their digest so a redeploy runs the
same bits after the tag has moved; refused from a registry the lab host may not pull from."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

import docker
import pytest

from tests.ports import free_port, wait_for_port
from tests.worker.conftest import CONFIG
from worker.errors import ImageMissing
from worker.labels import container_name

pytestmark = pytest.mark.kernel

REGISTRY_CONFIG = """version: 0.1
log: {{level: error}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http: {{addr: 127.0.0.1:{port}}}
"""


@pytest.fixture(scope="module")
def registry():
    """A Docker registry on a loopback port: yields its address ("127.0.0.1:PORT")."""
    with tempfile.TemporaryDirectory() as root:
        port = free_port()
        config = Path(root) / "config.yml"
        config.write_text(REGISTRY_CONFIG.format(root=Path(root) / "data", port=port))
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        try:
            assert wait_for_port(port, 30), "the test registry did not start"
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(15)


@pytest.fixture
def docker_client():
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def pushed(registry, docker_client):
    """Removes every local image of the test registry after the test (and after its labs)."""
    yield
    for image in docker_client.images.list():
        if any(tag.startswith(registry) for tag in image.tags + image.attrs.get("RepoDigests", [])):
            docker_client.images.remove(image.id, force=True)


def push(client, registry: str, name: str, marker: str) -> str:
    """Push a small image (busybox with a marker file and 3 MB of noise, so that the pull has
    a layer to report progress on) as `registry/name`; the local copy is removed, so a deploy
    must pull it. Returns the image's id."""
    reference = f"{registry}/{name}"
    container = client.containers.create("wirelab/node:busybox")
    files = {"marker": marker.encode(), "noise": os.urandom(3_000_000)}
    try:
        subprocess.run(["docker", "cp", "-", f"{container.id}:/"], input=_tar(files), check=True)
        image = container.commit(repository=reference.rsplit(":", 1)[0], tag=reference.rsplit(":", 1)[1])
    finally:
        container.remove()
    for line in client.images.push(reference, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(reference)
    return image.id


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


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


def test_a_wirelab_image_missing_on_the_lab_host_is_built_there_with_progress(engine, docker_client, run_in):
    docker_client.images.remove("wirelab/frr:latest")  # as on a lab host that never ran a router
    lab = engine(lab_text("wirelab/frr"))
    log = "\n".join(lab.report.log)
    assert "building image wirelab/frr on this lab host (its first use here" in log, log
    assert re.search(r"Built wirelab/frr:latest in [0-9]+ s \([0-9]+ MB\)", log), log
    assert lab.report.images == {}  # made here: pinned by its recipe, not by a registry digest
    code, output = run_in(lab.tag, "h1", "vtysh -c 'show version'")
    assert code == 0 and "FRRouting" in output, output
