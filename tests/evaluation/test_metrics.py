import math
from collections import Counter

import numpy as np
import pytest

from newsrec.data.mind import Impression, News
from newsrec.evaluation import metrics
from newsrec.evaluation.evaluate import evaluate_scores
from newsrec.evaluation.prediction import read_predictions, write_predictions

# labels and scores of one impression; ranking by score: c(1), a(0), d(1), b(0)
Y = [0, 0, 1, 1]
S = [0.8, 0.1, 0.9, 0.3]


def test_auc_by_hand():
    # pairs (click, non-click): (0.9>0.8), (0.9>0.1), (0.3<0.8), (0.3>0.1) -> 3 of 4
    assert metrics.auc(Y, S) == 0.75
    assert metrics.auc([1, 0, 0], [0.5, 0.5, 0.1]) == 0.75  # a tie counts half


ACCURACY = {
    "AUC": metrics.auc,
    "MRR": metrics.mrr,
    "nDCG": lambda y, s: metrics.ndcg(y, s, 5),
    "CTR@k": lambda y, s: metrics.hit_at_k(y, s, 1),
}


@pytest.mark.parametrize("labels", [[0, 0], [1, 1]], ids=["no click", "no non-click"])
@pytest.mark.parametrize("name", list(ACCURACY))
def test_every_accuracy_metric_refuses_an_impression_without_both_labels_alike(name, labels):
    assert not metrics.judgeable(labels) and metrics.judgeable([0, 1])
    with pytest.raises(metrics.UnjudgeableImpression, match=f"{name} needs at least one click and one non-click"):
        ACCURACY[name](labels, [0.2, 0.3])
    assert issubclass(metrics.UnjudgeableImpression, ValueError)


def test_mrr_by_hand():
    # clicks at ranks 1 and 3: (1 + 1/3) / 2
    assert metrics.mrr(Y, S) == pytest.approx((1 + 1 / 3) / 2)


def test_ndcg_by_hand():
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert metrics.ndcg(Y, S, 5) == pytest.approx(dcg / ideal)
    assert metrics.ndcg(Y, S, 2) == pytest.approx(1 / ideal)  # only the top 2 count
    assert metrics.ndcg(Y, [0, 0, 1, 1], 10) == pytest.approx(1.0)


def test_hit_and_ranks():
    assert metrics.hit_at_k(Y, S, 1) == 1.0
    assert metrics.hit_at_k([1, 0, 0], [0.1, 0.5, 0.9], 2) == 0.0
    assert metrics.ranks(S) == [2, 4, 1, 3]
    assert metrics.ranks([0.5, 0.5]) == [1, 2]  # ties keep listed order


def test_beyond_accuracy_by_hand():
    cat = {"a": "x", "b": "x", "c": "y"}
    assert metrics.category_diversity(["a", "b", "c"], cat) == pytest.approx(2 / 3)
    assert metrics.coverage([["a", "b"], ["b"]], {"a", "b", "c", "d"}) == 0.5
    clicks = Counter({"a": 3})  # p(a) = 4/5, p(z) = 1/5 with add-one over 2 "items"
    assert metrics.novelty(["a", "z"], clicks, 3) == pytest.approx((-math.log2(4 / 5) - math.log2(1 / 5)) / 2)


def test_evaluate_scores_averages_and_skips_and_counts_one_class_impressions():
    news = {i: News(i, i, cat) for i, cat in zip("abcd", "xxyy")}
    imps = [
        Impression("1", "U", "", [], list("abcd"), Y),
        Impression("2", "U", "", [], list("ab"), [1, 0]),
        Impression("3", "U", "", [], list("ab"), [1, 1]),  # all clicks: skipped
        Impression("4", "U", "", [], list("cd"), [0, 0]),  # no click: skipped
        Impression("5", "U", "", [], list("cd"), None),  # no labels: skipped
    ]
    scores = [np.array(S), np.array([0.1, 0.2]), np.array([1, 2]), np.array([1, 2]), np.array([1, 2])]
    result = evaluate_scores(imps, scores, news)
    assert result["impressions"] == 2 and result["skipped"] == 3
    assert result["auc"] == pytest.approx((0.75 + 0.0) / 2)
    assert result["acc@1"] == pytest.approx(0.5)
    assert result["coverage@10"] == 1.0


def test_prediction_file_format(tmp_path):
    imps = [Impression("17", "U", "", [], list("abcd"), None), Impression("18", "U", "", [], ["a"], None)]
    path = tmp_path / "prediction.txt"
    assert write_predictions(path, zip(imps, [np.array(S), np.array([3.0])])) == 2
    assert path.read_text() == "17 [2,4,1,3]\n18 [1]\n"
    assert read_predictions(path) == {"17": [2, 4, 1, 3], "18": [1]}


def test_tied_scores_count_in_expectation_not_in_listed_order():
    # one click among 10 equal scores: wherever it is listed, its rank is uniform over 1..10
    for place in (0, 9):
        y = [0] * 10
        y[place] = 1
        assert metrics.mrr(y, [0.5] * 10) == pytest.approx(sum(1 / r for r in range(1, 11)) / 10)
        assert metrics.hit_at_k(y, [0.5] * 10, 5) == pytest.approx(0.5)
        assert metrics.ndcg(y, [0.5] * 10, 10) == pytest.approx(sum(1 / math.log2(r + 1) for r in range(1, 11)) / 10)


@pytest.mark.parametrize("seed", range(30))
def test_tie_aware_metrics_are_the_mean_over_every_order_of_the_tied(seed):
    import itertools

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    y = rng.integers(0, 2, n)
    click = rng.integers(0, n)
    y[click], y[(click + 1) % n] = 1, 0  # at least one click and one non-click
    s = rng.integers(0, 3, n).astype(float)  # few values: many ties
    strict = []  # every order that sorts by score, ties broken every way
    for perm in itertools.permutations(range(n)):
        if all(s[perm[i]] >= s[perm[i + 1]] for i in range(n - 1)):
            ranked = np.empty(n)
            ranked[list(perm)] = np.arange(n, 0, -1)  # strictly decreasing scores in that order
            strict.append(ranked)
    for metric, fn in (("mrr", metrics.mrr), ("ndcg@3", lambda a, b: metrics.ndcg(a, b, 3))):
        assert fn(y, s) == pytest.approx(np.mean([fn(y, r) for r in strict])), metric
    for k in (1, 2, 3):
        assert metrics.hit_at_k(y, s, k) == pytest.approx(np.mean([metrics.hit_at_k(y, r, k) for r in strict]))
