"""User tokens issued before their user's erasure: refused by every worker of every instance.

An erasure leaves a tombstone (`repo.delete_user`: a keyed hash of the user id and the time)
that every worker reads from the change feed. A worker keeps the tombstones as long as a token
can live (`TOKEN_LIFE_CEILING`); a token of an erased user issued before its erasure is then
refused. A token minted for the same user id after the erasure works: the id may be reused.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from newsrec.data.mind import epoch_seconds
from newsrec.store.models import DeletionRow

__all__ = ["Revocations", "TOKEN_LIFE_CEILING"]

TOKEN_LIFE_CEILING = 7 * 86400  # the longest token life a service may be configured with, in seconds


class Revocations:
    def __init__(self) -> None:
        self._erased: dict[str, float] = {}  # user key -> when the user was erased

    def record(self, tombstones: Iterable[DeletionRow]) -> None:
        """Take the tombstones the feed brought; forget those older than any token's life."""
        erased = {**self._erased, **{t.user_key: epoch_seconds(t.deleted_at) for t in tombstones}}
        horizon = time.time() - TOKEN_LIFE_CEILING
        self._erased = {key: at for key, at in erased.items() if at > horizon}  # swapped whole: readers need no lock

    def revoked(self, user_key: str, issued_at: float) -> bool:
        """Whether a token issued at `issued_at` (epoch seconds) belongs to an erasure after it."""
        erased = self._erased.get(user_key)
        return erased is not None and issued_at < erased
