"""The machine's one copy of the stored news: built once from the store, mapped again while the
news stored since are few, rebuilt past that, or when it was built in an older format; IVF-list
order past `lists_above`."""

import fcntl
import json
import threading

import numpy as np
import pytest

from newsrec.data.mind import News
from newsrec.service import news_snapshot
from newsrec.service.news_snapshot import Snapshots
from newsrec.store import repository as repo
from newsrec.store.db import make_engine, make_sessions, migrate

DIM, VECTORS = 8, "encoder|text-x"


def link(i: int) -> str:
    return f"https://news.example/{i}" if i % 2 else ""  # every other item has none


def never_encode(rows):
    raise AssertionError("stored vectors under the same vector_id are taken as they are")


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'news.sqlite'}"
    migrate(url)
    sessions = make_sessions(make_engine(url))
    rng = np.random.default_rng(0)

    def post(first: int, count: int) -> np.ndarray:
        vectors = rng.normal(size=(count, DIM)).astype(np.float32)
        items = [News(f"N{i}", f"Title {i}", f"cat{i % 3}", url=link(i)) for i in range(first, first + count)]
        with sessions.begin() as session:
            repo.upsert_news(session, items, vectors, VECTORS)
        return vectors

    return sessions, post


def test_built_once_from_the_store_then_mapped_until_many_news_arrive(store, tmp_path, monkeypatch):
    sessions, post = store
    vectors = post(0, 300)
    snapshots = Snapshots(tmp_path / "snapshots", "db-secret")
    with sessions() as session:
        first = snapshots.open(session, VECTORS, DIM, never_encode)
    assert first.ids == [f"N{i}" for i in range(300)] and first.lists is None
    assert np.array_equal(first.vectors[1:301], vectors) and not first.vectors[0].any()
    assert first.titles[7] == "Title 7" and first.categories[first.category_codes[7]] == "cat1"
    assert [first.urls[i] for i in (6, 7)] == ["", "https://news.example/7"]
    assert len(first.vectors) > 301  # room for news posted while serving

    monkeypatch.setattr(news_snapshot, "REBUILD_AT", 50)
    post(300, 20)  # few: the same files are mapped again, the 20 come from the feed
    with sessions() as session:
        assert snapshots.open(session, VECTORS, DIM, never_encode).folder == first.folder
    post(320, 60)  # past REBUILD_AT: a new snapshot holds them all, the old one is gone
    with sessions() as session:
        second = snapshots.open(session, VECTORS, DIM, never_encode)
    assert second.folder != first.folder and len(second) == 380 and not first.folder.exists()


def test_a_snapshot_built_in_an_older_format_is_built_again(store, tmp_path):
    sessions, post = store
    post(0, 30)
    snapshots = Snapshots(tmp_path / "snapshots", "db-secret")
    with sessions() as session:
        old = snapshots.open(session, VECTORS, DIM, never_encode)
    meta = json.loads((old.folder / "meta.json").read_text())
    del meta["format"]  # as built before snapshots held urls
    (old.folder / "meta.json").write_text(json.dumps(meta))
    for name in ("urls.npy", "urls_at.npy"):
        (old.folder / name).unlink()
    with sessions() as session:
        new = snapshots.open(session, VECTORS, DIM, never_encode)
    assert new.urls[29] == "https://news.example/29"  # built again: the old one had no urls to map


def test_past_lists_above_the_rows_are_in_list_order_and_other_vectors_are_encoded(store, tmp_path):
    sessions, post = store
    post(0, 2000)
    with sessions.begin() as session:  # one item stored by another model: encoded as this one reads it
        repo.upsert_news(session, [News("X", "Other")], np.ones((1, DIM), np.float32), "other|text-y")
    encoded = []

    def encode(rows):
        encoded.extend(r.news_id for r in rows)
        return np.full((len(rows), DIM), 7.0, np.float32)

    with sessions() as session:
        snapshot = Snapshots(tmp_path / "snapshots", "db-secret", lists_above=1000).open(session, VECTORS, DIM, encode)
    assert encoded == ["X"] and np.all(snapshot.vectors[snapshot.ids.index("X") + 1] == 7.0)
    titles = {"X": "Other", **{f"N{i}": f"Title {i}" for i in range(2000)}}
    assert [snapshot.titles[r] for r in range(len(snapshot))] == [titles[i] for i in snapshot.ids]  # moved together
    links = {"X": "", **{f"N{i}": link(i) for i in range(2000)}}
    assert [snapshot.urls[r] for r in range(len(snapshot))] == [links[i] for i in snapshot.ids]
    lists = snapshot.lists
    assert lists is not None and lists.starts[0] == 1 and lists.starts[-1] == 2002
    assert (np.diff(lists.starts) >= 0).all() and len(lists.centroids) > 16
    in_list = np.repeat(np.arange(len(lists.centroids)), np.diff(lists.starts))
    nearest = np.argmax(snapshot.vectors[1:2002] @ lists.centroids.T, axis=1)
    assert (in_list == nearest).mean() > 0.75  # most rows sit in the list of their nearest centroid (two-level)


def test_workers_starting_together_build_one_snapshot_and_map_the_same_files(store, tmp_path, monkeypatch):
    """Two openers at once (threads: an flock is held per open file, so they exclude each other as
    processes do): one builds, and holds on until the other has found the lock taken and waits on
    it; then the other maps the files the first built. The order is made by events, not by timing:
    without the lock the second opener would never wait, and would build a snapshot of its own."""
    sessions, post = store
    post(0, 500)
    with sessions.begin() as session:  # one item stored by another model: the builder encodes it
        repo.upsert_news(session, [News("X", "Other")], np.ones((1, DIM), np.float32), "other|text-y")
    real_flock, waits = fcntl.flock, threading.Event()

    def flock(fd, operation):  # a taken lock is seen (and told) before this opener waits on it
        if operation == fcntl.LOCK_EX:
            try:
                return real_flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waits.set()
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    building, builders, order = threading.Event(), [], []

    def encode(rows):  # called while the snapshot is built, under the lock
        builders.append(threading.current_thread().name)
        building.set()
        order.append("the other opener waits" if waits.wait(10) else "nobody waited")
        return np.full((len(rows), DIM), 7.0, np.float32)

    snapshots, folders, errors = Snapshots(tmp_path / "snapshots", "db-secret"), {}, []

    def open_one() -> None:
        try:
            with sessions() as session:
                folders[threading.current_thread().name] = snapshots.open(session, VECTORS, DIM, encode).folder
            order.append(f"{threading.current_thread().name} opened")
        except Exception as error:
            errors.append(error)

    first, second = threading.Thread(target=open_one, name="first"), threading.Thread(target=open_one, name="second")
    first.start()
    assert building.wait(30), "the first opener did not start building"
    second.start()  # while the first holds the lock
    for t in (first, second):
        t.join(30)
    assert errors == [] and builders == ["first"]  # one snapshot built, by the first opener
    # the second found the lock taken while the first built; which of them returns first after
    # the lock is released is the scheduler's choice
    assert order[0] == "the other opener waits" and sorted(order[1:]) == ["first opened", "second opened"]
    assert folders["first"] == folders["second"]
