"""POST /v1/news: add or replace news items."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Depends, HTTPException, Request, status

from newsrec.serve.deps import Service, require_scope
from newsrec.serve.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from newsrec.serve.schemas import IngestResult, NewsBatch
from newsrec.service.recommender_service import IDS_NAMED
from newsrec.store.repository import NewsRecord

router = APIRouter(prefix="/v1/news", tags=["news"], responses=ERROR_RESPONSES)


def check_batch(request: Request, n: int) -> None:
    limit = request.app.state.settings.max_batch
    if n > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{n} items: at most {limit} per request")


@router.post("", dependencies=[Depends(require_scope("news"))], responses=CONFLICT_RESPONSE)
def post_news(batch: NewsBatch, svc: Service, request: Request) -> IngestResult:
    """Add or update news; each item is encoded on arrival and recommendable at once."""
    check_batch(request, len(batch.items))
    repeated = sorted(i for i, n in Counter(n.id for n in batch.items).items() if n > 1)
    if repeated:
        more = f" and {len(repeated) - IDS_NAMED} more" if len(repeated) > IDS_NAMED else ""
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"news ids repeated in one batch: {', '.join(repeated[:IDS_NAMED])}{more}; send each item once",
        )
    records = [NewsRecord(n.id, n.title, n.category, n.subcategory, n.abstract, n.published_at) for n in batch.items]
    return IngestResult(stored=svc.add_news(records))
