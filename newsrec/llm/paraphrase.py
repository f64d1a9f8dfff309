"""Paraphrase augmentation: the LLM rewrites titles; the trainer may use them in place of the
originals (`--paraphrases FILE --paraphrase-prob P`). A Chinese title is rewritten in Chinese, in
its own script.

A paraphrase is kept only when it differs from its title (in words, not only in case,
punctuation, script or a leading "Headline:") and keeps its facts: the same numbers and the
same names written with capitals inside (LAPD, NFL, McDonald's), none lost and none added;
a paraphrase in sentence case may not add a name either ("the former Supreme Court Justice" of
a title that named no court): each of its names must be the title's own, as a whole word
(`claims.claim_problems`). Title Case hides names, so a sentence-case title may not be
rewritten in it; a Title Case title's paraphrase is held to the first rule only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.claims import claim_problems, is_title_case
from newsrec.llm.grounding import label_stripped
from newsrec.llm.writing import Writing, count_words, letters_only
from newsrec.progress import progress

__all__ = [
    "paraphrase_titles",
    "paraphrase_one",
    "paraphrase_key",
    "write_paraphrases",
    "read_paraphrases",
    "PROMPT_VERSION",
]

PROMPT_VERSION = "paraphrase-v2"
SYSTEM = {
    "en": "You rewrite news headlines with different words but the same meaning. Reply with the headline only.",
    "zh": "你用不同的词语改写新闻标题，但保持相同的意思。只回复改写后的标题。",
}
PROMPT = {"en": "Headline: {title}\nRewritten headline:", "zh": "标题：{title}\n改写后的标题："}
QUOTES = '"“”「」『』'  # models like to quote the headline they write


_FACT = re.compile(r"\d+(?:[.,:]\d+)*|\w*[A-Z]\w*[A-Z]\w*(?:'\w+)?")  # numbers; words with two capitals


def problems(original: str, reply: str) -> list[str]:
    """Why `reply` is not a usable paraphrase of `original` (empty when it is)."""
    if not 2 <= count_words(reply) <= 2 * count_words(original) + 5:
        return ["(too short or too long)"]
    # the reply as given, and without a leading label ("Report: ..." may be the title's own words)
    if letters_only(original) in (letters_only(reply), letters_only(label_stripped(reply))):
        return ["(the title again)"]
    if is_title_case(reply) and not is_title_case(original):
        return ["(a sentence-case title in Title Case, which hides its names)"]
    kept, said = set(_FACT.findall(original)), set(_FACT.findall(reply))
    problems = [f"lost {f}" for f in sorted(kept - said)] + [f"added {f}" for f in sorted(said - kept)]
    if not is_title_case(reply):  # a capital inside marks a name: each must be the title's own
        problems += [p for p in claim_problems(reply, [original]) if not any(f in p for f in said - kept)]
    return problems


def paraphrase_key(llm: AnyLLM, news: News) -> str:
    """The cache key of `news`'s paraphrase (what a rerun finds done), without loading a model."""
    language = Writing.of(news.title).language
    return LLMCache.key("paraphrase", model_id_for(llm, "paraphrase", language), PROMPT_VERSION, news.title)


def paraphrase_one(llm: AnyLLM, news: News, cache: LLMCache | None = None) -> str | None:
    """`news`'s title rewritten, or None when the reply is no usable paraphrase."""
    writing = Writing.of(news.title)

    def make() -> dict:
        prompt = PROMPT[writing.language].format(title=news.title)
        model = llm_for(llm, "paraphrase", writing.language)
        return {"reply": model.generate(SYSTEM[writing.language], prompt, max_tokens=40)}

    reply = LLMCache.through(cache, paraphrase_key(llm, news), make)[
        "reply"
    ].strip()  # raw: a stricter check needs no new generation
    line = label_stripped(reply.splitlines()[0]).strip().strip(QUOTES).strip() if reply else ""
    text = writing.fit(line)
    return None if problems(news.title, text) else text


def paraphrase_titles(llm: AnyLLM, news: list[News], cache: LLMCache | None = None) -> dict[str, str]:
    """{news id: paraphrased title}; items whose paraphrase is unusable are left out."""
    rewritten = {n.news_id: paraphrase_one(llm, n, cache) for n in progress(news, "paraphrasing", "titles")}
    return {news_id: title for news_id, title in rewritten.items() if title is not None}


def write_paraphrases(path: str | Path, paraphrases: dict[str, str]) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps({"news_id": i, "title": t}) + "\n" for i, t in paraphrases.items()))
    return path


def read_paraphrases(path: str | Path) -> dict[str, str]:
    return {r["news_id"]: r["title"] for r in map(json.loads, Path(path).read_text().splitlines())}
