"""POST /v1/news: add or replace news items."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from newsrec.serve.deps import Service, check_batch, require_scope
from newsrec.serve.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from newsrec.serve.schemas import IngestResult, NewsBatch

router = APIRouter(prefix="/v1/news", tags=["news"], responses=ERROR_RESPONSES)


@router.post("", dependencies=[Depends(require_scope("news"))], responses=CONFLICT_RESPONSE)
def post_news(batch: NewsBatch, svc: Service, request: Request) -> IngestResult:
    """Add or update news; each item is encoded on arrival and recommendable at once. A news id
    twice in one batch is refused (409): nothing of it is stored."""
    check_batch(request, len(batch.items))
    return IngestResult(stored=svc.writes.add_news([n.as_news() for n in batch.items]))
