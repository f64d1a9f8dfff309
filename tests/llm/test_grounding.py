"""LLM texts are shown only when their sources hold what they state: recorded bad replies are withheld."""

import json

import pytest

from newsrec.data.mind import News
from newsrec.llm.enrich import enrich_news
from newsrec.llm.explain import explain
from newsrec.llm.grounding import Sources, claims, judged, label_stripped, unsupported
from newsrec.llm.paraphrase import paraphrase_titles, problems
from newsrec.llm.profiles import FRAMING, UserProfile, build_profile, topic_choices
from newsrec.models.reason import Reason
from tests.llm.conftest import ScriptedLLM

# the two replies of the issue, with the facts they were given (MIND sample, imp-140)
LAPD = News("N1", "One Person Shot, Killed By LAPD In Sherman Oaks", "news", "newscrime", "")
TOW = News("N2", "AAA tow truck driver dead after being struck on highway", "news", "newsus", "")
READ = News("H1", "LAPD: Man shot and killed near Van Nuys home", "news", "newscrime", "")
NEWS = {n.news_id: n for n in (LAPD, TOW, READ)}
# both name the matched read item ("killed", "LAPD"): the old check, quoting a match, let them through
RECORDED = [
    (LAPD, "The incident in Dallas, Texas, where a 17-year-old male officer was shot and killed by a LAPD officer.",
     {"Dallas", "Texas", "17"}),
    (TOW, "Because you read about a man shot and killed, AAA tow truck driver dead was responsible for the death of "
     "39 people.", {"39", "responsible"}),
]  # fmt: skip


@pytest.mark.parametrize(("candidate", "reply", "invented"), RECORDED)
def test_the_recorded_inventions_are_withheld(candidate, reply, invented):
    reason = Reason(matched=[("H1", 0.6)], popularity=0.0)
    said = explain(ScriptedLLM([reply]), reason, candidate, NEWS)
    assert not said.by_llm and said.text == reason.sentence(NEWS, candidate.title)
    assert invented <= set(said.problems)  # what it invented is named, to be counted


def test_a_reply_made_of_the_facts_and_framing_words_is_shown():
    reason = Reason(matched=[("H1", 0.6)], popularity=0.0)
    reply = f"Because you read “{READ.title}”, you may like “{LAPD.title}”; both are about the LAPD."
    said = explain(ScriptedLLM([reply]), reason, LAPD, NEWS)
    assert said.by_llm and said.text == reply


def test_numbers_names_and_content_words_must_come_from_the_sources():
    sources = ["Lakers beat the Celtics 112-108 in overtime", "The stories of the season"]
    assert unsupported("The Lakers beat the Celtics 112-108.", sources) == []
    assert unsupported("The Lakers beat the Celtics 112-109 in Boston.", sources) == ["109", "Boston"]
    assert unsupported("Another story of a season", sources) == ["Another"]  # "story" ~ "stories" by stem
    assert unsupported("Another story", sources, framing=["another"]) == []
    parts = judged("You like the Lakers story and Boston", sources, framing=["like"])
    assert parts == {"sources": ["Lakers", "story"], "framing": ["like"], "unsupported": ["Boston"]}
    assert claims("It is what it is, 1,000 times") == ["1,000", "times"]  # function words claim nothing
    assert unsupported("1000 fans", ["1,000 fans"]) == []  # the same number, grouped or not


def test_chinese_words_must_occur_in_the_sources_in_either_script():
    sources = ["湖人隊在加時賽中擊敗凱爾特人"]
    assert unsupported("湖人队击败凯尔特人", sources) == []  # Simplified reply, Traditional source
    assert unsupported("湖人队在上海击败凯尔特人3次", sources) == ["上海", "3"]
    # a compound whose head the sources hold, naming no one: "traffic accident" for "accident"
    assert unsupported("交通事故封闭51号公路, 限制南行於Baldwin", ["事故封闭北行51号公路, 限制南行於Baldwin"]) == []
    assert unsupported("北京大学", ["大学"]) == ["北京大学"]  # the head is there, but the compound is a name
    # an English function word in a Chinese text is no function word of it (Qwen2.5 ended a summary so)
    navarro = ["13個理由為什麼 (Christian Navarro) 譴責迪士尼的評論"]
    assert unsupported("對迪士尼的評論，13個理由 why", navarro) == ["why"]
    assert unsupported("Christian Navarro 的評論", navarro) == []


def test_a_leading_label_is_not_part_of_the_answer():
    assert label_stripped("Headline: Lakers win") == "Lakers win"
    assert label_stripped("Rewritten headline: Lakers win") == "Lakers win"
    assert label_stripped("标题：湖人获胜") == "湖人获胜"
    assert label_stripped("Lakers win: the recap") == "Lakers win: the recap"[len("Lakers win: ") :]


