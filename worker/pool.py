"""Warm sandboxes: started, unwired containers of the images labs use most, kept by each lab
host so that a deploy claims them instead of waiting for Docker to start its emulated machines.

- A member is named `wlpool-<random>` and carries the pool's label and this engine's mark only:
  no lab owns it, so cleanup and garbage collection of labs never touch it, and only this
  module's refill and drain remove it.
- Claiming renames a member to the node's container name, under a lock file that every process
  of the lab host shares: Docker's rename is not a compare-and-swap (two renames of one
  container both succeed), so the lock is what keeps two deploys from taking the same member.
  From then on the container is the lab's by its name (Docker never changes labels); a claim
  record beside the lab locks says which spec it was personalised for. A member renamed but not
  recorded (a crash in between) counts as stale: the next converge replaces it and destroy
  removes it, like any container of the lab.
- A claimed sandbox is personalised (hostname, forwarding, the node's files) and is never given
  back: destroying the lab removes it. Nothing of one lab can survive into another.
- Only a sandbox that a member can become exactly is claimed (`LabHostSpec.warmable`); the
  rest start cold.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topology.spec import WARM_CAPABILITIES, digest

from . import labels, nsock
from .config import EngineConfig
from .containers import RESOLVER, Wanted
from .errors import EngineError
from .report import Progress
from .runtime import ContainerInfo, PoolMember, Runtime


def pool_of(image: str) -> str:
    """The pool a sandbox of `image` is claimed from."""
    return digest(["sandbox", image, sorted(WARM_CAPABILITIES), RESOLVER])[:16]


def member_options() -> dict[str, Any]:
    """How members are made: a sandbox's options without what belongs to one node."""
    return {
        "network_mode": "none",
        "dns": [RESOLVER],
        "tty": True,
        "stdin_open": True,
        "cap_add": list(WARM_CAPABILITIES),
    }


def _own(config: EngineConfig, what: str) -> Path:
    """A file of this engine's pool (several lab hosts may share a machine and its lock folder)."""
    folder = config.lock_dir / "pool"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest(config.mark)[:8]}.{what}"


