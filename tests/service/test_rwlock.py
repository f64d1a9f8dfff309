"""Readers share the lock, a writer has it alone, and a waiting writer goes before new readers.

Synchronised by barriers, events and polling the lock's own state, never by sleeping."""

import threading

from newsrec.service.rwlock import ReadWriteLock
from tests.conftest import wait_until


def test_readers_overlap_and_a_writer_waits_for_them_then_goes_first():
    lock, log = ReadWriteLock(), []
    inside, release = threading.Barrier(3), threading.Event()

    def reader(name):
        with lock.reading():
            log.append(name)
            inside.wait(timeout=5)  # both readers are inside at once, or this times out
            release.wait(timeout=10)

    def writer():
        with lock.writing():
            log.append("writer")

    def late_reader():
        with lock.reading():
            log.append("late")

    readers = [threading.Thread(target=reader, args=(f"r{i}",)) for i in range(2)]
    for t in readers:
        t.start()
    inside.wait(timeout=5)
    w = threading.Thread(target=writer)
    w.start()
    wait_until(lambda: lock._writers_waiting == 1, 5, "the writer to queue")
    late = threading.Thread(target=late_reader)
    late.start()
    wait_until(lambda: len(lock._state._waiters) == 2, 5, "the late reader to queue behind the writer")
    assert sorted(log) == ["r0", "r1"]  # neither got in while the readers hold the lock
    release.set()
    for t in [*readers, w, late]:
        t.join(timeout=5)
    assert sorted(log[:2]) == ["r0", "r1"] and log[2:] == ["writer", "late"]
