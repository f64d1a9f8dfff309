"""The live loop: what was shown and clicked moves popularity at once, in every worker."""

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
