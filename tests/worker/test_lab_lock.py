"""The lab lock: one holder at a time, and a destroyed lab leaves no lock file behind even
when another converge was waiting for it."""

import threading
import time

from worker.config import EngineConfig
from worker.converge import lab_lock


def test_a_removed_lock_file_is_not_left_and_waiters_still_exclude_each_other(tmp_path):
    config = EngineConfig(lock_dir=tmp_path)
    inside, overlaps = [], []
    lock = threading.Lock()
    a_holds, b_waiting = threading.Event(), threading.Event()

    def hold(name: str, remove: bool, before=None) -> None:
        if before:
            before()
        with lab_lock(config, "lab1") as remove_lock:
            with lock:
                if inside:
                    overlaps.append((inside[-1], name))
                inside.append(name)
            if name == "a":
                a_holds.set()
                b_waiting.wait(10)
                time.sleep(0.2)  # let b block on the file a is about to remove
            if remove:
                remove_lock()
            with lock:
                inside.remove(name)

    a = threading.Thread(target=hold, args=("a", True))
    a.start()
    a_holds.wait(10)
    b = threading.Thread(target=hold, args=("b", False, b_waiting.set))
    c = threading.Thread(target=hold, args=("c", True, lambda: b_waiting.wait(10)))
    b.start()
    c.start()
    for t in (a, b, c):
        t.join(30)
    assert overlaps == []
    assert not any(t.is_alive() for t in (a, b, c))


def test_a_destroyed_lab_leaves_no_lock_file(tmp_path):
    config = EngineConfig(lock_dir=tmp_path)
    with lab_lock(config, "gone") as remove_lock:
        assert (tmp_path / "gone.lock").exists()
        remove_lock()
    assert not (tmp_path / "gone.lock").exists()
    with lab_lock(config, "kept"):
        pass
    assert (tmp_path / "kept.lock").exists()
