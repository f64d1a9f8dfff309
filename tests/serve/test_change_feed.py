"""Every worker follows one change feed: news, events and deletions written by any other."""

import os
from pathlib import Path

import pytest
from sqlalchemy import event, text

from newsrec.store.erasure import seconds_since_oldest_unpurged
from tests.conftest import wait_until
from tests.serve.conftest import NEWS_KEY, USER_KEY, fresh_postgres, make_client, needs_postgres, news_items
from tests.serve.test_api import click, recs, seed


def two_workers(model_dir, db_url, tmp_path, **extra):
    """Two apps on one database: what two worker processes (or two instances) are to each other."""
    return make_client(model_dir, db_url, tmp_path, **extra), make_client(model_dir, db_url, tmp_path, **extra)


def test_a_deletion_reaches_the_other_worker_before_its_next_answer(model_dir, db_url, tmp_path):
    a, b = two_workers(model_dir, db_url, tmp_path)
    with a, b:
        seed(a)
        click(a, "e1", "reader", "L10", kind="comment", text="my private words")
        click(a, "e2", "reader", "L11")
        b.put("/v1/users/reader/interests", json={"text": "private hobby"}, headers=USER_KEY)
        assert recs(b, "reader")[0]["explanation"].startswith(("Because you read", "Matches your interest"))
        assert b.get("/v1/users/reader/profile", headers=USER_KEY).json()["recent_comments"] == ["my private words"]
        assert a.delete("/v1/users/reader", headers=USER_KEY).json()["deleted"] == {
            "events": 2,
            "impressions": 0,
            "interests": 1,
        }
        for _ in range(3):  # B answered for this user before: its cached state must not survive
            profile = b.get("/v1/users/reader/profile", headers=USER_KEY).json()
            assert profile["history"] == [] and profile["recent_comments"] == [] and profile["interests"] is None
            assert not any(i["explanation"].startswith(("Because", "Matches")) for i in recs(b, "reader", k=15))
        click(b, "e1", "reader", "L0")  # the same id again: a new user with a fresh history
        assert a.get("/v1/users/reader/profile", headers=USER_KEY).json()["history"] == ["L0"]


def test_ready_counts_the_news_stored_by_another_worker_and_health_what_this_one_has_read(model_dir, db_url, tmp_path):
    a, b = two_workers(model_dir, db_url, tmp_path)
    with a, b:
        assert a.post("/v1/news", json={"items": news_items(7)}, headers=NEWS_KEY).status_code == 200
        assert b.get("/health").json()["news"] == 0  # no database question on liveness: not caught up yet
        assert b.get("/ready").json()["news"] == 7  # readiness catches up before it counts
        assert b.get("/health").json()["news"] == 7


def test_a_worker_reads_only_the_feeds_that_moved(model_dir, db_url, tmp_path):
    """One query asks for the head of every feed; a feed is read only past what the worker has."""
    a, b = two_workers(model_dir, db_url, tmp_path)
    with a, b:
        seed(a)
        service = b.app.state.service
        service.sync()
        statements: list[str] = []

        def note(_conn, _cursor, statement, *_):
            statements.append(statement)

        event.listen(service.engine, "before_cursor_execute", note)
        service.sync()
        assert len(statements) == 1  # nothing new: the heads alone
        click(a, "e1", "reader", "L10")  # an event, written by the other worker (outside an impression: no tally)
        statements.clear()
        service.sync()
        assert len(statements) == 2 and "FROM events" in statements[1]


def test_a_reposted_item_shows_its_new_title_in_every_worker(model_dir, db_url, tmp_path):
    a, b = two_workers(model_dir, db_url, tmp_path)
    with a, b:
        a.post("/v1/news", json={"items": news_items(2)}, headers=NEWS_KEY)
        assert {i["title"] for i in recs(b, "u")} == {"Lakers win game 0", "Lakers win game 1"}
        a.post("/v1/news", json={"items": [{"id": "L1", "title": "Lakers lose game 1"}]}, headers=NEWS_KEY)
        assert {i["title"] for i in recs(b, "u")} == {"Lakers win game 0", "Lakers lose game 1"}
        assert {i["title"] for i in recs(a, "u")} == {"Lakers win game 0", "Lakers lose game 1"}


