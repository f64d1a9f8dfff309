"""Long LLM work states its estimate before it runs, asks on a terminal, and then shows a
rate that moves: with a clock the test drives, and with the packaged model on the MIND sample."""

import os
import pty
import re
import select
import subprocess
import sys
from importlib.util import find_spec

import pytest
import typer

from newsrec.cli import long_work
from newsrec.cli.long_work import run_announced
from newsrec.llm.weights import GGUF_MODELS
from tests.conftest import MIND_SAMPLE
from tests.llm.conftest import HAS_LLAMA


class Clock:
    """time.monotonic for long_work: each item of work takes `each` seconds."""

    def __init__(self, each: float):
        self.now, self.each = 1000.0, each

    def monotonic(self) -> float:
        return self.now

    def work(self, item: int) -> int:
        self.now += self.each
        return item * 10


def run(items, clock, done_before=lambda item: False, yes=False):
    return run_announced(items, clock.work, done_before, lambda todo: None, "paraphrasing", "titles", yes)


def test_the_estimate_comes_first_and_off_a_terminal_the_work_goes_on(monkeypatch, capsys):
    clock = Clock(each=13.0)
    monkeypatch.setattr(long_work.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(long_work, "asks_first", lambda: False)
    assert run(list(range(500)), clock) == [i * 10 for i in range(500)]
    said = capsys.readouterr().err
    assert "paraphrasing: 500 titles, none done by an earlier run" in said
    # 2 timed at 13 s: 498 more at 13 s = 6,474 s
    assert "the first 2 took 13 s each: the other 498 titles would take about 1 h 47 min" in said


def test_items_an_earlier_run_finished_are_not_counted_or_timed(monkeypatch, capsys):
    clock = Clock(each=13.0)
    monkeypatch.setattr(long_work.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(long_work, "asks_first", lambda: False)
    run(list(range(10)), clock, done_before=lambda item: item < 6)
    said = capsys.readouterr().err
    assert "10 titles, 6 done by an earlier run" in said and "the other 2 titles would take about 26 s" in said
    assert "took 13 s each" in said


def test_on_a_terminal_long_work_waits_for_a_yes(monkeypatch, capsys):
    clock = Clock(each=13.0)
    monkeypatch.setattr(long_work.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(long_work, "asks_first", lambda: True)
    asked = []
    monkeypatch.setattr(long_work.typer, "confirm", lambda text, **kw: asked.append(text) or False)
    worked = []
    timed = clock.work
    clock.work = lambda item: worked.append(item) or timed(item)  # type: ignore[method-assign]
    with pytest.raises(typer.Exit):
        run(list(range(500)), clock)
    assert asked == ["Go on?"] and worked == [0, 1]  # the warm-up items only
    assert "stopped before the other 498 titles" in capsys.readouterr().err


def test_short_work_or_yes_starts_without_asking(monkeypatch):
    monkeypatch.setattr(long_work, "asks_first", lambda: True)
    monkeypatch.setattr(long_work.typer, "confirm", lambda *a, **kw: pytest.fail("asked"))
    clock = Clock(each=1.0)
    monkeypatch.setattr(long_work.time, "monotonic", clock.monotonic)
    assert len(run(list(range(20)), clock)) == 20  # 18 s left: under a minute
    clock = Clock(each=13.0)
    monkeypatch.setattr(long_work.time, "monotonic", clock.monotonic)
    assert len(run(list(range(500)), clock, yes=True)) == 500


needs_sample_and_llm = pytest.mark.skipif(
    not (HAS_LLAMA and (MIND_SAMPLE / "news.tsv").exists()), reason="needs scripts/install-llm and the MIND sample"
)


def _read_until(fd: int, text: str, seconds: float) -> str:
    """What the terminal showed until `text` appeared (or the deadline passed)."""
    seen = b""
    while text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], seconds)
        if not ready:
            break
        try:
            seen += os.read(fd, 4096)
        except OSError:  # the other side closed
            break
    return seen.decode(errors="replace")


@pytest.mark.slow
@needs_sample_and_llm
def test_paraphrasing_the_whole_sample_on_a_terminal_states_its_estimate_and_waits(tmp_path):
    out = tmp_path / "paraphrases.jsonl"
    screen, terminal = pty.openpty()
    env = {**os.environ, "NEWSREC_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    command = [sys.executable, "-m", "newsrec.cli.main", "paraphrase", "--news", str(MIND_SAMPLE / "news.tsv")]
    process = subprocess.Popen(
        [*command, "--out", str(out), "--llm", "smollm2"], stdin=terminal, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    shown = _read_until(screen, "Go on?", seconds=120)
    assert "Go on?" in shown, shown
    estimate = re.search(r"the other 8,13\d titles would take about (\d+ h \d+ min|\d+ min \d+ s)", shown)
    assert estimate and shown.index("8,135 titles") < estimate.start(), shown
    assert process.poll() is None  # waiting for the answer
    os.write(screen, b"n\n")
    shown += _read_until(screen, "rerun starts after it", seconds=30)
    assert process.wait(timeout=30) == 1 and not out.exists()
    os.close(screen)


@pytest.mark.slow
@needs_sample_and_llm
def test_generation_progress_shows_a_moving_rate_after_the_first_item(tmp_path):
    env = {**os.environ, "NEWSREC_CACHE_DIR": str(tmp_path / "cache"), "NEWSREC_PROGRESS_SECONDS": "0.01"}
    command = [sys.executable, "-m", "newsrec.cli.main", "paraphrase", "--news", str(MIND_SAMPLE / "news.tsv")]
    done = subprocess.run(
        [*command, "--out", str(tmp_path / "p.jsonl"), "--llm", "smollm2", "--limit", "6"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "paraphrasing: " in line and "/4 titles" in line]
    rates = [float(m.group(1)) for line in lines if (m := re.search(r", ([\d.]+) titles/(?:s|min)", line))]
    assert rates and all(rate > 0 for rate in rates), done.stderr  # after the first item: a rate, not 0.0
    tokens = [float(m.group(1)) for line in lines if (m := re.search(r"(\d+(?:\.\d+)?) tokens/s", line))]
    assert len(set(tokens)) > 1 and all(rate > 0 for rate in tokens), done.stderr  # it moves within an item
    assert "llama_" not in done.stderr  # llama.cpp's own lines only with -v


HAS_GEMMA = HAS_LLAMA and all(find_spec(p) is not None for p in GGUF_MODELS["gemma3-270m"].packages)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_GEMMA, reason="Gemma 3 not installed: run scripts/install-llm --all-models")
def test_llama_cpp_set_up_lines_are_shown_only_with_verbose(tmp_path):
    env = {**os.environ, "NEWSREC_CACHE_DIR": str(tmp_path / "cache")}
    news = tmp_path / "news.tsv"
    news.write_text("N1\tsports\tnba\tLakers win the opener in Denver\t\t\t[]\t[]\n")

    def stderr(*flags: str) -> str:
        command = [sys.executable, "-m", "newsrec.cli.main", *flags, "paraphrase", "--news", str(news)]
        done = subprocess.run(
            [*command, "--out", str(tmp_path / "p.jsonl"), "--llm", "gemma3-270m"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "SWA cache" not in stderr()  # Gemma's sliding-window note, printed even with verbose=False before
    (tmp_path / "cache").rename(tmp_path / "cache-1")  # generate again: the model is loaded again
    assert "SWA cache" in stderr("-v")
