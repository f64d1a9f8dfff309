"""Long work is visible: log lines with count, rate and time left off a terminal, a bar on one;
commands start without third-party noise; an epoch is one readable line."""

import logging
import os
import subprocess
import sys
import time

import pytest

from newsrec import progress as progress_module
from newsrec.progress import Progress, progress
from newsrec.training.epoch_record import EpochRecord
from newsrec.training.logbook import epoch_line


def test_off_a_terminal_progress_is_logged_at_the_start_and_every_few_seconds(monkeypatch, caplog):
    monkeypatch.setenv("NEWSREC_PROGRESS_SECONDS", "0.05")
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    caplog.set_level(logging.INFO, logger="newsrec.progress")
    for _ in progress(range(4), "encoding", "texts"):
        time.sleep(0.06)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "encoding: 0/4 texts (0.0%)"  # at once: the stage is visibly started
    assert any(line.startswith("encoding: 2/4 texts (50.0%), ") and line.endswith(" s left") for line in lines)
    assert "texts/s" in lines[1] and lines[-1].startswith("encoding: 4 texts in ")


def test_a_short_stage_logs_one_line_and_a_terminal_gets_a_bar_instead(monkeypatch, caplog):
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    caplog.set_level(logging.INFO, logger="newsrec.progress")
    with Progress("posting news", 3, "batches") as bar:
        bar.update(3)
    assert [r.getMessage() for r in caplog.records] == ["posting news: 0/3 batches (0.0%)"]
    caplog.clear()
    monkeypatch.setattr(progress_module, "on_terminal", lambda: True)
    with Progress("posting news", 3, "batches") as bar:
        bar.update(3)
        assert bar._bar is not None  # tqdm draws it
    assert caplog.records == []


def test_an_epoch_is_one_table_row():
    record = EpochRecord(2, 1.23456, 100, 24.44, 30.0, {"auc": 0.69521, "mrr": 0.331}, best=True)
    assert epoch_line(record, 5) == "epoch 2/5 | loss 1.2346 | valid auc 69.52 mrr 33.10 | 24.4 s | best"
    assert epoch_line(EpochRecord(2, 1.23456, 100, 24.44, 30.0), 5) == "epoch 2/5 | loss 1.2346 | 24.4 s"


def test_an_epoch_record_is_one_flat_line_of_metrics_jsonl_and_reads_back_the_same():
    record = EpochRecord(2, 1.5, 100, 24.4, 30.0, {"auc": 0.7, "ndcg@10": 0.4}, best=True)
    row = record.row()
    assert row == {
        "epoch": 2, "train_loss": 1.5, "train_rows": 100, "step_seconds": 24.4, "seconds": 30.0,
        "valid_auc": 0.7, "valid_ndcg@10": 0.4, "best": True,
    }  # fmt: skip
    assert EpochRecord.from_row(row) == record and record.metric == 0.7
    assert EpochRecord(1, 1.5, 100, 1.0, 1.0).metric == -1.5  # no validation: minus the loss


def test_a_command_opening_a_database_prints_no_third_party_lines(tmp_path):
    from newsrec.store.db import migrate

    url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    migrate(url)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "newsrec.cli.main", "report", "--db", url], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    # only newsrec's own "done in ..." line: alembic's "setup plugin ..." lines are gone
    assert done.stderr.startswith("done in ") and done.stderr.count("\n") == 1, done.stderr
    verbose = subprocess.run(
        [sys.executable, "-m", "newsrec.cli.main", "-v", "report", "--db", url], capture_output=True, text=True, env=env
    )
    assert "setup plugin" in verbose.stderr  # still there when asked for


def test_a_database_without_the_service_tables_is_named(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    done = subprocess.run(
        [sys.executable, "-m", "newsrec.cli.main", "export", "--db", url, "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and "holds no newsrec service data" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("seconds", ["0", "-1"])
def test_a_bad_progress_interval_is_refused(monkeypatch, seconds):
    monkeypatch.setenv("NEWSREC_PROGRESS_SECONDS", seconds)
    with pytest.raises(ValueError, match="progress_seconds"):
        Progress("x", 1)


def test_training_in_a_log_reports_encoding_epochs_and_validation(tiny_world, tmp_path, monkeypatch, caplog):
    from typer.testing import CliRunner

    from newsrec.cli.main import app

    monkeypatch.setenv("NEWSREC_PROGRESS_SECONDS", "0.01")
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    caplog.set_level(logging.INFO)
    args = ["train", "--news", str(tiny_world), "--behaviors", str(tiny_world / "train"), "--valid"]
    args += [
        str(tiny_world / "dev"),
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "1",
        "--cache",
        str(tmp_path / "c.sqlite"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = [r.getMessage() for r in caplog.records]
    for stage in ("encoding with all-MiniLM-L6-v2", "epoch 1", "validating"):
        assert any(line.startswith(stage) and ": 0/" in line for line in said), stage  # started, with its total
    assert any(line.startswith("epoch 1/1 | loss ") and "| valid auc " in line for line in said)
    assert not any("{" in line for line in said)  # no raw dicts
