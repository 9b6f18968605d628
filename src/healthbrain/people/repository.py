"""Every query over residents. Reads go through ``auth.scope.scoped`` — no query may forget it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.orm import Session

from healthbrain.auth.roles import Scope
from healthbrain.auth.scope import Principal, division_scope_clause, scoped
from healthbrain.geo.models import Division, Institution
from healthbrain.people.models import Household, Resident, ResidentIdentifier, ResidentMerge
from healthbrain.people.populations import ConditionFact, KeyPopulation, key_population_clause
from healthbrain.people.resident_id import ResidentIdError, upgrade_15
from healthbrain.records.models import Condition


def in_scope(session: Session, principal: Principal, resident_id: int) -> Resident | None:
    return session.scalar(scoped(select(Resident).where(Resident.id == resident_id), principal))


def exists_anywhere(session: Session, resident_id: int) -> bool:
    return session.get(Resident, resident_id) is not None


def by_id_number(session: Session, id_number: str) -> Resident | None:
    return session.scalar(select(Resident).where(Resident.id_number == id_number))


def final_survivor(session: Session, resident: Resident) -> Resident:
    """Follow the merge chain to the record that is still in use."""
    seen = {resident.id}
    while resident.merged_into_id is not None:
        nxt = session.get(Resident, resident.merged_into_id)
        if nxt is None or nxt.id in seen:
            break
        seen.add(nxt.id)
        resident = nxt
    return resident


def identifier_owner(session: Session, system: str, value: str) -> int | None:
    return session.scalar(
        select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == system, ResidentIdentifier.value == value
        )
    )


def identifiers_of(session: Session, resident_id: int) -> Sequence[ResidentIdentifier]:
    return session.scalars(
        select(ResidentIdentifier)
        .where(ResidentIdentifier.resident_id == resident_id)
        .order_by(ResidentIdentifier.kind, ResidentIdentifier.system)
    ).all()


def division_by_code(session: Session, code: str) -> Division | None:
    return session.scalar(select(Division).where(Division.code == code))


def divisions_by_id(session: Session, ids: set[int]) -> dict[int, Division]:
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Division).where(Division.id.in_(ids)))}


def institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def division_in_scope(session: Session, principal: Principal, division_id: int) -> bool:
    found = session.scalar(
        select(Division.id).where(Division.id == division_id, division_scope_clause(principal, Division.id))
    )
    return found is not None


def household_by_code(session: Session, code: str) -> Household | None:
    return session.scalar(select(Household).where(Household.code == code))


def household_members(session: Session, principal: Principal, household_id: int) -> Sequence[Resident]:
    return session.scalars(
        scoped(select(Resident).where(Resident.household_id == household_id), principal).order_by(Resident.birth_date)
    ).all()


def condition_facts(session: Session, resident_ids: Sequence[int]) -> dict[int, list[ConditionFact]]:
    facts: dict[int, list[ConditionFact]] = defaultdict(list)
    if not resident_ids:
        return facts
    rows = session.execute(
        select(
            Condition.resident_id,
            Condition.code,
            Condition.clinical_status,
            Condition.onset_date,
            Condition.abatement_date,
        ).where(Condition.resident_id.in_(resident_ids))
    )
    for rid, code, status, onset, abatement in rows:
        facts[rid].append(ConditionFact(code, status, onset, abatement))
    return facts


def _search_filter(q: str) -> tuple[ColumnElement[bool], bool]:
    """What a search term means: a full ID number, a phone number, or the start of a name.
    The flag says whether it is a name search (then results come in name order, from the index)."""
    q = q.strip()
    upper = q.upper()
    if len(upper) in (15, 18) and upper[:17].isdigit():
        try:
            return Resident.id_number == (upgrade_15(upper) if len(upper) == 15 else upper), False
        except ResidentIdError:
            return Resident.id_number == upper, False
    if q.isdigit() and len(q) >= 7:
        return Resident.phone == q, False
    # A name prefix as a range, so the name index serves it (LIKE would not on SQLite).
    return and_(Resident.name >= q, Resident.name < q + "\uffff"), True


def search(
    session: Session,
    principal: Principal,
    *,
    q: str | None,
    division_ids: Sequence[int] | None,
    key_population: KeyPopulation | None,
    on: date,
    include_inactive: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[Resident], bool]:
    stmt: Select[Resident] = scoped(select(Resident), principal)
    by_name = False
    if q:
        condition, by_name = _search_filter(q)
        stmt = stmt.where(condition)
    if division_ids is not None:
        stmt = stmt.where(Resident.division_id.in_(division_ids))
    if key_population is not None:
        stmt = stmt.where(key_population_clause(key_population, on, many=principal.scope == Scope.ALL))
    if not include_inactive:
        stmt = stmt.where(Resident.status == "active")
    order = (Resident.name, Resident.id) if by_name else (Resident.id,)
    rows = session.scalars(stmt.order_by(*order).offset(offset).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def community_ids_under(session: Session, division: Division) -> list[int]:
    """The community-level divisions at or under a division (district, town or community)."""
    if division.level == "community":
        return [division.id]
    if division.level == "town":
        return list(session.scalars(select(Division.id).where(Division.parent_id == division.id)))
    towns = select(Division.id).where(Division.parent_id == division.id)
    return list(session.scalars(select(Division.id).where(Division.parent_id.in_(towns))))


def count_in_scope(session: Session, principal: Principal, extra: ColumnElement[bool] | None = None) -> int:
    stmt = scoped(select(func.count()).select_from(Resident).where(Resident.status == "active"), principal)
    if extra is not None:
        stmt = stmt.where(extra)
    return int(session.scalar(stmt) or 0)


def move_rows(session: Session, model: Any, *, from_resident: int, to_resident: int) -> list[int]:
    """Re-point a resident's rows of one table to another resident; returns the moved ids."""
    ids = list(session.scalars(select(model.id).where(model.resident_id == from_resident).order_by(model.id)))
    if ids:
        session.execute(update(model).where(model.resident_id == from_resident).values(resident_id=to_resident))
    return ids


