"""Adressa's daily event files in MIND's format: the fixture (fixtures/adressa/one_week, invented
Norwegian news in Adressa's event schema: 12 users, 3 days, front-page views and a re-read) is
imported by the clicks-only protocol, read back by the MIND readers and trained on."""

import json
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsrec.cli.main import app
from newsrec.data.adressa import import_adressa
from newsrec.data.behaviors import Behaviors
from newsrec.data.imported import DatasetFormatError
from newsrec.data.mind import parse_time, read_news

FIXTURE = Path(__file__).parent / "fixtures" / "adressa" / "one_week"


def events(day: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / day).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("adressa") / "mind"
    return import_adressa(FIXTURE, out), out


def test_the_fixture_becomes_mind_files_the_readers_take(imported):
    result, out = imported
    article_views = [e for day in ("20170101", "20170102", "20170103") for e in events(day) if "id" in e]
    assert result.news == len({e["id"] for e in article_views}) == 32
    assert result.skipped == {"views of no article (front page, sections)": 36, "re-reads": 2}
    assert result.impressions == {"train": 90, "dev": 44}  # the last day's file is dev/
    news = read_news(out)
    view = next(e for e in article_views if e["category1"] == "sport|fotball")
    item = news[view["id"]]
    assert (item.title, item.category, item.subcategory) == (view["title"], "sport", "fotball")
    assert item.url == view["canonicalUrl"] and item.abstract == ""
    train, dev = Behaviors.read(out / "train"), Behaviors.read(out / "dev")
    assert len(train) == 90 and len(dev) == 44
    assert all(len(imp.candidates) == 5 and sum(imp.labels or []) == 1 for imp in [*train, *dev])
    assert {imp.impression_id for imp in train} <= {str(e["eventId"]) for e in article_views}
    assert {imp.time[:10] for imp in dev} == {"01/03/2017"}


def test_publication_times_come_through(imported):
    _, out = imported
    news = read_news(out)
    for view in events("20170101"):
        if "id" in view:
            published = news[view["id"]].published_at
            if "publishtime" in view:
                assert published == datetime.fromisoformat(view["publishtime"].replace("Z", "+00:00"))
            else:
                assert published is None  # the fixture leaves two articles without one, as Adressa does
    assert sum(n.published_at is not None for n in news.values()) == 30


def test_each_click_is_shown_with_unread_articles_published_before_it(imported):
    _, out = imported
    news = read_news(out)
    first_view: dict[str, float] = {}
    for day in ("20170101", "20170102", "20170103"):
        for e in events(day):
            if "id" in e:
                first_view[e["id"]] = min(first_view.get(e["id"], e["time"]), e["time"])
    read: dict[str, list[str]] = {}
    for imp in [*Behaviors.read(out / "train"), *Behaviors.read(out / "dev")]:
        (clicked,) = imp.clicked
        before = read.setdefault(imp.user_id, [])
        assert imp.history == before[-50:]  # the user's earlier clicks
        moment = parse_time(imp.time)
        for other in set(imp.candidates) - {clicked}:
            assert other not in before
            published = news[other].published_at
            assert (published.timestamp() if published else first_view[other]) <= moment
        before.append(clicked)


def test_a_history_keeps_its_newest_clicks_and_the_draw_follows_the_seed(imported, tmp_path):
    _, out = imported
    short = import_adressa(FIXTURE, tmp_path / "short", history_limit=2)
    assert max(len(imp.history) for imp in Behaviors.read(tmp_path / "short" / "dev")) == 2
    assert short.impressions == {"train": 90, "dev": 44}
    import_adressa(FIXTURE, tmp_path / "again")
    assert (tmp_path / "again" / "train" / "behaviors.tsv").read_text() == (out / "train" / "behaviors.tsv").read_text()
    import_adressa(FIXTURE, tmp_path / "other", seed=7)
    assert (tmp_path / "other" / "train" / "behaviors.tsv").read_text() != (out / "train" / "behaviors.tsv").read_text()


def break_line(folder: Path, day: str, number: int, change) -> None:
    lines = (folder / day).read_text(encoding="utf-8").splitlines()
    lines[number - 1] = change(lines[number - 1])
    (folder / day).write_text("\n".join(lines) + "\n", encoding="utf-8")


def without(field: str):
    return lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != field})


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: shutil.rmtree(f), "does not exist: give Adressa's folder"),
        (lambda f: [p.rename(f / f"{p.name}.txt.bak") for p in f.iterdir()], "holds no Adressa event files"),
        (lambda f: break_line(f, "20170102", 3, lambda line: line[:40]), "20170102:3: not a JSON object"),
        (lambda f: break_line(f, "20170103", 5, without("userId")), "20170103:5: lacks userId"),
        (
            lambda f: break_line(f, "20170101", 2, lambda line: line.replace('"time": ', '"time": "noon", "x": ')),
            "20170101:2: time 'noon' is not unix seconds",
        ),
    ],
)
def test_a_bad_folder_or_line_is_named(tmp_path, damage, message):
    folder = tmp_path / "one_week"
    shutil.copytree(FIXTURE, folder)
    damage(folder)
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        import_adressa(folder, tmp_path / "mind")


def test_newsrec_trains_on_an_imported_adressa_folder(tmp_path):
    out = tmp_path / "mind"
    runner = CliRunner()
    imported = runner.invoke(app, ["data", "import", "adressa", str(FIXTURE), "--out", str(out)])
    assert imported.exit_code == 0, imported.output
    assert "train 90, dev 44" in imported.output and "skipped 2 re-reads" in imported.output
    assert "next: newsrec train" in imported.output and "--encoder" not in imported.output  # auto reads Norwegian
    args = ["train", "--news", str(out), "--behaviors", str(out / "train"), "--valid", str(out / "dev")]
    trained = runner.invoke(app, [*args, "--out", str(tmp_path / "model"), "--epochs", "1"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "model" / "model.pt").is_file()


def test_times_are_written_in_utc(imported):
    _, out = imported
    first = Behaviors.read(out / "train")[0]
    view = next(e for e in events("20170101") if str(e["eventId"]) == first.impression_id)
    assert parse_time(first.time) == view["time"]
    assert first.time == datetime.fromtimestamp(view["time"], timezone.utc).strftime("%m/%d/%Y %I:%M:%S %p")
