"""Use cases over residents: register, read, search, reveal, update, merge and unmerge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Scope
from healthbrain.auth.scope import Principal
from healthbrain.chronic.models import (
    ChronicAlert,
    ChronicEnrolment,
    ChronicFollowUp,
    ChronicTask,
    HealthPrescription,
    HealthReport,
    HomeDevice,
    HomeReading,
    WorklistSnooze,
)
from healthbrain.contracts.models import Contract, ContractConsent
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.core.masking import mask_id_number, mask_phone
from healthbrain.core.time import age_on, local_today, utcnow
from healthbrain.geo.models import Division, Institution
from healthbrain.interop.models import FhirResource
from healthbrain.people import repository
from healthbrain.people.models import Household, Resident, ResidentIdentifier, ResidentMerge, ResidentStatus
from healthbrain.people.populations import KeyPopulation, key_population_clause, key_populations
from healthbrain.people.resident_id import ResidentId, ResidentIdError, parse
from healthbrain.people.schemas import (
    DivisionRef,
    IdentifierOut,
    ResidentCreate,
    ResidentDetail,
    ResidentSummary,
    ResidentUpdate,
    RevealedIdentity,
)
from healthbrain.records.models import (
    Condition,
    Encounter,
    Immunization,
    MedicationStatement,
    Observation,
    PhysicalExam,
)
from healthbrain.surveillance.models import CaseReport

# Tables whose rows belong to one resident and move with a merge. A module that adds such a
# table appends it here, so merge and unmerge carry it too.
RESIDENT_OWNED: list[Any] = [
    ResidentIdentifier,
    Encounter,
    Observation,
    Condition,
    MedicationStatement,
    PhysicalExam,
    CaseReport,  # a notifiable-disease card linked to the resident by ID number
    # Chronic-disease management. A merge of two residents both enrolled for the same disease (or
    # with a report for the same month) hits a unique key and answers 409: end one path first.
    ChronicEnrolment,
    ChronicFollowUp,
    ChronicTask,
    HomeDevice,
    HomeReading,
    ChronicAlert,
    WorklistSnooze,
    HealthPrescription,
    HealthReport,
    # Family-doctor contracts and their signatures; a merge first ends the duplicate's contract that
    # overlaps the survivor's (contracts.service.settle_before_merge), an unmerge reopens it.
    Contract,
    ContractConsent,
    Immunization,
    FhirResource,  # hospitals' documents kept verbatim
]
# Tables that name a resident but do not follow a merge: the linkage queue names both records of a
# pair on purpose, and the merge lineage itself. A test checks every other table is listed above.
NOT_MOVED_BY_MERGE: tuple[str, ...] = ("link_candidate", "resident_merge")


def resident_link(resident_id: int) -> str:
    return f"/api/v1/residents/{resident_id}"


def decode_id_number(raw: str, *, field: str = "id_number") -> ResidentId:
    """A resident ID decoded (18-character form, sex, birth date), or a 422 naming the field and why."""
    try:
        return parse(raw, today=local_today())
    except ResidentIdError as exc:
        raise InvalidInput(f"error.id_number.{exc.reason}", field=field, **exc.params) from None


def _check_against_id(data: ResidentCreate) -> tuple[str | None, str, date]:
    if not data.id_number:
        assert data.sex is not None and data.birth_date is not None  # schema guarantees it
        return None, data.sex, data.birth_date
    decoded = decode_id_number(data.id_number)
    if data.sex is not None and data.sex != decoded.sex:
        raise InvalidInput("error.resident.sex_mismatch", field="sex", given=data.sex, derived=decoded.sex)
    if data.birth_date is not None and data.birth_date != decoded.birth_date:
        raise InvalidInput(
            "error.resident.birth_date_mismatch",
            field="birth_date",
            given=data.birth_date.isoformat(),
            derived=decoded.birth_date.isoformat(),
        )
    return decoded.number, decoded.sex, decoded.birth_date


def _community(session: Session, principal: Principal, code: str, *, field: str = "division_code") -> Division:
    division = repository.division_by_code(session, code)
    if division is None:
        raise InvalidInput("error.division.unknown", field=field, code=code)
    if division.level != "community":
        raise InvalidInput("error.division.not_community", field=field, code=code)
    if not repository.division_in_scope(session, principal, division.id):
        raise InvalidInput("error.division.out_of_scope", field=field, code=code)
    return division


def _conflict_with(session: Session, existing: Resident, key: str, **params: Any) -> Conflict:
    survivor = repository.final_survivor(session, existing)
    return Conflict(key, link=resident_link(survivor.id), resident_id=survivor.id, **params)


def create_resident(session: Session, *, principal: Principal, data: ResidentCreate) -> Resident:
    principal.require(Permission.RESIDENT_WRITE)
    id_number, sex, birth_date = _check_against_id(data)
    if birth_date > local_today():
        raise InvalidInput("error.resident.birth_in_future", field="birth_date")
    if id_number is not None and (existing := repository.by_id_number(session, id_number)) is not None:
        raise _conflict_with(session, existing, "error.resident.duplicate_id")
    division = _community(session, principal, data.division_code)
    for index, ident in enumerate(data.identifiers):
        owner = repository.identifier_owner(session, ident.system, ident.value)
        if owner is not None:
            other = session.get(Resident, owner)
            assert other is not None
            raise _conflict_with(
                session, other, "error.resident.duplicate_identifier", field=f"identifiers[{index}].value"
            )
    household = _household(session, data.household_code, division) if data.household_code else None
    now = utcnow()
    resident = Resident(
        id_number=id_number,
        name=data.name,
        sex=sex,
        birth_date=birth_date,
        phone=data.phone,
        division_id=division.id,
        address=data.address,
        household_id=household.id if household else None,
        relation_to_head=data.relation_to_head,
        disability=data.disability,
        status=ResidentStatus.ACTIVE,
        registered_institution_id=principal.institution_id,
        record_created_on=local_today(),
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(resident)
    session.flush()
    for ident in data.identifiers:
        session.add(
            ResidentIdentifier(
                resident_id=resident.id,
                kind=ident.kind,
                system=ident.system,
                institution_id=_institution_id_for_system(session, ident.system),
                value=ident.value,
            )
        )
    session.flush()
    audit.record(session, principal, "resident.create", resident_id=resident.id)
    return resident


def _institution_id_for_system(session: Session, system: str) -> int | None:
    institution = repository.institution_by_code(session, system)
    return institution.id if institution else None


def _household(session: Session, code: str, division: Division) -> Household:
    household = repository.household_by_code(session, code)
    if household is None:
        household = Household(code=code, division_id=division.id)
        session.add(household)
        session.flush()
    return household


def get_resident(
    session: Session, *, principal: Principal, resident_id: int, action: str = "resident.read"
) -> Resident:
    """A resident in the caller's scope (audited), or 404 — also when it exists out of scope."""
    principal.require(Permission.RESIDENT_READ)
    resident = repository.in_scope(session, principal, resident_id)
    if resident is None:
        if repository.exists_anywhere(session, resident_id):
            audit.record_refused(session, principal, action, resident_id=resident_id, detail={"why": "out_of_scope"})
        raise NotFound("error.resident.not_found", id=resident_id)
    audit.record(session, principal, action, resident_id=resident_id)
    return resident


