"""Ask an LLM for JSON, validate it with pydantic, retry, and fall back.

Small local models often return broken or off-schema JSON: each reply is parsed and
validated; a bad one is retried (with the error named in the prompt, in the prompt's language)
and, when retries run out, the caller's fallback is used and marked as such. A Chinese reply is
put into the source's script before it is parsed, so the checks see what the caller gets.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from newsrec.data.language import fold
from newsrec.llm.backends import LLM
from newsrec.llm.writing import ENGLISH, Writing, count_words

__all__ = ["generate_structured", "parse_json_object", "reply_schema", "distinct_phrases"]

logger = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
RETRY = {
    "en": "\n\nYour previous answer was invalid ({error}). Reply with the JSON object only.",
    "zh": "\n\n你上一次的回答无效（{error}）。只回复 JSON 对象。",
}


def parse_json_object(text: str) -> dict:
    """The first {...} object in `text` (models like to wrap JSON in prose or code fences)."""
    match = re.search(r"\{.*\}", text, flags=re.DOTALL)
    if not match:
        raise ValueError("the reply holds no JSON object")
    value = json.loads(match.group(0))
    if not isinstance(value, dict):
        raise ValueError("the reply's JSON is not an object")
    return value


def distinct_phrases(items: list[str], at_least: int, max_words: int) -> list[str]:
    """Stripped phrases without repeats (ignoring case and Chinese script); a validator's ValueError
    if too few or too long (in words, Chinese ones counted by jieba)."""
    cleaned = list({fold(t.strip()): t.strip() for t in items if isinstance(t, str) and t.strip()}.values())
    if len(cleaned) < at_least or any(count_words(t) > max_words for t in cleaned):
        raise ValueError(f"give at least {at_least} different phrases of at most {max_words} words")
    return cleaned


def reply_schema(schema: type[BaseModel]) -> dict:
    """The JSON schema the LLM must fill: the model's required fields only (not our bookkeeping)."""
    full = schema.model_json_schema()
    required = full.get("required", [])
    return {**full, "properties": {k: v for k, v in full["properties"].items() if k in required}}


def generate_structured(
    llm: LLM,
    system: str,
    prompt: str,
    schema: type[T],
    fallback: Callable[[], T],
    writing: Writing = ENGLISH,
    retries: int = 2,
    max_tokens: int = 160,
    context: dict | None = None,
    json_schema: dict | None = None,
) -> tuple[T, bool]:
    """Returns (value, from_llm); from_llm is False when the fallback was used. `writing`: the
    language the prompts are in and the script of the source. `context` reaches the schema's
    validators (the sources a grounding check compares with); `json_schema` narrows the
    grammar the reply is generated under (default: the schema's required fields)."""
    ask, grammar = prompt, json_schema or reply_schema(schema)
    for attempt in range(retries + 1):
        reply = writing.fit(llm.generate(system, ask, max_tokens=max_tokens, json_schema=grammar))
        try:
            return schema.model_validate(parse_json_object(reply), context=context), True
        except (ValueError, ValidationError) as e:
            error = str(e).splitlines()[0]
            logger.debug("attempt %d: invalid LLM output (%s): %r", attempt + 1, error, reply[:200])
            ask = prompt + RETRY[writing.language].format(error=error)
    return fallback(), False
