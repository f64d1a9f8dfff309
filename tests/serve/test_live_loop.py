"""The live loop: what was shown and clicked moves popularity at once, in every worker."""

import re
import secrets

from sqlalchemy import select

from newsrec.store import feeds
from newsrec.store.models import ImpressionRow
from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, USER_KEY, make_client, news_items
from tests.serve.test_api import click, recs


def shown(client, user, impression_id, news_ids):
    body = {"impressions": [{"impression_id": impression_id, "user_id": user, "news_ids": news_ids}]}
    return client.post("/v1/impressions", json=body, headers=USER_KEY)


def served(client, user, k=12) -> tuple[str, list[str]]:
    """(impression id, news ids) of a list the service served to `user`."""
    answer = client.get(f"/v1/users/{user}/recommendations?k={k}", headers=USER_KEY).json()
    return answer["impression_id"], [i["news_id"] for i in answer["items"]]


def click_in(client, user, event_id, news_id, impression_id):
    event = {"event_id": event_id, "user_id": user, "news_id": news_id, "type": "click", "impression_id": impression_id}
    return client.post("/v1/events", json={"events": [event]}, headers=USER_KEY)


def test_a_new_story_clicked_by_readers_rises_in_a_third_readers_list(model_dir, db_url, tmp_path):
    a, b = make_client(model_dir, db_url, tmp_path), make_client(model_dir, db_url, tmp_path)
    with a, b:
        pool = news_items(12, 0, "sports", "Local team wins a league game, round {i}")
        a.post("/v1/news", json={"items": pool}, headers=NEWS_KEY)
        before = [i["news_id"] for i in recs(b, "third", k=12)]
        story = before[-1]  # the story the third reader would see last
        for reader in range(6):  # readers are shown their list and click that story in it
            user = f"reader{reader}"
            impression_id, listed = served(a, user)
            assert shown(a, user, impression_id, listed).json() == {"stored": 1, "duplicates": []}
            assert click_in(a, user, f"c{reader}", story, impression_id).json()["stored"] == 1
        after = [i["news_id"] for i in recs(b, "third", k=12)]  # another worker, no restart
        assert after.index(story) < before.index(story)
        assert after[0] == story
        click(a, "plain", "reader0", before[0])  # a click in no logged list is history, not popularity
        assert [i["news_id"] for i in recs(b, "third", k=12)] == after