def test_erased_text_is_in_neither_the_database_file_nor_its_log(model_dir, tmp_path):
    path = tmp_path / "erase.sqlite"
    with make_client(model_dir, f"sqlite:///{path}", tmp_path) as client:
        seed(client)
        click(client, "e1", "secret-user-42", "L0", kind="comment", text="zebra-crossing confession")
        client.put("/v1/users/secret-user-42/interests", json={"text": "quokka watching"}, headers=USER_KEY)
        client.put("/v1/users/secret-user-42/interests", json={"text": "quokka breeding"}, headers=USER_KEY)
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("erase.sqlite*"))
        assert b"zebra-crossing" in raw and b"quokka" in raw  # the check below can fail
        client.delete("/v1/users/secret-user-42", headers=USER_KEY)
        for p in tmp_path.glob("erase.sqlite*"):
            data = p.read_bytes()
            assert b"zebra-crossing" not in data and b"quokka" not in data and b"secret-user-42" not in data, p.name


def test_each_worker_keeps_a_bounded_number_of_users(model_dir, tmp_path):
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, user_cache_size=3) as client:
        seed(client)
        for i in range(10):
            click(client, f"e{i}", f"user-{i}", "L0")
            recs(client, f"user-{i}")
        service = client.app.state.service
        assert len(service.users) == 3 and set(service.users) == {"user-7", "user-8", "user-9"}
        assert client.get("/v1/users/user-0/profile", headers=USER_KEY).json()["history"] == ["L0"]  # reloaded


def test_a_worker_catches_up_with_the_whole_feed_before_it_answers(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("newsrec.store.feeds.ROWS_PER_READ", 4)  # read in chunks much smaller than the feed
    a, b = two_workers(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    with a, b:
        a.post("/v1/news", json={"items": news_items(11)}, headers=NEWS_KEY)
        for i in range(9):
            click(a, f"e{i}", "reader", f"L{i}")
        assert len(recs(b, "reader", k=20)) == 2  # all 11 news and all 9 clicks, in one answer
        assert len(b.app.state.service.primary.catalogue.news) == 11


def postgres_files_hold(engine, *needles: bytes) -> set[bytes]:
    """Which needles are in the database's own files (tables, indexes, TOAST), once flushed."""
    with engine.connect() as conn:
        conn.execute(text("CHECKPOINT"))  # dirty pages to the files
        folder = Path(conn.scalar(text("SHOW data_directory"))) / "base"
        folder /= str(conn.scalar(text("SELECT oid FROM pg_database WHERE datname = current_database()")))
    if not os.access(folder, os.R_OK):
        pytest.skip(f"PostgreSQL's files in {folder} are not readable by this user")
    found = set()
    for path in folder.iterdir():
        data = path.read_bytes()
        found |= {n for n in needles if n in data}
    return found


@needs_postgres
@pytest.mark.parametrize("within", [0, 1])
def test_erased_text_leaves_postgresql_table_files(model_dir, tmp_path, within):
    secrets = (b"zebra-crossing", b"quokka", b"secret-user-42")
    with make_client(model_dir, fresh_postgres(), tmp_path, erase_within_seconds=within) as client:
        seed(client)
        click(client, "e1", "secret-user-42", "L0", kind="comment", text="zebra-crossing confession")
        client.put("/v1/users/secret-user-42/interests", json={"text": "quokka watching"}, headers=USER_KEY)
        client.put("/v1/users/secret-user-42/interests", json={"text": "quokka breeding"}, headers=USER_KEY)
        engine = client.app.state.service.engine
        assert postgres_files_hold(engine, *secrets) == set(secrets)  # the check below can fail
        client.delete("/v1/users/secret-user-42", headers=USER_KEY)
        if within == 0:  # purged before the DELETE answered
            assert postgres_files_hold(engine, *secrets) == set()
        else:
            wait_until(lambda: not postgres_files_hold(engine, *secrets), 30, "the erased text to leave the files", 0.2)
        assert len(recs(client, "someone-else")) == 5  # the service goes on


@needs_postgres
def test_the_erasure_deadline_is_kept_in_the_database_across_restarts(model_dir, tmp_path):
    """A restart after a DELETE does not start the purge window again: it counts from the
    tombstone's time (before, a service restarted more often than the window never purged)."""
    url = fresh_postgres()
    with make_client(model_dir, url, tmp_path, erase_within_seconds=60) as client:
        seed(client)
        click(client, "e1", "gone", "L0", kind="comment", text="private words")
        client.delete("/v1/users/gone", headers=USER_KEY)
        engine = client.app.state.service.engine
        with engine.begin() as conn:  # the DELETE was 100 s ago: past its 60 s window
            conn.execute(text("UPDATE user_deletions SET deleted_at = now() - interval '100 seconds'"))
    with make_client(model_dir, url, tmp_path, erase_within_seconds=60) as client:  # the restart
        engine = client.app.state.service.engine
        wait_until(lambda: seconds_since_oldest_unpurged(engine) is None, 20, "the overdue purge")
