"""Readers share the lock, a writer has it alone, and a waiting writer goes before new readers."""

import threading
import time

from newsrec.serve.rwlock import ReadWriteLock


def test_readers_overlap_and_a_writer_waits_for_them_then_goes_first():
    lock, log = ReadWriteLock(), []
    inside = threading.Barrier(2)

    def reader(name):
        with lock.reading():
            inside.wait(timeout=5)  # both readers are inside at once, or this times out
            log.append(name)
            time.sleep(0.2)

    def writer():
        with lock.writing():
            log.append("writer")

    readers = [threading.Thread(target=reader, args=(f"r{i}",)) for i in range(2)]
    for t in readers:
        t.start()
    time.sleep(0.05)
    w = threading.Thread(target=writer)
    w.start()
    time.sleep(0.05)

    def late_reader():
        with lock.reading():
            log.append("late")

    late = threading.Thread(target=late_reader)
    late.start()
    for t in [*readers, w, late]:
        t.join(timeout=5)
    assert sorted(log[:2]) == ["r0", "r1"] and log[2:] == ["writer", "late"]
