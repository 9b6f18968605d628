"""Every query over contracts. Queries that list residents go through ``auth.scope.scoped``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from healthbrain.auth.scope import Principal, scoped
from healthbrain.contracts.definitions import ContractStatus, in_force_clause, open_overlapping_clause
from healthbrain.contracts.models import Contract, ContractConsent, ServicePackage
from healthbrain.geo.models import CareTeam, CareTeamCommunity, CareTeamMember, Division, Institution, Practitioner
from healthbrain.people.models import Resident
from healthbrain.people.populations import KeyPopulation, key_population_clause


# --- packages ---------------------------------------------------------------------------------------------------
def packages(session: Session, *, active_only: bool = True) -> Sequence[ServicePackage]:
    stmt = select(ServicePackage).order_by(ServicePackage.id)
    if active_only:
        stmt = stmt.where(ServicePackage.active.is_(True))
    return session.scalars(stmt).all()


def package_by_code(session: Session, code: str) -> ServicePackage | None:
    return session.scalar(select(ServicePackage).where(ServicePackage.code == code))


def packages_by_id(session: Session, ids: set[int]) -> dict[int, ServicePackage]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(ServicePackage).where(ServicePackage.id.in_(ids)))}


# --- contracts --------------------------------------------------------------------------------------------------
def contracts_of(session: Session, resident_id: int) -> list[Contract]:
    """A resident's contracts, newest first (by start date, then by id): for the record page."""
    return list(
        session.scalars(
            select(Contract)
            .where(Contract.resident_id == resident_id)
            .order_by(Contract.start_date.desc(), Contract.id.desc())
        )
    )


def by_source_key(session: Session, source_key: str) -> Contract | None:
    return session.scalar(select(Contract).where(Contract.source_key == source_key))


def open_overlapping(session: Session, resident_id: int, first: date, last: date) -> Sequence[Contract]:
    return session.scalars(
        select(Contract)
        .where(Contract.resident_id == resident_id, open_overlapping_clause(first, last))
        .order_by(Contract.start_date)
    ).all()


def open_contracts(session: Session, resident_id: int) -> Sequence[Contract]:
    """Signed and not ended by hand (their end date may be past)."""
    return session.scalars(
        select(Contract).where(
            Contract.resident_id == resident_id,
            Contract.status == ContractStatus.ACTIVE.value,
            Contract.ended_on.is_(None),
        )
    ).all()


def renewal_of(session: Session, contract_id: int) -> Contract | None:
    return session.scalar(
        select(Contract).where(
            Contract.renewed_from_id == contract_id, Contract.status != ContractStatus.ENTERED_IN_ERROR.value
        )
    )


def renewals_of(session: Session, contract_ids: Sequence[int]) -> dict[int, int]:
    """Old contract id → the id of the contract that renewed it."""
    if not contract_ids:
        return {}
    rows = session.execute(
        select(Contract.renewed_from_id, Contract.id).where(
            Contract.renewed_from_id.in_(contract_ids), Contract.status != ContractStatus.ENTERED_IN_ERROR.value
        )
    )
    return {old: new for old, new in rows if old is not None}


def consents_of(session: Session, contract_ids: Sequence[int]) -> dict[int, list[ContractConsent]]:
    out: dict[int, list[ContractConsent]] = defaultdict(list)
    if not contract_ids:
        return out
    for consent in session.scalars(
        select(ContractConsent).where(ContractConsent.contract_id.in_(contract_ids)).order_by(ContractConsent.id)
    ):
        out[consent.contract_id].append(consent)
    return out


def contracts_by_ids(session: Session, ids: Sequence[int]) -> Sequence[Contract]:
    if not ids:
        return []
    return session.scalars(select(Contract).where(Contract.id.in_(ids))).all()


# --- teams ------------------------------------------------------------------------------------------------------
def teams_by_ids(session: Session, ids: Sequence[int]) -> Sequence[CareTeam]:
    if not ids:
        return []
    return session.scalars(select(CareTeam).where(CareTeam.id.in_(ids)).order_by(CareTeam.code)).all()


def teams_of_centre(session: Session, institution_id: int) -> Sequence[CareTeam]:
    return session.scalars(
        select(CareTeam)
        .where(CareTeam.home_institution_id == institution_id, CareTeam.active.is_(True))
        .order_by(CareTeam.code)
    ).all()


def all_teams(session: Session) -> Sequence[CareTeam]:
    return session.scalars(select(CareTeam).where(CareTeam.active.is_(True)).order_by(CareTeam.code)).all()


def team_communities(session: Session, team_ids: Sequence[int]) -> dict[int, list[Division]]:
    out: dict[int, list[Division]] = defaultdict(list)
    if not team_ids:
        return out
    rows = session.execute(
        select(CareTeamCommunity.team_id, Division)
        .join(Division, Division.id == CareTeamCommunity.division_id)
        .where(CareTeamCommunity.team_id.in_(team_ids))
        .order_by(Division.code)
    )
    for team_id, division in rows:
        out[team_id].append(division)
    return out


def team_serves(session: Session, team_id: int, division_id: int) -> bool:
    found = session.scalar(
        select(CareTeamCommunity.team_id).where(
            CareTeamCommunity.team_id == team_id, CareTeamCommunity.division_id == division_id
        )
    )
    return found is not None


