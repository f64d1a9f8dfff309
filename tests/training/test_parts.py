"""Each process's part of the logs, and the popularity replay the parts share (training/parts.py)."""

import numpy as np
import pytest

from newsrec.data.behaviors import Behaviors, BehaviorsFiles, positions_of
from newsrec.data.mind import parse_time, read_news
from newsrec.data.missing_news import drop_missing_news
from newsrec.data.popularity import Popularity
from newsrec.evaluation.evaluate import MetricTally
from newsrec.training.parts import read_replay, write_replay


@pytest.fixture()
def log(tiny_world, tmp_path):
    """tiny_world's training log, with what the replay must get right in a part: impressions
    without a time, one that names an item news.tsv lacks, one without a click."""
    lines = (tiny_world / "train" / "behaviors.tsv").read_text().splitlines()
    for i in range(1, len(lines), 7):  # untimed: counted together at the end of the logs
        fields = lines[i].split("\t")
        lines[i] = "\t".join([*fields[:2], "", *fields[3:]])
    fields = lines[3].split("\t")
    lines[3] = "\t".join([*fields[:4], fields[4] + " N-GONE-1"])  # a candidate without text
    fields = lines[6].split("\t")
    lines[6] = "\t".join([*fields[:4], fields[4].replace("-1", "-0")])  # no click left
    path = tmp_path / "behaviors.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_parts_of_a_file_are_disjoint_and_together_the_whole(log):
    whole = Behaviors.read(log)
    parts = [Behaviors.read(log, part=r, parts=3) for r in range(3)]
    assert np.array_equal(np.sort(np.concatenate([p.origin for p in parts])), np.arange(len(whole)))
    for r, part in enumerate(parts):
        assert np.array_equal(part.origin, np.arange(r, len(whole), 3))
        assert list(part) == [whole[i] for i in part.origin.tolist()]  # ids, histories, candidates, labels
        assert list(whole.part(r, 3)) == list(part)  # a part taken from memory is the part read
    without = Behaviors.read(log, histories=False)
    assert len(without.history) == 0 and np.array_equal(without.candidates_at, whole.candidates_at)
    with pytest.raises(ValueError, match="part 3 of 3"):
        Behaviors.read(log, part=3, parts=3)


def test_each_part_gets_the_counts_the_whole_replay_gives(tiny_world, log, tmp_path):
    news = read_news(tiny_world)
    files = BehaviorsFiles((log,), until=parse_time("11/02/2026 12:00:00 AM"))
    whole, report = drop_missing_news(files.read(histories=False), news, require_click=True)
    assert report.candidates_dropped == 1 and report.impressions_dropped == 1  # the fixture's faults are there
    assert len(whole) < len(files.read()) < len(Behaviors.read(log))  # and --until left some out
    assert np.isnan(whole.moments).sum() >= 3  # untimed impressions, which see each other
    popularity, before = Popularity.replay(whole, half_life_hours=24)
    write_replay(tmp_path / "replay", whole, popularity, before)

    parts = [drop_missing_news(files.read(r, 3), news, require_click=True)[0] for r in range(3)]
    assert sum(map(len, parts)) == len(whole)
    for part in parts:
        part_popularity, part_before = read_replay(tmp_path / "replay", part)
        assert part_popularity.ids == popularity.ids and part_popularity.end == popularity.end
        at_whole = np.searchsorted(whole.origin, part.origin)  # the same impressions in the whole log
        slots = positions_of(whole.candidates_at, at_whole)
        owner = np.repeat(at_whole, whole.candidate_counts()[at_whole])
        expected = before.features(slots[:, None], owner, whole.candidates[slots][:, None])
        got = part_before.features(
            np.arange(len(part.candidates))[:, None], part.impression_of_slot(), part.candidates[:, None]
        )
        assert np.array_equal(got, expected)

    other, _ = drop_missing_news(Behaviors.read(tiny_world / "dev"), news, require_click=True)
    with pytest.raises(ValueError, match="other training data"):
        read_replay(tmp_path / "replay", other)
    with pytest.raises(FileNotFoundError, match="every machine reads"):
        read_replay(tmp_path / "elsewhere", parts[0])


def test_the_tallies_of_parts_merge_into_the_tally_of_the_whole(tiny_world):
    news = read_news(tiny_world)
    dev = Behaviors.read(tiny_world / "dev")
    scores = [np.random.default_rng(i).random(len(imp.candidates)) for i, imp in enumerate(dev)]
    whole = MetricTally(news)
    whole.add(dev, scores)
    counted = []
    for r in range(3):
        tally = MetricTally(news)
        tally.add(dev.part(r, 3), scores[r::3])
        counted.append(tally.counted())
    assert MetricTally.merged(counted).result() == pytest.approx(whole.result(), rel=1e-12)
    assert MetricTally.merged(counted[:2]).result()["impressions"] < whole.result()["impressions"]
