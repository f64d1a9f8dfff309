"""One reader's place in the store's change feeds (`store/feeds.py`).

Each part of a worker that mirrors the database keeps its own `ChangeFeed` over the feeds it
follows: a catalogue over news and tallies (so one for a newly deployed model can catch up in
the background while another serves), the service over events, deletions and deployments.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy.orm import Session

from newsrec.store import feeds

__all__ = ["ChangeFeed", "Heads"]

Heads = Mapping[str, int]  # the newest seq of each feed (`feeds.heads`), read once per sync


class ChangeFeed:
    """The last `seq` applied of each followed feed, and the rows after it."""

    def __init__(self, *names: str):
        unknown = set(names) - set(feeds.FEEDS)
        assert not unknown, f"no such feeds: {unknown}"
        self.position = dict.fromkeys(names, 0)

    def has_newer(self, name: str, heads: Heads | None) -> bool:
        """Whether feed `name` may hold rows past this reader: always, unless `heads` says otherwise."""
        return heads is None or heads[name] > self.position[name]

    def chunks(self, session: Session, name: str, heads: Heads | None = None) -> Iterator[list]:
        """Every row of feed `name` after this reader's position, `feeds.ROWS_PER_READ` at a time;
        the position moves past a chunk once the caller has applied it (asked for the next one).
        Nothing is queried when `heads` says the feed has nothing newer."""
        if not self.has_newer(name, heads):
            return
        while True:
            rows = feeds.rows_since(session, name, self.position[name], feeds.ROWS_PER_READ)
            if rows:
                yield rows
                self.position[name] = rows[-1].seq
            if len(rows) < feeds.ROWS_PER_READ:
                return

    def rows(self, session: Session, name: str, heads: Heads | None = None) -> list:
        """Every row of feed `name` after this reader's position, at once (a small feed)."""
        return [row for chunk in self.chunks(session, name, heads) for row in chunk]

    def skip_to(self, name: str, seq: int) -> None:
        """Take rows through `seq` as applied (a snapshot or start-up already holds them)."""
        self.position[name] = seq
