"""Each command end to end on a tiny synthetic world, through the real CLI."""

import json
from types import SimpleNamespace

import typer
from typer.testing import CliRunner

from newsrec.cli import main
from newsrec.cli.main import app
from newsrec.evaluation.prediction import read_predictions

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def test_synth_train_evaluate_predict(tmp_path):
    world = tmp_path / "world"
    assert invoke("synth", "--out", world, "--n-news", 150, "--n-users", 40).exit_code == 0
    model = tmp_path / "model"
    trained = invoke(
        "train",
        "--news",
        world / "news.tsv",
        "--behaviors",
        world / "train/behaviors.tsv",
        "--valid",
        world / "dev",
        "--out",
        model,
        "--epochs",
        2,
        "--user-encoder",
        "mean",
    )
    assert trained.exit_code == 0, trained.output
    assert "best epoch" in trained.output and (model / "model.pt").is_file()

    evaluated = invoke("evaluate", "--model", model, "--news", world, "--behaviors", world / "dev", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    results = json.loads(evaluated.stdout)
    assert list(results) == ["newsrec (trained)", "random", "popularity", "ctr", "freshness", "plm-cosine (zero-shot)"]
    assert all(0 <= r["auc"] <= 1 and r["impressions"] == 40 for r in results.values())

    # unseen news and an unlabeled file: new items are encoded on the fly, missing ones ranked last
    (tmp_path / "test").mkdir()
    news_lines = (world / "news.tsv").read_text() + "X1\ttech\tgadgets\tA brand new phone appears\t\t\t[]\t[]\n"
    (tmp_path / "test" / "news.tsv").write_text(news_lines)
    (tmp_path / "test" / "behaviors.tsv").write_text("900\tSU1\t\tS1 S2\tX1 S5 NOPE S7\n901\t\t\t\tS3 S4\n")
    out = tmp_path / "prediction.txt"
    predicted = invoke(
        "predict", "--model", model, "--news", tmp_path / "test", "--behaviors", tmp_path / "test", "--out", out
    )
    assert predicted.exit_code == 0, predicted.output
    assert "1 candidates are missing" in predicted.output
    ranks = read_predictions(out)
    assert sorted(ranks["900"]) == [1, 2, 3, 4] and ranks["900"][2] == 4 and sorted(ranks["901"]) == [1, 2]


def test_bad_input_is_a_clear_error(tmp_path):
    (tmp_path / "news.tsv").write_text("N1\tsports\tnba\tTitle\t\t\t[]\t[]\n")
    (tmp_path / "behaviors.tsv").write_text("1\tU1\t\tN1\tN1-7\n")
    result = invoke("train", "--news", tmp_path, "--behaviors", tmp_path, "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "behaviors.tsv:1" in result.output and "N123-1" in result.output
    result = invoke("train", "--news", tmp_path, "--behaviors", tmp_path, "--out", tmp_path / "m", "--scorer", "mlp")
    assert result.exit_code == 2 and "--scorer" in result.output
    (tmp_path / "behaviors.tsv").write_text("1\tU1\t\tN1\tN1-1\n")
    result = invoke("evaluate", "--model", tmp_path / "none", "--news", tmp_path, "--behaviors", tmp_path)
    assert result.exit_code == 2 and "newsrec train" in result.output


def test_demo_trains_and_recommends_with_reasons(tmp_path):
    result = invoke("demo", "--out", tmp_path, "--epochs", 1, "--users", 2)
    assert result.exit_code == 0, result.output
    assert "plm-cosine (zero-shot)" in result.output and "newsrec (trained)" in result.output
    assert result.output.count("Because you read") == 10  # top 5 for each of 2 users


def test_every_command_reports_bad_input_as_an_error_line(tmp_path):
    bad, good, empty = tmp_path / "bad", tmp_path / "good", tmp_path / "empty"
    for folder in (bad, good, empty):
        folder.mkdir()
    (bad / "news.tsv").write_text("N1\tonly-two-columns\n")
    (good / "news.tsv").write_text("N1\tsports\tnba\tTitle\t\t\t[]\t[]\n")
    for folder in (bad, good):
        (folder / "behaviors.tsv").write_text("1\tU1\t\tN1\tN1-1\n")
    commands = [
        ("profile", "U1", "--news", bad, "--behaviors", bad),
        ("recommend", "--model", empty, "--news", good, "--interests", "nba"),
        ("recommend", "--model", empty, "--news", bad),
        ("demo", "--out", tmp_path / "demo", "--news", bad / "news.tsv", "--behaviors", bad, "--valid", bad),
        ("demo", "--out", tmp_path / "demo", "--news", good / "news.tsv"),
    ]
    for args in commands:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert "error:" in result.output and "Traceback" not in result.output, result.output


def test_a_bug_is_not_reported_as_bad_input(tmp_path, monkeypatch):
    def broken(path):
        raise RuntimeError("a bug")

    monkeypatch.setattr("newsrec.cli.llm.read_news", broken)
    result = invoke("profile", "U1", "--news", tmp_path, "--behaviors", tmp_path)
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)


def test_use_popularity_has_one_flag_and_its_old_spelling_is_deprecated(tiny_world, tmp_path, monkeypatch):
    seen = []

    def fake_training(settings, *args, **kwargs):
        seen.append(settings)
        return SimpleNamespace(seconds=0.0, best_epoch=1, best_valid=None)

    monkeypatch.setattr(main, "run_training", fake_training)
    options = {p.name: p for p in typer.main.get_command(app).commands["train"].params}
    assert (options["use_popularity"].opts, options["use_popularity"].secondary_opts) == (
        ["--use-popularity"],
        ["--no-use-popularity"],
    )
    train = ["train", "--news", tiny_world, "--behaviors", tiny_world / "train", "--out", tmp_path / "m"]
    canonical = invoke(*train, "--no-use-popularity")
    assert canonical.exit_code == 0 and "deprecated" not in canonical.output and not seen[-1].use_popularity
    old = invoke(*train, "--no-popularity")
    assert old.exit_code == 0 and not seen[-1].use_popularity
    assert "warning: --no-popularity is deprecated and will be removed: use --no-use-popularity" in old.output
    both = invoke(*train, "--popularity", "--no-use-popularity")
    assert both.exit_code == 2 and "--popularity (deprecated) contradicts --no-use-popularity" in both.output


def test_evaluate_reports_the_impressions_it_skipped(model_dir, tiny_world, tmp_path):
    labelled = (tiny_world / "dev" / "behaviors.tsv").read_text()
    first = labelled.splitlines()[0].split("\t")  # id, user, time, history, candidates
    candidates = [c.rsplit("-", 1)[0] for c in first[4].split()]
    all_clicks = "\t".join(["901", *first[1:4], " ".join(f"{c}-1" for c in candidates)])
    no_click = "\t".join(["902", *first[1:4], " ".join(f"{c}-0" for c in candidates)])
    (tmp_path / "behaviors.tsv").write_text(f"{labelled.rstrip()}\n{all_clicks}\n{no_click}\n")
    args = ("evaluate", "--model", model_dir, "--news", tiny_world, "--behaviors", tmp_path)
    as_json = invoke(*args, "--json")
    assert as_json.exit_code == 0, as_json.output
    results = json.loads(as_json.stdout)
    assert all(r["impressions"] == 40 and r["skipped"] == 2 for r in results.values())
    table = invoke(*args)
    assert table.exit_code == 0 and "40 impressions judged, 2 skipped" in table.output