@dataclass(frozen=True, slots=True)
class SearchResult:
    items: list[ResidentSummary]
    has_more: bool


def search_residents(
    session: Session,
    *,
    principal: Principal,
    q: str | None = None,
    division_code: str | None = None,
    key_population: KeyPopulation | None = None,
    include_inactive: bool = False,
    offset: int = 0,
    limit: int = 20,
) -> SearchResult:
    principal.require(Permission.RESIDENT_READ)
    division_ids = None
    if division_code:
        division = repository.division_by_code(session, division_code)
        if division is None:
            raise InvalidInput("error.division.unknown", field="division_code", code=division_code)
        division_ids = repository.community_ids_under(session, division)
    today = local_today()
    rows, has_more = repository.search(
        session,
        principal,
        q=q,
        division_ids=division_ids,
        key_population=key_population,
        on=today,
        include_inactive=include_inactive,
        offset=offset,
        limit=limit,
    )
    audit.record(
        session,
        principal,
        "resident.search",
        detail={
            "q": q,
            "division_code": division_code,
            "key_population": key_population,
            "results": len(rows),
        },
    )
    return SearchResult(items=summaries(session, rows, on=today), has_more=has_more)


def summaries(session: Session, residents: Sequence[Resident], *, on: date) -> list[ResidentSummary]:
    divisions = repository.divisions_by_id(session, {r.division_id for r in residents})
    facts = repository.condition_facts(session, [r.id for r in residents])
    return [_summary(r, divisions[r.division_id], facts.get(r.id, []), on) for r in residents]


