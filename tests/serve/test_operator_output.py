"""What a person running `newsrec serve` reads on the terminal: where the page is, and one line
per request on stderr that names the route's template, never a user id, token or query string."""

import pytest

from newsrec.serve.run import address_line
from tests.serve.conftest import make_client


@pytest.mark.parametrize(
    ("host", "page", "everywhere"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123/", False),
        ("localhost", "http://localhost:8123/", False),
        ("::1", "http://[::1]:8123/", False),
        ("0.0.0.0", "http://127.0.0.1:8123/", True),
        ("", "http://127.0.0.1:8123/", True),
        ("::", "http://[::1]:8123/", True),
    ],
)
def test_the_address_line_links_the_page_and_docs_where_a_browser_on_this_machine_reaches_them(host, page, everywhere):
    line = address_line(host, 8123)
    assert f"{page} (page), API docs at {page}docs" in line
    assert ("listening on all addresses" in line) == everywhere and line.startswith("newsrec: ")


def test_the_docs_the_line_names_need_no_key(model_dir, tmp_path):
    with make_client(model_dir, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path) as client:
        assert client.get("/").status_code == 200
        r = client.get("/docs")
        assert r.status_code == 200 and "swagger" in r.text.lower()


def test_each_request_is_a_line_on_stderr_unless_the_access_log_is_off(model_dir, tmp_path, capsys, monkeypatch):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with make_client(model_dir, db, tmp_path) as client:
        client.get("/health?probe=1")
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if line.endswith("ms") and " GET /health 200 " in line]) == 1
    assert "probe" not in err
    monkeypatch.setenv("NEWSREC_ACCESS_LOG", "false")
    with make_client(model_dir, db, tmp_path) as client:
        client.get("/health")
    assert " GET /health " not in capsys.readouterr().err
    assert (tmp_path / "service.log").read_text().count("GET /health 200") == 2  # the file has both
