"""The review queue page (疑似重复档案): open pairs side by side, decided pairs with unmerge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.roles import Permission
from healthbrain.core.params import MAX_ID, IdPath, OffsetQuery
from healthbrain.linkage import service
from healthbrain.linkage.model import COMPARISONS
from healthbrain.web.deps import SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 10


@router.get("/linkage", response_class=HTMLResponse)
def queue_page(
    request: Request, session: SessionDep, principal: PrincipalDep, status: str = "open", offset: OffsetQuery = 0
) -> Response:
    principal.require(Permission.RESIDENT_MERGE)
    status = status if status in ("open", "decided") else "open"
    if status == "open":
        page = service.list_candidates(session, principal=principal, status="open", offset=offset, limit=PAGE_SIZE)
        items, has_more, total = page.items, page.has_more, page.total
    else:
        same = service.list_candidates(session, principal=principal, status="same", offset=0, limit=50)
        not_same = service.list_candidates(session, principal=principal, status="not_same", offset=0, limit=50)
        items = sorted([*same.items, *not_same.items], key=lambda c: c.reviewed_at or c.created_at, reverse=True)
        has_more, total = False, same.total + not_same.total
    return render(
        request,
        "linkage/queue.html",
        {
            "status": status,
            "items": items,
            "has_more": has_more,
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "fields": list(COMPARISONS),
            "last_run": service.latest_run(session),
        },
        principal=principal,
    )


@router.post("/linkage/{candidate_id}/decision", response_class=HTMLResponse)
def decide_submit(
    session: SessionDep,
    principal: PrincipalDep,
    candidate_id: IdPath,
    decision: Annotated[str, Form()],
    survivor_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    service.decide(session, principal=principal, candidate_id=candidate_id, decision=decision, survivor_id=survivor_id)
    return RedirectResponse("/linkage", status_code=303)


@router.post("/linkage/{candidate_id}/unmerge", response_class=HTMLResponse)
def unmerge_submit(
    session: SessionDep, principal: PrincipalDep, candidate_id: IdPath, reason: Annotated[str, Form()]
) -> Response:
    service.unmerge(session, principal=principal, candidate_id=candidate_id, reason=reason.strip())
    return RedirectResponse("/linkage?status=decided", status_code=303)
