"""Residents API (master patient index). Thin: access through dependencies, one service call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from healthbrain.auth.deps import PrincipalDep
from healthbrain.core.params import IdPath, OffsetQuery
from healthbrain.people import service
from healthbrain.people.populations import KeyPopulation
from healthbrain.people.schemas import (
    MergeOut,
    MergeRequest,
    ResidentCreate,
    ResidentDetail,
    ResidentPage,
    ResidentUpdate,
    RevealedIdentity,
    UnmergeRequest,
)
from healthbrain.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/residents", tags=["residents"])


@router.get("", response_model=ResidentPage, summary="Search residents (identity data masked)")
def search_residents(
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(description="Full ID number, phone number, or the start of a name")] = None,
    division_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    key_population: KeyPopulation | None = None,
    include_inactive: bool = False,
    offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> ResidentPage:
    result = service.search_residents(
        session,
        principal=principal,
        q=q,
        division_code=division_code,
        key_population=key_population,
        include_inactive=include_inactive,
        offset=offset,
        limit=limit,
    )
    return ResidentPage(items=result.items, offset=offset, limit=limit, has_more=result.has_more)


@router.post("", response_model=ResidentDetail, status_code=status.HTTP_201_CREATED, summary="Register a resident")
def create_resident(session: SessionDep, principal: PrincipalDep, data: ResidentCreate) -> ResidentDetail:
    resident = service.create_resident(session, principal=principal, data=data)
    return service.detail(session, resident)


@router.get("/{resident_id}", response_model=ResidentDetail, summary="A resident (masked)")
def get_resident(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> ResidentDetail:
    return service.detail(session, service.get_resident(session, principal=principal, resident_id=resident_id))


@router.patch("/{resident_id}", response_model=ResidentDetail, summary="Correct a resident's data")
def update_resident(
    session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: ResidentUpdate
) -> ResidentDetail:
    resident = service.update_resident(session, principal=principal, resident_id=resident_id, data=data)
    return service.detail(session, resident)


@router.post(
    "/{resident_id}/reveal",
    response_model=RevealedIdentity,
    summary="The full ID number and phone (roles allowed to see them; audited)",
)
def reveal(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> RevealedIdentity:
    return service.reveal(session, principal=principal, resident_id=resident_id)


@router.post("/{resident_id}/merge", response_model=MergeOut, summary="Merge a duplicate record into this one")
def merge(session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: MergeRequest) -> MergeOut:
    row = service.merge(
        session, principal=principal, survivor_id=resident_id, merged_id=data.merged_id, reason=data.reason
    )
    return MergeOut.model_validate(row)


@router.post("/merges/{merge_id}/unmerge", response_model=MergeOut, summary="Undo a merge")
def unmerge(session: SessionDep, principal: PrincipalDep, merge_id: IdPath, data: UnmergeRequest) -> MergeOut:
    return MergeOut.model_validate(service.unmerge(session, principal=principal, merge_id=merge_id, reason=data.reason))
