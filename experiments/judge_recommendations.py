"""Judge `newsrec recommend --json` output from outside, as issue 32's check does: how many
explanations the LLM wrote, and which of them `experiments/judge.py` finds faulty or quote a
title the reader never read (docs/RESULTS.md, "The issue's readers").

Usage:
    for u in 140 141 273 537 812 880 927 978; do
      newsrec recommend --model runs/mind --news $D/news.tsv --behaviors $D/dev --user imp-$u \\
          --llm smollm2 -k 5 --json > runs/outside/imp-$u.json
    done
    python experiments/judge_recommendations.py --mind ../shared/data/mind-sample runs/outside/imp-*.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from judge import judge

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    parser.add_argument("lists", type=Path, nargs="+", help="imp-<N>.json files of `newsrec recommend --json`")
    args = parser.parse_args()
    news = read_news(args.mind)
    history = {i.user_id: i.history for i in read_behaviors(args.mind / "dev")}
    total = by_llm = faulty = 0
    for path in args.lists:
        read_titles = {news[h].title for h in history[path.stem] if h in news}
        for row in json.loads(path.read_text()):
            total += 1
            if row["explained_by"] != "llm":
                continue
            by_llm += 1
            item = news[row["news_id"]]
            read = [q for q in re.findall(r"“([^”]+)”", row["explanation"]) if q != item.title]
            story = " ".join([item.title, item.abstract, item.category, item.subcategory])
            faults = judge(row["explanation"], [story, *read], "explain", item.title, read).faults
            faults += [f"quotes {q!r}, which {path.stem} did not read" for q in read if q not in read_titles]
            faulty += bool(faults)
            print(path.stem, faults or "ok", row["explanation"])
    print(f"{total} explanations, {by_llm} written by the LLM, {faulty} faulty")


if __name__ == "__main__":
    main()
