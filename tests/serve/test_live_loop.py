"""The live loop: what was shown and clicked moves popularity at once, in every worker."""

import re
import secrets

from sqlalchemy import select

from newsrec.store.models import ImpressionRow
from tests.serve.conftest import NEWS_KEY, USER_KEY, make_client, news_items
from tests.serve.test_api import click, recs


def shown(client, user, impression_id, news_ids):
    body = {"impressions": [{"impression_id": impression_id, "user_id": user, "news_ids": news_ids}]}
    return client.post("/v1/impressions", json=body, headers=USER_KEY)


def test_a_new_story_clicked_by_readers_rises_in_a_third_readers_list(model_dir, db_url, tmp_path):
    a, b = make_client(model_dir, db_url, tmp_path), make_client(model_dir, db_url, tmp_path)
    with a, b:
        pool = news_items(12, 0, "sports", "Local team wins a league game, round {i}")
        a.post("/v1/news", json={"items": pool}, headers=NEWS_KEY)
        before = [i["news_id"] for i in recs(b, "third", k=12)]
        story = before[-1]  # the story the third reader would see last
        for reader in range(6):  # readers are shown the whole list and click that story in it
            user = f"reader{reader}"
            assert shown(a, user, f"imp{reader}", before).json() == {"stored": 1, "duplicates": []}
            event = {
                "event_id": f"c{reader}",
                "user_id": user,
                "news_id": story,
                "type": "click",
                "impression_id": f"imp{reader}",
            }
            assert a.post("/v1/events", json={"events": [event]}, headers=USER_KEY).json()["stored"] == 1
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
