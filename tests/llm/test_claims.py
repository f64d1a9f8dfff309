"""The claim-level check: a sentence's names and numbers must stand together in one source.

The first replies are the issue's faulty LLM texts, rebuilt here with sources of the same shape
(the MIND sample's own titles are checked in test_recorded_replies.py): each passed the
word-level check, and each is refused now.
"""

import os
import subprocess
import sys

import pytest

from newsrec.data.mind import News
from newsrec.llm.backends import load_llm
from newsrec.llm.cache import LLMCache
from newsrec.llm.claims import claim_problems, facts, sentences, unquoted
from newsrec.llm.explain import FRAMING, ROLES, explain, explanation_grammar
from newsrec.llm.grounding import unsupported
from newsrec.llm.links import Anchor, Link, link_between
from newsrec.models.reason import Reason
from tests.llm.conftest import ScriptedLLM, needs_llama

PHILLIES = "AP source: Phillies agree to hire Joe Girardi as manager"
YANKEES = "The decisions that have backfired on the Yankees in the ALCS"
MALL = News("N1", "1 injured in panic over false report of shooting at mall", "news", "newscrime", "")
GIRL = News("N2", "Police: 4-year-old girl hit by stray bullet", "news", "newscrime", "")


def test_facts_merged_from_two_stories_are_refused_though_every_word_is_in_some_source():
    reply = "The Yankees have agreed to hire Joe Girardi as manager, a decision that has backfired on the Yankees."
    assert unsupported(reply, [PHILLIES, YANKEES], ["decision"]) == []  # the word-level check lets it through
    assert claim_problems(reply, [PHILLIES, YANKEES]) == [
        "joins Yankees, Joe Girardi, which no one source holds together"
    ]
    assert claim_problems("Joe Girardi agreed to manage the Phillies.", [PHILLIES, YANKEES]) == []


def test_numbers_from_two_stories_are_refused():
    reply = "The 1 person injured by the false panic over shooting at the mall was a 4-year-old girl."
    assert claim_problems(reply, [MALL.title, GIRL.title]) == ["joins 1, 4, which no one source holds together"]
    assert claim_problems("A 4-year-old girl was hit.", [MALL.title, GIRL.title]) == []
    assert claim_problems("The 3 people in Ohio.", [MALL.title]) == ["3 is in no source", "Ohio is in no source"]


def test_each_sentence_is_held_to_one_source_and_quoted_titles_claim_nothing():
    text = f"Joe Girardi is back. The Yankees lost in the ALCS. You read “{PHILLIES}” and the Yankees story."
    assert sentences(text)[2].startswith("You read “AP source: Phillies")  # a quoted period does not end it
    assert claim_problems(text, [PHILLIES, YANKEES], titles=[PHILLIES]) == []
    assert "…" in unquoted(text, [PHILLIES]) and "Phillies" not in unquoted(text, [PHILLIES])
    # a quoted text that is no source's title is read as a claim
    invented = "You read “Phillies hire Joe Girardi to coach the Yankees”."
    assert claim_problems(invented, [PHILLIES, YANKEES], titles=[PHILLIES]) != []


def test_names_are_runs_of_capitals_not_opening_words():
    assert facts("The Yankees hired Joe Girardi in 2019.") == ["2019", "Yankees", "Joe Girardi"]
    assert facts("Coast Guard searches for a man.") == ["Guard"]  # a capital opening a sentence marks no name
    assert facts("Coast Guard searches for a man", opening=False) == ["Coast Guard"]  # a title's may
    assert facts("I think McDonald's and LAPD agree.") == ["McDonald's", "LAPD"]
    assert facts("湖人队击败凯尔特人") == ["湖人队", "凯尔特人"]


