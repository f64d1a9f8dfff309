"""Growth from the MIND sample to MIND-large's size: time and memory of every stage.

For each scale s (1x, 10x, 100x, 1000x the sample's 1,703 training impressions; 1000x is
MIND-large's 1.7-2.2M) it writes a world resampled from the real sample (real news text,
new user and impression ids, times spread over a week), with a catalogue of MIND's sizes
(8,135 real news at 1x; 65k, 101k, 161k at 10x, 100x, 1000x: copies of the real news, each
copy's title marked so that it is encoded anew), a dev file of s x 778 labelled impressions
(at most MIND-large dev's 376k) and a test file of s x 2,370 unlabelled ones (MIND-large test:
2.37M). Then, each in a process of its own (peak RSS from the kernel):
- read: the training behaviors into arrays (`Behaviors.read`);
- train: `newsrec train --epochs 1` from an empty embedding cache (frozen encoder; its stages,
  from train_summary.json: missing news and popularity replay, news encoding, the epoch,
  validation);
- evaluate: `newsrec evaluate` on dev (the model and four baselines);
- predict: `newsrec predict` on test, writing prediction.txt as it goes.
Last, the fitted growth: peak RSS of training against training impressions (the slope is the
bytes each impression costs) and the log-log slope of each stage's time.

Usage: python bench/scale.py [--mind ../shared/data/mind-sample] [--scales 1 10 100 1000] [--device auto]
       [--work runs/scale] [--code DIR: time another checkout's newsrec (train/evaluate/predict)]
       [--reuse: report a scale whose world already holds figures.json instead of measuring it again]
       [--warm: keep a world written earlier and its filled embedding cache; every stage but encoding is timed]
Prints a Markdown section.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from harness import in_fresh_process, machine, table

SAMPLE_TRAIN = ("train", "train-extra")
CATALOGUE = {1: 8_135, 10: 65_238, 100: 101_527, 1000: 161_013}  # MIND-small 65k, MIND-large 161k
DEV_PER_SCALE, TEST_PER_SCALE, MAX_DEV = 778, 2_370, 376_471
START = datetime(2019, 11, 9)


def write_world(mind: Path, scale: int, out: Path, seed: int = 0) -> dict[str, int]:
    """The resampled world in MIND's files; returns its sizes."""
    rng = random.Random(seed)
    news_rows = [line.rstrip("\n").split("\t") for line in (mind / "news.tsv").open(encoding="utf-8")]
    copies = max(1, CATALOGUE.get(scale, CATALOGUE[1000]) // len(news_rows))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "news.tsv").open("w", encoding="utf-8") as f:
        for k in range(copies):
            for row in news_rows:
                f.write("\t".join([_copy(row[0], k), row[1], row[2], row[3] + (f" ({k})" if k else ""), *row[4:]]))
                f.write("\n")
    train = [line.split("\t") for d in SAMPLE_TRAIN for line in (mind / d / "behaviors.tsv").open(encoding="utf-8")]
    dev = [line.split("\t") for line in (mind / "dev" / "behaviors.tsv").open(encoding="utf-8")]
    sizes = {
        "news": copies * len(news_rows),
        "train": _resample(train, scale * len(train), out / "train", copies, rng, labelled=True),
        "dev": _resample(dev, min(MAX_DEV, scale * DEV_PER_SCALE), out / "dev", copies, rng, labelled=True),
        "test": _resample(dev, scale * TEST_PER_SCALE, out / "test", copies, rng, labelled=False),
    }
    return sizes


def world_sizes(world: Path) -> dict[str, int]:
    """The sizes of a world written earlier (its files' lines)."""
    files = {"news": world / "news.tsv", **{part: world / part / "behaviors.tsv" for part in ("train", "dev", "test")}}
    return {name: sum(1 for _ in path.open("rb")) for name, path in files.items()}


def _copy(news_id: str, k: int) -> str:
    return news_id if k == 0 else f"{news_id}x{k}"


def _resample(source: list[list[str]], n: int, folder: Path, copies: int, rng: random.Random, labelled: bool) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "behaviors.tsv").open("w", encoding="utf-8") as f:
        for j in range(n):
            _, _, _, history, shown = rng.choice(source)
            k = rng.randrange(copies)  # this reader's copy of the catalogue
            moment = START + timedelta(seconds=rng.uniform(0, 7 * 86400))
            hist = " ".join(_copy(h, k) for h in history.split())
            tokens = [t.rpartition("-") for t in shown.split()]
            cands = " ".join(_copy(i, k) + (f"-{y}" if labelled else "") for i, _, y in tokens)
            when = moment.strftime("%m/%d/%Y %I:%M:%S %p")
            f.write(f"{j + 1}\tU{j // 2}\t{when}\t{hist}\t{cands}\n")
    return n


def read_stage(path: Path) -> dict[str, float]:
    from newsrec.data.behaviors import Behaviors

    started = time.perf_counter()
    behaviors = Behaviors.read(path)
    return {"seconds": time.perf_counter() - started, "impressions": len(behaviors), "array_bytes": behaviors.nbytes()}


