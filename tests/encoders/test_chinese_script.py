"""`chinese_script`: every encoded text (news and users') in one Chinese script, cached apart."""

import numpy as np
import pytest
from pydantic import ValidationError

from newsrec.data.mind import News
from newsrec.data.popularity import Popularity
from newsrec.encoders.cache import EmbeddingCache, text_key
from newsrec.encoders.news_table import NewsTable
from newsrec.encoders.text import NewsText
from newsrec.models.ranker import Ranker
from newsrec.models.recommender import NewsRecommender, RecommenderConfig
from newsrec.models.spec import ModelSpec
from newsrec.training.config import load_config

TRADITIONAL = News("N1", "湖人隊贏得籃球比賽", abstract="這是一場精彩的比賽。")
SIMPLIFIED = News("N1", "湖人队赢得篮球比赛", abstract="这是一场精彩的比赛。")


class RecordingEncoder:
    """An encoder that remembers every text it was given (vectors: a text's character codes)."""

    name, max_length, dim, model_id = "recording", 32, 4, "recording|1"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.seen += texts
        vectors = np.array([[ord(c) for c in (t * 4)[:4]] for t in texts], np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_news_text_is_written_in_the_chosen_script():
    assert NewsText()(TRADITIONAL) == "湖人隊贏得籃球比賽. 這是一場精彩的比賽。"  # keep: as written
    assert NewsText(script="simplified")(TRADITIONAL) == NewsText()(SIMPLIFIED)
    assert NewsText(script="traditional")(SIMPLIFIED) == NewsText()(TRADITIONAL)
    assert NewsText(script="simplified")(News("N2", "Lakers win")) == "Lakers win"  # English passes unchanged
    assert ModelSpec(chinese_script="simplified").news_text == NewsText(("title", "abstract"), script="simplified")


def test_chinese_stop_words_are_removed_from_segmented_text():
    assert NewsText(("abstract",), remove_stopwords=True)(TRADITIONAL) == "一場精彩比賽。"  # "這是", "的" gone


def test_converted_texts_have_their_own_cache_key(tmp_path):
    cache, encoder = EmbeddingCache(tmp_path / "embeddings.sqlite"), RecordingEncoder()
    kept = NewsTable.encode({"N1": TRADITIONAL}, encoder, NewsText(("title",)), cache)
    simplified = NewsTable.encode({"N1": TRADITIONAL}, encoder, NewsText(("title",), script="simplified"), cache)
    assert encoder.seen == ["湖人隊贏得籃球比賽", "湖人队赢得篮球比赛"]  # the second is a miss: another text
    assert text_key(encoder.seen[0]) != text_key(encoder.seen[1]) and cache.count(encoder.model_id) == 2
    assert not np.allclose(kept.vectors, simplified.vectors)
    NewsTable.encode({"N1": TRADITIONAL}, encoder, NewsText(("title",), script="simplified"), cache)
    assert len(encoder.seen) == 2  # a hit now


def test_user_texts_are_converted_like_the_news():
    encoder = RecordingEncoder()
    model = NewsRecommender(RecommenderConfig(dim=encoder.dim, user_encoder="mean"))
    table = NewsTable(["N1"], np.eye(1, encoder.dim, dtype=np.float32))
    spec = ModelSpec(chinese_script="simplified")
    vectors = Ranker(model, table, Popularity(), spec, encoder).encode_texts(["我喜歡籃球", ""])
    assert encoder.seen == ["我喜欢篮球"] and float(vectors[1].abs().sum()) == 0.0


def test_chinese_script_is_a_checked_setting():
    assert load_config(chinese_script="traditional").chinese_script == "traditional"
    assert load_config().chinese_script == "keep"
    with pytest.raises(ValidationError):
        ModelSpec(chinese_script="pinyin")