def team_members(session: Session, team_id: int) -> Sequence[tuple[Practitioner, str]]:
    rows = session.execute(
        select(Practitioner, CareTeamMember.role)
        .join(CareTeamMember, CareTeamMember.practitioner_id == Practitioner.id)
        .where(CareTeamMember.team_id == team_id)
        .order_by(CareTeamMember.role, Practitioner.name)
    )
    return [(p, role) for p, role in rows]


def is_member(session: Session, team_id: int, practitioner_id: int) -> bool:
    found = session.scalar(
        select(CareTeamMember.team_id).where(
            CareTeamMember.team_id == team_id, CareTeamMember.practitioner_id == practitioner_id
        )
    )
    return found is not None


def institution_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Institution.id, Institution.name).where(Institution.id.in_(ids)))
    return {institution_id: name for institution_id, name in rows}


def practitioners_by_id(session: Session, ids: set[int]) -> dict[int, Practitioner]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Practitioner).where(Practitioner.id.in_(ids)))}


# --- the team's worklists -------------------------------------------------------------------------------------
def _contracted_on(on: date) -> ColumnElement[bool]:
    return exists(select(Contract.id).where(Contract.resident_id == Resident.id, in_force_clause(on)))


def population_clause(populations: Sequence[KeyPopulation], on: date) -> ColumnElement[bool]:
    return or_(*(key_population_clause(p, on) for p in populations))


def uncontracted(
    session: Session,
    principal: Principal,
    *,
    communities: Sequence[int],
    populations: Sequence[KeyPopulation],
    on: date,
    offset: int,
    limit: int,
) -> tuple[Sequence[Resident], int]:
    """Active residents of the communities, in one of the key populations, without a contract in force on
    ``on`` — oldest first (the elderly first, then by id), and how many there are."""
    stmt = scoped(
        select(Resident).where(
            Resident.status == "active",
            Resident.division_id.in_(communities),
            population_clause(populations, on),
            ~_contracted_on(on),
        ),
        principal,
    )
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(stmt.order_by(Resident.birth_date, Resident.id).offset(offset).limit(limit)).all()
    return rows, total


def count_uncontracted(
    session: Session, principal: Principal, *, communities: Sequence[int], population: KeyPopulation, on: date
) -> int:
    stmt = scoped(
        select(func.count())
        .select_from(Resident)
        .where(
            Resident.status == "active",
            Resident.division_id.in_(communities),
            key_population_clause(population, on),
            ~_contracted_on(on),
        ),
        principal,
    )
    return int(session.scalar(stmt) or 0)


def count_contracted(session: Session, principal: Principal, *, communities: Sequence[int], on: date) -> int:
    stmt = scoped(
        select(func.count())
        .select_from(Resident)
        .where(Resident.status == "active", Resident.division_id.in_(communities), _contracted_on(on)),
        principal,
    )
    return int(session.scalar(stmt) or 0)


def last_contracts(session: Session, resident_ids: Sequence[int]) -> dict[int, Contract]:
    """Each resident's contract with the latest end date (to renew from the uncontracted list)."""
    out: dict[int, Contract] = {}
    if not resident_ids:
        return out
    for contract in session.scalars(
        select(Contract)
        .where(
            Contract.resident_id.in_(resident_ids),
            Contract.status.in_((ContractStatus.ACTIVE.value, ContractStatus.FINISHED.value)),
        )
        .order_by(Contract.end_date, Contract.id)
    ):
        out[contract.resident_id] = contract
    return out


def _scoped_pairs(statement: Select[Contract, Resident], principal: Principal) -> Select[Contract, Resident]:
    """``scoped`` over a (contract, resident) select (its type variable takes one-column selects)."""
    return cast("Select[Contract, Resident]", scoped(cast("Select[Any]", statement), principal))


def _not_renewed() -> ColumnElement[bool]:
    later = aliased(Contract)
    return ~exists(
        select(later.id).where(
            later.resident_id == Contract.resident_id,
            later.id != Contract.id,
            later.status == ContractStatus.ACTIVE.value,
            later.start_date > Contract.start_date,
        )
    )


def expiring(
    session: Session,
    principal: Principal,
    *,
    team_id: int,
    on: date,
    until: date,
    offset: int,
    limit: int,
) -> tuple[Sequence[tuple[Contract, Resident]], int]:
    """The team's contracts in force on ``on`` that end by ``until`` and have no later contract yet, soonest
    first, and how many there are."""
    stmt = _scoped_pairs(
        select(Contract, Resident)
        .join(Resident, Resident.id == Contract.resident_id)
        .where(
            Contract.team_id == team_id,
            in_force_clause(on),
            Contract.end_date <= until,
            Resident.status == "active",
            _not_renewed(),
        ),
        principal,
    )
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    result = session.execute(stmt.order_by(Contract.end_date, Contract.id).offset(offset).limit(limit))
    rows = [(contract, resident) for contract, resident in result]
    return rows, total


def recent(session: Session, principal: Principal, *, team_id: int, limit: int) -> Sequence[tuple[Contract, Resident]]:
    stmt = _scoped_pairs(
        select(Contract, Resident)
        .join(Resident, Resident.id == Contract.resident_id)
        .where(Contract.team_id == team_id, Contract.status != ContractStatus.ENTERED_IN_ERROR.value),
        principal,
    )
    result = session.execute(stmt.order_by(Contract.signed_at.desc(), Contract.id.desc()).limit(limit))
    return [(contract, resident) for contract, resident in result]
