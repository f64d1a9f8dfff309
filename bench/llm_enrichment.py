"""Enrichment speed of each local LLM (news per second, 2 threads) and how often output was valid.

Usage: python bench/llm_enrichment.py --news ../shared/data/mind-sample/news.tsv --n 16
"""

from __future__ import annotations

import argparse
import time

from newsrec.data.mind import read_news
from newsrec.llm.backends import LlamaCppLLM
from newsrec.llm.enrich import enrich_news
from newsrec.llm.weights import GGUF_MODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", required=True)
    parser.add_argument("--n", type=int, default=16, help="news items per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=list(GGUF_MODELS))
    args = parser.parse_args()
    news = list(read_news(args.news).values())[: args.n]
    print("| model | news/s | s/news | valid LLM output | example summary |")
    print("|---|---|---|---|---|")
    for name in args.models:
        llm = LlamaCppLLM(name, n_threads=args.threads)
        llm.generate("You answer briefly.", "Say OK.", max_tokens=2)  # warm-up, not timed
        started = time.perf_counter()
        out = enrich_news(llm, news, cache=None, progress=False)  # no cache: every item is generated
        seconds = time.perf_counter() - started
        valid = sum(e.from_llm for e in out.values())
        example = next((e.summary for e in out.values() if e.from_llm), "-").replace("|", "/")[:90]
        print(
            f"| {name} | {len(news) / seconds:.2f} | {seconds / len(news):.2f} | {valid}/{len(news)} | {example} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
