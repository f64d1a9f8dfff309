"""Popularity as it stood at a moment: decayed counts, age, and training features from before each impression."""

import math

import numpy as np
import pytest

from newsrec.data.mind import Impression
from newsrec.data.popularity import Popularity, smoothed_ctr

DAY = "11/13/2019 {h}:00:00 AM"


def imp(i, hour, candidates, labels):
    return Impression(str(i), "U", DAY.format(h=hour) if hour else "", [], candidates, labels)


def test_untimed_logs_count_together_and_each_impression_leaves_itself_out():
    a, b = imp(1, None, ["N1", "N2"], [1, 0]), imp(2, None, ["N1", "N3"], [0, 1])
    state, before = Popularity.replay([a, b])
    full = state.features(["N1", "N9"])
    assert np.allclose(full[0, :2], [math.log1p(1), math.log1p(2)]) and full[0, 4] == 1
    assert np.isclose(full[0, 2], math.log(smoothed_ctr(1, 2) / (1 - smoothed_ctr(1, 2))))
    assert np.allclose(full[1], 0)  # never shown: no log, and new
    assert np.allclose(before[0]["N1"][:2], [0.0, math.log1p(1)])  # a's own view and click are gone
    assert np.allclose(before[0]["N2"], 0)  # N2 was only seen in a


def test_timed_logs_replay_in_order_with_decay_and_age():
    first, later = imp(1, 8, ["N1", "N2"], [1, 0]), imp(2, 11, ["N1", "N3"], [0, 1])
    state, before = Popularity.replay([later, first], half_life_hours=3)  # order given does not matter
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