def move_rows_back(session: Session, model: Any, *, ids: Sequence[int], from_resident: int, to_resident: int) -> int:
    moved = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        result = session.execute(
            update(model).where(model.id.in_(chunk), model.resident_id == from_resident).values(resident_id=to_resident)
        )
        moved += result.rowcount  # type: ignore[attr-defined]
    return moved


def merges_of(session: Session, resident_id: int) -> Sequence[ResidentMerge]:
    return session.scalars(
        select(ResidentMerge)
        .where((ResidentMerge.survivor_id == resident_id) | (ResidentMerge.merged_id == resident_id))
        .order_by(ResidentMerge.merged_at.desc())
    ).all()


def ids_in_scope(session: Session, principal: Principal, resident_ids: set[int]) -> set[int]:
    wanted = sorted(resident_ids)
    found: set[int] = set()
    for start in range(0, len(wanted), 900):
        found.update(
            session.scalars(scoped(select(Resident.id).where(Resident.id.in_(wanted[start : start + 900])), principal))
        )
    return found


def divisions_in_scope(session: Session, principal: Principal) -> Sequence[Division]:
    """Towns and communities a principal may filter residents by (communities only when the
    scope is a set of communities)."""
    if principal.scope in (Scope.TEAM, Scope.CATCHMENT):
        stmt = select(Division).where(Division.level == "community", division_scope_clause(principal, Division.id))
    else:
        stmt = select(Division).where(Division.level.in_(("town", "community")))
    return session.scalars(stmt.order_by(Division.code)).all()


def population_by_community(session: Session) -> dict[int, int]:
    """Active residents per community (aggregate: no identity data; read from the index)."""
    rows = session.execute(
        select(Resident.division_id, func.count()).where(Resident.status == "active").group_by(Resident.division_id)
    )
    return {division_id: count for division_id, count in rows}
