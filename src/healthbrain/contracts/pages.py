"""Family-doctor contracting pages: the team's worklists (``/contracts``), the sign and renew form with
a signature pad, and a resident's contract history with its signatures."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.scope import Principal
from healthbrain.contracts import repository, service
from healthbrain.contracts.definitions import EXPIRING_DAYS, SIGNATURE_METHODS, SIGNER_RELATIONS, USER_END_REASONS
from healthbrain.contracts.models import Contract
from healthbrain.contracts.schemas import ContractCreate, ContractEnd, ContractRenew
from healthbrain.core.errors import DomainError, InvalidInput, NotFound
from healthbrain.core.i18n import translate
from healthbrain.core.ingest import validation_messages
from healthbrain.core.params import MAX_ID, IdPath, OffsetQuery
from healthbrain.core.time import local_today
from healthbrain.db import rollback
from healthbrain.people.populations import KeyPopulation
from healthbrain.web.deps import LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_ROWS = 20


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None


@router.get("/contracts", response_class=HTMLResponse)
def worklists_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    team: str = "",
    population: str = "",
    within: str = "",
    offset: OffsetQuery = 0,
    eoffset: OffsetQuery = 0,
    notice: str = "",
) -> Response:
    teams = service.my_teams(session, principal=principal)
    chosen = _int(team) or (teams[0].id if teams else None)
    days = _int(within)
    query = service.WorklistQuery(
        population=KeyPopulation(population) if population in set(KeyPopulation) else None,
        within_days=min(days, 366) if days is not None else EXPIRING_DAYS,
        offset=offset,
        expiring_offset=eoffset,
        limit=PAGE_ROWS,
    )
    lists = service.team_worklists(session, principal=principal, team_id=chosen, query=query) if chosen else None
    context = {
        "teams": teams,
        "lists": lists,
        "populations": [p.value for p in KeyPopulation],
        "notice": notice[:80],
        "can_manage": _can_manage(principal),
    }
    return render(request, "contracts/worklists.html", context, principal=principal)


def _can_manage(principal: Principal) -> bool:
    from healthbrain.auth.roles import Permission, Role

    return principal.role == Role.ADMIN or principal.can(Permission.CONTRACT_MANAGE)


# --- the form ---------------------------------------------------------------------------------------------------
def _form_context(
    session: Session,
    principal: Principal,
    *,
    resident_id: int,
    team_id: int | None,
    renew_of: Contract | None,
    values: dict[str, Any],
    errors: list[tuple[str | None, str]] | None = None,
) -> dict[str, Any]:
    resident, history = service.resident_contracts(session, principal=principal, resident_id=resident_id)
    teams = service.teams_for(session, principal)
    serving = [t for t in teams if repository.team_serves(session, t.id, resident.division_id)] or teams
    team = team_id if team_id in {t.id for t in serving} else (serving[0].id if serving else None)
    members = {t.id: [(p.id, p.name, role) for p, role in repository.team_members(session, t.id)] for t in serving}
    from healthbrain.people.service import summaries

    return {
        "resident": summaries(session, [resident], on=local_today())[0],
        "history": service.contracts_out(session, history[:5]),
        "teams": service.team_outs(session, serving),
        "team_id": team,
        "members": members,
        "packages": service.list_packages(session, principal=principal),
        "relations": SIGNER_RELATIONS,
        "methods": SIGNATURE_METHODS,
        "renew_of": service.contracts_out(session, [renew_of])[0] if renew_of else None,
        "values": values,
        "errors": errors or [],
    }


def _defaults(session: Session, renew_of: Contract | None, resident_name: str) -> dict[str, Any]:
    today = local_today()
    start = max(renew_of.end_date + timedelta(days=1), today) if renew_of else today
    package = None
    if renew_of is not None:
        packages = repository.packages_by_id(session, {renew_of.package_id})
        package = packages[renew_of.package_id].code
    return {
        "start_date": start.isoformat(),
        "end_date": "",
        "package_code": package or "basic",
        "practitioner_id": str(renew_of.practitioner_id or "") if renew_of else "",
        "signer_name": resident_name,
        "signer_relation": "self",
        "method": "handwritten",
        "signature": "",
    }


@router.get("/contracts/sign", response_class=HTMLResponse)
def sign_form(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    resident_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    team_id: str = "",
) -> Response:
    resident, _ = service.resident_contracts(session, principal=principal, resident_id=resident_id)
    values = _defaults(session, None, resident.name)
    context = _form_context(
        session, principal, resident_id=resident_id, team_id=_int(team_id), renew_of=None, values=values
    )
    return render(request, "contracts/form.html", context, principal=principal)


@router.get("/contracts/{contract_id}/renew", response_class=HTMLResponse)
def renew_form(request: Request, session: SessionDep, principal: PrincipalDep, contract_id: IdPath) -> Response:
    contract = service.get_contract(session, principal=principal, contract_id=contract_id)
    resident, _ = service.resident_contracts(session, principal=principal, resident_id=contract.resident_id)
    values = _defaults(session, contract, resident.name)
    context = _form_context(
        session,
        principal,
        resident_id=contract.resident_id,
        team_id=contract.team_id,
        renew_of=contract,
        values=values,
    )
    return render(request, "contracts/form.html", context, principal=principal)


def _values(form: FormData) -> dict[str, str]:
    keys = (
        "resident_id",
        "team_id",
        "package_code",
        "practitioner_id",
        "start_date",
        "end_date",
        "signer_name",
        "signer_relation",
        "method",
        "signature",
        "change_team",
    )
    return {k: str(form.get(k) or "").strip() for k in keys}


def _consent(values: dict[str, str]) -> dict[str, Any]:
    return {
        "signer_name": values["signer_name"],
        "signer_relation": values["signer_relation"] or "self",
        "method": values["method"] or "handwritten",
        "signature": values["signature"] or None,
    }


def _form_error(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    values: dict[str, str],
    renew_of_id: int | None,
    errors: list[tuple[str | None, str]],
) -> Response:
    rollback(session)
    renew_of = session.get(Contract, renew_of_id) if renew_of_id else None
    resident_id = renew_of.resident_id if renew_of else _int(values["resident_id"])
    if resident_id is None:
        raise InvalidInput("error.contract.no_resident", field="resident_id")
    context = _form_context(
        session,
        principal,
        resident_id=resident_id,
        team_id=_int(values["team_id"]),
        renew_of=renew_of,
        values=values,
        errors=errors,
    )
    return render(request, "contracts/form.html", context, principal=principal, status_code=422)


def _domain_message(exc: DomainError, language: str) -> tuple[str | None, str]:
    return exc.field, translate(exc.key, language, **exc.params)


@router.post("/contracts/sign", response_class=HTMLResponse)
async def sign_action(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep
) -> Response:
    values = _values(await request.form())
    raw = {
        "resident_id": values["resident_id"],
        "team_id": values["team_id"],
        "package_code": values["package_code"] or "basic",
        "start_date": values["start_date"] or local_today().isoformat(),
        "end_date": values["end_date"] or None,
        "practitioner_id": values["practitioner_id"] or None,
        "consent": _consent(values),
        "change_team": values["change_team"] == "1",
    }
    try:
        data = ContractCreate.model_validate(raw)
        contract = service.sign_contract(
            session,
            principal=principal,
            resident_id=data.resident_id,
            team_id=data.team_id,
            package_code=data.package_code,
            start_date=data.start_date,
            end_date=data.end_date,
            practitioner_id=data.practitioner_id,
            consent=data.consent,
            change_team=data.change_team,
        )
    except ValidationError as exc:
        errors = validation_messages(exc, language)
        return _form_error(request, session, principal, values=values, renew_of_id=None, errors=errors)
    except DomainError as exc:
        if isinstance(exc, NotFound) or exc.status_code == 403:
            raise
        errors = [_domain_message(exc, language)]
        return _form_error(request, session, principal, values=values, renew_of_id=None, errors=errors)
    return RedirectResponse(f"/contracts/residents/{contract.resident_id}?notice=signed", status_code=303)


@router.post("/contracts/{contract_id}/renew", response_class=HTMLResponse)
async def renew_action(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, contract_id: IdPath
) -> Response:
    values = _values(await request.form())
    raw = {
        "start_date": values["start_date"] or None,
        "end_date": values["end_date"] or None,
        "package_code": values["package_code"] or None,
        "practitioner_id": values["practitioner_id"] or None,
        "consent": _consent(values),
    }
    try:
        data = ContractRenew.model_validate(raw)
        contract = service.renew_contract(
            session,
            principal=principal,
            contract_id=contract_id,
            start_date=data.start_date,
            end_date=data.end_date,
            package_code=data.package_code,
            practitioner_id=data.practitioner_id,
            consent=data.consent,
        )
    except ValidationError as exc:
        errors = validation_messages(exc, language)
        return _form_error(request, session, principal, values=values, renew_of_id=contract_id, errors=errors)
    except DomainError as exc:
        if isinstance(exc, NotFound) or exc.status_code == 403:
            raise
        errors = [_domain_message(exc, language)]
        return _form_error(request, session, principal, values=values, renew_of_id=contract_id, errors=errors)
    return RedirectResponse(f"/contracts/residents/{contract.resident_id}?notice=renewed", status_code=303)


@router.post("/contracts/{contract_id}/end", response_class=HTMLResponse)
async def end_action(request: Request, session: SessionDep, principal: PrincipalDep, contract_id: IdPath) -> Response:
    form = await request.form()
    data = ContractEnd.model_validate(
        {"reason": str(form.get("reason") or ""), "ended_on": str(form.get("ended_on") or "") or None}
    )
    contract = service.end_contract(
        session, principal=principal, contract_id=contract_id, reason=data.reason, ended_on=data.ended_on
    )
    return RedirectResponse(f"/contracts/residents/{contract.resident_id}?notice=ended", status_code=303)


@router.get("/contracts/residents/{resident_id}", response_class=HTMLResponse)
def history_page(
    request: Request, session: SessionDep, principal: PrincipalDep, resident_id: IdPath, notice: str = ""
) -> Response:
    resident, contracts = service.resident_contracts(session, principal=principal, resident_id=resident_id)
    from healthbrain.people.service import summaries

    today = local_today()
    context = {
        "resident": summaries(session, [resident], on=today)[0],
        "contracts": service.contracts_out(session, contracts, on=today),
        "end_reasons": [r.value for r in USER_END_REASONS],
        "today": today,
        "notice": notice[:40],
        "can_manage": _can_manage(principal),
    }
    return render(request, "contracts/history.html", context, principal=principal)
