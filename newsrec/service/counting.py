"""What traffic counts toward popularity: only lists this service served, a bounded share per user.

Popularity is a feature of every user's ranking, so traffic any one caller posts must not move
it at will (one user token once moved a story from rank 759 to #2 for everyone with 200 made-up
clicks). The rules:

- The service signs each list it serves: its impression id is `<model version>.<nonce>.<mac>`,
  the MAC (HMAC-SHA256 under the database's secret) over the id's head, the user and the news
  ids in the order served. A posted impression is *attested* when its id's MAC matches its
  user and news ids: the service made exactly this list for this user.
- An attested impression is counted: clicks in it may count. Of its news, those the user was
  not shown in another counted list in the past hour (the service's clock) add a view, up to
  `views_per_hour` stories a user an hour: a story gets at most one view an hour from each
  user, however often it is listed, and one user touches at most that many stories an hour.
- A click counts when it names a counted impression of the same user holding that news, the
  user has no counted click on that news yet (a story gets at most one click from each user),
  and fewer than `clicks_per_hour` counted clicks in the past hour.
- Everything else is stored all the same (the user's history, the model comparison's report):
  it only adds nothing to popularity.
- A caller the operator trusts with its logs (an API key with the `admin` scope, which
  `newsrec replay` uses) posts traffic that counts as given: no signature, no caps.

What remains possible: many real accounts, each adding one click per story it was really shown
and one view an hour per story listed to it, within its hourly caps. Views alone move
popularity too: a story listed and not clicked looks less popular, so an account that asks
for many lists and clicks nothing pushes what it was shown down, for everyone
(`bench/hostile_clients.py` measures how much, on a catalogue with no other traffic). A site
can add its own account checks in front (sign-up friction, anomaly detection on the counted
clicks in the `events` table).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from newsrec.store import repository as repo
from newsrec.store.models import ImpressionRow

__all__ = ["CountLimits", "TrafficCounter", "served_impression_id", "attested", "WINDOW"]

WINDOW = timedelta(hours=1)
MAC_CHARS = 24  # 96 bits of HMAC-SHA256: an impression id stays well under its 128 characters


@dataclass(frozen=True)
class CountLimits:
    views_per_hour: int = 200  # stories whose views count, per user
    clicks_per_hour: int = 30  # counted clicks per user


def _mac(secret: str, head: str, user_id: str, news_ids: Sequence[str]) -> str:
    message = "\n".join([head, user_id, " ".join(news_ids)]).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:MAC_CHARS]


def served_impression_id(secret: str, version: str, user_id: str, news_ids: Sequence[str]) -> str:
    """The signed id of the list `news_ids` served to `user_id` by model `version`."""
    head = f"{version}.{uuid.uuid4().hex[:16]}"
    return f"{head}.{_mac(secret, head, user_id, news_ids)}"


def attested(secret: str, impression_id: str, user_id: str, news_ids: Sequence[str]) -> bool:
    """Whether this service served exactly `news_ids`, in this order, to `user_id` under this id."""
    head, dot, mac = impression_id.rpartition(".")
    return bool(dot) and hmac.compare_digest(mac, _mac(secret, head, user_id, news_ids))


class TrafficCounter:
    """Marks posted impressions and clicks `counted` by the rules above. Call inside the writing
    transaction, after `repo.lock_feed`: the caps then hold across workers and instances."""

    def __init__(self, secret: str, limits: CountLimits):
        self.secret, self.limits = secret, limits

    def mark_views(self, session: Session, impressions: list[repo.ImpressionRecord], trusted: bool) -> None:
        """Set `counted` (attested: clicks in it may count) and `viewed` (the news whose views
        count) of each new impression."""
        stored = repo.impressions_named(session, {(i.user_id, i.impression_id) for i in impressions})
        seen: dict[str, set[str]] = {}
        since = datetime.now(timezone.utc) - WINDOW
        for i in impressions:
            if (i.user_id, i.impression_id) in stored:  # a repeat: stored once, counted once
                continue
            if trusted:
                i.counted, i.viewed = True, list(i.news_ids)
                continue
            if not attested(self.secret, i.impression_id, i.user_id, i.news_ids):
                continue
            if i.user_id not in seen:
                seen[i.user_id] = {
                    n for ids in repo.counted_lists_since(session, i.user_id, since) for n in ids.split()
                }
            budget = max(0, self.limits.views_per_hour - len(seen[i.user_id]))
            i.counted = True
            i.viewed = [n for n in dict.fromkeys(i.news_ids) if n not in seen[i.user_id]][:budget]
            seen[i.user_id].update(i.viewed)

    def mark_clicks(
        self, session: Session, events: list[repo.EventRecord], trusted: bool
    ) -> dict[tuple[str, str], ImpressionRow]:
        """Set `counted` of each click that counts; returns the stored lists the clicks name, by
        (user id, impression id), which the model comparison counts them in too."""
        clicks = [e for e in events if e.type == "click" and e.impression_id]
        lists = repo.impressions_named(session, {(e.user_id, e.impression_id or "") for e in clicks})
        used: dict[str, int] = {}
        clicked: dict[str, set[str]] = {}
        since = datetime.now(timezone.utc) - WINDOW
        for e in clicks:
            shown = lists.get((e.user_id, e.impression_id or ""))
            if shown is None or not shown.counted or e.news_id not in shown.news_ids.split():
                continue
            if trusted:
                e.counted = True
                continue
            if e.user_id not in used:
                used[e.user_id] = repo.counted_clicks_since(session, e.user_id, since)
                clicked[e.user_id] = repo.counted_clicks_on(session, e.user_id, {c.news_id for c in clicks})
            if e.news_id not in clicked[e.user_id] and used[e.user_id] < self.limits.clicks_per_hour:
                used[e.user_id] += 1
                clicked[e.user_id].add(e.news_id)
                e.counted = True
        return lists
