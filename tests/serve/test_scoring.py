"""The service ranks by the model's own score: its index and /rank give what `Ranker.score` gives
offline for the same user, news and popularity."""

import time
from datetime import datetime

import numpy as np

from newsrec.data.mind import Impression, read_news
from tests.serve.conftest import NEWS_KEY, USER_KEY, make_client
from tests.serve.test_api import click


def test_the_index_score_and_rank_are_the_offline_score(client, tiny_world):
    index_and_rank_give_the_offline_score(client, tiny_world)


def test_a_model_with_one_tower_per_encoder_serves_its_offline_score(towers_model_dir, db_url, tmp_path, tiny_world):
    with make_client(towers_model_dir, db_url, tmp_path) as client:
        assert len(client.app.state.service.primary.ranker.model.towers) == 2
        index_and_rank_give_the_offline_score(client, tiny_world)


def index_and_rank_give_the_offline_score(client, tiny_world):
    news = list(read_news(tiny_world).values())[:40]  # ids with training logs: the popularity term is live
    items = [{"id": n.news_id, "title": n.title, "category": n.category, "abstract": n.abstract} for n in news]
    assert client.post("/v1/news", json={"items": items}, headers=NEWS_KEY).status_code == 200
    for i, n in enumerate(news[:4]):
        kind, text = ("comment", "great analysis") if i == 3 else ("click", None)
        click(client, f"e{i}", "reader", n.news_id, kind=kind, text=text)
    client.put("/v1/users/reader/interests", json={"text": "science and space"}, headers=USER_KEY)
    answer = client.get("/v1/users/reader/recommendations?k=30", headers=USER_KEY).json()
    served = {r["news_id"]: r["score"] for r in answer["items"]}

    service = client.app.state.service
    state = service.users["reader"]
    now = time.time()
    live = service.primary.catalogue.popularity  # the training logs' counts plus the clicks above

    def offline(candidates, at):
        imp = Impression("x", "reader", "", list(state.history), candidates)
        text = {"reader": " ".join([state.interests, *state.comments])}
        return service.primary.ranker.score([imp], text, popularity=lambda i: live.features(i.candidates, at))[0]

    candidates = list(served)
    assert len(candidates) == 30 and np.allclose(offline(candidates, now), [served[c] for c in candidates], atol=1e-4)
    assert np.ptp(offline(candidates, now)) > 0.1  # real differences between items, not a constant

    at = "2026-11-10T08:00:00Z"  # another moment: popularity as it stood then
    ranked = client.post("/v1/users/reader/rank", json={"candidates": candidates, "at": at}, headers=USER_KEY).json()
    assert ranked["model_version"] == answer["model_version"] == service.primary.ranker.version != ""
    scores = {r["news_id"]: r["score"] for r in ranked["items"]}
    expected = offline(candidates, datetime.fromisoformat(at).timestamp())
    assert np.allclose([scores[c] for c in candidates], expected, atol=1e-4)
    assert [r["score"] for r in ranked["items"]] == sorted(scores.values(), reverse=True)