def _summary(resident: Resident, division: Division, facts: Sequence[Any], on: date) -> ResidentSummary:
    populations = key_populations(
        birth_date=resident.birth_date,
        sex=resident.sex,
        disability=resident.disability,
        conditions=facts,
        on=on,
    )
    return ResidentSummary(
        id=resident.id,
        name=resident.name,
        sex=resident.sex,
        birth_date=resident.birth_date,
        age=age_on(resident.birth_date, on),
        id_number_masked=mask_id_number(resident.id_number),
        phone_masked=mask_phone(resident.phone),
        division=DivisionRef(code=division.code, name=division.name),
        status=resident.status,
        key_populations=sorted(p.value for p in populations),
        link=resident_link(resident.id),
    )


def detail(session: Session, resident: Resident) -> ResidentDetail:
    on = local_today()
    division = session.get(Division, resident.division_id)
    assert division is not None
    facts = repository.condition_facts(session, [resident.id]).get(resident.id, [])
    household = session.get(Household, resident.household_id) if resident.household_id else None
    institution = (
        session.get(Institution, resident.registered_institution_id) if resident.registered_institution_id else None
    )
    base = _summary(resident, division, facts, on)
    return ResidentDetail(
        **base.model_dump(),
        address=resident.address,
        household_code=household.code if household else None,
        relation_to_head=resident.relation_to_head,
        disability=resident.disability,
        merged_into_id=resident.merged_into_id,
        registered_institution=institution.name if institution else None,
        record_created_on=resident.record_created_on,
        identifiers=[IdentifierOut.model_validate(i) for i in repository.identifiers_of(session, resident.id)],
        created_at=resident.created_at,
        updated_at=resident.updated_at,
        version=resident.version,
    )


def reveal(session: Session, *, principal: Principal, resident_id: int) -> RevealedIdentity:
    """The full ID number and phone, for a role allowed to see them; always audited."""
    if not principal.can(Permission.RESIDENT_REVEAL):
        audit.record_refused(session, principal, "resident.reveal", resident_id=resident_id)
        principal.require(Permission.RESIDENT_REVEAL)
    resident = get_resident(session, principal=principal, resident_id=resident_id, action="resident.reveal")
    return RevealedIdentity(id=resident.id, id_number=resident.id_number, phone=resident.phone)


def update_resident(session: Session, *, principal: Principal, resident_id: int, data: ResidentUpdate) -> Resident:
    principal.require(Permission.RESIDENT_WRITE)
    resident = get_resident(session, principal=principal, resident_id=resident_id, action="resident.update")
    if resident.status == ResidentStatus.MERGED:
        raise Conflict("error.resident.is_merged", link=resident_link(resident.merged_into_id or resident.id))
    if data.version is not None and data.version != resident.version:
        raise Conflict("error.resident.stale", field="version", current=resident.version)
    changed: list[str] = []
    if data.id_number is not None:
        decoded = decode_id_number(data.id_number)
        number = decoded.number
        if number != resident.id_number:
            existing = repository.by_id_number(session, number)
            if existing is not None and existing.id != resident.id:
                raise _conflict_with(session, existing, "error.resident.duplicate_id")
            resident.id_number, resident.sex, resident.birth_date = number, decoded.sex, decoded.birth_date
            changed.append("id_number")
    if data.name is not None and data.name != resident.name:
        resident.name = data.name
        changed.append("name")
    if data.phone is not None and data.phone != resident.phone:
        resident.phone = data.phone
        changed.append("phone")
    if data.address is not None and data.address != resident.address:
        resident.address = data.address
        changed.append("address")
    if data.division_code is not None:
        division = _community(session, principal, data.division_code)
        if division.id != resident.division_id:
            resident.division_id = division.id
            changed.append("division")
    if data.clear_disability and resident.disability is not None:
        resident.disability = None
        changed.append("disability")
    elif data.disability is not None and data.disability != resident.disability:
        resident.disability = data.disability
        changed.append("disability")
    if changed:
        resident.version += 1
        resident.updated_at = utcnow()
        session.flush()
    audit.record(session, principal, "resident.update", resident_id=resident.id, detail={"changed": changed})
    return resident


