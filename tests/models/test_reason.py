"""Explanation facts: one rule picks them, one template states them, weak links are not claimed."""

import numpy as np

from newsrec.data.mind import News
from newsrec.models.reason import (
    Reason,
    content_words,
    interest_topics,
    mentions,
    reason_from_matches,
    reasons_from_matches,
)

NEWS = {"N1": News("N1", "Lakers win the opener"), "N2": News("N2", "Fed cuts rates")}


CANDIDATE = np.array([1.0, 0.0])


def test_the_strongest_history_items_and_topics_are_kept_in_order():
    directions = np.array([[0.2, 1.0], [10.0, 0.0], [1.0, 1.0]])  # cosines with the candidate: 0.20, 1, 0.71
    topic_vectors = np.array([[0.0, 1.0], [1.0, 0.1], [1.0, 1.0]])  # 0, 0.995, 0.71
    reason = reason_from_matches(CANDIDATE, ["N1", "N2", "N3"], directions, 0.7, ["nba", "rates", "f1"], topic_vectors)
    assert [n for n, _ in reason.matched] == ["N2", "N3"] and [t for t, _ in reason.topics] == ["rates", "f1"]
    assert [round(s, 2) for _, s in reason.matched] == [1.0, 0.71]  # a cosine: the length of W h does not count
    assert reason.popularity == 0.7
    assert reason_from_matches(CANDIDATE, [], np.zeros((0, 2)), 0.0).matched == []
    zero = reason_from_matches(CANDIDATE, ["N1"], np.zeros((1, 2)), 0.0)
    assert zero.matched == [("N1", 0.0)]


def test_several_candidates_at_once_get_the_facts_each_would_get_alone():
    rng = np.random.default_rng(0)
    candidates, directions, topic_vectors = rng.normal(size=(6, 4)), rng.normal(size=(5, 4)), rng.normal(size=(3, 4))
    candidates[2] = 0.0  # a zero vector matches nothing
    history, topics, popularity = ["N1", "N2", "N3", "N4", "N5"], ["nba", "rates", "f1"], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    together = reasons_from_matches(candidates, history, directions, popularity, topics, topic_vectors)
    alone = [
        reason_from_matches(c, history, directions, p, topics, topic_vectors)
        for c, p in zip(candidates, popularity, strict=True)
    ]
    assert together == alone and len({tuple(r.matched) for r in together}) > 2  # not one reason repeated


def test_the_template_names_the_strongest_fact_and_never_a_weak_one():
    assert Reason([("N1", 0.8)], 0.0).sentence(NEWS) == 'Because you read "Lakers win the opener" (match 0.80).'
    topical = Reason([("N1", 0.3)], 0.9, [("I follow the NBA", 0.6)]).sentence(NEWS)
    assert topical == 'Matches your interest "I follow the NBA" (match 0.60) and it is popular with readers.'
    assert Reason([("N1", 0.05)], 0.9).sentence(NEWS) == "Popular with readers right now."
    assert Reason([("N2", 0.05)], 0.0, [("tennis", 0.02)]).sentence(NEWS) == "Something beyond your usual reading."
    assert Reason([("N2", 0.29)], 0.0).sentence(NEWS) == "Something beyond your usual reading."  # under WEAK_MATCH


def test_the_template_speaks_the_language_and_script_of_what_it_quotes():
    news = {"Z1": News("Z1", "湖人隊贏得揭幕戰"), "Z2": News("Z2", "美联储再次降息")}
    assert (
        Reason([("Z1", 0.8)], 0.9).sentence(news) == "因為你讀過「湖人隊贏得揭幕戰」（相符度 0.80），而且很受讀者歡迎。"
    )
    assert Reason([("Z2", 0.5)], 0.0).sentence(news) == "因为你读过「美联储再次降息」（相符度 0.50）。"
    assert Reason([("Z1", 0.05)], 0.9).sentence(news, "湖人隊再贏一場") == "這則新聞現在很受讀者歡迎。"
    assert Reason([("Z1", 0.05)], 0.0).sentence(news, "美联储再次降息") == "你平常阅读范围以外的新闻。"
    assert Reason([("Z1", 0.05)], 0.0).sentence(news, "Fed cuts rates") == "Something beyond your usual reading."
    assert Reason([("N1", 0.8)], 0.0).sentence(NEWS) == 'Because you read "Lakers win the opener" (match 0.80).'
    # a reader's topic in Latin letters is quoted in the language and script of their own words
    topics = interest_topics("我喜欢篮球和NBA")
    chinese = reason_from_matches(CANDIDATE, [], np.zeros((0, 2)), 0.0, topics, np.array([[0.2, 0.98], [0.6, 0.8]]))
    assert chinese.sentence(news) == "符合你的兴趣「NBA」（相符度 0.60）。"
    english = reason_from_matches(CANDIDATE, [], np.zeros((0, 2)), 0.0, ["NBA"], np.array([[0.6, 0.8]]))
    assert english.sentence(news) == 'Matches your interest "NBA" (match 0.60).'


def test_interest_text_splits_into_topics():
    assert interest_topics("I follow the NBA and electric cars, cooking;  and jazz") == [
        "I follow the NBA",
        "electric cars",
        "cooking",
        "jazz",
    ]
    assert interest_topics("  ") == []


def test_chinese_interest_text_splits_at_punctuation_and_conjunction_words():
    assert interest_topics("我关注NBA和电动车，还有烹饪；和平\n美食、旅游") == [
        "我关注NBA",
        "电动车",
        "烹饪",
        "和平",  # "和" inside a word does not split it
        "美食",
        "旅游",
    ]


def test_a_simplified_interest_matches_a_traditional_title_by_its_words():
    title = "湖人隊在加時賽中贏得籃球比賽"
    assert {"篮球", "比赛", "湖人队"} <= content_words(title)  # Simplified, words inside "籃球比賽" too
    assert not {"在", "中"} & content_words(title)  # stop words and single characters carry no topic
    assert mentions("我喜欢篮球和电动车", title)  # Simplified text, Traditional title
    assert mentions("你喜歡湖人隊的比賽", "湖人队赢得篮球比赛")  # and the other way round
    assert not mentions("我喜欢烹饪和旅游", title)
    assert mentions("You liked the Lakers opener.", "Lakers win the opener") and not mentions("Fed news", "Lakers win")
