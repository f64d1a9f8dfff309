"""Popularity as it stood at a moment: decayed counts, age, and training features from before each impression."""

import math

import numpy as np
import pytest

from newsrec.data.behaviors import Behaviors
from newsrec.data.mind import Impression
from newsrec.data.popularity import Popularity, smoothed_ctr

DAY = "11/13/2019 {h}:00:00 AM"


def imp(i, hour, candidates, labels):
    return Impression(str(i), "U", DAY.format(h=hour) if hour else "", [], candidates, labels)


def replay(impressions, half_life_hours=None):
    """The final state, and per impression {candidate: its features just before the impression}."""
    behaviors = Behaviors.from_impressions(impressions)
    state, before = Popularity.replay(behaviors, half_life_hours)
    features = []
    for i in range(len(behaviors)):
        slots = np.arange(behaviors.candidates_at[i], behaviors.candidates_at[i + 1])[None]
        own = before.features(slots, np.array([i]), behaviors.candidates[slots])[0]
        features.append(dict(zip(impressions[i].candidates, own)))
    return state, features


def test_untimed_logs_count_together_and_each_impression_leaves_itself_out():
    a, b = imp(1, None, ["N1", "N2"], [1, 0]), imp(2, None, ["N1", "N3"], [0, 1])
    state, before = replay([a, b])
    full = state.features(["N1", "N9"])
    assert np.allclose(full[0, :2], [math.log1p(1), math.log1p(2)]) and full[0, 4] == 1
    assert np.isclose(full[0, 2], math.log(smoothed_ctr(1, 2) / (1 - smoothed_ctr(1, 2))))
    assert np.allclose(full[1], 0)  # never shown: no log, and new
    assert np.allclose(before[0]["N1"][:2], [0.0, math.log1p(1)])  # a's own view and click are gone
    assert np.allclose(before[0]["N2"], 0)  # N2 was only seen in a


def test_timed_logs_replay_in_order_with_decay_and_age():
    first, later = imp(1, 8, ["N1", "N2"], [1, 0]), imp(2, 11, ["N1", "N3"], [0, 1])
    state, before = replay([later, first], half_life_hours=3)  # order given does not matter
    assert np.allclose(before[1]["N1"], 0)  # the first impression saw nothing
    clicks, views = state.counts("N1", first.timestamp + 3 * 3600)
    assert np.isclose(clicks, 0.5) and np.isclose(views, 1.5)  # one half-life later; the 11:00 view is new
    seen_later = before[0]["N1"]
    assert np.isclose(seen_later[0], math.log1p(0.5)) and np.isclose(seen_later[3], math.log1p(3.0))  # 3 h old
    assert np.isclose(state.features(["N1"], first.timestamp + 10 * 3600)[0, 3], math.log1p(10.0))


def test_clicks_without_logged_views_never_make_a_ctr_above_one():
    state = Popularity()
    state.add("N1", 0.0, clicks=3.0)
    assert 0 < smoothed_ctr(3, 0) < 1 and np.isfinite(state.features(["N1"])).all()


def test_late_events_decay_into_place_and_save_load_keeps_everything(tmp_path):
    state = Popularity(half_life_hours=1)
    state.add("N1", 7200.0, views=1.0)
    state.add("N1", 3600.0, clicks=1.0)  # an hour before the last count: half of it is left
    assert np.allclose(state.counts("N1", 7200.0), (0.5, 1.0))
    state.save(tmp_path / "p.json")
    loaded = Popularity.load(tmp_path / "p.json")
    assert loaded.half_life_hours == 1 and loaded.end == 7200.0
    assert np.allclose(loaded.features(["N1", "N2"], 9000.0), state.features(["N1", "N2"], 9000.0))
    (tmp_path / "old.json").write_text('{"clicks": {}, "views": {}}')
    with pytest.raises(ValueError, match="older newsrec"):
        Popularity.load(tmp_path / "old.json")


def test_the_replay_gives_what_counting_each_impression_in_turn_gives(tiny_world):
    """The array replay against the plain rule, on a log with times, ties, repeats and untimed rows."""
    from newsrec.data.behaviors import read_behaviors

    timed = read_behaviors(tiny_world / "train")[:40]
    for k, i in enumerate(timed):
        i.time = DAY.format(h=1 + k % 9) if k % 5 else ""  # ties in time, and untimed impressions
    timed[3].candidates, timed[3].labels = [*timed[3].candidates, timed[3].candidates[0]], [*timed[3].labels, 1]
    state, features = replay(timed, half_life_hours=2)
    plain, end = Popularity(2), max(i.timestamp for i in timed if i.timestamp)
    order = sorted((i for i in range(len(timed)) if timed[i].timestamp), key=lambda i: timed[i].timestamp)
    for i in order:
        expected = plain.features(timed[i].candidates, timed[i].timestamp)
        assert np.allclose(np.stack([features[i][c] for c in timed[i].candidates]), expected, atol=1e-5)
        plain.add_impression(timed[i])
    untimed = [i for i in range(len(timed)) if not timed[i].timestamp]
    for i in untimed:
        plain.add_impression(timed[i], at=end)
    for i in untimed:
        plain.add_impression(timed[i], at=end, sign=-1.0)
        expected = plain.features(timed[i].candidates, end)
        assert np.allclose(np.stack([features[i][c] for c in timed[i].candidates]), expected, atol=1e-5)
        plain.add_impression(timed[i], at=end)
    assert state.ids == plain.ids and np.allclose(state._counts[: len(state.ids)], plain._counts[: len(plain.ids)])


def test_ages_count_from_publication_where_the_news_has_a_time():
    first, later = imp(1, 8, ["N1", "N2"], [1, 0]), imp(2, 11, ["N1", "N3"], [0, 1])
    published = {"N1": first.timestamp - 2 * 3600, "N3": first.timestamp + 5 * 3600, "N9": first.timestamp}
    behaviors = Behaviors.from_impressions([first, later])
    state, before = Popularity.replay(behaviors, published=published)
    _, features = replay([first, later])  # the same logs without publication times
    slots = np.arange(behaviors.candidates_at[0], behaviors.candidates_at[1])[None]
    timed = before.features(slots, np.array([0]), behaviors.candidates[slots])[0]
    assert np.isclose(timed[0, 3], math.log1p(2.0)) and np.isclose(features[0]["N1"][3], 0.0)  # 2 h old, not new
    # published after its first sighting (a late or wrong time): the sighting stays the origin
    at = later.timestamp
    assert np.isclose(state.features(["N3"], at + 3600)[0, 3], math.log1p(1.0))
    # published, never shown: a row without counts whose age runs from publication
    never = state.features(["N9"], at)[0]
    assert np.isclose(never[3], math.log1p(3.0)) and never[4] == 0 and np.allclose(never[:3], 0)
    # what the service does as news arrive gives the replay's state
    live = Popularity()
    live.publish(list(published), list(published.values()))
    for i in (first, later):
        live.add_impression(i)
    ids = ["N1", "N2", "N3", "N9"]
    assert np.allclose(live.features(ids, at + 3600), state.features(ids, at + 3600))
