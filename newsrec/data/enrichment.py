"""LLM enrichment rows (`newsrec enrich` output) and how they join the news.

One JSON line per news item: {"news_id", "summary", "keywords", "from_llm"}. The LLM side that
writes them is `llm/enrich.py`; reading them back and filling the `summary` / `keywords` text
fields needs no LLM, so it lives here, below the models that encode those fields.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from newsrec.data.mind import News

__all__ = ["read_enrichment_rows", "attach_enrichments"]


def read_enrichment_rows(path: str | Path) -> dict[str, dict]:
    """{news id: {"summary", "keywords", "from_llm"}}; a bad line raises naming file and line."""
    out = {}
    for line_no, line in enumerate(Path(path).read_text().splitlines(), 1):
        try:
            row = json.loads(line)
            news_id = row.pop("news_id")
            if not isinstance(row.get("summary"), str) or not isinstance(row.get("keywords"), list):
                raise ValueError("needs a summary string and a keywords list")
        except (ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"{path}:{line_no}: not an enrichment line ({e})") from None
        out[news_id] = row
    return out


def attach_enrichments(news: dict[str, News], rows: dict[str, dict]) -> dict[str, News]:
    """News with `summary` and `keywords` filled where an enrichment exists (others keep them empty)."""
    return {
        i: dataclasses.replace(n, summary=r["summary"], keywords=", ".join(r["keywords"])) if (r := rows.get(i)) else n
        for i, n in news.items()
    }
