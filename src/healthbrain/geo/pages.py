"""Directory pages: the district map, a town, institutions, a school's classes, teams."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from healthbrain.auth.deps import require
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.geo import repository, service
from healthbrain.people import service as people
from healthbrain.web.charts import choropleth
from healthbrain.web.deps import SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)
ReaderDep = Annotated[Principal, Depends(require(Permission.DIRECTORY_READ))]


def district_overview(session: Session) -> dict[str, Any]:
    """The district, its towns with residents and communities, and a map (directory and the
    bureau's and CDC's home pages)."""
    towns = repository.divisions(session, level="town")
    town_of = repository.parents(session, level="community")
    population = people.population_by_community(session)
    by_town: Counter[int] = Counter()
    for community_id, count in population.items():
        if (town := town_of.get(community_id)) is not None:
            by_town[town] += count
    peak = max(by_town.values(), default=1)
    svg = choropleth(
        [
            (t.code, f"{t.name} {by_town[t.id]}", t.polygon, by_town[t.id] / peak, f"/directory/divisions/{t.code}")
            for t in towns
        ]
    )
    return {
        "district": repository.district(session),
        "towns": towns,
        "population": by_town,
        "total": sum(by_town.values()),
        "communities_per_town": Counter(town_of.values()),
        "institution_counts": repository.institution_counts(session),
        "map": svg,
    }


@router.get("/directory", response_class=HTMLResponse)
def directory_page(request: Request, session: SessionDep, principal: ReaderDep) -> Response:
    return render(request, "directory/index.html", district_overview(session), principal=principal)


@router.get("/directory/divisions/{code}", response_class=HTMLResponse)
def division_page(request: Request, session: SessionDep, principal: ReaderDep, code: str) -> Response:
    division = service.get_division(session, principal=principal, code=code)
    children = repository.divisions(session, parent_id=division.id)
    population = people.population_by_community(session)
    peak = max((population.get(c.id, 0) for c in children), default=1) or 1
    svg = choropleth(
        [
            (c.code, f"{c.name} {population.get(c.id, 0)}", c.polygon, population.get(c.id, 0) / peak, None)
            for c in children
        ],
        labels=len(children) <= 40,
    )
    scope_ids = [division.id, *[c.id for c in children]]
    institutions = repository.institutions(session, kind=None, division_ids=scope_ids, limit=1000, offset=0)
    parent = repository.division_by_id(session, division.parent_id) if division.parent_id else None
    return render(
        request,
        "directory/division.html",
        {
            "division": division,
            "parent": parent,
            "children": children,
            "population": population,
            "institutions": institutions,
            "map": svg,
        },
        principal=principal,
    )


@router.get("/directory/institutions", response_class=HTMLResponse)
def institutions_page(request: Request, session: SessionDep, principal: ReaderDep, kind: str = "") -> Response:
    rows = repository.institutions(session, kind=kind or None, division_ids=None, limit=2000, offset=0)
    divisions = {d.id: d for d in repository.divisions(session)}
    return render(
        request,
        "directory/institutions.html",
        {
            "institutions": rows,
            "kind": kind,
            "divisions": divisions,
            "counts": repository.institution_counts(session),
        },
        principal=principal,
    )


@router.get("/directory/institutions/{code}", response_class=HTMLResponse)
def institution_page(request: Request, session: SessionDep, principal: ReaderDep, code: str) -> Response:
    institution = service.get_institution(session, principal=principal, code=code)
    teams = repository.teams(session, institution_id=institution.id, team_ids=None, limit=500, offset=0)
    return render(
        request,
        "directory/institution.html",
        {
            "i": institution,
            "division": repository.division_by_id(session, institution.division_id),
            "parent": repository.institution_by_id(session, institution.parent_id) if institution.parent_id else None,
            "classes": repository.school_classes(session, institution.id) if institution.kind == "school" else [],
            "practitioners": repository.practitioners(session, institution_id=institution.id, limit=500, offset=0),
            "teams": service.teams_out(session, teams),
            "catchment": repository.catchment(session, institution.id),
        },
        principal=principal,
    )
