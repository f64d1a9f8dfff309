"""The web page end to end in headless Chromium (Debian's package, driven by Playwright).

A reader signs in with a user token (never an app key), states interests, clicks a story
(its own page opens in a new tab where it has one) and sees the list change, finds the saved
interests again after a reload; a forged token is refused.
"""

import io
import shutil

import httpx
import pytest

from tests.serve.conftest import ADMIN_KEY, NEWS_KEY, Server, news_items

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed"),
]


def non_blank(png: bytes) -> bool:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    lo, hi = image.getextrema()
    return image.size[0] > 100 and hi - lo > 100  # text on background, not an empty frame


def test_sign_in_with_a_token_type_interests_click_and_see_the_list_change(model_dir, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with Server(model_dir, f"sqlite:///{tmp_path / 'web.sqlite'}", tmp_path / "server.log") as server:
        items = news_items(4, 0, "sports", "Lakers win basketball game number {i}") + news_items(
            4, 10, "food", "An easy pasta recipe for busy weeknights, number {i}"
        )
        for item in items[4:]:  # the food stories have pages of their own (here: the service's, to load quickly)
            item["url"] = f"{server.url}/health?story={item['id']}"
        links = {i["title"]: i.get("url") for i in items}
        httpx.post(f"{server.url}/v1/news", json={"items": items}, headers=NEWS_KEY)
        token = httpx.post(f"{server.url}/v1/users/web-reader/tokens", headers=ADMIN_KEY).json()["token"]
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            # the test's waits evaluate strings, which the page's policy forbids: checked apart below
            page = browser.new_page(viewport={"width": 900, "height": 900}, bypass_csp=True)
            sent = []
            page.on("request", lambda r: sent.append(r.headers.get("authorization", "")))
            page.goto(f"{server.url}/#token={token}")  # how an app signs its reader in
            page.wait_for_function("document.querySelector('#who').innerText.includes('web-reader')")
            assert "#token" not in page.url  # not left in the address bar or history
            page.fill("#interests", "I love cooking pasta")
            page.click("#save")
            # the list shown at sign-in is replaced once the interests are saved: wait for the new one
            page.wait_for_function("document.querySelector('#recs li .why')?.innerText.startsWith('Matches your')")
            first = page.screenshot(path=str(tmp_path / "before.png"))
            titles = page.locator("#recs li .title").all_inner_texts()
            assert len(titles) == 8 and "pasta" in titles[0]
            assert "Matches your interest" in page.locator("#recs li .why").first.inner_text()
            title = page.locator("#recs li .title")
            hrefs = [title.nth(i).get_attribute("href") for i in range(8)]
            assert hrefs == [links[t] for t in titles]  # a story with a page links to it, the others do not
            assert title.first.get_attribute("target") == "_blank"
            assert title.first.get_attribute("rel") == "noopener noreferrer"
            clicked = titles[0]
            with page.context.expect_page() as opened:  # its page opens in a new tab, the click is recorded
                title.first.click()
            opened.value.wait_for_load_state()
            assert opened.value.url == links[clicked]
            page.wait_for_function(  # the clicked title leaves the list (it may stay in explanations)
                f"![...document.querySelectorAll('#recs .title')].some(e => e.innerText === {clicked!r})"
            )
            second = page.screenshot(path=str(tmp_path / "after.png"))
            after = page.locator("#recs li .title").all_inner_texts()
            assert len(after) == 7 and clicked not in after
            assert "Because you read" in page.locator("#recs").inner_text()
            assert non_blank(first) and non_blank(second) and first != second
            unlinked = page.locator("#recs li .title:not([href])").first.inner_text()  # no page: the list refreshes
            page.locator("#recs li .title:not([href])").first.click()
            page.wait_for_function("document.querySelectorAll('#recs .title').length === 6")
            assert unlinked not in page.locator("#recs li .title").all_inner_texts()
            middle = page.locator("#recs li .title[href]").first.inner_text()
            with page.context.expect_page():  # opened by the middle button: recorded too
                page.locator("#recs li .title[href]").first.click(button="middle")
            page.wait_for_function("document.querySelectorAll('#recs .title').length === 5")
            assert middle not in page.locator("#recs li .title").all_inner_texts()
            page.reload()  # a returning reader sees what they saved, in the box to edit
            sync_api.expect(page.locator("#interests")).to_have_value("I love cooking pasta")
            assert {h for h in sent if h} == {f"Bearer {token}"}  # only ever the user's own token
            page.fill("#token", token[:-3] + "abc")
            page.click("#signin")
            page.wait_for_function("document.querySelector('#status').innerText.includes('401')")
            assert page.locator("#interests").input_value() == ""  # not left for the next reader
            strict, console = browser.new_page(), []  # under the page's own policy: it still works
            strict.on("console", lambda m: console.append(m.text))
            strict.goto(f"{server.url}/#token={token}")
            strict.locator("#recs li .title").first.wait_for(timeout=30_000)  # its script ran and fetched
            sync_api.expect(strict.locator("#interests")).to_have_value("I love cooking pasta")
            assert strict.locator("#recs li .title[href]").count() > 0
            assert not [m for m in console if "Content Security Policy" in m], console
            browser.close()
        profile = httpx.get(f"{server.url}/v1/users/web-reader/profile", headers=ADMIN_KEY).json()
        titles_by_id = {i["id"]: i["title"] for i in items}
        assert profile["interests"] == "I love cooking pasta"
        assert [titles_by_id[i] for i in profile["history"]] == [clicked, unlinked, middle]


def test_the_page_carries_chinese_end_to_end(zh_model_dir, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    pasta = "適合忙碌平日晚上的簡單義大利麵食譜，第{i}道"
    items = [{"id": f"P{i}", "title": pasta.format(i=i), "category": "food"} for i in range(3)] + [
        {"id": f"S{i}", "title": f"湖人隊在延長賽中贏得第{i}場籃球比賽", "category": "sports"} for i in range(3)
    ]
    with Server(zh_model_dir, f"sqlite:///{tmp_path / 'web.sqlite'}", tmp_path / "server.log") as server:
        httpx.post(f"{server.url}/v1/news", json={"items": items}, headers=NEWS_KEY)
        token = httpx.post(f"{server.url}/v1/users/zh-reader/tokens", headers=ADMIN_KEY).json()["token"]
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 900, "height": 900}, bypass_csp=True)
            page.goto(f"{server.url}/#token={token}")
            page.wait_for_function("document.querySelector('#who').innerText.includes('zh-reader')")
            page.fill("#interests", "我喜欢做意大利面")
            page.click("#save")
            # the list drawn at sign-in (no interests yet) is replaced by the one after saving
            page.wait_for_function("document.querySelector('#recs li .why')?.innerText.startsWith('符合你的兴趣')")
            titles = page.locator("#recs li .title").all_inner_texts()
            assert len(titles) == 6 and titles[0].startswith("適合忙碌平日晚上的簡單義大利麵食譜")
            assert page.locator("#recs li .why").first.inner_text().startswith("符合你的兴趣「我喜欢做意大利面」")
            clicked = titles[0]
            page.locator("#recs li .title").first.click()
            page.wait_for_function(
                f"![...document.querySelectorAll('#recs .title')].some(e => e.innerText === {clicked!r})"
            )
            assert f"因為你讀過「{clicked}」" in page.locator("#recs").inner_text()
            assert non_blank(page.screenshot(path=str(tmp_path / "zh.png")))
            browser.close()
        profile = httpx.get(f"{server.url}/v1/users/zh-reader/profile", headers=ADMIN_KEY).json()
        assert profile["interests"] == "我喜欢做意大利面" and len(profile["history"]) == 1
