"""`newsrec ensemble` end to end: two models trained by the CLI, fused, then evaluated beside them."""

import json

import pytest

from newsrec.evaluation.evaluate import HEADLINE_METRICS
from newsrec.models.ensemble import ENSEMBLE_FILE
from tests.cli.test_cli import invoke

MODEL = "newsrec (trained)"  # the row of `evaluate --json` that the given --model scored


def evaluated(model, world) -> dict[str, float]:
    result = invoke("evaluate", "--model", model, "--news", world, "--behaviors", world / "dev", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[MODEL]


@pytest.fixture(scope="module")
def members(tiny_world, tmp_path_factory):
    """Two models the CLI trained on the tiny world (mean and NRMS user encoders), with their dev metrics."""
    folder = tmp_path_factory.mktemp("members")
    trained = {}
    for name in ("mean", "nrms"):
        out = folder / name
        args = ("--news", tiny_world, "--behaviors", tiny_world / "train", "--out", out)
        result = invoke("train", *args, "--epochs", 2, "--user-encoder", name)
        assert result.exit_code == 0, result.output
        trained[out] = evaluated(out, tiny_world)
    return trained


def fuse(members, world, out, *options) -> str:
    args = [a for m in members for a in ("--model", m)]
    result = invoke("ensemble", *args, "--news", world, "--out", out, *options)
    assert result.exit_code == 0, result.output
    return result.output


def test_tuned_weights_fuse_the_members_at_least_as_well_as_the_best_of_them(members, tiny_world, tmp_path):
    said = fuse(members, tiny_world, tmp_path / "ens", "--fusion", "weights", "--tune-on", tiny_world / "dev")
    saved = json.loads((tmp_path / "ens" / ENSEMBLE_FILE).read_text())
    assert saved["fusion"] == "weights" and saved["members"] == [str(m.resolve()) for m in members]
    assert sum(saved["weights"]) == pytest.approx(1.0) and all(0 <= w <= 1 for w in saved["weights"])
    weights = ", ".join(f"{w:.2f}" for w in saved["weights"])
    assert f"ensemble of 2 models ({weights}) written to" in said
    fused = evaluated(tmp_path / "ens", tiny_world)
    assert fused["impressions"] == 40 and all(m["impressions"] == 40 for m in members.values())
    # tuned on these impressions, and the grid holds each member alone (1, 0) and (0, 1): never worse than the best
    assert fused["auc"] >= max(m["auc"] for m in members.values()) - 1e-6


def test_the_mean_of_the_members_is_a_scorer_of_its_own(members, tiny_world, tmp_path):
    said = fuse(members, tiny_world, tmp_path / "mean")
    saved = json.loads((tmp_path / "mean" / ENSEMBLE_FILE).read_text())
    assert saved["fusion"] == "mean" and saved["weights"] == [0.5, 0.5] and "(mean)" in said
    fused = evaluated(tmp_path / "mean", tiny_world)
    assert 0.5 < fused["auc"] <= 1
    for member in members.values():  # its rankings are neither member's
        assert [fused[m] for m in HEADLINE_METRICS] != [member[m] for m in HEADLINE_METRICS]


def test_tuning_needs_labelled_impressions(members, tiny_world, tmp_path):
    args = [a for m in members for a in ("--model", m)]
    result = invoke("ensemble", *args, "--news", tiny_world, "--out", tmp_path / "e", "--fusion", "learned")
    assert result.exit_code == 2 and "--tune-on" in result.output
    result = invoke("ensemble", "--model", next(iter(members)), "--news", tiny_world, "--out", tmp_path / "e")
    assert result.exit_code == 2 and "at least two --model" in result.output
