"""Family-doctor contracts over HTTP (``/api/v1/contracts``): packages, the caller's teams and their
worklists, sign, read, renew, end, a resident's history. Thin: one service call per route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from healthbrain.auth.deps import PrincipalDep
from healthbrain.contracts import service
from healthbrain.contracts.definitions import EXPIRING_DAYS
from healthbrain.contracts.schemas import (
    ContractCreate,
    ContractEnd,
    ContractOut,
    ContractRenew,
    PackageOut,
    TeamOut,
    TeamWorklists,
)
from healthbrain.core.params import IdPath, OffsetQuery
from healthbrain.people.populations import KeyPopulation
from healthbrain.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"])


@router.get("/packages", response_model=list[PackageOut], summary="Service packages (服务包)")
def packages(session: SessionDep, principal: PrincipalDep) -> list[PackageOut]:
    return service.list_packages(session, principal=principal)


@router.get("/teams", response_model=list[TeamOut], summary="The family-doctor teams the caller works for")
def teams(session: SessionDep, principal: PrincipalDep) -> list[TeamOut]:
    return service.my_teams(session, principal=principal)


@router.get(
    "/teams/{team_id}/worklists",
    response_model=TeamWorklists,
    summary="A team's uncontracted key-population residents and its contracts expiring soon",
)
def worklists(
    session: SessionDep,
    principal: PrincipalDep,
    team_id: IdPath,
    population: KeyPopulation | None = None,
    within_days: Annotated[int, Query(ge=0, le=366)] = EXPIRING_DAYS,
    offset: OffsetQuery = 0,
    expiring_offset: OffsetQuery = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> TeamWorklists:
    query = service.WorklistQuery(
        population=population, within_days=within_days, offset=offset, limit=limit, expiring_offset=expiring_offset
    )
    return service.team_worklists(session, principal=principal, team_id=team_id, query=query)


@router.get(
    "/residents/{resident_id}", response_model=list[ContractOut], summary="A resident's contracts, newest first"
)
def resident_history(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> list[ContractOut]:
    _resident, contracts = service.resident_contracts(session, principal=principal, resident_id=resident_id)
    return service.contracts_out(session, contracts)


@router.post(
    "",
    response_model=ContractOut,
    status_code=status.HTTP_201_CREATED,
    summary="Sign a contract (EpisodeOfCare) with its signature (Consent)",
)
def sign(session: SessionDep, principal: PrincipalDep, data: ContractCreate) -> ContractOut:
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
        source_key=data.source_key,
        change_team=data.change_team,
    )
    return service.contracts_out(session, [contract])[0]


@router.get("/{contract_id}", response_model=ContractOut, summary="One contract")
def get(session: SessionDep, principal: PrincipalDep, contract_id: IdPath) -> ContractOut:
    contract = service.get_contract(session, principal=principal, contract_id=contract_id)
    return service.contracts_out(session, [contract])[0]


@router.post(
    "/{contract_id}/renew",
    response_model=ContractOut,
    status_code=status.HTTP_201_CREATED,
    summary="Renew: a new contract from the day after the old end date",
)
def renew(session: SessionDep, principal: PrincipalDep, contract_id: IdPath, data: ContractRenew) -> ContractOut:
    contract = service.renew_contract(
        session,
        principal=principal,
        contract_id=contract_id,
        start_date=data.start_date,
        end_date=data.end_date,
        package_code=data.package_code,
        practitioner_id=data.practitioner_id,
        consent=data.consent,
        source_key=data.source_key,
    )
    return service.contracts_out(session, [contract])[0]


@router.post("/{contract_id}/end", response_model=ContractOut, summary="End a contract (moved, died, withdrew …)")
def end(session: SessionDep, principal: PrincipalDep, contract_id: IdPath, data: ContractEnd) -> ContractOut:
    contract = service.end_contract(
        session, principal=principal, contract_id=contract_id, reason=data.reason, ended_on=data.ended_on
    )
    return service.contracts_out(session, [contract])[0]
