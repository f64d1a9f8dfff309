"""A news item's link (MIND's url column): accepted only as an http(s) link, stored, and carried
to every recommendation of it, from the news a worker followed and from the machine's snapshot."""

import pytest

from newsrec.store import repository as repo
from tests.serve.conftest import NEWS_KEY, USER_KEY, make_client, news_items


def link(i: int) -> str:
    return f"https://news.example/story/{i}?from=feed#top"


def post_news(client, items) -> None:
    r = client.post("/v1/news", json={"items": items}, headers=NEWS_KEY)
    assert r.status_code == 200, r.text


def urls_recommended(client, user: str = "reader") -> dict[str, str]:
    r = client.get(f"/v1/users/{user}/recommendations?k=20", headers=USER_KEY)
    assert r.status_code == 200, r.text
    return {item["news_id"]: item["url"] for item in r.json()["items"]}


def test_every_recommendation_carries_its_news_link_or_none(model_dir, db_url, tmp_path):
    items = news_items(6, title="Lakers win basketball game number {i}")
    for item in items[:4]:
        item["url"] = link(int(item["id"][1:]))
    expected = {item["id"]: item.get("url", "") for item in items}
    with make_client(model_dir, db_url, tmp_path) as client:
        post_news(client, items)
        assert urls_recommended(client) == expected  # news this worker followed from the feed
        with client.app.state.service.sessions() as session:
            assert repo.news_at(session, [1])[0].as_news().url == link(0)  # stored with the row
    # another worker on a machine of its own: the same links from the snapshot it builds from the store
    with make_client(model_dir, db_url, tmp_path, snapshot_dir=tmp_path / "other-machine") as other:
        assert other.app.state.service.primary.catalogue.items.listed == 6  # all six in its snapshot
        assert urls_recommended(other) == expected
        items[0]["url"] = link(100)  # a replaced item: its new link
        post_news(other, items[:1])
        assert urls_recommended(other, "another-reader")["L0"] == link(100)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)//https://news.example",
        "data:text/html,<script>alert(1)</script>",
        "ftp://news.example/story",
        "//news.example/story",  # relative to the page's scheme
        "/story/1",
        "https://",
        "https:///story",
        "https://news.example/a story",
        "https://news.example/\n",
        "https://news.example/" + "x" * 2_000,
    ],
)
def test_a_link_that_is_no_absolute_http_link_is_a_422_naming_the_field(client, url):
    item = {"id": "n1", "title": "A story", "url": url}
    r = client.post("/v1/news", json={"items": [item]}, headers=NEWS_KEY)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "items", 0, "url"]
    assert urls_recommended(client) == {}  # nothing of the batch was stored
    post_news(client, [{**item, "url": "HTTP://news.example/a-story"}])  # the same item with a web link
    assert urls_recommended(client) == {"n1": "HTTP://news.example/a-story"}


def test_the_openapi_document_tells_clients_the_link_rule(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    url = schema["NewsIn"]["properties"]["url"]
    assert url["maxLength"] == 2_000 and url["pattern"].startswith("^([Hh][Tt][Tt][Pp][Ss]?://")
    assert "url" in schema["RecommendationOut"]["required"]
