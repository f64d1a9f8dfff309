"""Paraphrase augmentation: the LLM rewrites titles; the trainer may use them in place of the
originals (`--paraphrases FILE --paraphrase-prob P`). A Chinese title is rewritten in Chinese, in
its own script."""

from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from newsrec.data.language import fold
from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.writing import Writing, count_words

__all__ = ["paraphrase_titles", "write_paraphrases", "read_paraphrases", "PROMPT_VERSION"]

PROMPT_VERSION = "paraphrase-v1"
SYSTEM = {
    "en": "You rewrite news headlines with different words but the same meaning. Reply with the headline only.",
    "zh": "你用不同的词语改写新闻标题，但保持相同的意思。只回复改写后的标题。",
}
PROMPT = {"en": "Headline: {title}\nRewritten headline:", "zh": "标题：{title}\n改写后的标题："}
QUOTES = '"“”「」『』'  # models like to quote the headline they write


def _valid(original: str, reply: str) -> bool:
    """A few words, not much longer than the original, and not the original again (in either script)."""
    return 2 <= count_words(reply) <= 2 * count_words(original) + 5 and fold(reply) != fold(original)


def paraphrase_titles(llm: AnyLLM, news: list[News], cache: LLMCache | None = None) -> dict[str, str]:
    """{news id: paraphrased title}; items whose paraphrase is unusable are left out."""
    out = {}
    for n in tqdm(news, desc="paraphrasing", unit="title", disable=None):
        writing = Writing.of(n.title)

        def make(title: str = n.title, writing: Writing = writing) -> dict:
            prompt = PROMPT[writing.language].format(title=title)
            reply = llm_for(llm, writing.language).generate(SYSTEM[writing.language], prompt, max_tokens=40)
            reply = writing.fit(reply.strip().splitlines()[0].strip().strip(QUOTES).strip()) if reply.strip() else ""
            return {"text": reply if _valid(title, reply) else None}

        key = LLMCache.key("paraphrase", model_id_for(llm, writing.language), PROMPT_VERSION, n.title)
        hit = LLMCache.through(cache, key, make)
        if hit["text"]:
            out[n.news_id] = hit["text"]
    return out


def write_paraphrases(path: str | Path, paraphrases: dict[str, str]) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps({"news_id": i, "title": t}) + "\n" for i, t in paraphrases.items()))
    return path


def read_paraphrases(path: str | Path) -> dict[str, str]:
    return {r["news_id"]: r["title"] for r in map(json.loads, Path(path).read_text().splitlines())}
