"""Stored news vectors are shared only between models that read news the same way."""

import numpy as np

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import News, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service.catalogue import Catalogue
from newsrec.service.index import SharedIndex
from newsrec.service.news_snapshot import Snapshots
from newsrec.store import repository as repo
from newsrec.store.db import make_engine, make_sessions, migrate
from newsrec.training.config import load_config
from newsrec.training.recipe import train

ITEM = News("X1", "Lakers win the opener", "sports", "", "Rain is expected in Paris for most of the week")


def test_a_model_reading_other_fields_encodes_stored_news_again(model_dir, tiny_world, tmp_path):
    news = read_news(tiny_world)
    config = load_config(epochs=1, user_encoder="mean", news_fields=["title"])
    train(config, news, read_behaviors(tiny_world / "train")[:20], tmp_path / "titles", cache=EmbeddingCache())
    both, titles = Ranker.load(model_dir, news, EmbeddingCache()), Ranker.load(tmp_path / "titles", news)
    assert both.encoder.model_id == titles.encoder.model_id  # the same encoder ...
    assert both.vector_id != titles.vector_id  # ... reading other text

    loaded = titles.table

    def served(vector: np.ndarray, vector_id: str, posted_after_start: bool) -> np.ndarray:
        """The vector a catalogue of the title model serves for ITEM, stored with `vector` under
        `vector_id`: read at start (the snapshot) or from the feed while serving."""
        url = f"sqlite:///{tmp_path / f'{vector_id[-6:]}-{posted_after_start}.sqlite'}"
        migrate(url)
        sessions = make_sessions(make_engine(url))
        catalogue = Catalogue(titles, SharedIndex, Snapshots(tmp_path / "snapshots", url))
        for start in (True, False):
            if start != posted_after_start:
                with sessions.begin() as session:
                    record = News(ITEM.news_id, ITEM.title, ITEM.category, "", ITEM.abstract)
                    repo.upsert_news(session, [record], vector[None], vector_id)
            with sessions() as session:
                catalogue.catch_up(session, now=0.0)
        assert titles.table is loaded  # the catalogue serves its own table: the loaded model never changes
        return catalogue.table.vectors[catalogue.table.rows([ITEM.news_id])].numpy()[0]

    own = titles.encode_news([ITEM])[0]
    for posted_after_start in (False, True):
        # posted by the title+abstract model: encoded again as this model reads it
        assert np.allclose(served(both.encode_news([ITEM])[0], both.vector_id, posted_after_start), own, atol=1e-5)
        # posted under this model's own vector_id: taken as stored, never encoded (a marked vector shows it)
        assert np.array_equal(served(-own, titles.vector_id, posted_after_start), -own)
