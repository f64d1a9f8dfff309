"""Where the time of the main job (`newsrec demo`) and of `newsrec train` on MIND goes, before
and after bf16 matrix products.

Each job runs under cProfile in a fresh process with an empty embedding cache; its time is split
into stages by the cumulative time of the functions that do them. "before" is the fp32 path
(what `auto` does on a CPU without native bf16, and what every run did before bf16 came in);
"after" is the default. cProfile adds a little to Python-heavy stages; the tensor work, which
dominates, runs in C and is timed as is.

Usage: python bench/profile_jobs.py [--mind ../shared/data/mind-sample]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import in_fresh_process, mind_or_synthetic, table

# stage -> functions (file suffix, name) whose cumulative times add up to it
STAGES = {
    "load PLM": [("newsrec/encoders/plm.py", "__init__")],
    "encode news": [("newsrec/encoders/plm.py", "embed")],
    "training steps": [
        ("newsrec/training/loss.py", "forward"),
        ("torch/_tensor.py", "backward"),
        ("torch/optim/adam.py", "step"),
    ],
    "scoring (validation, evaluation)": [("newsrec/models/ranker.py", "score")],
}
MODES = {"before (fp32)": False, "after (auto = bf16 here)": True}


def profiled(args: list[str], bf16: bool, cache_dir: str) -> dict[str, float]:
    """In a fresh process: run `newsrec ARGS` under cProfile; seconds per stage and in all."""
    import cProfile
    import os
    import pstats
    import time

    os.environ["NEWSREC_CACHE_DIR"] = cache_dir
    import newsrec.precision

    if not bf16:
        newsrec.precision.native_bf16 = lambda: False  # what "auto" resolves to on a CPU without bf16
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    from newsrec.cli.main import app

    app(args, standalone_mode=False)
    profiler.disable()
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # (file, line, function) -> (calls, primitive, own, cumulative, callers)
    seconds = {
        stage: sum(
            cumulative
            for (file, _, name), (_, _, _, cumulative, _) in stats.items()
            if any(file.endswith(f) and name == n for f, n in functions)
        )
        for stage, functions in STAGES.items()
    }
    seconds["other (imports, data, batching, files)"] = total - sum(seconds.values())
    seconds["total"] = total
    return seconds


def jobs(mind: Path, out: Path, tiny: bool) -> dict[str, list[str]]:
    epochs = ["--epochs", "1"] if tiny else []
    data = "MIND sample" if (mind / "train-extra").is_dir() else "synthetic world"
    behaviors = [arg for d in ("train", "train-extra") if (mind / d).is_dir() for arg in ("--behaviors", str(mind / d))]
    return {
        "newsrec demo": ["demo", "--out", str(out / "demo"), *epochs],
        f"newsrec train ({data})": [
            "train",
            "--news",
            str(mind / "news.tsv"),
            *behaviors,
            "--valid",
            str(mind / "dev"),
            "--out",
            str(out / "train"),
            *epochs,
        ],
    }


def report(mind: Path | None, tiny: bool = False) -> str:
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mind = mind_or_synthetic(mind, tmp)
        for job in jobs(mind, tmp, tiny):
            totals = []
            for mode, bf16 in MODES.items():
                run = tmp / f"run-{len(rows)}"  # a new output folder (train would resume a finished run) and cache
                seconds, rss = in_fresh_process(profiled, jobs(mind, run, tiny)[job], bf16, str(run / "cache"))
                rows.append([job, mode, *(f"{s:.1f}" for s in seconds.values()), f"{rss:.0f}"])
                totals.append(seconds["total"])
            verdicts.append(f"{job} {totals[0]:.1f} s -> {totals[1]:.1f} s ({totals[0] / totals[1]:.2f}x)")
    header = ["job", "run", *STAGES, "other (imports, data, batching, files)", "total s", "peak RSS MiB"]
    return "\n\n".join(
        [
            "Seconds per stage under cProfile, each run in a fresh process with an empty embedding cache.",
            table(header, rows),
            "Before -> after: " + "; ".join(verdicts) + ".",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    args = parser.parse_args()
    print(report(args.mind))


if __name__ == "__main__":
    main()
