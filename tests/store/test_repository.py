"""One function per read or write: idempotent events per user, feeds in seq order, erasure with a tombstone."""

from datetime import datetime, timezone

import numpy as np
import pytest

from newsrec.data.mind import News
from newsrec.store import feeds
from newsrec.store import repository as repo
from newsrec.store.db import make_engine, make_sessions, migrate
from tests.serve.conftest import POSTGRES_URL, fresh_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("NEWSREC_TEST_POSTGRES_URL not set (run scripts/start-postgres)")
        url = fresh_postgres()
    else:
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    yield make_sessions(engine)
    engine.dispose()


def event(user: str, event_id: str, news_id: str = "n1") -> repo.EventRecord:
    return repo.EventRecord(event_id, user, news_id, "click", datetime(2026, 11, 1, tzinfo=timezone.utc))


def test_events_are_stored_once_per_user_and_event_id(sessions):
    with sessions.begin() as s:
        assert repo.add_events(s, [event("a", "e1"), event("b", "e1")]) == []
    with sessions.begin() as s:
        again = repo.add_events(s, [event("a", "e1"), event("a", "e2")])
    assert [(e.user_id, e.event_id) for e in again] == [("a", "e1")]
    with sessions() as s:
        assert [e.event_id for e in repo.user_events(s, "a")] == ["e1", "e2"]
        feed = feeds.rows_since(s, "events", 0, 100)
        assert [e.seq for e in feed] == sorted(e.seq for e in feed) and len(feed) == 3
        assert [e.event_id for e in feeds.rows_since(s, "events", feed[1].seq, 100)] == ["e2"]
        assert feeds.rows_since(s, "events", 0, 2) == feed[:2]  # in chunks, oldest first


def test_unknown_ids_are_asked_in_chunks_below_every_database_parameter_limit(sessions):
    with sessions.begin() as s:
        repo.upsert_news(s, [News("N3", "t"), News("N69999", "t")], np.zeros((2, 4)))
    with sessions() as s:  # 70,000 parameters: over both SQLite's and PostgreSQL's limit in one query
        assert repo.known_news_ids(s, {f"N{i}" for i in range(70_000)}) == {"N3", "N69999"}


def test_a_replaced_news_item_comes_back_with_a_larger_seq(sessions):
    vectors = np.ones((2, 4), np.float32)
    with sessions.begin() as s:
        repo.upsert_news(s, [News("n1", "Old"), News("n2", "Other")], vectors)
    with sessions() as s:
        first = {r.news_id: r.seq for r in feeds.rows_since(s, "news", 0, 100)}
    with sessions.begin() as s:
        repo.upsert_news(s, [News("n2", "New")], vectors[:1])
    with sessions() as s:
        changed = feeds.rows_since(s, "news", max(first.values()), 100)
        assert [(r.news_id, r.title) for r in changed] == [("n2", "New")] and changed[0].seq > first["n2"]


def test_erasing_a_user_leaves_only_a_keyed_hash(sessions):
    with sessions.begin() as s:
        repo.add_events(s, [event("alice", "e1"), event("bob", "e1")])
        repo.set_interests(s, "alice", "quokkas")
        secret = repo.service_secret(s)
    key = repo.user_key(secret, "alice")
    with sessions.begin() as s:
        assert repo.delete_user(s, "alice", key) == {"events": 1, "impressions": 0, "interests": 1}
    with sessions() as s:
        assert repo.user_events(s, "alice") == [] and repo.interests_of(s, ["alice"]) == {}
        assert [e.user_id for e in feeds.rows_since(s, "events", 0, 100)] == ["bob"]
        tombstones = feeds.rows_since(s, "deletions", 0, 100)
        assert [t.user_key for t in tombstones] == [key] and "alice" not in key and len(key) == 64
    assert repo.user_key(secret, "alice") == key != repo.user_key("another secret", "alice")


def test_impressions_once_per_user_and_only_counted_traffic_is_popularity(sessions):
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    shown = repo.ImpressionRecord("i1", "alice", ["n1", "n2"], at, counted=True, viewed=["n1", "n2"])
    with sessions.begin() as s:
        assert repo.add_impressions(s, [shown, repo.ImpressionRecord("i1", "bob", ["n1"], at)]) == []
    with sessions.begin() as s:
        assert repo.add_impressions(s, [shown]) == [shown]  # a retried post is stored once
        in_list = repo.EventRecord("e1", "alice", "n1", "click", at, impression_id="i1", counted=True)
        repo.add_events(s, [in_list, event("alice", "e2", "n2")])  # e2 is not counted: history only
    with sessions() as s:
        tallies = [(t.kind, t.news_ids) for t in feeds.rows_since(s, "tallies", 0, 100)]
        assert tallies == [("view", "n1 n2"), ("click", "n1")]  # bob's list was not counted
        assert repo.counted_lists_since(s, "alice", at) == ["n1 n2"] and repo.counted_lists_since(s, "bob", at) == []
        assert repo.counted_clicks_since(s, "alice", at) == 1 and repo.counted_clicks_since(s, "bob", at) == 0
        assert repo.counted_clicks_on(s, "alice", {"n1", "n2"}) == {"n1"}
        assert set(repo.impressions_named(s, {("alice", "i1"), ("carol", "i1")})) == {("alice", "i1")}
    with sessions.begin() as s:
        removed = repo.delete_user(s, "alice", repo.user_key(repo.service_secret(s), "alice"))
    assert removed == {"events": 2, "impressions": 1, "interests": 0}
    with sessions() as s:  # the anonymous counts stay: every worker holds them already
        assert len(feeds.rows_since(s, "tallies", 0, 100)) == 2
