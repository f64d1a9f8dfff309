"""Explanations: the model computes the facts, the LLM only phrases them.

`Reason` (models/reason.py) holds which history items and interest topics matched a
recommendation and how strongly. Without an LLM, `Reason.sentence` states them in a template.
With one, the LLM rewrites those facts as one friendly sentence; a reply that is not one short
sentence, or that quotes no matched item or topic, is rejected for the template.
"""

from __future__ import annotations

from newsrec.data.mind import News
from newsrec.llm.backends import LLM
from newsrec.llm.cache import LLMCache
from newsrec.models.reason import POPULAR, Reason

__all__ = ["explain", "PROMPT_VERSION"]

PROMPT_VERSION = "explain-v1"
SYSTEM = "You explain news recommendations in one short, friendly sentence, using only the facts given."
MAX_WORDS = 40


def _facts(reason: Reason, candidate: News, news: dict[str, News]) -> str:
    lines = [f'Recommended: "{candidate.title}"']
    lines += [
        f'- matches the read article "{news[i].title if i in news else i}" (strength {s:.2f})'
        for i, s in reason.matched
    ]
    lines += [f'- matches the interest "{t}" (strength {s:.2f})' for t, s in reason.topics]
    if reason.popularity > POPULAR:
        lines.append("- popular with other readers")
    return "\n".join(lines)


def _grounded(sentence: str, reason: Reason, news: dict[str, News]) -> bool:
    words = sentence.split()
    if not words or len(words) > MAX_WORDS or sentence.count(".") > 2:
        return False
    anchors = [t for t, _ in reason.topics] + [news[i].title if i in news else i for i, _ in reason.matched]
    text = sentence.lower()
    # grounded = it names a matched topic, or shares a content word with a matched title
    return not anchors or any(
        a.lower() in text or any(w.lower() in text for w in a.split() if len(w) > 4) for a in anchors
    )


def explain(
    llm: LLM | None, reason: Reason, candidate: News, news: dict[str, News], cache: LLMCache | None = None
) -> str:
    template = reason.sentence(news)
    if llm is None:
        return template
    facts = _facts(reason, candidate, news)

    def make() -> dict:
        reply = " ".join(llm.generate(SYSTEM, f"{facts}\n\nOne sentence for the reader:", max_tokens=60).split())
        return {"text": reply if _grounded(reply, reason, news) else template}

    return LLMCache.through(cache, LLMCache.key("explain", llm.model_id, PROMPT_VERSION, facts), make)["text"]
