"""Training settings: precedence, the `newsrec train` flags made from them, checks that run at start only."""

from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from newsrec.cli import main
from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.llm.paraphrase import write_paraphrases
from newsrec.models.ranker import Ranker
from newsrec.training.config import ConfigError, TrainConfig, load_config, parse_settings
from newsrec.training.recipe import train

runner = CliRunner()


def train_args(world, out) -> list[str]:
    return ["train", "--news", str(world), "--behaviors", str(world / "train"), "--out", str(out)]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def test_precedence_is_file_then_set_then_flags(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("epochs: 3\nlr: 0.01\nseed: 1\nuser-encoder: mean\n")
    config = load_config(path, pairs=["lr=0.02", "seed=2"], seed=3, negatives=None)
    assert (config.epochs, config.lr, config.seed, config.user_encoder, config.negatives) == (3, 0.02, 3, "mean", 4)


def test_train_command_applies_the_same_precedence(tmp_path, tiny_world, monkeypatch):
    seen = {}

    def fake_training(settings, *args, **kwargs):
        seen["settings"] = settings
        return SimpleNamespace(seconds=0.0, best_epoch=1, best_valid=None)

    monkeypatch.setattr(main, "run_training", fake_training)
    path = tmp_path / "settings.json"
    path.write_text('{"epochs": 3, "lr": 0.01, "seed": 1, "scorer": "dot"}')
    result = runner.invoke(
        main.app,
        [
            *train_args(tiny_world, tmp_path / "m"),
            "--config",
            str(path),
            "--set",
            "lr=0.02",
            "--set",
            "seed=2",
            "--seed",
            "3",
            "--news-fields",
            "title,category",
            "--stem",
            "--no-popularity",
            "--set",
            "tuning=lora",
        ],
    )
    assert result.exit_code == 0, result.output
    settings = seen["settings"]
    assert (settings.epochs, settings.lr, settings.seed, settings.scorer) == (3, 0.02, 3, "dot")
    assert settings.news_fields == ["title", "category"] and settings.stem and not settings.use_popularity
    assert settings.tuning == "lora"


def test_every_setting_has_a_description_and_a_flag():
    for name, field in TrainConfig.model_fields.items():
        assert field.description, f"{name} has no description"
    help_text = runner.invoke(main.app, ["train", "--help"], env={"COLUMNS": "250"}).output
    for name in TrainConfig.model_fields:
        assert flag(name) in help_text, f"{flag(name)} missing from `newsrec train --help`"
    options = {p.name: p for p in typer.main.get_command(main.app).commands["train"].params}
    for name, field in TrainConfig.model_fields.items():
        assert field.description in options[name].help
    for old in ("--popularity", "--no-popularity", "--paraphrase-prob", "--set", "--config", "--restart", "--cache"):
        assert old in help_text


def test_choices_are_checked_and_named_by_their_flag(tmp_path):
    for option, value in (("--scorer", "mlp"), ("--user-encoder", "lstm"), ("--tuning", "prefix")):
        result = runner.invoke(
            main.app,
            [
                "train",
                "--news",
                str(tmp_path),
                "--behaviors",
                str(tmp_path),
                "--out",
                str(tmp_path / "m"),
                option,
                value,
            ],
        )
        assert result.exit_code == 2 and option in result.output and value in result.output


def test_training_only_checks_fail_at_start(tmp_path, tiny_world):
    result = runner.invoke(
        main.app,
        [
            *train_args(tiny_world, tmp_path / "m"),
            "--paraphrase-prob",
            "0.3",
        ],
    )
    assert result.exit_code == 2 and "error:" in result.output
    assert "paraphrase_prob > 0 needs --paraphrases FILE" in result.output
    assert not (tmp_path / "m").exists()
    with pytest.raises(ConfigError, match=r"--paraphrases .* does not exist"):
        load_config(paraphrases=str(tmp_path / "gone.jsonl"))


def test_a_model_loads_after_its_paraphrase_file_is_deleted(tmp_path, tiny_world):
    news, impressions = read_news(tiny_world), read_behaviors(tiny_world / "train")
    paraphrases = write_paraphrases(tmp_path / "para.jsonl", {next(iter(news)): "A reworded title"})
    config = load_config(epochs=1, user_encoder="mean", paraphrases=str(paraphrases), paraphrase_prob=0.0)
    train(config, news, impressions, tmp_path / "model", cache=EmbeddingCache())
    paraphrases.unlink()
    ranker = Ranker.load(tmp_path / "model", news, EmbeddingCache())
    assert len(ranker.recommend([], k=3)) == 3


def test_set_flags_and_invalid_combinations_are_explained():
    assert parse_settings(["tuning=lora", "adv_epsilon=0.1", "stem=true"]) == {
        "tuning": "lora",
        "adv_epsilon": 0.1,
        "stem": True,
    }
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_settings(["tuning"])
    with pytest.raises(ConfigError, match="--tuning: Input should be 'full', 'lora', 'adalora' or 'adapter'"):
        load_config(tuning="prefix")
    with pytest.raises(ConfigError, match="needs token_dropout"):
        load_config(augment_prob=0.5)
    with pytest.raises(ConfigError, match="needs a trainable transformer"):
        load_config(finetune_layers=1, quantize="int8")
    with pytest.raises(ConfigError, match="one per member of auto \\(1\\)"):
        load_config(initial_scale=[20, 4])
    pair = load_config(encoder="multilingual-e5-small+use-multilingual-v3", initial_scale=[20, 4])
    assert pair.initial_scale == [20.0, 4.0]
    with pytest.raises(ConfigError, match="one positive value"):
        load_config(initial_scale=[0])


def test_config_file_then_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\nuser-encoder: mean\nlr: 0.01\n")
    config = load_config(path, lr=0.5, negatives=None)
    assert (config.epochs, config.user_encoder, config.lr, config.negatives) == (3, "mean", 0.5, 4)
    with pytest.raises(ConfigError, match="--user-encoder: Input should be 'mean' or 'nrms'"):
        load_config(user_encoder="lstm")
    with pytest.raises(ConfigError, match="--negatives"):
        load_config(negatives=0)
    path.write_text("epoch: 3\n")
    with pytest.raises(ConfigError, match="--epoch: Extra inputs"):
        load_config(path)


def test_every_shipped_config_file_loads():
    from pathlib import Path

    files = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
    assert {f.name for f in files} >= {"mean-dot.yaml", "best.yaml"}
    for f in files:
        load_config(f)
    best = load_config(files[[f.name for f in files].index("best.yaml")])
    assert best.encoder.split("+")[0] == "multilingual-e5-small" and best.news_fields[:2] == ["title", "category"]
    assert len(best.initial_scale) == len(best.encoder.split("+"))  # one starting scale per tower
