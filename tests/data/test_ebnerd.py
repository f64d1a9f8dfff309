"""EB-NeRD's parquet files in MIND's format: written in the published schema here (the dataset
itself is licensed and never in the project), read back by the MIND readers, trained on.

The official ebnerd-benchmark repository (MIT) holds a test fixture: test/data/ebnerd/
behaviors.parquet and history.parquet (1,046 real impressions, 44 users) and articles.parquet,
whose contents a snapshot lacks (a large file kept outside git). `test_the_official_fixture_imports`
reads the first two from a snapshot of that repository where one is on this machine
(EBNERD_FIXTURE, default its mirror folder) and writes articles for the ids they name; the rows
themselves are EB-NeRD's data, under its terms, so they are read there and never copied here."""

import os
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from newsrec.cli.main import app
from newsrec.data.behaviors import read_all_behaviors
from newsrec.data.ebnerd import import_ebnerd
from newsrec.data.imported import DatasetFormatError
from newsrec.data.mind import read_news
from newsrec.evaluation.prediction import read_predictions

START = datetime(2023, 5, 18, 7, 0)
TOPICS = ["sport", "politik", "krimi", "underholdning"]


def write_articles(folder: Path, ids: list[int]) -> None:
    pq.write_table(
        pa.table(
            {
                "article_id": pa.array(ids, pa.int32()),
                "title": [f"{TOPICS[i % 4].capitalize()}: nyhed nummer {i}" for i in ids],
                "subtitle": [f"Underrubrik {i}" for i in ids],
                "body": [f"Brødtekst {i}" for i in ids],
                "category_str": [TOPICS[i % 4] for i in ids],
                "subcategory": pa.array([[100 + i % 4] for i in ids], pa.list_(pa.int16())),
                "published_time": pa.array([START - timedelta(hours=i % 48) for i in ids], pa.timestamp("us")),
                "url": [f"https://ekstrabladet.dk/{i}" for i in ids],
            }
        ),
        folder / "articles.parquet",
    )


def write_split(folder: Path, users: int, impressions: int, labelled: bool = True, first_id: int = 0) -> None:
    """Users who prefer one topic each: history of their topic, clicks on it among 5 articles in view."""
    folder.mkdir(parents=True)
    history = {
        "user_id": pa.array(range(users), pa.uint32()),
        "impression_time_fixed": [[START - timedelta(days=3, minutes=m) for m in range(6)] for _ in range(users)],
        "article_id_fixed": pa.array([[4 * k + u % 4 for k in range(6)] for u in range(users)], pa.list_(pa.int32())),
    }
    pq.write_table(pa.table(history), folder / "history.parquet")
    rows: dict[str, list] = {"impression_id": [], "user_id": [], "impression_time": [], "article_ids_inview": []}
    clicked = []
    for n in range(impressions):
        user = n % users
        inview = [40 + 4 * ((n + k) % 10) + (user + k) % 4 for k in range(5)]  # one of each topic, and one more
        rows["impression_id"].append(first_id + n)
        rows["user_id"].append(user)
        rows["impression_time"].append(START + timedelta(minutes=n))
        rows["article_ids_inview"].append(inview)
        clicked.append([inview[0]])  # the first is of the user's own topic
    table = {
        "impression_id": pa.array(rows["impression_id"], pa.uint32()),
        "user_id": pa.array(rows["user_id"], pa.uint32()),
        "impression_time": pa.array(rows["impression_time"], pa.timestamp("us")),
        "article_ids_inview": pa.array(rows["article_ids_inview"], pa.large_list(pa.int32())),
    }
    if labelled:
        table["article_ids_clicked"] = pa.array(clicked, pa.large_list(pa.int32()))
    pq.write_table(pa.table(table), folder / "behaviors.parquet")


@pytest.fixture
def ebnerd(tmp_path) -> Path:
    root = tmp_path / "ebnerd_demo"
    root.mkdir()
    write_articles(root, list(range(80)))
    write_split(root / "train", users=30, impressions=240)
    write_split(root / "validation", users=30, impressions=90, first_id=1000)
    write_split(root / "test", users=30, impressions=30, labelled=False, first_id=2000)
    return root


def test_an_ebnerd_folder_becomes_mind_files_the_readers_take(ebnerd, tmp_path):
    out = tmp_path / "mind"
    imported = import_ebnerd(ebnerd, out)
    assert imported.news == 80 and imported.impressions == {"train": 240, "dev": 90, "test": 30}
    news = read_news(out)
    assert news["5"].title == "Politik: nyhed nummer 5" and news["5"].category == "politik"
    assert news["5"].abstract == "Underrubrik 5" and news["5"].subcategory == "101"
    train = read_all_behaviors([out / "train"])
    first = train[0]
    assert first.user_id == "0" and first.history == ["0", "4", "8", "12", "16", "20"]  # the user's history row
    assert first.candidates == ["40", "45", "50", "55", "56"] and first.labels == [1, 0, 0, 0, 0]
    assert first.time == "05/18/2023 07:00:00 AM"
    test = read_all_behaviors([out / "test"])
    assert test[0].labels is None  # the test split has no clicks


