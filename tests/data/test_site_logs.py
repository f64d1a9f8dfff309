"""A site's own logs (CSV or JSON Lines, the documented schema) in MIND's format: histories are
each user's earlier clicks, the latest impressions the dev split, bad files named precisely."""

import csv
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from newsrec.cli.main import app
from newsrec.data.behaviors import read_all_behaviors
from newsrec.data.imported import DatasetFormatError
from newsrec.data.mind import read_news
from newsrec.data.site_logs import import_site_logs

START = datetime(2024, 5, 18, 7, 0, tzinfo=timezone.utc)
TOPICS = ["sport", "politics", "tech", "food"]


def site_rows(users: int = 12, impressions: int = 120):
    news = [
        {"news_id": f"s{i}", "title": f"{TOPICS[i % 4]} story {i}", "category": TOPICS[i % 4],
         "published_at": (START - timedelta(hours=i)).isoformat()}
        for i in range(40)
    ]  # fmt: skip
    rows = []
    for n in range(impressions):
        user = n % users
        shown = [f"s{(n + k) % 10 * 4 + (user + k) % 4}" for k in range(4)]
        rows.append(
            {"impression_id": f"i{n}", "user_id": f"u{user}", "time": (START + timedelta(minutes=n)).isoformat(),
             "shown": " ".join(shown), "clicked": shown[0]}
        )  # fmt: skip
    return news, rows


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize("write, suffix", [(write_csv, "csv"), (write_jsonl, "jsonl")])
def test_site_logs_become_mind_files_with_earlier_clicks_as_history(tmp_path, write, suffix):
    news, rows = site_rows()
    write(tmp_path / f"news.{suffix}", news)
    write(tmp_path / f"impressions.{suffix}", rows)
    imported = import_site_logs(tmp_path, tmp_path / "mind")
    assert imported.news == 40 and imported.impressions == {"train": 108, "dev": 12}
    assert read_news(tmp_path / "mind")["s5"].category == "politics"
    train = read_all_behaviors([tmp_path / "mind" / "train"])
    assert train[0].history == [] and train[0].labels == [1, 0, 0, 0]
    user0 = [imp for imp in train if imp.user_id == "u0"]
    assert user0[1].history == [rows[0]["clicked"]]  # the click of the user's first impression
    assert user0[2].history == [rows[0]["clicked"], rows[12]["clicked"]]
    assert train[0].time == "05/18/2024 07:00:00 AM"
    dev = read_all_behaviors([tmp_path / "mind" / "dev"])
    assert [imp.impression_id for imp in dev] == [f"i{n}" for n in range(108, 120)]  # the latest tenth


def test_publication_times_come_back_from_the_imported_folder(tmp_path):
    news, rows = site_rows(impressions=4)
    news[1]["published_at"] = "2024-05-18T09:00:00+02:00"
    news[2].pop("published_at")
    write_jsonl(tmp_path / "news.jsonl", news)
    write_jsonl(tmp_path / "impressions.jsonl", rows)
    import_site_logs(tmp_path, tmp_path / "mind")
    read = read_news(tmp_path / "mind")  # news.tsv with published.tsv beside it
    assert read["s0"].published_at == START
    assert read["s1"].published_at == datetime(2024, 5, 18, 7, 0, tzinfo=timezone.utc)  # the same moment
    assert read["s2"].published_at is None
    assert read["s39"].published_at == START - timedelta(hours=39)


def test_a_time_in_another_zone_is_written_in_utc(tmp_path):
    news, rows = site_rows(impressions=2)
    rows[0]["time"], rows[1]["time"] = "2024-05-18T09:00:00+02:00", "2024-05-18T07:30:00"
    write_csv(tmp_path / "news.csv", news)
    write_csv(tmp_path / "impressions.csv", rows)
    import_site_logs(tmp_path, tmp_path / "mind", dev_share=0)
    assert [imp.time for imp in read_all_behaviors([tmp_path / "mind" / "train"])] == [
        "05/18/2024 07:00:00 AM",
        "05/18/2024 07:30:00 AM",
    ]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda news, rows: rows.reverse(), "is before the row above: sort the impressions by time"),
        (lambda news, rows: rows[3].update(time="yesterday"), "impressions.csv:5: time 'yesterday' is not ISO 8601"),
        (lambda news, rows: [r.pop("clicked") for r in rows], "the header lacks the column(s) clicked"),
        (lambda news, rows: news[2].update(title=" "), "news.csv:4: news_id and title must not be empty"),
    ],
)
def test_a_bad_file_is_named_with_its_line(tmp_path, damage, message):
    news, rows = site_rows()
    damage(news, rows)
    write_csv(tmp_path / "news.csv", news)
    write_csv(tmp_path / "impressions.csv", rows)
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        import_site_logs(tmp_path, tmp_path / "mind")


def test_a_folder_without_the_files_says_which(tmp_path):
    with pytest.raises(DatasetFormatError, match=re.escape("has no news.csv or news.jsonl")):
        import_site_logs(tmp_path, tmp_path / "mind")


def test_newsrec_trains_on_imported_site_logs(tmp_path):
    news, rows = site_rows(users=20, impressions=300)
    write_jsonl(tmp_path / "news.jsonl", news)
    write_jsonl(tmp_path / "impressions.jsonl", rows)
    runner = CliRunner()
    out = tmp_path / "mind"
    imported = runner.invoke(app, ["data", "import", "site", str(tmp_path), "--out", str(out)])
    assert imported.exit_code == 0, imported.output
    assert "train 270, dev 30" in imported.output and "--encoder" not in imported.output
    args = ["train", "--news", str(out), "--behaviors", str(out / "train"), "--valid", str(out / "dev")]
    trained = runner.invoke(app, [*args, "--out", str(tmp_path / "model"), "--epochs", "1"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "model" / "model.pt").is_file()
