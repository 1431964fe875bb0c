"""A lab's images on this lab host: Wirelab's own are built here on first need, any other is
pulled from its registry, each with progress in the deploy's log; pulled images are pinned to
their digest, so a redeploy runs the same bits even if the tag has moved since.

Wirelab's own images have no registry digest: they are pinned by their recipe instead (rebuilt
only when it changes, see images/build.sh).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import IO, Any

from topology.images import registry_of, with_tag

from .config import EngineConfig
from .errors import EngineError, ImageMissing
from .report import Progress
from .runtime import Runtime

BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "images" / "build.sh"
BUILT_HERE = {
    "wirelab/node:busybox": "busybox",
    "wirelab/node:debian": "debian",
    "wirelab/frr:latest": "frr",
    "wirelab/nginx:latest": "nginx",
    "wirelab/httpd:latest": "httpd",
    "wirelab/app:latest": "app",
}
PROGRESS_EVERY = 2.0  # seconds between progress lines of a pull
MB = 1_000_000
LAYER_DONE = ("Download complete", "Already exists", "Pull complete")

Checkpoint = Callable[[], None]  # raises Stopped when the deploy must stop


def provide(
    runtime: Runtime,
    images: set[str],
    pins: dict[str, str],
    config: EngineConfig,
    *,
    say: Progress,
    checkpoint: Checkpoint,
) -> dict[str, Any]:
    """Make every image of the lab present; returns image -> the reference to create its
    containers from (its pin when it has one)."""
    use = {image: pins.get(image, image) for image in images}
    for reference in runtime.missing_images(set(use.values())):
        checkpoint()
        image = next(i for i, r in use.items() if r == reference)
        name = BUILT_HERE.get(with_tag(image))
        if name:
            build(name, image, config.image_build_seconds, say=say, checkpoint=checkpoint)
        elif any(fnmatchcase(registry_of(reference), p) for p in config.pull_from):
            pull(runtime, reference, config.image_max_mb, say, checkpoint)
        else:
            raise ImageMissing(
                f"image {image} is not on lab host {config.labhost or 'local'}, and pulling from "
                f"{registry_of(reference)} is not allowed there (WIRELAB_IMAGE_PULL_FROM); "
                "nothing was changed"
            )
    return use


def pins_of(runtime: Runtime, use: dict[str, str]) -> dict[str, str]:
    """image -> its digest reference, for the images that came from a registry (Wirelab's own
    never do: not looked up, so a lab of them re-converges without an inspect per image)."""
    out = {}
    for image, reference in use.items():
        if with_tag(image) in BUILT_HERE:
            continue
        digest = runtime.repo_digest(reference)
        if digest:
            out[image] = digest
    return out


def build(
    name: str,
    image: str,
    seconds: float,
    *,
    say: Progress,
    checkpoint: Checkpoint,
    script: Path = BUILD_SCRIPT,
) -> None:
    """Build one of Wirelab's images with images/build.sh (which another build of the same
    image waits for), its lines in the log; stopped (with all it started) past `seconds` or
    when the deploy must stop, even while it prints nothing."""
    say(f"building image {image} on this lab host (its first use here; about a minute)")
    deadline = time.monotonic() + seconds
    process = subprocess.Popen(
        [str(script), name],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        while (line := _next_line(lines)) is not None:
            if line.strip():
                say(f"  {line.strip()[:300]}")
            if time.monotonic() > deadline:
                raise ImageMissing(
                    f"building image {image} took longer than {seconds:g} s; nothing was changed"
                )
            checkpoint()
    finally:
        _end(process)
    if process.returncode != 0:
        raise ImageMissing(f"building image {image} failed (exit {process.returncode}); nothing was changed")


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: queue.Queue[str | None]) -> str | None:
    """The next line of output ('' when none came for a moment), None once it has ended."""
    try:
        return lines.get(timeout=0.5)
    except queue.Empty:
        return ""


def _end(process: subprocess.Popen[str]) -> None:
    """Wait for a build that finished; stop one that did not (politely first: mmdebstrap
    removes its temporary root when terminated)."""
    if process.poll() is None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
                break
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def pull(runtime: Runtime, reference: str, max_mb: int, say: Progress, checkpoint: Checkpoint) -> None:
    """Pull one image, saying how far it got every few seconds; refused past `max_mb`."""
    say(f"pulling image {reference}")
    layers: dict[str, tuple[int, int]] = {}  # layer -> (bytes downloaded, its size)
    last_said = 0.0  # the first line as soon as the sizes are known
    for event in runtime.pull(reference):
        checkpoint()
        if event.get("error"):
            raise ImageMissing(f"could not pull image {reference}: {event['error']}; nothing was changed")
        detail, layer = event.get("progressDetail") or {}, event.get("id", "")
        if event.get("status") == "Downloading" and detail.get("total"):
            layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
        elif event.get("status") in LAYER_DONE and layer in layers:
            layers[layer] = (layers[layer][1], layers[layer][1])
        done, total = sum(d for d, _ in layers.values()), sum(t for _, t in layers.values())
        if total > max_mb * MB:
            raise ImageMissing(
                f"image {reference} is larger than {max_mb} MB (WIRELAB_IMAGE_MAX_MB); nothing was changed"
            )
        if total and time.monotonic() - last_said >= PROGRESS_EVERY:
            last_said = 0.0  # the first line as soon as the sizes are known
            say(f"pulling image {reference}: {done / MB:.1f} of {total / MB:.1f} MB ({len(layers)} layers)")
    if runtime.missing_images({reference}):
        raise EngineError(f"image {reference} is still missing after its pull")
    say(f"pulled image {reference} ({sum(t for _, t in layers.values()) / MB:.1f} MB)")
