"""The live loop's figures: click-to-popularity-visible delay, model swap pause, replay throughput.

Starts `newsrec serve --workers W` on a fresh SQLite database with a synthetic pool of N news
(as bench/service_load.py does), then:
- delay: a reader is shown a list and clicks its last item (naming the impression); another
  client, on a new connection (any worker), ranks that item until its score has risen;
- swap: 4 clients keep asking for recommendations while `POST /v1/admin/model` swaps in a
  second model (the first with perturbed weights, unless --second-model names one): the
  slowest answers while the swap is under way, failed requests, time until every answer
  names the new version;
- replay (with --mind): `newsrec replay` of the sample's train-extra in this process, in
  impressions per second.

Usage: python bench/live_loop.py --model runs/demo/model [--mind ../shared/data/mind-sample]
Prints a Markdown section.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from harness import table
from service_load import HEADERS, free_port, healthy_after, launch, ms, seed_pool, stop

from newsrec.models.ranker import MODEL_FILE, model_version

USER = HEADERS


def perturbed_copy(model: Path, out: Path) -> Path:
    """The model with slightly moved weights: another version, the same cost to load."""
    shutil.copytree(model, out, ignore=shutil.ignore_patterns("service.*", "checkpoint.pt"))
    saved = torch.load(model / MODEL_FILE, weights_only=True)
    torch.manual_seed(0)
    saved["recommender"] = {
        k: v + 1e-3 * torch.randn_like(v) if v.is_floating_point() else v for k, v in saved["recommender"].items()
    }
    torch.save(saved, out / MODEL_FILE)
    return out


def click_delay(base: str, trials: int) -> np.ndarray:
    """Seconds from a click's acknowledgement to its item's risen score, seen through another connection."""
    delays = []
    with httpx.Client(base_url=base, headers=USER, timeout=30) as reader:
        for i in range(trials):
            user = f"delay-reader-{i}"
            answer = reader.get(f"/v1/users/{user}/recommendations?k=10").json()
            shown = [item["news_id"] for item in answer["items"]]
            item = shown[-1]
            reader.post(
                "/v1/impressions",
                json={"impressions": [{"impression_id": answer["impression_id"], "user_id": user, "news_ids": shown}]},
            ).raise_for_status()

            before = _score(base, item)
            event = {
                "event_id": f"d{i}",
                "user_id": user,
                "news_id": item,
                "type": "click",
                "impression_id": answer["impression_id"],
            }
            reader.post("/v1/events", json={"events": [event]}).raise_for_status()
            clicked = time.perf_counter()
            while _score(base, item) <= before:
                if time.perf_counter() - clicked > 10:
                    raise RuntimeError("the click never showed in the item's popularity")
            delays.append(time.perf_counter() - clicked)
    return np.array(delays)


def _score(base: str, news_id: str) -> float:
    with httpx.Client(base_url=base, headers=USER, timeout=30) as other:  # a new connection: any worker
        reply = other.post("/v1/users/watcher/rank", json={"candidates": [news_id]})
        return reply.json()["items"][0]["score"]


def swap_pause(base: str, second: Path, clients: int = 4) -> dict:
    """Latencies of recommendations while a second model is swapped in under load."""
    new = model_version(second)
    samples: list[tuple[float, float, str]] = []  # (sent at, seconds, version)
    failures, stop = [], threading.Event()

    async def reader(http: httpx.AsyncClient, k: int) -> None:
        i = 0
        while not stop.is_set():
            t = time.perf_counter()
            r = await http.get(f"{base}/v1/users/swap-reader-{k}-{i % 50}/recommendations?k=10", headers=USER)
            if r.status_code != 200:
                failures.append(r.status_code)
            else:
                samples.append((t, time.perf_counter() - t, r.json()["model_version"]))
            i += 1

    async def run() -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            await asyncio.gather(*(reader(http, k) for k in range(clients)))

    thread = threading.Thread(target=lambda: asyncio.run(run()))
    thread.start()
    time.sleep(5)
    requested = time.perf_counter()
    reply = httpx.post(f"{base}/v1/admin/model", json={"model_dir": str(second)}, headers=USER, timeout=60)
    if reply.is_error:
        raise RuntimeError(f"the swap was refused: {reply.status_code} {reply.text}")
    deadline = requested + 300
    while time.perf_counter() < deadline:  # every answer from the new model, for two seconds
        recent = [v for t, _, v in samples if t > time.perf_counter() - 2]
        if recent and all(v == new for v in recent):
            break
        time.sleep(0.5)
    done = time.perf_counter()
    time.sleep(3)
    stop.set()
    thread.join()
    before = np.array([s for t, s, _ in samples if t < requested])
    during = np.array([s for t, s, _ in samples if requested <= t <= done])
    return {"before": before, "during": during, "failures": len(failures), "seconds": done - requested}


def replay_speed(model: Path, mind: Path) -> tuple[int, float]:
    """(impressions, seconds) of `newsrec replay` of train-extra in this process."""
    from typer.testing import CliRunner

    from newsrec.cli.main import app

    started = time.perf_counter()
    result = CliRunner().invoke(
        app,
        [
            "replay",
            "--model",
            str(model),
            "--news",
            str(mind / "news.tsv"),
            "--behaviors",
            str(mind / "train-extra"),
            "--start-at",
            "2019-11-13",
            "--json",
        ],
    )
    if result.exit_code != 0:
        raise RuntimeError(result.output[-2000:])
    total = sum(1 for _ in (mind / "train-extra" / "behaviors.tsv").open())
    return total, time.perf_counter() - started


def report(
    model: Path, second: Path | None, mind: Path | None, pool: int = 10_000, trials: int = 50, workers: int = 2
) -> str:
    lines = ["`python bench/live_loop.py --model runs/demo/model --mind ../shared/data/mind-sample`", ""]
    with tempfile.TemporaryDirectory() as tmp:
        second = second or perturbed_copy(model, Path(tmp) / "second-model")
        db_url = f"sqlite:///{tmp}/live.sqlite"
        # stored under no model's name, so the service encodes the titles at start: the swap's
        # check that stored vectors are what the model computes then holds
        seed_pool(db_url, pool, "synthetic")
        port = free_port()
        with open(Path(tmp) / "server.log", "w") as log:
            proc = launch(model, db_url, port, workers, log, 100_000, Path(tmp) / "snapshots")
            base = f"http://127.0.0.1:{port}"
            try:
                healthy_after(proc, port)
                delays = click_delay(base, trials)
                swap = swap_pause(base, second)
            finally:
                stop(proc)
    rows = [
        ["click to popularity visible (other connection)", f"{ms(delays, 0.5)} ms", f"{ms(delays, 0.99)} ms", trials],
        [
            "recommendation before the swap",
            f"{ms(swap['before'], 0.5)} ms",
            f"{ms(swap['before'], 0.99)} ms",
            len(swap["before"]),
        ],
        [
            f"recommendation during the swap ({swap['seconds']:.1f} s, slowest {1000 * swap['during'].max():.0f} ms)",
            f"{ms(swap['during'], 0.5)} ms",
            f"{ms(swap['during'], 0.99)} ms",
            len(swap["during"]),
        ],
    ]
    lines += [
        f"{pool:,} news, {workers} workers, SQLite; failed requests during the swap: {swap['failures']}.",
        "",
        table(["figure", "p50", "p99", "n"], rows),
    ]
    if mind is not None:
        n, seconds = replay_speed(model, mind)
        lines += [
            "",
            f"Replay of the sample's train-extra ({n:,} impressions, news posting and service start "
            f"included) in this process: {seconds:.0f} s, {n / seconds:.0f} impressions/s.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--second-model", type=Path)
    parser.add_argument("--mind", type=Path)
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    print(report(args.model, args.second_model, args.mind, args.pool, args.trials))


if __name__ == "__main__":
    main()
