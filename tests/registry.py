"""A Docker registry for tests (Debian's `docker-registry`, on a loopback port) and images
pushed to it."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
import pytest

from tests.ports import free_port, wait_for_port

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
