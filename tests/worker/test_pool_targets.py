"""How many warm sandboxes a lab host keeps: its setting, raised by a prepared class until the
class has claimed them or the time is up, and bounded altogether (no Docker needed)."""

import time
from dataclasses import replace

from worker import pool
from worker.config import EngineConfig

IMAGE, OTHER = "wirelab/node:busybox", "wirelab/node:frr"


def sizes(config, configured, most=200):
    return {t.image: t.size for t in pool.targets(config, configured, most)}


def test_a_prepared_class_raises_the_pool_until_it_has_claimed_its_sandboxes(tmp_path):
    config = EngineConfig(lock_dir=tmp_path)
    assert sizes(config, {IMAGE: 8}) == {IMAGE: 8}
    pool.prepare(config, {IMAGE: 12, OTHER: 3}, seconds=3600)
    assert sizes(config, {IMAGE: 8}) == {IMAGE: 12, OTHER: 3}
    pool._consume_prepared(config, [IMAGE] * 10 + [OTHER])
    assert sizes(config, {IMAGE: 8}) == {IMAGE: 8, OTHER: 2}  # never below the setting
    assert sizes(config, {IMAGE: 8}, most=9) == {IMAGE: 8, OTHER: 1}  # bounded altogether

    # another lab host on the machine has its own preparations
    assert sizes(replace(config, labhost="b"), {IMAGE: 8}) == {IMAGE: 8}


def test_a_preparation_ends_when_its_time_is_up(tmp_path, monkeypatch):
    config = EngineConfig(lock_dir=tmp_path)
    pool.prepare(config, {IMAGE: 12}, seconds=60)
    later = time.time() + 61
    monkeypatch.setattr(pool.time, "time", lambda: later)
    assert sizes(config, {IMAGE: 2}) == {IMAGE: 2}
