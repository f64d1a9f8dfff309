"""A small synthetic news world in MIND format, with known ground truth.

Topics carry readable templated headlines; each user has hidden interest weights over topics;
each news item has a hidden appeal. Clicks in an impression are drawn from
softmax(interest_strength * log interest(topic) + appeal_strength * appeal), so both the
personal interest and popularity are learnable, and `world.json` records the truth.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from newsrec.data.mind import Impression, News, write_behaviors, write_news

__all__ = ["TOPICS", "SyntheticWorldConfig", "generate_world", "write_world", "describe_user"]

# topic -> (subcategory, headline subjects, headline verbs/objects)
TOPICS: dict[str, tuple[str, list[str], list[str]]] = {
    "sports": (
        "basketball",
        ["the Lakers", "the Celtics", "LeBron James", "the Warriors", "the Knicks"],
        [
            "win a thriller in overtime",
            "lose their home opener",
            "sign a veteran guard",
            "clinch a playoff spot",
            "trade for a star forward",
        ],
    ),
    "soccer": (
        "football",
        ["Liverpool", "Real Madrid", "Bayern Munich", "the US women's team", "Arsenal"],
        [
            "draw in a tense derby",
            "win the cup final on penalties",
            "sack their manager",
            "sign a young striker",
            "top the league table",
        ],
    ),
    "politics": (
        "elections",
        ["the Senate", "the governor", "House Democrats", "the White House", "voters in Ohio"],
        [
            "debate a new budget bill",
            "face an impeachment vote",
            "push a tax reform",
            "announce a campaign tour",
            "reject the proposed tariffs",
        ],
    ),
    "tech": (
        "gadgets",
        ["Apple", "a new startup", "Google", "Samsung", "open-source developers"],
        [
            "unveil a foldable phone",
            "release a faster laptop chip",
            "launch an AI assistant",
            "fix a major security flaw",
            "show a new smartwatch",
        ],
    ),
    "finance": (
        "markets",
        ["Wall Street", "the Federal Reserve", "oil prices", "bank stocks", "the dollar"],
        [
            "rally after strong jobs data",
            "cut interest rates again",
            "slump on recession fears",
            "hit a record high",
            "swing on trade news",
        ],
    ),
    "health": (
        "medical",
        ["doctors", "a new study", "the CDC", "nutrition experts", "researchers"],
        [
            "warn about flu season",
            "link sleep to heart health",
            "approve a new vaccine",
            "find benefits of daily walks",
            "track a measles outbreak",
        ],
    ),
    "travel": (
        "destinations",
        ["Iceland", "a Greek island", "Kyoto", "national parks", "cruise lines"],
        [
            "draw record tourists",
            "open new hiking trails",
            "offer cheap winter flights",
            "ban large tour buses",
            "top the list of places to visit",
        ],
    ),
    "food": (
        "recipes",
        ["home cooks", "a famous chef", "pizza lovers", "bakers", "vegan restaurants"],
        [
            "share an easy weeknight pasta",
            "rank the best burgers",
            "try a five-minute dessert",
            "reinvent holiday stuffing",
            "open a new tasting menu",
        ],
    ),
    "autos": (
        "cars",
        ["Tesla", "Ford", "electric pickup trucks", "Toyota", "self-driving cars"],
        [
            "recall thousands of vehicles",
            "unveil a cheaper electric car",
            "set a range record",
            "expand its charging network",
            "face new safety tests",
        ],
    ),
    "movies": (
        "cinema",
        ["Marvel", "a horror sequel", "an indie drama", "Disney", "the Oscars"],
        [
            "top the weekend box office",
            "release a surprise trailer",
            "cast a new villain",
            "win over festival critics",
            "delay its premiere",
        ],
    ),
    "music": (
        "pop",
        ["Taylor Swift", "a rock band reunion", "K-pop stars", "the Grammys", "a jazz legend"],
        [
            "announce a world tour",
            "drop a surprise album",
            "break a streaming record",
            "cancel a stadium show",
            "honor a late icon",
        ],
    ),
    "weather": (
        "forecast",
        ["a winter storm", "the Midwest", "hurricane season", "California", "a heat wave"],
        [
            "bring heavy snow to the plains",
            "cause flight delays",
            "threaten the coast",
            "break temperature records",
            "ease after a week of rain",
        ],
    ),
}

WHEN = ["", " this week", " on Sunday", " after months of talks", " as fans watch", " amid surprise"]

ABSTRACT_TEMPLATES = [
    "Here is what we know so far about how {subject} {verb}, and what it means next.",
    "Reports say {subject} {verb}; experts weigh in on the {topic} story of the week.",
    "{subject} {verb}, in a {topic} story readers have been following closely.",
]


@dataclass
class SyntheticWorldConfig:
    """Sizes and strengths of the synthetic world."""

    n_news: int = 1500
    n_users: int = 400
    impressions_per_user: int = 4
    dev_impressions_per_user: int = 1
    history_min: int = 3
    history_max: int = 25
    candidates_per_impression: int = 15
    interest_concentration: float = 0.3  # Dirichlet alpha: small = focused users
    interest_strength: float = 1.5
    appeal_strength: float = 1.0
    seed: int = 7


def _headline(rng: random.Random, topic: str) -> tuple[str, str, str]:
    subcategory, subjects, verbs = TOPICS[topic]
    subject, verb = rng.choice(subjects), rng.choice(verbs)
    title = f"{subject[0].upper()}{subject[1:]} {verb}{rng.choice(WHEN)}"
    abstract = rng.choice(ABSTRACT_TEMPLATES).format(subject=subject, verb=verb, topic=topic)
    return subcategory, title, abstract[0].upper() + abstract[1:]


def generate_world(config: SyntheticWorldConfig) -> dict:
    """Build news, users with hidden interests, and train/dev impressions.

    Returns {"news": [News], "train": [Impression], "dev": [Impression], "truth": {...}}.
    """
    rng = random.Random(config.seed)
    np_rng = np.random.default_rng(config.seed)
    topics = list(TOPICS)
    news: list[News] = []
    topic_of: list[int] = []
    for i in range(config.n_news):
        topic = topics[i % len(topics)]
        subcategory, title, abstract = _headline(rng, topic)
        news.append(News(f"S{i}", title, topic, subcategory, abstract))
        topic_of.append(topics.index(topic))
    news_topic = np.array(topic_of)
    appeal = np_rng.normal(0.0, 1.0, config.n_news)
    interests = np_rng.dirichlet([config.interest_concentration] * len(topics), config.n_users)

    start = datetime(2026, 11, 1)
    train: list[Impression] = []
    dev: list[Impression] = []
    truth_users: dict[str, dict[str, float]] = {}
    for u in range(config.n_users):
        user_id = f"SU{u}"
        truth_users[user_id] = {t: round(float(w), 4) for t, w in zip(topics, interests[u])}
        utility = config.interest_strength * np.log(interests[u][news_topic] + 1e-3) + config.appeal_strength * appeal
        history_len = rng.randint(config.history_min, config.history_max)
        history = _draw(np_rng, np.arange(config.n_news), utility, history_len)
        n_imps = config.impressions_per_user + config.dev_impressions_per_user
        for k in range(n_imps):
            candidates = np_rng.choice(config.n_news, config.candidates_per_impression, replace=False)
            n_clicks = 1 + int(np_rng.random() < 0.3)
            clicked = set(_draw(np_rng, candidates, utility[candidates], n_clicks))
            time = (start + timedelta(days=k, minutes=u)).strftime("%m/%d/%Y %I:%M:%S %p")
            imp = Impression(
                impression_id=str(len(train) + len(dev) + 1),
                user_id=user_id,
                time=time,
                history=[f"S{i}" for i in history],
                candidates=[f"S{i}" for i in candidates],
                labels=[int(c in clicked) for c in candidates],
            )
            (train if k < config.impressions_per_user else dev).append(imp)
            history = history + sorted(clicked)  # later impressions see earlier clicks
    truth = {
        "topics": topics,
        "users": truth_users,
        "appeal": {f"S{i}": round(float(a), 4) for i, a in enumerate(appeal)},
    }
    return {"news": news, "train": train, "dev": dev, "truth": truth}


def _draw(rng: np.random.Generator, items: np.ndarray, utility: np.ndarray, k: int) -> list[int]:
    """Draw k distinct items with probability softmax(utility)."""
    p = np.exp(utility - utility.max())
    p /= p.sum()
    return [int(i) for i in rng.choice(items, size=min(k, len(items)), replace=False, p=p)]


def write_world(out_dir: str | Path, config: SyntheticWorldConfig | None = None) -> Path:
    """Generate a world and write it as MIND files: news.tsv, train/, dev/, world.json."""
    config = config or SyntheticWorldConfig()
    world = generate_world(config)
    out = Path(out_dir)
    write_news(out / "news.tsv", world["news"])
    write_behaviors(out / "train" / "behaviors.tsv", world["train"])
    write_behaviors(out / "dev" / "behaviors.tsv", world["dev"])
    (out / "world.json").write_text(json.dumps({"config": vars(config), **world["truth"]}, indent=1))
    return out


def describe_user(interests: dict[str, float], n_topics: int = 2) -> str:
    """A user's own words for their strongest hidden interests, e.g. "I follow basketball and markets news"."""
    top = sorted(interests, key=lambda t: -interests[t])[:n_topics]
    return "I follow " + " and ".join(f"{TOPICS[t][0]} ({t})" for t in top) + " news"