def merge(session: Session, *, principal: Principal, survivor_id: int, merged_id: int, reason: str) -> ResidentMerge:
    """Fold a duplicate record into a survivor; every moved row is listed so unmerge can undo it."""
    principal.require(Permission.RESIDENT_MERGE)
    if survivor_id == merged_id:
        raise InvalidInput("error.merge.same_record", field="merged_id")
    survivor = get_resident(session, principal=principal, resident_id=survivor_id, action="resident.merge")
    duplicate = get_resident(session, principal=principal, resident_id=merged_id, action="resident.merge")
    for who, field in ((survivor, "survivor_id"), (duplicate, "merged_id")):
        if who.status != ResidentStatus.ACTIVE:
            raise Conflict("error.merge.not_active", field=field, id=who.id, status=who.status)
    from healthbrain.contracts.service import settle_before_merge  # contracts reads people: import late

    # One open contract per resident: the duplicate's contract that overlaps the survivor's is ended.
    settle_before_merge(session, principal=principal, survivor_id=survivor.id, merged_id=duplicate.id)
    moved: dict[str, list[int]] = {}
    for model in RESIDENT_OWNED:
        ids = repository.move_rows(session, model, from_resident=duplicate.id, to_resident=survivor.id)
        if ids:
            moved[model.__tablename__] = ids
    duplicate.status = ResidentStatus.MERGED
    duplicate.merged_into_id = survivor.id
    now = utcnow()
    for r in (survivor, duplicate):
        r.version += 1
        r.updated_at = now
    row = ResidentMerge(
        survivor_id=survivor.id,
        merged_id=duplicate.id,
        reason=reason,
        moved=moved,
        merged_at=now,
        merged_by_id=principal.user_id or None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        "resident.merge",
        resident_id=duplicate.id,
        detail={"into": survivor.id, "merge": row.id},
    )
    return row


def unmerge(session: Session, *, principal: Principal, merge_id: int, reason: str) -> ResidentMerge:
    """Undo a merge: the duplicate is active again and gets back exactly the rows that moved."""
    principal.require(Permission.RESIDENT_MERGE)
    row = session.get(ResidentMerge, merge_id)
    if row is None:
        raise NotFound("error.merge.not_found", id=merge_id)
    survivor = get_resident(session, principal=principal, resident_id=row.survivor_id, action="resident.unmerge")
    duplicate = get_resident(session, principal=principal, resident_id=row.merged_id, action="resident.unmerge")
    if row.unmerged_at is not None:
        raise Conflict("error.merge.already_undone", id=merge_id)
    if duplicate.merged_into_id != survivor.id or duplicate.status != ResidentStatus.MERGED:
        raise Conflict("error.merge.superseded", id=merge_id)
    tables = {model.__tablename__: model for model in RESIDENT_OWNED}
    for table, ids in row.moved.items():
        repository.move_rows_back(session, tables[table], ids=ids, from_resident=survivor.id, to_resident=duplicate.id)
    from healthbrain.contracts.service import reopen_after_unmerge

    reopen_after_unmerge(session, contract_ids=row.moved.get("contract", []))
    duplicate.status = ResidentStatus.ACTIVE
    duplicate.merged_into_id = None
    now = utcnow()
    for r in (survivor, duplicate):
        r.version += 1
        r.updated_at = now
    row.unmerged_at = now
    row.unmerged_by_id = principal.user_id or None
    row.unmerge_reason = reason
    session.flush()
    audit.record(
        session,
        principal,
        "resident.unmerge",
        resident_id=duplicate.id,
        detail={"from": survivor.id, "merge": merge_id},
    )
    return row


def canonical_id_or_raw(raw: str) -> str:
    """The 18-character form of an ID number when it parses, else the input as typed (for lookups)."""
    try:
        return parse(raw, today=local_today()).number
    except ResidentIdError:
        return raw.strip().upper()


def ids_in_scope(session: Session, principal: Principal, resident_ids: set[int]) -> set[int]:
    return repository.ids_in_scope(session, principal, resident_ids)


def divisions_for_filter(session: Session, *, principal: Principal) -> Sequence[Division]:
    return repository.divisions_in_scope(session, principal)


def household_of(session: Session, *, principal: Principal, resident: Resident) -> list[ResidentSummary]:
    """The other members of a resident's household that the principal may see."""
    if resident.household_id is None:
        return []
    members = [
        m for m in repository.household_members(session, principal, resident.household_id) if m.id != resident.id
    ]
    return summaries(session, members, on=local_today())


def merges_of(session: Session, *, resident: Resident) -> Sequence[ResidentMerge]:
    return repository.merges_of(session, resident.id)


def population_by_community(session: Session) -> dict[int, int]:
    return repository.population_by_community(session)


def key_population_counts(session: Session, *, principal: Principal) -> dict[str, int]:
    """Residents in the principal's scope: all, and per key population (for home pages)."""
    principal.require(Permission.RESIDENT_READ)
    today = local_today()
    counts = {"all": repository.count_in_scope(session, principal)}
    for population in KeyPopulation:
        counts[population.value] = repository.count_in_scope(
            session, principal, key_population_clause(population, today, many=principal.scope == Scope.ALL)
        )
    return counts
