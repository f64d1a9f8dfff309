"""The served scores are the model's, checked against a reference built only from what the test
posted: the model loaded anew from its folder, the training logs' popularity plus the views and
clicks the test logged, the history of its positive events and the text of its interests and
comments. Nothing is read from the service's state. Checked before and after traffic that
rewrites index rows, with the exact and the approximate (IVF) index, and shown to fail when the
service's query text or popularity is perturbed."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from newsrec.data.mind import Impression, News, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service import users
from newsrec.service.catalogue import Catalogue
from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, USER_KEY, make_client

K = 20
INTERESTS = "science and space"
COMMENT = "great analysis of the match"


class Reference:
    """What the service should answer, from the posted traffic alone."""

    def __init__(self, model_dir, news: dict[str, News]):
        self.ranker = Ranker.load(model_dir, news, EmbeddingCache())
        self.popularity = self.ranker.popularity.copy()  # the training logs' counts (popularity.json)
        for n, at in PUBLISHED.items():  # ages from publication, which precedes the logs' first sighting
            self.popularity.publish([n], [at.timestamp()])
        self.history: list[str] = []
        self.texts: list[str] = []

    def positive(self, news_id: str) -> None:
        if news_id in self.history:
            self.history.remove(news_id)
        self.history.append(news_id)

    def shown(self, news_ids: list[str], at: float) -> None:
        for news_id in news_ids:
            self.popularity.add(news_id, at, views=1.0)

    def clicked_in_list(self, news_id: str, at: float) -> None:
        self.popularity.add(news_id, at, clicks=1.0)

    def scores(self, candidates: list[str], at: float) -> np.ndarray:
        text = " ".join(self.texts)
        imp = Impression("ref", "reader", "", self.history[-self.ranker.spec.max_history :], candidates)
        popularity = lambda i: self.popularity.features(i.candidates, at)  # noqa: E731
        return self.ranker.score([imp], {"reader": text}, popularity=popularity)[0]


def published_at(position: int) -> datetime | None:
    """Every other posted news item has a publication time, days before the training logs start."""
    return datetime(2026, 10, 20, tzinfo=timezone.utc) + timedelta(hours=7 * position) if position % 2 else None


def news_items(news: dict[str, News]) -> list[dict]:
    items = [{"id": n.news_id, "title": n.title, "category": n.category, "abstract": n.abstract} for n in news.values()]
    for position, item in enumerate(items):
        if at := published_at(position):
            item["published_at"] = iso(at)
            PUBLISHED[item["id"]] = at
    return items


PUBLISHED: dict[str, datetime] = {}  # news id -> the publication time posted with it
SERVE_OLD_NEWS = {"recency_days": 3650.0}  # the times above are older than the default week


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post(client, path: str, body: dict, headers=USER_KEY) -> None:
    reply = client.post(path, json=body, headers=headers)
    assert reply.status_code == 200, reply.text


def served(client) -> dict[str, float]:
    reply = client.get(f"/v1/users/reader/recommendations?k={K}", headers=USER_KEY)
    assert reply.status_code == 200, reply.text
    return {r["news_id"]: r["score"] for r in reply.json()["items"]}


def check_parity(client, reference: Reference, pool: list[str], exact: bool) -> None:
    """/recommendations and /rank against the reference, now and at another moment."""
    now = datetime.now(timezone.utc).timestamp()
    answer = served(client)
    unseen = [n for n in pool if n not in reference.history]
    expected = dict(zip(unseen, reference.scores(unseen, now)))
    best = sorted(expected, key=expected.get, reverse=True)[:K]
    assert len(answer) == K
    common = set(answer) & set(best)
    assert len(common) >= (K if exact else 0.8 * K), f"top-{K} overlap {len(common)}"
    assert np.allclose([answer[n] for n in common], [expected[n] for n in common], atol=1e-4)

    at = datetime(2026, 11, 10, 8, tzinfo=timezone.utc)
    candidates = pool[:30]
    reply = client.post("/v1/users/reader/rank", json={"candidates": candidates, "at": iso(at)}, headers=USER_KEY)
    ranked = {r["news_id"]: r["score"] for r in reply.json()["items"]}
    assert np.allclose([ranked[c] for c in candidates], reference.scores(candidates, at.timestamp()), atol=1e-4)


def run_traffic_and_check(client, model_dir, tiny_world, exact: bool) -> None:
    news = dict(list(read_news(tiny_world).items())[:60])  # ids with training logs: their popularity is live
    pool = list(news)
    post(client, "/v1/news", {"items": news_items(news)}, NEWS_KEY)
    assert client.app.state.service.primary.catalogue.index.exact is exact  # which search answers
    reference = Reference(model_dir, news)
    start = datetime.now(timezone.utc) - timedelta(hours=2)

    # the reader: clicks and a like, a comment, interests in their own words
    events = [("e0", pool[0], "click"), ("e1", pool[1], "like"), ("e2", pool[2], "comment")]
    for i, (event_id, news_id, kind) in enumerate(events):
        event = {"event_id": event_id, "user_id": "reader", "news_id": news_id, "type": kind}
        event["ts"] = iso(start + timedelta(minutes=i))
        if kind == "comment":
            event["text"] = COMMENT
        post(client, "/v1/events", {"events": [event]})
        reference.positive(news_id)
    reply = client.put("/v1/users/reader/interests", json={"text": INTERESTS}, headers=USER_KEY)
    assert reply.status_code == 200, reply.text
    reference.texts = [INTERESTS, COMMENT]
    check_parity(client, reference, pool, exact)

    # traffic from others, as the operator's logs (an admin key: counted as given, see service/counting.py):
    # lists shown (views of items still in the reader's list) and clicks in them
    shown_at = start + timedelta(minutes=30)
    for j in range(6):
        shown = pool[10 + 5 * j : 20 + 5 * j]
        impression = {"impression_id": f"imp{j}", "user_id": f"other{j}", "news_ids": shown, "ts": iso(shown_at)}
        post(client, "/v1/impressions", {"impressions": [impression]}, ADMIN_KEY)
        reference.shown(shown, shown_at.timestamp())
        clicked_at = shown_at + timedelta(seconds=30)
        click = {"event_id": f"c{j}", "user_id": f"other{j}", "news_id": shown[j % len(shown)], "type": "click"}
        post(
            client, "/v1/events", {"events": [{**click, "ts": iso(clicked_at), "impression_id": f"imp{j}"}]}, ADMIN_KEY
        )
        reference.clicked_in_list(click["news_id"], clicked_at.timestamp())
    check_parity(client, reference, pool, exact)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "ivf"])
def test_served_scores_equal_an_independent_reference(exact, model_dir, db_url, tiny_world, tmp_path):
    extra = {} if exact else {"approximate_above": 10}  # 60 news: IVF from the start
    with make_client(model_dir, db_url, tmp_path, **SERVE_OLD_NEWS, **extra) as client:
        run_traffic_and_check(client, model_dir, tiny_world, exact)


def test_a_model_with_one_tower_per_encoder_serves_its_own_score(towers_model_dir, tiny_world, tmp_path):
    with make_client(towers_model_dir, f"sqlite:///{tmp_path}/db.sqlite", tmp_path, **SERVE_OLD_NEWS) as client:
        assert len(client.app.state.service.primary.ranker.model.towers) == 2
        run_traffic_and_check(client, towers_model_dir, tiny_world, exact=True)


def test_the_reference_catches_a_service_that_drops_comments_from_the_query(
    monkeypatch, model_dir, tiny_world, tmp_path
):
    monkeypatch.setattr(users, "COMMENTS_KEPT", 0)  # the service forgets every comment
    client = make_client(model_dir, f"sqlite:///{tmp_path}/db.sqlite", tmp_path, **SERVE_OLD_NEWS)
    with client, pytest.raises(AssertionError, match=r"allclose|overlap"):  # other scores
        run_traffic_and_check(client, model_dir, tiny_world, exact=True)


def test_the_reference_catches_a_service_that_ignores_views(monkeypatch, model_dir, tiny_world, tmp_path):
    count_traffic = Catalogue.count_traffic
    monkeypatch.setattr(
        Catalogue,
        "count_traffic",
        lambda self, tallies, now: count_traffic(self, [t for t in tallies if t.kind != "view"], now),
    )
    client = make_client(model_dir, f"sqlite:///{tmp_path}/db.sqlite", tmp_path, **SERVE_OLD_NEWS)
    with client, pytest.raises(AssertionError, match=r"allclose|overlap"):  # other scores
        run_traffic_and_check(client, model_dir, tiny_world, exact=True)


def test_a_worker_starting_from_the_snapshot_counts_ages_from_publication(model_dir, tiny_world, tmp_path):
    """News posted with a publication time reach a later worker through the machine's snapshot,
    not the feed: its scores are the reference's too (and the first worker's)."""
    news = dict(list(read_news(tiny_world).items())[:60])
    db_url, candidates = f"sqlite:///{tmp_path}/db.sqlite", list(news)[:30]
    at = datetime(2026, 11, 10, 8, tzinfo=timezone.utc)
    ask = {"candidates": candidates, "at": iso(at)}
    scores = []
    for worker, snapshots in enumerate(["first", "second"]):  # the second builds its snapshot anew
        with make_client(model_dir, db_url, tmp_path, snapshot_dir=tmp_path / snapshots, **SERVE_OLD_NEWS) as client:
            if worker == 0:
                post(client, "/v1/news", {"items": news_items(news)}, NEWS_KEY)
            reply = client.post("/v1/users/reader/rank", json=ask, headers=USER_KEY)
            assert reply.status_code == 200, reply.text
            scores.append(
                [r["score"] for r in sorted(reply.json()["items"], key=lambda r: candidates.index(r["news_id"]))]
            )
    expected = Reference(model_dir, news).scores(candidates, at.timestamp())
    assert np.allclose(scores[0], expected, atol=1e-4) and np.allclose(scores[1], expected, atol=1e-4)
