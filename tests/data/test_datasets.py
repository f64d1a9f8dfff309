"""`--dataset KIND:PATH`: a source imported once into the cache and read by train, evaluate and
predict; a changed source imported again; unknown kinds and missing splits named."""

import json
import re

import pytest
from typer.testing import CliRunner

from newsrec.cli.main import app
from newsrec.data import datasets
from newsrec.data.datasets import open_dataset
from newsrec.data.imported import DatasetFormatError
from newsrec.data.mind import read_news
from tests.data.test_site_logs import site_rows, write_jsonl


@pytest.fixture
def site(tmp_path):
    news, rows = site_rows()
    source = tmp_path / "site"
    source.mkdir()
    write_jsonl(source / "news.jsonl", news)
    write_jsonl(source / "impressions.jsonl", rows)
    return source


def test_a_source_is_imported_once_and_again_when_it_changes(site, tmp_path, monkeypatch):
    calls = []
    importer = datasets.IMPORTERS["site"]
    monkeypatch.setitem(datasets.IMPORTERS, "site", lambda source, out: calls.append(source) or importer(source, out))
    first = open_dataset(f"site:{site}", tmp_path / "cache")
    assert open_dataset(f"site:{site}", tmp_path / "cache") == first and len(calls) == 1
    assert read_news(first.news)["s3"].published_at is not None  # the site's publication times come along
    assert first.labelled_split() == first.root / "dev" / "behaviors.tsv"
    assert first.unlabelled_split() == first.root / "dev" / "behaviors.tsv"  # no test split: dev is ranked
    with (site / "impressions.jsonl").open("a") as f:
        late = {"impression_id": "late", "user_id": "u1", "time": "2024-05-19T07:00:00+00:00"}
        f.write(json.dumps({**late, "shown": "s1", "clicked": "s1"}) + "\n")
    again = open_dataset(f"site:{site}", tmp_path / "cache")
    assert again != first and len(calls) == 2


def test_a_mind_folder_is_read_in_place_and_faults_are_named(site, tmp_path):
    assert open_dataset(str(site)).root == site and open_dataset(f"mind:{site}").root == site
    with pytest.raises(DatasetFormatError, match=r"unknown dataset kind 'nerd'.*mind, ebnerd, adressa, site"):
        open_dataset(f"nerd:{site}")
    with pytest.raises(DatasetFormatError, match="does not exist"):
        open_dataset(f"site:{tmp_path / 'nowhere'}")
    with pytest.raises(DatasetFormatError, match=re.escape("has no test/behaviors.tsv (its splits: none)")):
        open_dataset(str(site)).split("test")


def test_train_evaluate_and_predict_take_the_source_directly(site, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSREC_CACHE_DIR", str(tmp_path / "cache"))
    runner, model, given = CliRunner(), tmp_path / "model", f"site:{site}"
    cache = ["--cache", str(tmp_path / "vectors.sqlite")]
    trained = runner.invoke(app, ["train", "--dataset", given, "--out", str(model), "--epochs", "1", *cache])
    assert trained.exit_code == 0, trained.output
    assert "validation" in trained.output  # dev/ was taken for early stopping
    evaluated = runner.invoke(app, ["evaluate", "--model", str(model), "--dataset", given, "--json", *cache])
    assert evaluated.exit_code == 0, evaluated.output
    assert '"freshness"' in evaluated.output
    out = tmp_path / "prediction.txt"
    predicted = runner.invoke(app, ["predict", "--model", str(model), "--dataset", given, "--out", str(out), *cache])
    assert predicted.exit_code == 0, predicted.output
    assert len(out.read_text().splitlines()) == 12  # the dev split's impressions
    neither = runner.invoke(app, ["evaluate", "--model", str(model)])
    assert neither.exit_code != 0 and "or --dataset KIND:PATH" in neither.output