def test_a_paraphrase_differs_and_keeps_its_numbers_and_names():
    title = "LAPD officers arrest 3 after NFL game"
    assert problems(title, "Headline: " + title) != []  # the issue's "Headline: <title>"
    news = [News("A", title)]
    assert paraphrase_titles(ScriptedLLM(["Headline: " + title]), news) == {}
    assert problems(title, "lapd officers arrest 3 after nfl game!") == ["(the title again)"]
    assert problems(title, "Three held by LAPD after NFL match") == ["lost 3"]
    assert problems(title, "LAPD arrests 3 people after NFL game in NYC") == ["added NYC"]
    assert problems(title, "LAPD arrests 3 people after an NFL game in Ohio") == ["Ohio is in no source"]
    rbg = "Ruth Bader Ginsburg hailed as an inspiration"
    assert problems(rbg, "Ruth Bader Ginsburg, the former Supreme Court Justice, is hailed as an inspiration") == [
        "Supreme Court Justice is in no source"
    ]
    # Title Case hides names: a sentence-case title may not be rewritten in it ("Landmass" of a "ghost ship")
    assert problems(rbg, "Ruth Bader Ginsburg Praised As An Inspiration") == [
        "(a sentence-case title in Title Case, which hides its names)"
    ]
    assert (
        problems("Ruth Bader Ginsburg Hailed As An Inspiration", "Ruth Bader Ginsburg Praised As An Inspiration") == []
    )
    assert problems("Report: 24 teams to attend workout", "Report: 24 teams to attend workout.") == [
        "(the title again)"
    ]
    good = "Three people arrested by LAPD after an NFL game: 3 in custody"
    assert problems(title, good) == [] and paraphrase_titles(ScriptedLLM([good]), news) == {"A": good}


def test_the_profile_of_the_issue_is_replaced_by_one_that_reflects_the_history():
    history = [READ, LAPD, News("H2", "Lakers beat the Celtics", "sports", "basketball_nba", "")]
    invented = json.dumps({"profile": "F1 Profile for the reader", "topics": ["F1 Profile"]})
    only_text = json.dumps({"profile": "The reader likes F1 racing news.", "topics": ["F1"]})
    llm = ScriptedLLM([invented, only_text, only_text])
    profile = build_profile(llm, history, ["I like F1"])
    assert not profile.from_llm and "news" in profile.topics  # the counted profile: the history's categories
    assert "Profile" in llm.prompts[1]  # the retry names the unsupported word
    reflects = json.dumps({"profile": "Reads crime news from the LAPD. Likes F1.", "topics": ["crime", "F1"]})
    good = build_profile(ScriptedLLM([reflects]), history, ["I like F1"])
    assert good.from_llm and good.topics == ["crime", "F1"]
    # one sentence joining the LAPD's story and the Lakers' game: facts of two headlines merged
    merged = json.dumps({"profile": "Reads about the LAPD and the Lakers.", "topics": ["crime"]})
    assert not build_profile(ScriptedLLM([merged, merged, merged]), history).from_llm
    with pytest.raises(ValueError, match="no one source holds together"):
        UserProfile.model_validate_json(
            merged, context={"sources": Sources(tuple(n.title for n in history), FRAMING["en"])}
        )


def test_profile_topics_are_chosen_from_the_history_and_the_readers_words():
    history = [READ, News("H2", "Lakers beat the Celtics", "sports", "basketball_nba", "")]
    choices = topic_choices(history, ["I like F1"], "en")
    assert choices[:2] == ["news", "crime"] and {"F1", "Lakers", "Celtics"} <= set(choices)
    llm = ScriptedLLM([json.dumps({"profile": "Likes the Lakers and crime news.", "topics": ["Lakers", "crime"]})])
    build_profile(llm, history, ["I like F1"])
    assert llm.schemas[0]["properties"]["topics"]["items"] == {"enum": choices}  # the grammar a local model gets


def test_a_summary_or_keyword_with_an_invented_fact_falls_back():
    item = News("N9", "Fed cuts interest rates again", "finance", "markets", "The cut is the third this year.")
    invented = json.dumps({"summary": "The Fed cut rates by 2 points in London.", "keywords": ["Fed", "rates", "cut"]})
    bad_keyword = json.dumps({"summary": "The Fed cuts interest rates again.", "keywords": ["Fed", "rates", "Powell"]})
    result = enrich_news(ScriptedLLM([invented, bad_keyword, invented]), [item], progress=False)["N9"]
    assert not result.from_llm and result.summary == item.title
    good = json.dumps(
        {"summary": "The article reports the third Fed rate cut this year.", "keywords": ["Fed", "rates", "cut"]}
    )
    assert enrich_news(ScriptedLLM([good]), [item], progress=False)["N9"].from_llm


def test_sources_name_what_they_miss():
    with pytest.raises(ValueError, match=r"\(Paris\)"):
        Sources(("Lakers win",)).require("Lakers win in Paris", "summary")


def test_a_summary_that_repeats_the_title_is_no_summary():
    item = News("N9", "Bill Russell finally accepts Basketball Hall of Fame ring", "sports", "basketball_nba", "")
    copy = json.dumps({"summary": item.title + ".", "keywords": ["Bill Russell", "Hall of Fame", "ring"]})
    enriched = enrich_news(ScriptedLLM([copy] * 3), [item], progress=False)["N9"]
    assert not enriched.from_llm  # the counted fallback, marked as such
    said = json.dumps(
        {"summary": "Bill Russell accepts his Hall of Fame ring.", "keywords": ["Bill Russell", "ring", "Hall of Fame"]}
    )
    assert enrich_news(ScriptedLLM([said]), [item], progress=False)["N9"].from_llm
