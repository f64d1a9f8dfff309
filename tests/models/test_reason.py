"""Explanation facts: one rule picks them, one template states them, weak links are not claimed."""

import numpy as np

from newsrec.data.mind import News
from newsrec.models.reason import Reason, interest_topics, reason_from_matches

NEWS = {"N1": News("N1", "Lakers win the opener"), "N2": News("N2", "Fed cuts rates")}


def test_the_strongest_history_items_and_topics_are_kept_in_order():
    reason = reason_from_matches(
        ["N1", "N2", "N3"], np.array([0.2, 0.9, 0.5]), 0.7, ["nba", "rates", "f1"], np.array([0.1, 0.3, 0.2]), top=2
    )
    assert [n for n, _ in reason.matched] == ["N2", "N3"] and [t for t, _ in reason.topics] == ["rates", "f1"]
    assert reason.popularity == 0.7
    assert reason_from_matches([], np.zeros(0), 0.0).matched == []


def test_the_template_names_the_strongest_fact_and_never_a_weak_one():
    assert Reason([("N1", 0.8)], 0.0).sentence(NEWS) == 'Because you read "Lakers win the opener" (match 0.80).'
    topical = Reason([("N1", 0.3)], 0.9, [("I follow the NBA", 0.6)]).sentence(NEWS)
    assert topical == 'Matches your interest "I follow the NBA" (match 0.60) and it is popular with readers.'
    assert Reason([("N1", 0.05)], 0.9).sentence(NEWS) == "Popular with readers right now."
    assert Reason([("N2", 0.05)], 0.0, [("tennis", 0.02)]).sentence(NEWS) == "Something beyond your usual reading."


def test_interest_text_splits_into_topics():
    assert interest_topics("I follow the NBA and electric cars, cooking;  and jazz") == [
        "I follow the NBA",
        "electric cars",
        "cooking",
        "jazz",
    ]
    assert interest_topics("  ") == []