def run_stage(args: list[str], code: Path | None, log: Path) -> tuple[float, float]:
    """A newsrec command in a process of its own: (wall seconds, its peak RSS in MiB)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "newsrec.cli.main", *args], env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"newsrec {args[0]} failed ({proc.returncode}): see {log}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def measure(world: Path, sizes: dict[str, int], code: Path | None, device: str = "auto", warm: bool = False) -> dict:
    model, cache = world / "model", world / "embeddings.sqlite"
    if not warm:
        cache.unlink(missing_ok=True)  # an empty cache: encoding is measured
    figures: dict = {"sizes": sizes, "warm_cache": warm}
    if code is None:
        read, read_peak = in_fresh_process(read_stage, world / "train")
        figures["read"] = {**read, "peak_rss_mib": read_peak}
    data = ["--news", str(world / "news.tsv"), "--device", device]
    seconds, peak = run_stage(
        ["train", *data, "--behaviors", str(world / "train"), "--valid", str(world / "dev"), "--out", str(model),
         "--epochs", "1", "--restart", "--cache", str(cache)],
        code,
        world / "train.log",
    )  # fmt: skip
    figures["train"] = {"seconds": seconds, "peak_rss_mib": peak}
    summary = model / "train_summary.json"
    if code is None and summary.is_file():
        figures["train_stages"] = json.loads(summary.read_text()).get("stages", [])
    for stage, args in (
        ("evaluate", ["evaluate", "--model", str(model), *data, "--behaviors", str(world / "dev"), "--json"]),
        ("predict", ["predict", "--model", str(model), *data, "--behaviors", str(world / "test"),
                     "--out", str(world / "prediction.txt")]),
    ):  # fmt: skip
        seconds, peak = run_stage([*args, "--cache", str(cache)], code, world / f"{stage}.log")
        figures[stage] = {"seconds": seconds, "peak_rss_mib": peak}
    return figures


def slope(x: list[float], y: list[float]) -> float:
    return float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 else float("nan")


def report(runs: dict[int, dict], label: str) -> str:
    rows = []
    for scale, f in runs.items():
        sizes = f["sizes"]
        stages = {s["stage"]: s for s in f.get("train_stages", [])}
        replay = stages.get("missing news and popularity replay", {}).get("seconds", float("nan"))
        encode = stages.get("news encoding and model", {}).get("seconds", float("nan"))
        encoded = "cached" if f.get("warm_cache") else f"{encode:.0f}"
        epoch = stages.get("epoch 1", {}).get("seconds", float("nan"))
        read = f.get("read", {})
        rows.append(
            [
                f"{scale}x",
                f"{sizes['train']:,}",
                f"{sizes['news']:,}",
                f"{read.get('seconds', float('nan')):.1f} / {read.get('peak_rss_mib', float('nan')):,.0f}",
                f"{replay:.1f}",
                encoded,
                f"{epoch:.0f}",
                f"{f['train']['seconds']:.0f} / {f['train']['peak_rss_mib']:,.0f}",
                f"{1024 * 1024 * f['train']['peak_rss_mib'] / sizes['train']:,.0f}",
                f"{sizes['dev']:,}: {f['evaluate']['seconds']:.0f} / {f['evaluate']['peak_rss_mib']:,.0f}",
                f"{sizes['test']:,}: {f['predict']['seconds']:.0f} / {f['predict']['peak_rss_mib']:,.0f}",
            ]
        )
    header = [
        "scale",
        "train impressions",
        "news",
        "read s / MiB",
        "replay s",
        "encode s",
        "epoch s",
        "train s / peak MiB",
        "peak bytes per train impression",
        "evaluate: impressions, s / MiB",
        "predict: impressions, s / MiB",
    ]
    big = [s for s in runs if s >= 10]
    n = [runs[s]["sizes"]["train"] for s in big]
    growth = [
        f"peak RSS of training grows by {1024 * 1024 * slope(n, [runs[s]['train']['peak_rss_mib'] for s in big]):,.0f} "
        f"bytes per training impression (least squares over {', '.join(f'{s}x' for s in big)})",
    ]
    for stage in ("train", "evaluate", "predict"):
        logs = np.log([runs[s][stage]["seconds"] for s in big])
        growth.append(f"{stage} time grows as impressions^{slope(list(np.log(n)), list(logs)):.2f}")
    return "\n\n".join([f"{label}. Machine: {machine()}", table(header, rows), "Growth: " + "; ".join(growth) + "."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--work", type=Path, default=Path("runs/scale"))
    parser.add_argument("--code", type=Path, help="a checkout whose newsrec runs the train/evaluate/predict stages")
    parser.add_argument("--device", default="auto", help="train/evaluate/predict --device")
    parser.add_argument("--warm", action="store_true", help="keep a world written in --work and its cache (no encode)")
    parser.add_argument("--reuse", action="store_true", help="report scales already measured in --work as they are")
    args = parser.parse_args()
    runs = {}
    for scale in args.scales:
        world = args.work / f"x{scale}"
        if args.reuse and (world / "figures.json").is_file():
            runs[scale] = json.loads((world / "figures.json").read_text())
            continue
        warm = args.warm and (world / "embeddings.sqlite").is_file()
        sizes = world_sizes(world) if warm else write_world(args.mind, scale, world)
        runs[scale] = measure(world, sizes, args.code, args.device, warm)
        (world / "figures.json").write_text(json.dumps(runs[scale], indent=2))
        print(f"{scale}x done: {json.dumps(runs[scale])}", file=sys.stderr)
    label = f"`python bench/scale.py --scales {' '.join(map(str, args.scales))} --device {args.device}`" + (
        f" with the newsrec of {args.code}" if args.code else ""
    )
    print(report(runs, label))


if __name__ == "__main__":
    main()