def test_a_link_is_something_both_sides_hold():
    girardi = News("N3", "Joe Girardi's first words as Phillies manager", "sports", "baseball_mlb")
    read = Anchor(PHILLIES, "read", ("baseball_mlb", "sports"))
    assert link_between(girardi, read, "en").term == "Joe Girardi"
    other = Anchor("Storm hits the coast", "read", ("baseball_mlb", "sports"))
    assert link_between(girardi, other, "en").term == "MLB baseball"  # the shared subcategory, by name
    assert link_between(girardi, Anchor("Storm hits the coast", "read", ("weather", "weather")), "en") is None
    assert link_between(girardi, Anchor("I follow baseball", "interest"), "en").term == "baseball"
    # an opening capital is no name: "Indicted Giuliani" would say Giuliani was indicted
    associate = News("N6", "Indicted Giuliani Associate Ties Case to Trump", "news", "newspolitics")
    read = Anchor("Indicted Giuliani associate worked for an oligarch", "read", ("newsus", "news"))
    assert link_between(associate, read, "en").term == "Giuliani"


CANDIDATE = News("N4", "Joe Girardi's first words as Phillies manager", "sports", "baseball_mlb", "He spoke today.")
READ = News("H1", PHILLIES, "sports", "baseball_mlb")
OTHER = News("H2", YANKEES, "sports", "baseball_mlb")
NEWS = {n.news_id: n for n in (CANDIDATE, READ, OTHER)}
REASON = Reason(matched=[("H1", 0.7), ("H2", 0.5)], popularity=0.0)
GOOD = f"Since you read “{PHILLIES}”, you may like “{CANDIDATE.title}”; both are about Joe Girardi."


def test_an_explanation_of_the_slots_and_connecting_words_is_shown():
    llm = ScriptedLLM([GOOD])
    said = explain(llm, REASON, CANDIDATE, NEWS)
    assert said.by_llm and said.text == GOOD
    assert "What links them: Joe Girardi" in llm.prompts[0]
    assert f'cand ::= "“{CANDIDATE.title}”"' in llm.grammars[0] and 'link ::= "Joe Girardi"' in llm.grammars[0]


def test_the_issue_s_faulty_explanations_are_refused():
    merged = "The Yankees have agreed to hire Joe Girardi as manager, a decision that has backfired on the Yankees."
    copied = f"{PHILLIES}."
    quoted_copy = f"“{PHILLIES}”"
    for reply in (merged, copied, quoted_copy):
        said = explain(ScriptedLLM([reply]), REASON, CANDIDATE, NEWS)
        assert not said.by_llm and said.text == REASON.sentence(NEWS, CANDIDATE.title), reply
        assert "(does not name the recommended story)" in said.problems
    unlinked = f"Since you read “{PHILLIES}”, you may like “{CANDIDATE.title}”."
    assert "(does not say what links them)" in explain(ScriptedLLM([unlinked]), REASON, CANDIDATE, NEWS).problems
    # the slots are right, but the connecting words join the Yankees to the Phillies' hire
    joined = GOOD.replace("both are about Joe Girardi", "the Yankees hired Joe Girardi")
    said = explain(ScriptedLLM([joined]), REASON, CANDIDATE, NEWS)
    assert not said.by_llm and any("no one source" in p or "no source" in p for p in said.problems)


def test_nothing_linked_means_the_template_and_no_llm_call():
    lone = News("N5", "Storm floods the coast", "weather", "weathertopstories")
    llm = ScriptedLLM([])
    said = explain(llm, REASON, lone, {**NEWS, "N5": lone})
    assert not said.by_llm and llm.prompts == [] and said.problems == ["(no strong match shares a link with the story)"]
    weak = Reason(matched=[("H1", 0.2)], popularity=0.0)  # a link, but a match too weak to say "since you read"
    assert explain(ScriptedLLM([GOOD]), weak, CANDIDATE, NEWS).problems == [
        "(no strong match shares a link with the story)"
    ]


