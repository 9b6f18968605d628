"""Review queue API (疑似重复档案). Thin: access through dependencies, one service call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from healthbrain.auth.deps import PrincipalDep
from healthbrain.core.params import IdPath, OffsetQuery
from healthbrain.linkage import service
from healthbrain.linkage.schemas import CandidateOut, CandidatePage, CandidateStatus, DecisionIn, UnmergeIn
from healthbrain.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/linkage", tags=["linkage"])


@router.get("/candidates", response_model=CandidatePage, summary="Pairs that may be one person (identity masked)")
def list_candidates(
    session: SessionDep,
    principal: PrincipalDep,
    status: CandidateStatus = "open",
    offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> CandidatePage:
    return service.list_candidates(session, principal=principal, status=status, offset=offset, limit=limit)


@router.get("/candidates/{candidate_id}", response_model=CandidateOut, summary="One pair with its evidence")
def get_candidate(session: SessionDep, principal: PrincipalDep, candidate_id: IdPath) -> CandidateOut:
    return service.get_candidate(session, principal=principal, candidate_id=candidate_id)


@router.post(
    "/candidates/{candidate_id}/decision",
    response_model=CandidateOut,
    summary="Decide a pair: same (merge into the survivor) or not_same",
)
def decide(session: SessionDep, principal: PrincipalDep, candidate_id: IdPath, data: DecisionIn) -> CandidateOut:
    return service.decide(
        session,
        principal=principal,
        candidate_id=candidate_id,
        decision=data.decision,
        survivor_id=data.survivor_id,
        reason=data.reason,
    )


@router.post("/candidates/{candidate_id}/unmerge", response_model=CandidateOut, summary="Undo the merge of a pair")
def unmerge(session: SessionDep, principal: PrincipalDep, candidate_id: IdPath, data: UnmergeIn) -> CandidateOut:
    return service.unmerge(session, principal=principal, candidate_id=candidate_id, reason=data.reason)
