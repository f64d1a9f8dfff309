"""Real LLM replies on the MIND sample, checked again.

- The issue's faulty explanations, rebuilt on the sample's own news: the Yankees/Girardi reply
  (imp-927), the 1 / 4-year-old reply (imp-140's crime stories) and a copied read title
  (imp-273) are each refused.
- The free-text replies of the previous prompt (explain-v2, SmolLM2 and Qwen2.5 on 100 readers
  each): none of them is shown now.
- The replies of the grammar (explain-v3), recorded by experiments/llm_quality.py and exported
  with their quoted titles masked (`--rejudge ... --export`; the sample's titles are put back
  here, so no news text is committed): the product takes the same decision on each, and the
  independent judge (experiments/judge.py) finds no fault in any shown one.
"""

import json
from pathlib import Path

import pytest

from experiments.judge import judge
from newsrec.data.mind import read_news
from newsrec.llm.explain import explain
from newsrec.models.reason import Reason
from tests.llm.conftest import ScriptedLLM, unmasked

DATA = Path(__file__).parent / "data"
MIND = Path(__file__).parents[2].parent / "shared" / "data" / "mind-sample"
pytestmark = pytest.mark.skipif(not (MIND / "news.tsv").is_file(), reason=f"needs the MIND sample at {MIND}")

ISSUE_REPLIES = [  # (recommended, matched read items, reply)
    (
        "N55183",
        ["N56742", "N7376"],
        "The Yankees have agreed to hire Joe Girardi as manager, a decision that has backfired on the Yankees in "
        "the ALCS.",
    ),
    (
        "N47042",
        ["N44021", "N26734"],
        "The 1 person injured by the false panic over shooting at the mall was a 4-year-old girl.",
    ),
    ("N37076", ["N5978"], "Eric Tse, 24, just became a billionaire overnight."),
]


@pytest.fixture(scope="module")
def news():
    return read_news(MIND)


@pytest.mark.parametrize(("news_id", "matched", "reply"), ISSUE_REPLIES)
def test_the_issue_s_faulty_replies_are_refused(news, news_id, matched, reply):
    reason = Reason(matched=[(h, 0.6) for h in matched], popularity=0.0)
    said = explain(ScriptedLLM([reply]), reason, news[news_id], news)
    assert not said.by_llm and said.text == reason.sentence(news, news[news_id].title)
    assert "(does not name the recommended story)" in said.problems


def test_no_free_text_reply_of_the_previous_prompt_is_shown(news):
    replies = [json.loads(line) for line in (DATA / "explanation_replies.jsonl").read_text().splitlines()]
    assert len(replies) == 200 and sum(r["shown"] for r in replies) == 24  # shown by the word-level check alone
    for r in replies:
        reason = Reason(matched=[(h, 0.6) for h in r["matched"]], popularity=0.0)
        assert not explain(ScriptedLLM([r["reply"]]), reason, news[r["news_id"]], news).by_llm, r


def test_grammar_replies_take_the_same_decision_and_the_judge_finds_no_shown_one_faulty(news):
    rows = [json.loads(line) for line in (DATA / "explanation_replies_v3.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["language"] == "en"]
    assert {r["model"] for r in rows} == {"smollm2", "gemma3-270m", "qwen2.5-coder-1.5b"}
    assert len(rows) == 300 and sum(r["by_llm"] for r in rows) >= 200
    for r in rows:
        reason = Reason(matched=[(h, s) for h, s in r["matched"]], popularity=0.0)
        said = explain(ScriptedLLM([unmasked(r, news)]), reason, news[r["news_id"]], news)
        assert said.by_llm == r["by_llm"], r
        if said.by_llm:
            item = news[r["news_id"]]
            story = " ".join([item.title, item.abstract, item.category, item.subcategory])
            read = [news[h].title for h, _ in r["matched"]]
            assert judge(said.text, [story, *read], "explain", item.title, read).faults == [], r