def test_publication_times_come_through_for_the_freshness_feature(ebnerd, tmp_path):
    import_ebnerd(ebnerd, tmp_path / "mind")
    news = read_news(tmp_path / "mind")
    assert (tmp_path / "mind" / "published.tsv").is_file()
    assert news["5"].published_at == START - timedelta(hours=5)  # articles.parquet's published_time
    assert all(news[str(i)].published_at == START - timedelta(hours=i % 48) for i in range(80))


def test_a_history_keeps_its_newest_articles(ebnerd, tmp_path):
    import_ebnerd(ebnerd, tmp_path / "mind", history_limit=2)
    assert read_all_behaviors([tmp_path / "mind" / "dev"])[0].history == ["16", "20"]


def test_newsrec_trains_on_an_imported_ebnerd_folder(ebnerd, tmp_path):
    out, model = tmp_path / "mind", tmp_path / "model"
    runner = CliRunner()
    imported = runner.invoke(app, ["data", "import", "ebnerd", str(ebnerd), "--out", str(out)])
    assert imported.exit_code == 0, imported.output
    assert "next: newsrec train" in imported.output and "--encoder" not in imported.output  # auto reads Danish
    args = ["train", "--news", str(out), "--behaviors", str(out / "train"), "--valid", str(out / "dev")]
    trained = runner.invoke(app, [*args, "--out", str(model), "--epochs", "2", "--cache", str(tmp_path / "c.sqlite")])
    assert trained.exit_code == 0, trained.output
    assert (model / "model.pt").is_file() and "best epoch" in trained.output
    predicted = runner.invoke(
        app, ["predict", "--model", str(model), "--news", str(out), "--behaviors", str(out / "test"),
              "--out", str(tmp_path / "predictions.zip"), "--cache", str(tmp_path / "c.sqlite")],
    )  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    with zipfile.ZipFile(tmp_path / "predictions.zip") as archive:  # Codabench's submission: one member
        assert archive.namelist() == ["predictions.txt"]
    ranked = read_predictions(tmp_path / "predictions.zip")
    assert list(ranked) == [str(2000 + n) for n in range(30)]  # EB-NeRD's own impression ids, in order
    assert all(sorted(r) == list(range(1, 6)) for r in ranked.values())


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda root: (root / "train" / "history.parquet").unlink(), "history.parquet is missing"),
        (lambda root: (root / "articles.parquet").unlink(), "articles.parquet is missing"),
        (lambda root: (root / "train" / "behaviors.parquet").write_bytes(b"not parquet"), "not a readable parquet"),
        (
            lambda root: pq.write_table(pa.table({"user_id": [1]}), root / "validation" / "history.parquet"),
            "lacks the column(s) article_id_fixed",
        ),
    ],
)
def test_a_missing_file_or_column_is_named(ebnerd, tmp_path, damage, message):
    damage(ebnerd)
    with pytest.raises(DatasetFormatError, match=re.escape(message)):
        import_ebnerd(ebnerd, tmp_path / "mind")


def test_a_folder_without_ebnerd_files_says_what_it_expected(tmp_path):
    with pytest.raises(DatasetFormatError, match="holds no EB-NeRD split"):
        import_ebnerd(tmp_path, tmp_path / "mind")


OFFICIAL = Path(os.environ.get("EBNERD_FIXTURE", "/work/.mirror/ebanalyse+ebnerd-benchmark/repo"))


def test_the_official_fixture_imports(tmp_path):
    """The benchmark repository's own behaviors and history (real rows, in its exact schema),
    with articles written here for the ids they name (the snapshot lacks its articles file)."""
    if not (OFFICIAL / "HEAD").exists() and not (OFFICIAL / ".git").exists():
        pytest.skip(f"no snapshot of ebnerd-benchmark at {OFFICIAL} (set EBNERD_FIXTURE)")
    import subprocess

    split = tmp_path / "official" / "train"
    split.mkdir(parents=True)
    for name in ("behaviors", "history"):
        blob = subprocess.run(
            ["git", f"--git-dir={OFFICIAL}", "show", f"HEAD:test/data/ebnerd/{name}.parquet"],
            capture_output=True,
            check=True,
        ).stdout
        (split / f"{name}.parquet").write_bytes(blob)
    behaviors = pq.read_table(split / "behaviors.parquet")
    history = pq.read_table(split / "history.parquet")
    ids = {a for row in behaviors.column("article_ids_inview").to_pylist() for a in row}
    ids |= {a for row in history.column("article_id_fixed").to_pylist() for a in row}
    write_articles(tmp_path / "official", sorted(ids))
    imported = import_ebnerd(tmp_path / "official", tmp_path / "mind")
    assert imported.impressions["train"] == behaviors.num_rows and imported.unknown_news == 0
    rows = read_all_behaviors([tmp_path / "mind" / "train"])
    assert all(sum(r.labels) >= 1 for r in rows)  # every impression keeps its click
