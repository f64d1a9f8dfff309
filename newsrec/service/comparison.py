"""The online comparison of served models: which model made each list, and its clicks.

Impression ids the service gives out name the model version (`<version>.<nonce>.<mac>`:
`counting.served_impression_id`), so a
posted impression is counted for the model that made it, and a click naming that impression
for the same model at its place in the list. Prometheus counts both per version in every
worker (`/metrics` adds the workers up); `newsrec report` computes the same from the database.
Only versions that were deployed count as such; any other id counts as "unknown", so metric
labels stay as few as the deployments.
"""

from __future__ import annotations

from collections.abc import Container, Mapping

from prometheus_client import Counter

from newsrec.store import repository as repo
from newsrec.store.models import ImpressionRow
from newsrec.store.report import click_rank

__all__ = ["version_in", "count_impressions", "count_clicks"]

VERSION_MARK = "."
IMPRESSIONS = Counter("newsrec_impressions", "logged impressions", ["version"])
CLICKS = Counter("newsrec_clicks", "clicks in logged impressions, by place in the list", ["version", "place"])


def version_in(impression_id: str, deployed: Container[str]) -> str:
    """The model version an impression id the service gave out names, if that version was ever
    deployed ("" for other ids: a client cannot make up labels, so the metrics stay bounded)."""
    version, mark, _ = impression_id.partition(VERSION_MARK)
    return version if mark and version in deployed else ""


def count_impressions(impressions: list[repo.ImpressionRecord]) -> None:
    for impression in impressions:
        IMPRESSIONS.labels(impression.model_version or "unknown").inc()


def count_clicks(events: list[repo.EventRecord], lists: Mapping[tuple[str, str], ImpressionRow]) -> None:
    """Each new click in a logged list, by the model version that made the list and its place in
    it; `lists`: the stored impressions the clicks name, by (user id, impression id)."""
    clicks = [e for e in events if e.type == "click" and e.impression_id]
    for click in clicks:
        shown = lists.get((click.user_id, click.impression_id or ""))
        place = click_rank(shown.news_ids.split(), click.news_id) if shown is not None else None
        if shown is not None and place is not None:
            bucket = "1-5" if place <= 5 else "6-10" if place <= 10 else "11+"
            CLICKS.labels(shown.model_version or "unknown", bucket).inc()