@contextlib.contextmanager
def _flock(config: EngineConfig, what: str, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock shared by every process of this lab host; yields False when `wait` is
    off and another holds it."""
    with open(_own(config, what), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


# Claiming --------------------------------------------------------------------------------


def claim(
    runtime: Runtime, config: EngineConfig, wanted: list[Wanted], workers: ThreadPoolExecutor
) -> dict[str, ContainerInfo]:
    """Take a running member of the right pool for each of `wanted` that one is there for, rename
    it to the node's container, and record the claim; returns node -> its container."""
    by_pool: dict[str, list[Wanted]] = {}
    for item in wanted:
        by_pool.setdefault(pool_of(item.image), []).append(item)
    taken: list[tuple[Wanted, str]] = []
    if not runtime.pool_members():
        return {}  # an empty pool: no lock to take (looked at again under the lock otherwise)
    with _flock(config, "claim.lock"):
        for pool, items in by_pool.items():
            current = runtime.image_id(items[0].image)
            members = [m for m in runtime.pool_members(pool) if m.running and m.image_id == current]
            pairs = list(zip(items, members, strict=False))

            def rename(pair: tuple[Wanted, PoolMember]) -> tuple[Wanted, str] | None:
                item, member = pair
                try:
                    runtime.rename(member.id, item.name)
                except EngineError:
                    return None  # gone meanwhile: this node starts cold
                return item, member.id

            taken += [done for done in workers.map(rename, pairs) if done]
    _consume_prepared(config, [item.image for item, _ in taken])
    config.claims_dir.mkdir(parents=True, exist_ok=True)

    def record(pair: tuple[Wanted, str]) -> tuple[str, ContainerInfo] | None:
        item, container_id = pair
        (config.claims_dir / container_id).write_text(item.spec_hash)
        try:
            return item.node, runtime.inspect(container_id)
        except EngineError:
            return None  # gone meanwhile: this node starts cold

    return dict(done for done in workers.map(record, taken) if done)


def personalize(pid: int, hostname: str, sysctls: dict[str, str]) -> bool:
    """Give a claimed sandbox its node's hostname and sysctls, in its own namespaces; returns
    whether the hostname had to change (after a claim, or a restart put the pool's back)."""
    result: dict[str, Any] = {}

    def enter() -> None:
        try:
            nsock.setns(f"/proc/{pid}/ns/uts", nsock.CLONE_NEWUTS)
            nsock.setns(f"/proc/{pid}/ns/net", nsock.CLONE_NEWNET)
            result["changed"] = socket.gethostname() != hostname
            if result["changed"]:
                socket.sethostname(hostname)
            for key, value in sysctls.items():
                with open(f"/proc/sys/{key.replace('.', '/')}", "w") as handle:
                    handle.write(value)
        except OSError as exc:  # handed to the caller's thread
            result["error"] = exc

    # setns moves only the calling thread: a thread of its own, which ends with it
    worker = threading.Thread(target=enter, name="personalize")
    worker.start()
    worker.join()
    if "error" in result:
        raise EngineError(f"could not personalise sandbox {hostname}: {result['error']}")
    return bool(result["changed"])


# Keeping the pool --------------------------------------------------------------------------


@dataclass
class Target:
    """How many warm sandboxes of an image this lab host keeps."""

    image: str
    size: int


def targets(config: EngineConfig, configured: dict[str, int], most: int) -> list[Target]:
    """The configured sizes, raised by unexpired preparations, all bounded together by `most`."""
    sizes = dict(configured)
    now = time.time()
    for image, (count, until) in _prepared(config).items():
        if until > now:
            sizes[image] = max(sizes.get(image, 0), count)
    out, left = [], most
    for image, size in sorted(sizes.items()):
        out.append(Target(image, max(0, min(size, left))))
        left -= out[-1].size
    return out


def prepare(config: EngineConfig, counts: dict[str, int], seconds: float) -> None:
    """Keep at least `counts` warm sandboxes of each image for the next `seconds` (a class),
    less those claimed since."""
    with _flock(config, "prepared.lock"):
        prepared = {i: v for i, v in _prepared(config).items() if v[1] > time.time()}
        until = time.time() + seconds
        for image, count in counts.items():
            prepared[image] = [count, until]
        _own(config, "prepared.json").write_text(json.dumps(prepared))


def _consume_prepared(config: EngineConfig, images: list[str]) -> None:
    """A prepared class is used up as its students claim: afterwards the pool goes back to its
    configured size instead of starting the whole class again."""
    if not images:
        return
    with _flock(config, "prepared.lock"):
        prepared = _prepared(config)
        if not prepared:
            return
        for image in images:
            if image in prepared:
                prepared[image][0] = max(0, prepared[image][0] - 1)
        _own(config, "prepared.json").write_text(json.dumps(prepared))


def _prepared(config: EngineConfig) -> dict[str, list[Any]]:
    try:
        prepared: dict[str, list[Any]] = json.loads(_own(config, "prepared.json").read_text())
        return prepared
    except (OSError, ValueError):
        return {}


def busy(config: EngineConfig) -> bool:
    """Whether a lab's converge (or node action) holds its lock on this host right now."""
    for path in config.lock_dir.glob("*.lock"):
        try:
            handle = open(path)  # noqa: SIM115 (closed below)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            handle.close()
    return False


def refill(
    runtime: Runtime, config: EngineConfig, wanted: list[Target], batch: int, progress: Progress | None = None
) -> dict[str, int]:
    """One round of upkeep: remove members that are stale (exited, of an older image, of a pool
    no longer wanted, or beyond a size), then start up to `batch` new ones. Returns counts of
    what it did; does nothing when another process is refilling."""
    say = progress or (lambda _: None)
    done = {"removed": 0, "started": 0}
    if not any(t.size for t in wanted) and not runtime.pool_members():
        return done  # no pool kept, none left over: nothing to lock
    with _flock(config, "refill.lock", wait=False) as mine:
        if not mine:
            return done
        current = {pool_of(t.image): (t, runtime.image_id(t.image)) for t in wanted}
        with _flock(config, "claim.lock"):  # what is listed here is not claimed meanwhile
            keep: dict[str, int] = {}
            stale = []
            for member in runtime.pool_members():
                pool = member.pool
                target, image_id = current.get(pool, (None, ""))
                fresh = target is not None and member.running and member.image_id == image_id
                if target is not None and fresh and keep.get(pool, 0) < target.size:
                    keep[pool] = keep.get(pool, 0) + 1
                else:
                    stale.append(member)
            for member in stale:
                runtime.remove(member.id)
            done["removed"] = len(stale)
        missing = [
            target
            for pool, (target, image_id) in current.items()
            if image_id
            for _ in range(target.size - keep.get(pool, 0))
        ][:batch]
        if missing:
            say(f"starting {len(missing)} warm sandbox(es)")

        def start(target: Target) -> bool:
            name = f"{labels.POOL_PREFIX}{secrets.token_hex(6)}"
            try:
                runtime.run(name, target.image, {labels.POOL: pool_of(target.image)}, **member_options())
            except EngineError as exc:
                say(f"could not start a warm sandbox of {target.image}: {exc}")
                return False
            return True

        with ThreadPoolExecutor(config.workers) as workers:
            done["started"] = sum(workers.map(start, missing))
    return done


def forget_stale_claims(runtime: Runtime, config: EngineConfig, settle: float = 60) -> None:
    """Remove the claim records of containers that no longer exist (removed behind the engine's
    back); a record younger than `settle` seconds may belong to a claim under way."""
    if not config.claims_dir.exists():
        return
    existing = {info.id for info in runtime.list_containers()}
    for path in config.claims_dir.iterdir():
        with contextlib.suppress(OSError):
            if path.name not in existing and path.stat().st_mtime < time.time() - settle:
                path.unlink()


def drain(runtime: Runtime, config: EngineConfig) -> int:
    """Remove every unclaimed member of this engine's pools, and forget what teachers prepared;
    returns how many were removed."""
    if _prepared(config):
        with _flock(config, "prepared.lock"):
            _own(config, "prepared.json").unlink(missing_ok=True)
    if not runtime.pool_members():
        return 0
    with _flock(config, "claim.lock"):
        members = runtime.pool_members()
        for member in members:
            runtime.remove(member.id)
    return len(members)


def forget(config: EngineConfig) -> None:
    """Remove this engine's pool files (its locks), once no process of its lab host runs: for a
    lab host that is gone for good, and for tests that made one of their own."""
    for what in ("claim.lock", "refill.lock", "prepared.lock", "prepared.json"):
        _own(config, what).unlink(missing_ok=True)


def status(runtime: Runtime, config: EngineConfig, wanted: list[Target]) -> list[dict[str, Any]]:
    """Per image: its target size, and the members ready now."""
    out = []
    for target in wanted:
        image_id = runtime.image_id(target.image)
        members = runtime.pool_members(pool_of(target.image))
        ready = sum(1 for m in members if m.running and m.image_id == image_id)
        out.append({"image": target.image, "size": target.size, "ready": ready})
    return out
