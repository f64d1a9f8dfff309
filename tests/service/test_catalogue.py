"""Stored news vectors are shared only between models that read news the same way."""

from datetime import datetime, timezone

import numpy as np

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import News, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service.catalogue import Catalogue
from newsrec.service.index import FaissIndex
from newsrec.store.models import NewsRow
from newsrec.training.config import load_config
from newsrec.training.recipe import train

ITEM = News("X1", "Lakers win the opener", "sports", "", "Rain is expected in Paris for most of the week")


def stored(vector: np.ndarray, vector_id: str) -> NewsRow:
    when = datetime.now(timezone.utc)
    return NewsRow(
        seq=1, news_id=ITEM.news_id, title=ITEM.title, category=ITEM.category, subcategory="", abstract=ITEM.abstract,
        published_at=when, updated_at=when, vector=vector.tobytes(), encoder_id=vector_id,
    )  # fmt: skip


def test_a_model_reading_other_fields_encodes_stored_news_again(model_dir, tiny_world, tmp_path):
    news = read_news(tiny_world)
    config = load_config(epochs=1, user_encoder="mean", news_fields=["title"])
    train(config, news, read_behaviors(tiny_world / "train")[:20], tmp_path / "titles", cache=EmbeddingCache())
    both, titles = Ranker.load(model_dir, news, EmbeddingCache()), Ranker.load(tmp_path / "titles", news)
    assert both.encoder.model_id == titles.encoder.model_id  # the same encoder ...
    assert both.vector_id != titles.vector_id  # ... reading other text

    def served_after_adding(row: NewsRow) -> np.ndarray:
        catalogue = Catalogue(titles, FaissIndex(titles.table.vectors.shape[1] + 1))
        catalogue.add_news([row], now=0.0)
        return titles.table.vectors[titles.table.rows([ITEM.news_id])].numpy()[0]

    own = titles.encode_news([ITEM])[0]
    # posted by the title+abstract model: encoded again as this model reads it
    assert np.allclose(served_after_adding(stored(both.encode_news([ITEM])[0], both.vector_id)), own, atol=1e-5)
    # posted under this model's own vector_id: taken as stored, without the encoder (a marked vector shows it)
    assert np.array_equal(served_after_adding(stored(-own, titles.vector_id)), -own)
