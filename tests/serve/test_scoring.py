"""The service ranks by the model's own score: its index score equals `Ranker.score` offline."""

import numpy as np

from newsrec.data.mind import Impression, read_news
from tests.serve.conftest import NEWS_KEY, USER_KEY
from tests.serve.test_api import click


def test_the_index_score_is_the_offline_score(client, tiny_world):
    news = list(read_news(tiny_world).values())[:40]  # ids with training logs: the popularity term is live
    items = [{"id": n.news_id, "title": n.title, "category": n.category, "abstract": n.abstract} for n in news]
    assert client.post("/v1/news", json={"items": items}, headers=NEWS_KEY).status_code == 200
    for i, n in enumerate(news[:4]):
        click(
            client,
            f"e{i}",
            "reader",
            n.news_id,
            kind="comment" if i == 3 else "click",
            text="great analysis" if i == 3 else None,
        )
    client.put("/v1/users/reader/interests", json={"text": "science and space"}, headers=USER_KEY)
    served = {
        r["news_id"]: r["score"]
        for r in client.get("/v1/users/reader/recommendations?k=30", headers=USER_KEY).json()["items"]
    }

    service = client.app.state.service
    state = service.users["reader"]
    text = " ".join([state.interests, *state.comments])
    candidates = list(served)
    offline = service.ranker.score([Impression("x", "reader", "", list(state.history), candidates)], {"reader": text})[
        0
    ]
    assert len(candidates) == 30 and np.allclose(offline, [served[c] for c in candidates], atol=1e-4)
    assert np.ptp(offline) > 0.1  # real differences between items, not a constant
