import numpy as np
import pytest
import torch

from newsrec.data.mind import News
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import PAD, NewsTable
from newsrec.encoders.packaged import resolve_model_path
from newsrec.encoders.plm import PLM, encode_texts
from newsrec.encoders.text import NewsText, news_text
from newsrec.encoders.tuning import TuningSpec
from newsrec.precision import native_bf16

TEXTS = ["Lakers win the opener", "Fed cuts interest rates again", "A very long headline " * 20, "Lakers lose"]


@pytest.fixture(scope="module")
def plm():
    return PLM("all-MiniLM-L6-v2", max_length=32, quantize="none")  # fp32: exact to the hand-made reference


def test_news_text_joins_fields_in_order():
    n = News("N1", "Lakers win", "sports", "nba", "They won.")
    assert news_text(n, ["category", "title", "abstract"]) == "sports. Lakers win. They won"
    assert news_text(News("N2", "Only title"), ["title", "abstract"]) == "Only title"
    with pytest.raises(ValueError, match="unknown news field"):
        news_text(n, ["body"])


def test_preprocessing_is_off_by_default_and_does_what_it_says():
    n = News("N1", "The Lakers are winning the games", abstract="They won.")
    assert NewsText()(n) == "The Lakers are winning the games. They won"
    assert NewsText(("title",), remove_stopwords=True)(n) == "Lakers winning games"
    assert NewsText(("title",), remove_stopwords=True, stem=True)(n) == "Laker win game"


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown encoder"):
        resolve_model_path("no-such-model")


def test_embeddings_are_unit_mean_pooled_and_batch_independent(plm):
    vectors = plm.embed(TEXTS, batch_size=2)
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # length bucketing and padding must not change a text's vector
    alone = plm.embed([TEXTS[0]])
    assert np.allclose(alone[0], vectors[0], atol=1e-5)
    # same as mean pooling over the unpadded sequence, done by hand
    tokens = plm.tokenizer([TEXTS[1]], return_tensors="pt")
    with torch.no_grad():
        hidden = plm.transformer(**tokens).last_hidden_state[0]
    manual = torch.nn.functional.normalize(hidden.mean(0), dim=-1).numpy()
    assert np.allclose(manual, vectors[1], atol=1e-5)
    # related headlines are closer than unrelated ones
    assert vectors[0] @ vectors[3] > vectors[0] @ vectors[1]


def test_bf16_matrix_products_keep_the_fp32_vectors_under_their_own_cache_key(plm):
    bf16 = PLM("all-MiniLM-L6-v2", max_length=32, quantize="bf16")
    cosine = (bf16.embed(TEXTS) * plm.embed(TEXTS)).sum(1)
    assert cosine.min() > 0.999
    assert bf16.model_id == plm.model_id + "|bf16"
    auto = PLM("all-MiniLM-L6-v2", max_length=32)  # the default follows the CPU
    assert auto.quantized == ("bf16" if native_bf16() else "none")
    with pytest.raises(ValueError, match="unknown quantize 'fp8': use one of auto, none, bf16, fp16, int8"):
        PLM("all-MiniLM-L6-v2", quantize="fp8")


def test_cache_means_a_second_run_encodes_nothing(plm, tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    first = encode_texts(plm, TEXTS, cache)
    assert cache.count(plm.model_id) == 4

    def fail(*args, **kwargs):
        raise AssertionError("the PLM ran although every text was cached")

    monkeypatch.setattr(plm, "embed", fail)
    again = encode_texts(plm, TEXTS, EmbeddingCache(tmp_path / "e.sqlite"))
    assert np.array_equal(first, again)


def test_an_encode_stopped_half_way_resumes_from_what_it_cached(plm, tmp_path, monkeypatch):
    monkeypatch.setattr("newsrec.encoders.plm.CACHE_EVERY", 3)
    texts = [f"Headline number {i} about the local team" for i in range(10)]
    cache, real_embed, calls = EmbeddingCache(tmp_path / "e.sqlite"), plm.embed, []

    def killed_on_the_third_piece(piece, **kwargs):
        calls.append(len(piece))
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C (or a kill) during the third piece
        return real_embed(piece, **kwargs)

    monkeypatch.setattr(plm, "embed", killed_on_the_third_piece)
    with pytest.raises(KeyboardInterrupt):
        encode_texts(plm, texts, cache)
    assert cache.count(plm.model_id) == 6  # the two finished pieces
    calls.clear()
    resumed = encode_texts(plm, texts, EmbeddingCache(tmp_path / "e.sqlite"))
    assert calls == [3, 1]  # only the 4 texts it had not finished
    assert np.allclose(resumed, real_embed(texts), atol=1e-5)


def test_a_text_listed_twice_is_encoded_once_and_given_twice(plm, tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    out = encode_texts(plm, [TEXTS[0], TEXTS[1], TEXTS[0]], cache)
    assert cache.count(plm.model_id) == 2 and np.array_equal(out[0], out[2]) and not np.array_equal(out[0], out[1])
    again = encode_texts(plm, [TEXTS[1], TEXTS[0], TEXTS[1]], cache)  # all from the cache now
    assert np.array_equal(again[[1, 0, 2]], out[[0, 1, 1]])


def test_a_growing_table_keeps_every_row_and_copies_little(plm):
    table = NewsTable([], np.zeros((0, 4), np.float32))
    for i in range(100):  # one item at a time, as a service's catalogue grows
        table.upsert([f"n{i}"], np.full((1, 4), i, np.float32))
    table.upsert(["n5"], np.full((1, 4), -1, np.float32))  # replaced in place
    assert table.vectors.shape == (101, 4) and table.rows(["n0", "n99"]) == [1, 100]
    assert table.vectors[100, 0] == 99 and table.vectors[6, 0] == -1 and torch.all(table.vectors[PAD] == 0)
    assert len(table._buffer) <= 2 * 101  # doubled when full, not copied per item


def test_finetuned_weights_get_their_own_cache_key():
    plm = PLM("all-MiniLM-L6-v2", max_length=32)
    frozen_id = plm.model_id
    plm.tune(TuningSpec(1))
    assert plm.model_id == frozen_id  # unfrozen but untouched: the cached vectors still hold
    with torch.no_grad():
        next(p for p in plm.parameters() if p.requires_grad).add_(0.01)
    tuned_id = plm.model_id
    assert tuned_id != frozen_id and tuned_id.startswith(frozen_id + "|ft-")
    with pytest.raises(ValueError, match="exceeds the model's 6 layers"):
        plm.tune(TuningSpec(7))


def test_news_table_rows(plm):
    news = {"a": News("a", "Lakers win"), "b": News("b", "Fed cuts rates")}
    table = NewsTable.encode(news, plm, ["title"])
    assert table.rows(["b", "zz", "a"]) == [2, PAD, 1]
    assert torch.all(table.vectors[PAD] == 0) and table.vectors.shape == (3, 384)
