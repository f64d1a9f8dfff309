"""`--encoder auto` (the default) reads the news's language: MiniLM for English, the
multilingual e5 for others, or MiniLM with a warning naming what to install."""

import json
import logging

import pytest

from newsrec.data.language import catalogue_language
from newsrec.encoders import choice
from newsrec.encoders.choice import ENGLISH_ENCODER, MULTILINGUAL_ENCODER, encoder_for
from tests.conftest import MIND_SAMPLE

DANISH = [
    "Dansk fodboldspiller skifter til Tyskland",
    "Regeringen vil hæve skatten på benzin",
    "Se billederne: Kæmpe brand i København",
    "Politiet efterlyser mand efter røveri i Aarhus",
]
ENGLISH = ["Lakers win the opener in Denver", "Fed cuts rates for the third time", "A recipe for busy weeknights"]
CHINESE = ["湖人队在丹佛赢得揭幕战", "美联储第三次降息", "忙碌工作日的简单食谱"]


def test_a_catalogue_is_english_chinese_or_other():
    assert catalogue_language(ENGLISH) == "en" and catalogue_language(CHINESE) == "zh"
    assert catalogue_language(DANISH) == "other"
    assert catalogue_language(ENGLISH[:1] + DANISH) == "other"  # one English title in five is not English news


@pytest.mark.skipif(not (MIND_SAMPLE / "news.tsv").exists(), reason="needs the MIND sample")
def test_the_mind_sample_and_its_chinese_twin_are_told_apart():
    from newsrec.data.mind import read_news

    english = [n.title for n in read_news(MIND_SAMPLE / "news.tsv").values()]
    chinese = [n.title for n in read_news(MIND_SAMPLE.parent / "xmind-zh-sample" / "news.tsv").values()]
    assert encoder_for(english) == ENGLISH_ENCODER and catalogue_language(chinese) == "zh"


def test_other_languages_get_the_multilingual_encoder_or_a_warning_naming_it(monkeypatch, caplog):
    monkeypatch.setattr(choice, "find_spec", lambda name: object())  # installed
    assert encoder_for(DANISH) == MULTILINGUAL_ENCODER and encoder_for(CHINESE) == MULTILINGUAL_ENCODER
    monkeypatch.setattr(choice, "find_spec", lambda name: None)  # not installed
    with caplog.at_level(logging.WARNING):
        assert encoder_for(DANISH) == ENGLISH_ENCODER
    assert "multilingual-e5-small is not installed (scripts/install-encoders)" in caplog.text


def test_training_records_the_encoder_it_chose(tiny_world, tmp_path, monkeypatch):
    from newsrec.data.behaviors import read_behaviors
    from newsrec.data.mind import read_news
    from newsrec.encoders.cache import EmbeddingCache
    from newsrec.training.config import load_config
    from newsrec.training.recipe import train

    chosen = []
    real = choice.encoder_for
    monkeypatch.setattr("newsrec.training.recipe.encoder_for", lambda titles: chosen.append(titles) or real(titles))
    news = read_news(tiny_world)
    train(load_config(epochs=1), news, read_behaviors(tiny_world / "train"), tmp_path, cache=EmbeddingCache())
    assert chosen and len(chosen[0]) == len(news)  # asked once, with every title
    assert json.loads((tmp_path / "model.json").read_text())["encoder"] == ENGLISH_ENCODER
    assert json.loads((tmp_path / "config.json").read_text())["encoder"] == ENGLISH_ENCODER
