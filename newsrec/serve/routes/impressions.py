"""POST /v1/impressions: which lists users were actually shown (views, for CTR and popularity)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from newsrec.serve.deps import Caller, Service, check_batch
from newsrec.serve.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from newsrec.serve.schemas import ImpressionBatch, ImpressionsResult

router = APIRouter(prefix="/v1/impressions", tags=["impressions"], responses=ERROR_RESPONSES)


@router.post("", responses=CONFLICT_RESPONSE)
def post_impressions(batch: ImpressionBatch, svc: Service, caller: Caller, request: Request) -> ImpressionsResult:
    """Store what was shown; an impression id the same user sent before is reported as a duplicate.

    Post the `impression_id` and the news ids of the recommendations you showed, as they came:
    that list's views count toward popularity (within the user's `counted_views_per_hour`),
    and clicks naming it can count. A list the service did not make for this user is stored
    but counts nothing; an admin key's impressions (the operator's own logs) count as given.
    """
    check_batch(request, len(batch.impressions))
    if not all(caller.may_act_for(i.user_id) for i in batch.impressions):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "impressions of another user: a user token posts its own only")
    result = svc.writes.add_impressions([i.shown() for i in batch.impressions], trusted=caller.has("admin"))
    return ImpressionsResult(stored=result.stored, duplicates=list(result.duplicates))
