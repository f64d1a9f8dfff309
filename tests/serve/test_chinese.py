"""Chinese end to end through the service: titles stored and returned as written, interests in
Simplified matching news in Traditional, explanations in the reader's language, and one
catalogue mixing languages (an English reader finds Chinese stories on their topic)."""

import pytest

from tests.serve.conftest import NEWS_KEY, USER_KEY, make_client

pytestmark = pytest.mark.slow  # converts and loads multilingual-e5-small once per session

SPORTS = "湖人隊在延長賽中贏得第{i}場籃球比賽"
MARKETS = "股市大漲，央行宣布第{i}次降息"
PASTA = "適合忙碌平日晚上的簡單義大利麵食譜，第{i}道"


def items(prefix: str, title: str, category: str, n: int = 4) -> list[dict]:
    return [{"id": f"{prefix}{i}", "title": title.format(i=i), "category": category} for i in range(n)]


def recs(client, user, k=12):
    r = client.get(f"/v1/users/{user}/recommendations?k={k}", headers=USER_KEY)
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture
def zh_client(zh_model_dir, tmp_path):
    with make_client(zh_model_dir, f"sqlite:///{tmp_path / 'zh.sqlite'}", tmp_path) as c:
        news = items("S", SPORTS, "sports") + items("M", MARKETS, "finance") + items("P", PASTA, "food")
        assert c.post("/v1/news", json={"items": news}, headers=NEWS_KEY).json() == {"stored": 12}
        yield c


def test_chinese_interests_clicks_and_explanations_round_trip(zh_client):
    r = zh_client.put(
        "/v1/users/reader-zh/interests", json={"text": "我喜欢做意大利面"}, headers=USER_KEY
    )  # Simplified
    assert r.status_code == 200, r.text
    first = recs(zh_client, "reader-zh")
    assert {i["news_id"] for i in first[:4]} == {"P0", "P1", "P2", "P3"}  # Traditional pasta news lead
    assert first[0]["title"] == PASTA.format(i=first[0]["news_id"][1])  # stored and returned as written
    assert first[0]["explanation"].startswith("符合你的兴趣「我喜欢做意大利面」")  # the reader's script

    event = {"event_id": "click-1", "user_id": "reader-zh", "news_id": "M0", "type": "click"}
    assert zh_client.post("/v1/events", json={"events": [event]}, headers=USER_KEY).json()["stored"] == 1
    after = recs(zh_client, "reader-zh")
    assert "M0" not in [i["news_id"] for i in after]
    markets = [i for i in after if i["news_id"].startswith("M")]
    assert markets and markets[0]["explanation"].startswith(f"因為你讀過「{MARKETS.format(i=0)}」")
    profile = zh_client.get("/v1/users/reader-zh/profile", headers=USER_KEY).json()
    assert profile["interests"] == "我喜欢做意大利面" and profile["history"] == ["M0"]


def test_one_catalogue_in_two_languages(zh_client):
    english = [
        {"id": "E0", "title": "An easy pasta recipe for busy weeknights", "category": "food"},
        {"id": "E1", "title": "Stock markets rally as the central bank cuts rates", "category": "finance"},
    ]
    assert zh_client.post("/v1/news", json={"items": english}, headers=NEWS_KEY).json() == {"stored": 2}
    zh_client.put("/v1/users/reader/interests", json={"text": "I love cooking pasta"}, headers=USER_KEY)
    ranked = [i["news_id"] for i in recs(zh_client, "reader", k=14)]
    assert ranked[0] == "E0"
    chinese = [n for n in ranked if n[0] in "SMP"]
    assert set(chinese[:4]) == {"P0", "P1", "P2", "P3"}  # the Chinese pasta stories come first among Chinese

    zh_client.put("/v1/users/reader-zh2/interests", json={"text": "我关注股市和利率"}, headers=USER_KEY)
    ranked = [i["news_id"] for i in recs(zh_client, "reader-zh2", k=14)]
    english_ranked = [n for n in ranked if n.startswith("E")]
    assert english_ranked[0] == "E1"  # a Chinese reader of markets gets the English markets story first
