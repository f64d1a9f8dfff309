"""How every command ends: its elapsed time on stderr, Ctrl-C as one line (train: whether it resumes)."""

import json
import re

import pytest
from typer.testing import CliRunner

from newsrec.cli import main
from newsrec.cli.main import app
from newsrec.training import recipe
from newsrec.training.checkpoint import CHECKPOINT_FILE, interrupt_says_what_resumes

runner = CliRunner()
TOOK = r"\d[\d. a-z]*"  # a duration as progress.duration writes it: "0.3 s", "42 s", "4 min 19 s"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def train_args(world, out):
    return ["train", "--news", world, "--behaviors", world / "train", "--out", out, "--epochs", 2]


def interrupt_at_epoch(monkeypatch, stop_at: int) -> None:
    """Ctrl-C as epoch `stop_at` starts; the epochs before it run."""
    real = recipe._train_epoch

    def train_epoch(run, state, epoch):
        if epoch == stop_at:
            raise KeyboardInterrupt
        return real(run, state, epoch)

    monkeypatch.setattr(recipe, "_train_epoch", train_epoch)


def test_ctrl_c_in_train_after_an_epoch_says_the_same_command_resumes(tiny_world, tmp_path, monkeypatch):
    out = tmp_path / "m"
    interrupt_at_epoch(monkeypatch, 2)
    stopped = invoke(*train_args(tiny_world, out))
    assert stopped.exit_code == 130, stopped.output
    (line,) = [line for line in stopped.stderr.splitlines() if line.startswith("interrupted")]
    assert re.match(rf"interrupted after {TOOK}: run the same command again to resume", line), line
    assert str(out) in line and "Traceback" not in stopped.output
    monkeypatch.undo()
    resumed = invoke(*train_args(tiny_world, out))  # the same command, as the line says
    assert resumed.exit_code == 0, resumed.output
    epochs = [json.loads(row)["epoch"] for row in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]  # epoch 1 was not trained again


def test_ctrl_c_in_train_before_any_epoch_says_nothing_was_saved(tiny_world, tmp_path, monkeypatch):
    interrupt_at_epoch(monkeypatch, 1)
    stopped = invoke(*train_args(tiny_world, tmp_path / "m"))
    assert stopped.exit_code == 130, stopped.output
    assert f"nothing was saved in {tmp_path / 'm'}" in stopped.stderr and "resume" not in stopped.stderr


def test_ctrl_c_in_a_restarted_run_says_to_leave_out_restart(tmp_path):
    (tmp_path / CHECKPOINT_FILE).touch()
    restarted = interrupt_says_what_resumes(tmp_path, restart=True)
    with pytest.raises(KeyboardInterrupt, match="without --restart, resumes from it"), restarted:
        raise KeyboardInterrupt


def test_ctrl_c_in_any_command_is_one_line_and_exit_code_130(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(main, "write_world", interrupted)
    result = invoke("synth", "--out", tmp_path / "w")
    assert result.exit_code == 130
    assert re.fullmatch(rf"interrupted after {TOOK}\n", result.stderr), result.stderr


def test_every_command_that_ran_says_how_long_it_took_on_stderr(model_dir, tiny_world, tmp_path):
    evaluated = invoke(
        "evaluate", "--model", model_dir, "--news", tiny_world, "--behaviors", tiny_world / "dev", "--json"
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "newsrec (trained)" in json.loads(evaluated.stdout)  # stdout is the JSON alone
    assert re.search(rf"^done in {TOOK}$", evaluated.stderr, re.MULTILINE), evaluated.stderr
    failed = invoke("evaluate", "--model", model_dir, "--news", tmp_path / "none.tsv", "--behaviors", tiny_world)
    assert failed.exit_code == 2 and re.search(rf"^failed after {TOOK}$", failed.stderr, re.MULTILINE), failed.stderr
    assert "done in" not in invoke("train", "--help").output  # asked for help: no command ran