def test_impressions_are_stored_once_and_tokens_post_their_own(client):
    client.post("/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
    answer = client.get("/v1/users/u1/recommendations?k=3", headers=USER_KEY).json()
    ids = [i["news_id"] for i in answer["items"]]
    assert answer["impression_id"] and answer["model_version"]
    assert shown(client, "u1", answer["impression_id"], ids).json() == {"stored": 1, "duplicates": []}
    assert shown(client, "u1", answer["impression_id"], ids).json() == {
        "stored": 0,
        "duplicates": [answer["impression_id"]],
    }
    assert shown(client, "u2", answer["impression_id"], ids).json()["stored"] == 1  # ids are per user
    r = shown(client, "u1", "x", ["NOPE"])
    assert r.status_code == 409 and r.json()["unknown_news_ids"] == ["NOPE"]
    token = client.post("/v1/users/u1/tokens", headers=USER_KEY).json()["token"]
    body = {"impressions": [{"impression_id": "y", "user_id": "u2", "news_ids": ids}]}
    assert client.post("/v1/impressions", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    event = {
        "event_id": "e1",
        "user_id": "u1",
        "news_id": ids[0],
        "type": "click",
        "impression_id": answer["impression_id"],
    }
    assert client.post("/v1/events", json={"events": [event]}, headers=USER_KEY).json()["stored"] == 1


def version_labels(metrics: str) -> set[str]:
    return set(re.findall(r'newsrec_impressions_total\{version="([^"]*)"\}', metrics))


def test_made_up_impression_ids_add_no_metric_labels(client):
    client.post("/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
    answer = client.get("/v1/users/u1/recommendations?k=3", headers=USER_KEY).json()
    ids = [i["news_id"] for i in answer["items"]]
    shown(client, "u1", answer["impression_id"], ids)
    before = client.get("/metrics").text
    made_up = [{"impression_id": f"{secrets.token_hex(6)}.x", "user_id": "u1", "news_ids": ids} for _ in range(50)]
    assert client.post("/v1/impressions", json={"impressions": made_up}, headers=USER_KEY).json()["stored"] == 50
    after = client.get("/metrics").text
    made_up_versions = {i["impression_id"].split(".")[0] for i in made_up}
    assert version_labels(after) - version_labels(before) <= {"unknown"}  # the registry is the process's
    assert not made_up_versions & version_labels(after)
    unknown = r'newsrec_impressions_total\{version="unknown"\} (\S+)'
    counted = float(re.search(unknown, after).group(1)) - float((re.search(unknown, before) or [0, 0])[1])
    assert counted == 50
    with client.app.state.service.sessions() as session:
        stored = session.scalars(
            select(ImpressionRow.model_version).where(ImpressionRow.impression_id != answer["impression_id"])
        )
        assert set(stored) == {""}


def clicks_counted(client) -> int:
    with client.app.state.service.sessions() as session:
        return len([t for t in feeds.rows_since(session, "tallies", 0, 100_000) if t.kind == "click"])


def views_counted(client) -> int:
    """Stories viewed, over every view tally."""
    with client.app.state.service.sessions() as session:
        tallies = feeds.rows_since(session, "tallies", 0, 100_000)
        return sum(len(t.news_ids.split()) for t in tallies if t.kind == "view")


def test_made_up_impressions_and_clicks_in_them_move_no_popularity(client):
    """The issue-33 attack: one token, 200 clicks naming made-up impressions, then a made-up list
    holding the target: nothing of it counts, and the target stays where it was for others."""
    pool = news_items(12, 0, "sports", "Local team wins a league game, round {i}")
    client.post("/v1/news", json={"items": pool}, headers=NEWS_KEY)
    before = [i["news_id"] for i in recs(client, "bystander", k=12)]
    target = before[-1]
    token = client.post("/v1/users/mallory/tokens", headers=USER_KEY).json()["token"]
    as_mallory = {"Authorization": f"Bearer {token}"}
    forged = [
        {"event_id": f"f{i}", "user_id": "mallory", "news_id": target, "type": "click", "impression_id": f"any{i}"}
        for i in range(200)
    ]
    assert client.post("/v1/events", json={"events": forged}, headers=as_mallory).json()["stored"] == 200
    made_up = {"impressions": [{"impression_id": "mine.1.abc", "user_id": "mallory", "news_ids": [target]}]}
    assert client.post("/v1/impressions", json=made_up, headers=as_mallory).json()["stored"] == 1
    in_it = [{**e, "event_id": f"g{i}", "impression_id": "mine.1.abc"} for i, e in enumerate(forged)]
    client.post("/v1/events", json={"events": in_it}, headers=as_mallory)
    # a served id with a list it did not hold: the id's MAC does not match it
    impression_id, listed = served(client, "mallory", k=3)
    assert target not in listed
    relisted = {"impressions": [{"impression_id": impression_id, "user_id": "mallory", "news_ids": [target]}]}
    client.post("/v1/impressions", json=relisted, headers=as_mallory)
    click_in(client, "mallory", "h1", target, impression_id)
    assert clicks_counted(client) == 0 and views_counted(client) == 0
    assert [i["news_id"] for i in recs(client, "bystander", k=12)] == before


def test_a_user_adds_at_most_one_click_per_story_and_a_capped_share_per_hour(model_dir, tmp_path):
    limits = {"counted_clicks_per_hour": 3, "counted_views_per_hour": 8}
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, **limits) as c:
        c.post("/v1/news", json={"items": news_items(12)}, headers=NEWS_KEY)
        impression_id, listed = served(c, "eve")
        assert shown(c, "eve", impression_id, listed).json()["stored"] == 1
        assert views_counted(c) == 8  # 12 stories listed, views counted for 8: the hourly cap
        for _ in range(5):  # the same stories listed again within the hour: no more views
            again, relisted = served(c, "eve")
            assert set(relisted) == set(listed) and shown(c, "eve", again, relisted).json()["stored"] == 1
        assert views_counted(c) == 8
        for i in range(20):  # the same story again and again: one click
            click_in(c, "eve", f"same{i}", listed[0], impression_id)
        assert clicks_counted(c) == 1
        for i, news_id in enumerate(listed[1:]):  # other stories: up to the hourly cap of 3
            click_in(c, "eve", f"other{i}", news_id, impression_id)
        assert clicks_counted(c) == 3
        impression_id, listed = served(c, "frank")  # another user has a cap of their own
        shown(c, "frank", impression_id, listed)
        click_in(c, "frank", "f0", listed[0], impression_id)
        assert clicks_counted(c) == 4 and views_counted(c) == 16


def test_the_operators_logs_count_as_given(client):
    """An admin key imports logged traffic (newsrec replay): its lists and clicks count unsigned."""
    client.post("/v1/news", json={"items": news_items(3)}, headers=NEWS_KEY)
    ids = [n["id"] for n in news_items(3)]
    logged = {"impressions": [{"impression_id": "log-1", "user_id": "u9", "news_ids": ids}]}
    assert client.post("/v1/impressions", json=logged, headers=ADMIN_KEY).json()["stored"] == 1
    event = {"event_id": "c", "user_id": "u9", "news_id": ids[1], "type": "click", "impression_id": "log-1"}
    assert client.post("/v1/events", json={"events": [event]}, headers=ADMIN_KEY).json()["stored"] == 1
    assert views_counted(client) == 3 and clicks_counted(client) == 1