def test_every_phrase_the_grammar_allows_passes_the_word_check():
    for language in ("en", "zh"):
        for phrase in (p for phrases in ROLES[language].values() for p in phrases):
            assert unsupported(phrase, [], FRAMING[language]) == [], phrase


def test_the_grammar_quotes_the_slots_and_allows_only_listed_words():
    grammar = explanation_grammar('Say "hi" \\ now', Anchor("Lakers win", "read"), Link("Lakers", "name"), "en")
    assert r'cand ::= "“Say \"hi\" \\ now”"' in grammar  # quotes and backslashes escaped for GBNF
    assert '"Girardi"' not in grammar and '"because"' in grammar and '"you read"' in grammar
    assert '" " link "."' in grammar  # no "the" before a name
    interest = explanation_grammar("Tesla news", Anchor("electric cars", "interest"), Link("cars", "tag"), "en")
    assert '"you follow"' in interest and '("the ")? link' in interest
    assert "「" in explanation_grammar("特斯拉发布新车", Anchor("电动车", "read"), Link("电动车", "word"), "zh")


@needs_llama
@pytest.mark.slow
def test_the_packaged_model_writes_the_explanation_under_the_grammar_locally_and_over_a_server(smollm2, llama_server):
    for llm in (smollm2, load_llm(llama_server, model="smollm2")):
        said = explain(llm, REASON, CANDIDATE, NEWS)
        assert said.by_llm, said.problems
        assert f"“{PHILLIES}”" in said.text and f"“{CANDIDATE.title}”" in said.text
        assert said.text.endswith("Joe Girardi.")


def test_the_link_is_the_same_in_every_process():
    """Two names of one length tie; the pick must not follow the process's string hashing."""
    code = (
        "from newsrec.data.mind import News; from newsrec.llm.links import Anchor, link_between; "
        "c = News('N1', 'Coast Guard searching for man who went overboard from Carnival cruise ship off Texas'); "
        "a = Anchor('Coast Guard searches for man who fell from cruise off Texas', 'read'); "
        "print(link_between(c, a, 'en').term)"
    )
    run = [sys.executable, "-c", code]
    seeds = [{**os.environ, "PYTHONHASHSEED": str(seed)} for seed in range(4)]
    picks = {subprocess.run(run, env=env, capture_output=True, text=True).stdout.strip() for env in seeds}
    assert picks == {"Texas"}


def test_a_chinese_word_alone_is_no_link():
    garden = News("Z1", "克里斯·布朗在他的家里开了一场花园贩卖活动", "lifestyle", "lifestylebuzz")
    police = Anchor("迈阿密花园警方需要协助寻找枪杀青少年的人", "read", ("newscrime", "news"))  # Miami Gardens
    assert link_between(garden, police, "zh") is None
    song = Anchor("克里斯·布朗发布新歌", "read", ("music", "music"))
    assert link_between(garden, song, "zh").term == "克里斯·布朗"  # a name jieba tags, whole


def test_a_tie_goes_to_the_name_after_the_title_s_label():
    latest = News("N7", "The Latest: Boris Johnson accepts 3-month Brexit extension", "news", "newsworld")
    read = Anchor("The Latest: EU envoys agree that Brexit extension is needed", "read", ("europe", "news"))
    assert link_between(latest, read, "en").term == "Brexit"  # not "Latest", of the same length


def test_a_reply_cached_under_another_grammar_is_asked_again(tmp_path, monkeypatch):
    cache = LLMCache(tmp_path / "llm.sqlite")
    first = ScriptedLLM([GOOD])
    for _ in range(2):
        assert explain(first, REASON, CANDIDATE, NEWS, cache).by_llm
    assert len(first.prompts) == 1  # the second answer came from the cache
    monkeypatch.setitem(ROLES["en"], "because", ["Since"])  # the same prompt under another grammar
    second = ScriptedLLM([GOOD])
    explain(second, REASON, CANDIDATE, NEWS, cache)
    assert len(second.prompts) == 1
