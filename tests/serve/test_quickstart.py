"""The README's service quick start, line by line as a new user pastes it, in an empty folder:
it must end at a page that lists recommendations for the signed-in reader."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_until
from tests.serve.conftest import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_lines() -> list[str]:
    """The commands of the README's block marked `<!-- quickstart -->`, without their comments."""
    block = re.search(r"<!-- quickstart -->\n```bash\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its quick start block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_quickstart_is_the_three_commands_this_test_runs():
    lines = quickstart_lines()
    assert [line.split()[:2] for line in lines] == [["newsrec", "demo"], ["newsrec", "serve"], ["newsrec", "token"]]
    assert lines[1].endswith("&")  # the service runs on while the next line mints a link


@pytest.mark.slow
def test_the_readme_quickstart_reaches_a_page_with_recommendations(tmp_path):
    demo, serve, token = quickstart_lines()
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    # the README's lines, with one epoch (a test's time) and a free port instead of 8000
    subprocess.run(f"{demo} --epochs 1", shell=True, cwd=tmp_path, env=env, check=True, capture_output=True)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        f"exec {serve.removesuffix('&').strip()} --port {port}",
        shell=True,
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(f"{url}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 300, "the quick start's service to be ready", every=0.5)
        minted = subprocess.run(
            f"{token} --url {url}", shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        )
        link = minted.stdout.strip()
        assert link.startswith(f"{url}/#token="), minted.stdout
        page = httpx.get(link.split("#")[0])
        assert page.status_code == 200 and "What I like" in page.text
        headers = {"Authorization": f"Bearer {link.split('#token=')[1]}"}
        listed = httpx.get(f"{url}/v1/users/alice/recommendations?k=10", headers=headers).json()
        assert len(listed["items"]) == 10 and all(item["title"] and item["explanation"] for item in listed["items"])
        said = lambda: (tmp_path / "serve.log").read_text()  # noqa: E731
        assert f"serving on {url}/" in said()  # the address was printed
        wait_until(lambda: "GET /v1/users/{user_id}/recommendations 200" in said(), 10, "the request's log line")
        assert "alice" not in said()  # logged without the user id
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
