import json

import numpy as np

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.data.synthetic import TOPICS, SyntheticWorldConfig, generate_world
from tests.conftest import TINY_WORLD


def test_world_files_are_mind_format_with_truth(tiny_world):
    news = read_news(tiny_world)
    train = read_behaviors(tiny_world / "train")
    dev = read_behaviors(tiny_world / "dev")
    assert len(news) == TINY_WORLD.n_news
    assert len(train) == TINY_WORLD.n_users * TINY_WORLD.impressions_per_user
    assert all(1 in imp.labels and 0 in imp.labels for imp in train + dev)
    assert all(c in news for imp in train + dev for c in imp.candidates + imp.history)
    truth = json.loads((tiny_world / "world.json").read_text())
    assert set(truth["topics"]) == set(TOPICS) and len(truth["users"]) == TINY_WORLD.n_users
    assert all(n.category in TOPICS and len(n.title.split()) >= 3 for n in news.values())


def test_world_is_seeded_and_clicks_follow_interests():
    config = SyntheticWorldConfig(n_news=240, n_users=150, seed=1)
    world = generate_world(config)
    again = generate_world(config)
    assert world["train"] == again["train"]
    topic = {n.news_id: n.category for n in world["news"]}
    users = world["truth"]["users"]
    # clicked items are on topics the user likes more than the non-clicked ones shown beside them
    clicked_w, shown_w = [], []
    for imp in world["train"]:
        for c, y in zip(imp.candidates, imp.labels):
            (clicked_w if y else shown_w).append(users[imp.user_id][topic[c]])
    assert np.mean(clicked_w) > 2 * np.mean(shown_w)
