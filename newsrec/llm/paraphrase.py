"""Paraphrase augmentation: the LLM rewrites titles; the trainer may use them in place of the
originals (`--paraphrases FILE --paraphrase-prob P`)."""

from __future__ import annotations

import json
from pathlib import Path

from tqdm.auto import tqdm

from newsrec.data.mind import News
from newsrec.llm.backends import LLM
from newsrec.llm.cache import LLMCache

__all__ = ["paraphrase_titles", "write_paraphrases", "read_paraphrases", "PROMPT_VERSION"]

PROMPT_VERSION = "paraphrase-v1"
SYSTEM = "You rewrite news headlines with different words but the same meaning. Reply with the headline only."


def _valid(original: str, reply: str) -> bool:
    words = reply.split()
    return 2 <= len(words) <= 2 * len(original.split()) + 5 and reply.lower() != original.lower()


def paraphrase_titles(llm: LLM, news: list[News], cache: LLMCache | None = None) -> dict[str, str]:
    """{news id: paraphrased title}; items whose paraphrase is unusable are left out."""
    out = {}
    for n in tqdm(news, desc="paraphrasing", unit="title", disable=None):

        def make(title: str = n.title) -> dict:
            reply = llm.generate(SYSTEM, f"Headline: {title}\nRewritten headline:", max_tokens=40)
            reply = reply.strip().splitlines()[0].strip().strip('"').strip() if reply.strip() else ""
            return {"text": reply if _valid(title, reply) else None}

        hit = LLMCache.through(cache, LLMCache.key("paraphrase", llm.model_id, PROMPT_VERSION, n.title), make)
        if hit["text"]:
            out[n.news_id] = hit["text"]
    return out


def write_paraphrases(path: str | Path, paraphrases: dict[str, str]) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps({"news_id": i, "title": t}) + "\n" for i, t in paraphrases.items()))
    return path


def read_paraphrases(path: str | Path) -> dict[str, str]:
    return {r["news_id"]: r["title"] for r in map(json.loads, Path(path).read_text().splitlines())}
