from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import News, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.llm.paraphrase import paraphrase_titles, read_paraphrases, write_paraphrases
from newsrec.training.config import load_config
from newsrec.training.recipe import train
from tests.llm.conftest import ScriptedLLM


def test_paraphrases_are_validated_and_cached(tmp_path):
    from newsrec.llm.cache import LLMCache

    news = [News("A", "Lakers win the opener"), News("B", "Fed cuts rates"), News("C", "Storm hits coast")]
    llm = ScriptedLLM(['"The Lakers take their first game"\nextra line', "Fed cuts rates", ""])
    cache = LLMCache(tmp_path / "c.sqlite")
    out = paraphrase_titles(llm, news, cache)
    assert out == {"A": "The Lakers take their first game"}  # a copy and an empty reply are rejected
    assert paraphrase_titles(ScriptedLLM([]), news, cache) == out  # all from the cache
    assert read_paraphrases(write_paraphrases(tmp_path / "p.jsonl", out)) == out


def test_training_with_paraphrase_augmentation_uses_the_paraphrases(tiny_world, tmp_path):
    news, imps = read_news(tiny_world), read_behaviors(tiny_world / "train")
    titles = {i: f"Report: {n.title.lower()}" for i, n in list(news.items())[:60]}
    path = write_paraphrases(tmp_path / "p.jsonl", titles)
    losses = {}
    for name, prob in (("never", 0.0), ("always", 1.0)):
        config = load_config(epochs=2, user_encoder="mean", paraphrases=str(path), paraphrase_prob=prob)
        result = train(config, news, imps, tmp_path / name, cache=EmbeddingCache())
        losses[name] = [h.train_loss for h in result.history]
    assert losses["always"][-1] < losses["always"][0]  # it still learns
    assert losses["always"] != losses["never"]  # and it saw other vectors: the paraphrases were used
