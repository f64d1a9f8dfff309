"""Real LLM replies, recorded by experiments/llm_quality.py on the MIND sample (SmolLM2 and
Qwen2.5 explaining 100 recommendations each), checked again: the check still takes the same
decision on each, and no reply it shows holds a number or capitalised name that is absent from
the candidate's title and abstract and the matched titles (a second rule set)."""

import json
from pathlib import Path

import pytest

from newsrec.data.mind import read_news
from newsrec.llm.explain import explain
from newsrec.llm.grounding import names_and_numbers_missing
from newsrec.models.reason import Reason
from tests.llm.conftest import ScriptedLLM

RECORDED = Path(__file__).parent / "data" / "explanation_replies.jsonl"
MIND = Path(__file__).parents[2].parent / "shared" / "data" / "mind-sample"
pytestmark = pytest.mark.skipif(not (MIND / "news.tsv").is_file(), reason=f"needs the MIND sample at {MIND}")


@pytest.fixture(scope="module")
def replies_and_news():
    return [json.loads(line) for line in RECORDED.read_text().splitlines()], read_news(MIND)


def test_the_recorded_set_covers_both_models(replies_and_news):
    replies, _ = replies_and_news
    models = {r["model"] for r in replies}
    assert {"smollm2", "qwen2.5-coder-1.5b"} <= models
    assert all(sum(r["model"] == m for r in replies) >= 100 for m in models)


def test_shown_replies_hold_no_unsupported_number_or_name_and_decisions_stand(replies_and_news):
    replies, news = replies_and_news
    for r in replies:
        item = news[r["news_id"]]
        reason = Reason(matched=[(h, 0.5) for h in r["matched"]], popularity=0.0)
        said = explain(ScriptedLLM([r["reply"]]), reason, item, news)
        assert said.by_llm == r["shown"], r
        if said.by_llm:
            sources = [item.title, item.abstract, *(news[h].title for h in r["matched"])]
            assert names_and_numbers_missing(said.text, sources) == [], r
