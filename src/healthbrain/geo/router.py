"""Directory API: divisions (with GeoJSON), institutions, school classes, practitioners, teams."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from healthbrain.auth.deps import PrincipalDep, require
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.params import OffsetQuery
from healthbrain.geo import repository, service
from healthbrain.geo.schemas import (
    CareTeamIn,
    CareTeamOut,
    DivisionIn,
    DivisionOut,
    InstitutionDetail,
    InstitutionIn,
    InstitutionKindName,
    InstitutionOut,
    PractitionerIn,
    PractitionerOut,
    SchoolClassOut,
)
from healthbrain.web.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["directory"])
ReaderDep = Annotated[Principal, Depends(require(Permission.DIRECTORY_READ))]
CREATED = status.HTTP_201_CREATED


@router.get("/divisions", response_model=list[DivisionOut], summary="Divisions, optionally one level or one parent")
def list_divisions(
    session: SessionDep,
    principal: ReaderDep,
    parent_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    level: Annotated[str | None, Query(pattern="^(district|town|community)$")] = None,
) -> list[DivisionOut]:
    parent_id = None
    if parent_code is not None:
        parent_id = service.get_division(session, principal=principal, code=parent_code).id
    return [DivisionOut.model_validate(d) for d in repository.divisions(session, parent_id=parent_id, level=level)]


@router.get("/divisions/{code}", response_model=DivisionOut)
def get_division(session: SessionDep, principal: ReaderDep, code: str) -> DivisionOut:
    return DivisionOut.model_validate(service.get_division(session, principal=principal, code=code))


@router.get("/divisions/{code}/geojson", summary="The division and its children as a GeoJSON FeatureCollection")
def division_geojson(session: SessionDep, principal: ReaderDep, code: str) -> dict[str, Any]:
    division = service.get_division(session, principal=principal, code=code)
    children = repository.divisions(session, parent_id=division.id)
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(d.polygon) if d.polygon else None,
            "properties": {"code": d.code, "name": d.name, "level": d.level, "kind": d.kind},
        }
        for d in [division, *children]
    ]
    return {"type": "FeatureCollection", "features": features}


@router.post("/divisions", response_model=DivisionOut, status_code=CREATED)
def create_division(session: SessionDep, principal: PrincipalDep, data: DivisionIn) -> DivisionOut:
    return DivisionOut.model_validate(service.create_division(session, principal=principal, data=data))


@router.get("/institutions", response_model=list[InstitutionOut])
def list_institutions(
    session: SessionDep,
    _: ReaderDep,
    kind: InstitutionKindName | None = None,
    offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[InstitutionOut]:
    rows = repository.institutions(session, kind=kind, division_ids=None, limit=limit, offset=offset)
    return [InstitutionOut.model_validate(i) for i in rows]


@router.get("/institutions/{code}", response_model=InstitutionDetail, summary="An institution and its catchment")
def get_institution(session: SessionDep, principal: ReaderDep, code: str) -> InstitutionDetail:
    institution = service.get_institution(session, principal=principal, code=code)
    catchment = [d.code for d in repository.catchment(session, institution.id)]
    return InstitutionDetail.model_validate(
        {**InstitutionOut.model_validate(institution).model_dump(), "catchment_codes": catchment}
    )


@router.post("/institutions", response_model=InstitutionOut, status_code=CREATED)
def create_institution(session: SessionDep, principal: PrincipalDep, data: InstitutionIn) -> InstitutionOut:
    return InstitutionOut.model_validate(service.create_institution(session, principal=principal, data=data))


@router.get("/institutions/{code}/classes", response_model=list[SchoolClassOut], summary="A school's classes")
def school_classes(session: SessionDep, principal: ReaderDep, code: str) -> list[SchoolClassOut]:
    school = service.get_institution(session, principal=principal, code=code)
    return [SchoolClassOut.model_validate(c) for c in repository.school_classes(session, school.id)]


@router.get("/practitioners", response_model=list[PractitionerOut])
def list_practitioners(
    session: SessionDep,
    principal: ReaderDep,
    institution_code: str | None = None,
    offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PractitionerOut]:
    institution_id = (
        service.get_institution(session, principal=principal, code=institution_code).id if institution_code else None
    )
    rows = repository.practitioners(session, institution_id=institution_id, limit=limit, offset=offset)
    return [PractitionerOut.model_validate(p) for p in rows]


@router.post("/practitioners", response_model=PractitionerOut, status_code=CREATED)
def create_practitioner(session: SessionDep, principal: PrincipalDep, data: PractitionerIn) -> PractitionerOut:
    return PractitionerOut.model_validate(service.create_practitioner(session, principal=principal, data=data))


@router.get("/teams", response_model=list[CareTeamOut], summary="Family-doctor teams")
def list_teams(
    session: SessionDep,
    principal: ReaderDep,
    institution_code: str | None = None,
    offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CareTeamOut]:
    institution_id = (
        service.get_institution(session, principal=principal, code=institution_code).id if institution_code else None
    )
    rows = repository.teams(session, institution_id=institution_id, team_ids=None, limit=limit, offset=offset)
    return service.teams_out(session, rows)


@router.post("/teams", response_model=CareTeamOut, status_code=CREATED)
def create_team(session: SessionDep, principal: PrincipalDep, data: CareTeamIn) -> CareTeamOut:
    team = service.create_team(session, principal=principal, data=data)
    return service.teams_out(session, [team])[0]
