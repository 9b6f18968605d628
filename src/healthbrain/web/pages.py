"""Pages shared by the domains: the home page of each role and the language switch.

Domain page routers (people, geo, auth) are included here, so the app mounts one page router.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from healthbrain.auth import repository as auth_repository
from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.pages import router as auth_pages
from healthbrain.auth.roles import Role
from healthbrain.auth.scope import Principal
from healthbrain.chronic import worklist as chronic_worklist
from healthbrain.core.i18n import normalise_language
from healthbrain.geo import repository as geo_repository
from healthbrain.geo import service as geo
from healthbrain.geo.pages import district_overview
from healthbrain.geo.pages import router as geo_pages
from healthbrain.people import service as people
from healthbrain.people.pages import router as people_pages
from healthbrain.records import service as records
from healthbrain.surveillance import service as surveillance
from healthbrain.surveillance.pages import router as surveillance_pages
from healthbrain.web.deps import LANGUAGE_COOKIE, LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)


def _home_context(session: Session, principal: Principal, language: str) -> dict[str, Any]:
    """What each role sees first."""
    context: dict[str, Any] = {}
    if principal.institution_id is not None:
        context["institution"] = geo_repository.institution_by_id(session, principal.institution_id)
    match principal.role:
        case Role.FAMILY_DOCTOR:
            context["worklist"] = chronic_worklist.worklist(session, principal=principal, limit=0)
            teams = geo_repository.teams(session, institution_id=None, team_ids=principal.team_ids, limit=20, offset=0)
            context["teams"] = geo.teams_out(session, teams)
            context["counts"] = people.key_population_counts(session, principal=principal)
        case Role.CENTRE_MANAGER:
            context["worklist"] = chronic_worklist.worklist(session, principal=principal, limit=0)
            teams = geo_repository.teams(
                session, institution_id=principal.institution_id, team_ids=None, limit=200, offset=0
            )
            context["teams"] = geo.teams_out(session, teams)
            context["counts"] = people.key_population_counts(session, principal=principal)
        case Role.BUREAU | Role.CDC:
            context["alerts"] = surveillance.summary(session, principal=principal, language=language)
            context["counts"] = people.key_population_counts(session, principal=principal)
            context["overview"] = district_overview(session)
        case Role.DATA_SUBMITTER:
            context["counts"] = {"all": people.key_population_counts(session, principal=principal)["all"]}
            context["batches"] = records.my_batches(session, principal=principal)
        case Role.ADMIN:
            context["users_by_role"] = auth_repository.users_by_role(session)
            context["institution_counts"] = geo_repository.institution_counts(session)
            context["recent_audit"] = auth_repository.audit_events(
                session, principal=principal, resident_id=None, user_id=None, action=None, limit=10
            )
    return context


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep) -> Response:
    return render(request, "home.html", _home_context(session, principal, language), principal=principal)


@router.get("/lang/{language}")
def switch_language(language: str, next: str = "/") -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, normalise_language(language), max_age=365 * 86400, samesite="lax", path="/")
    return response


router.include_router(auth_pages)
router.include_router(people_pages)
router.include_router(geo_pages)
router.include_router(surveillance_pages)
