"""`newsrec replay`: logged traffic through a service in time order, scored live beside the frozen
model and two CTR baselines."""

import json

from typer.testing import CliRunner

from newsrec.cli.main import app
from newsrec.data.behaviors import read_behaviors


def test_replay_scores_the_live_service_beside_frozen_and_ctr(tiny_world, tmp_path):
    runner = CliRunner()
    times = sorted(i.timestamp for i in read_behaviors(tiny_world / "train"))
    start = times[len(times) // 2]  # warm up on the first half, score the second
    trained = runner.invoke(
        app,
        [
            "train",
            "--news",
            str(tiny_world),
            "--behaviors",
            str(tiny_world / "train"),
            "--until",
            _iso(start),
            "--out",
            str(tmp_path / "m"),
            "--epochs",
            "2",
            "--user-encoder",
            "mean",
        ],
    )
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(
        app,
        [
            "replay",
            "--model",
            str(tmp_path / "m"),
            "--news",
            str(tiny_world),
            "--behaviors",
            str(tiny_world / "train"),
            "--start-at",
            _iso(start),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    later = [i for i in read_behaviors(tiny_world / "train") if i.timestamp >= start and len(set(i.labels)) == 2]
    assert report["impressions"] == len(later) > 10
    for row in ("live", "frozen", "ctr_live", "ctr_frozen"):
        assert set(report[row]) == {"auc", "mrr", "ndcg@5", "ndcg@10"} and 0 < report[row]["auc"] < 1  # as evaluate
    assert report["ctr_live"] != report["ctr_frozen"]  # the live baseline counted the replayed traffic


def test_replay_refuses_logs_without_times(tiny_world, tmp_path):
    (tmp_path / "behaviors.tsv").write_text("1\tU1\t\tS1\tS2-1 S3-0\n")
    result = CliRunner().invoke(
        app,
        [
            "replay",
            "--model",
            str(tmp_path),
            "--news",
            str(tiny_world),
            "--behaviors",
            str(tmp_path),
            "--start-at",
            "2026-11-01",
        ],
    )
    assert result.exit_code == 2 and "needs every impression's time" in result.output


def _iso(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()
