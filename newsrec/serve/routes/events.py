"""POST /v1/events: what users did (click, like, save, comment, skip)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from newsrec.serve.deps import Caller, Service, check_batch
from newsrec.serve.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from newsrec.serve.schemas import EventBatch, EventsResult

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES)


@router.post("", responses=CONFLICT_RESPONSE)
def post_events(batch: EventBatch, svc: Service, caller: Caller, request: Request) -> EventsResult:
    """Store events; an event id the same user already sent is reported as a duplicate, not stored twice.

    A user token may post only its own user's events. Events on news the service does not
    have are refused (409, listing them): nothing of the batch is stored. A click counts toward
    popularity only when it names an impression this service served to the same user with that
    news in it (posted to /v1/impressions), once per user and story, within the user's hourly
    cap (`counted_clicks_per_hour`); an admin key's clicks in its logged impressions count as given.
    """
    check_batch(request, len(batch.events))
    if not all(caller.may_act_for(e.user_id) for e in batch.events):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "events of another user: a user token posts its own only")
    result = svc.writes.add_events([e.posted() for e in batch.events], trusted=caller.has("admin"))
    return EventsResult(stored=result.stored, duplicates=list(result.duplicates))
