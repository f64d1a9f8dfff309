"""The web page end to end in headless Chromium (Debian's package, driven by Playwright)."""

import io
import shutil

import httpx
import pytest

from tests.serve.conftest import NEWS_KEY, news_items
from tests.serve.test_durability_and_backends import free_port, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")


def non_blank(png: bytes) -> bool:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    lo, hi = image.getextrema()
    return image.size[0] > 100 and hi - lo > 100  # text on background, not an empty frame


def test_choose_user_type_interests_click_and_see_the_list_change(model_dir, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    port = free_port()
    with (tmp_path / "server.out").open("w") as log:
        proc = start_server(model_dir, tmp_path / "web.sqlite", port, log)
        try:
            items = (news_items(4, 0, "sports", "Lakers win basketball game number {i}")
                     + news_items(4, 10, "food", "An easy pasta recipe for busy weeknights, number {i}"))
            httpx.post(f"http://127.0.0.1:{port}/v1/news", json={"items": items}, headers=NEWS_KEY)
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 900, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/")
                page.fill("#key", "user-key")
                page.fill("#user", "web-reader")
                page.fill("#interests", "I love cooking pasta")
                page.click("#save")
                page.wait_for_selector("#recs li")
                first = page.screenshot(path=str(tmp_path / "before.png"))
                titles = page.locator("#recs li .title").all_inner_texts()
                assert len(titles) == 8 and "pasta" in titles[0]
                assert "Matches your interest" in page.locator("#recs li .why").first.inner_text()
                clicked = titles[0]
                page.locator("#recs li .title").first.click()
                page.wait_for_function(  # the clicked title leaves the list (it may stay in explanations)
                    f"![...document.querySelectorAll('#recs .title')].some(e => e.innerText === {clicked!r})")
                second = page.screenshot(path=str(tmp_path / "after.png"))
                after = page.locator("#recs li .title").all_inner_texts()
                assert len(after) == 7 and clicked not in after
                assert "Because you read" in page.locator("#recs").inner_text()
                assert non_blank(first) and non_blank(second) and first != second
                page.fill("#key", "wrong-key")
                page.click("#load")
                page.wait_for_function("document.querySelector('#status').innerText.includes('401')")
                browser.close()
        finally:
            proc.kill()
            proc.wait()
