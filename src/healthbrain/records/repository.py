"""Every query of the clinical record. Callers resolve the resident through the scoped people
service first; these functions then read or write that resident's rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from healthbrain.contracts.models import Contract, ContractConsent, ServicePackage
from healthbrain.core.bulk import bulk_insert
from healthbrain.geo.models import CareTeam, Institution, Practitioner
from healthbrain.interop.models import FhirResource
from healthbrain.people.models import Resident
from healthbrain.records.models import (
    Condition,
    Encounter,
    Immunization,
    IngestBatch,
    IngestRejection,
    MedicationStatement,
    Observation,
    PhysicalExam,
)

AnyRow = Row[*tuple[Any, ...]]

OBSERVATION_COLUMNS = (
    "resident_id",
    "encounter_id",
    "code",
    "value_num",
    "value_text",
    "unit",
    "effective_at",
    "institution_id",
    "device_id",
    "status",
    "source_key",
)


def institution_id(session: Session, code: str) -> int | None:
    return session.scalar(select(Institution.id).where(Institution.code == code))


def practitioner_id(session: Session, code: str) -> int | None:
    return session.scalar(select(Practitioner.id).where(Practitioner.code == code))


def encounters_of(session: Session, resident_id: int, *, limit: int = 50) -> Sequence[Encounter]:
    return session.scalars(
        select(Encounter).where(Encounter.resident_id == resident_id).order_by(Encounter.start_at.desc()).limit(limit)
    ).all()


def conditions_of(session: Session, resident_id: int) -> Sequence[Condition]:
    return session.scalars(
        select(Condition).where(Condition.resident_id == resident_id).order_by(Condition.onset_date.desc())
    ).all()


def medications_of(session: Session, resident_id: int) -> Sequence[MedicationStatement]:
    return session.scalars(
        select(MedicationStatement)
        .where(MedicationStatement.resident_id == resident_id)
        .order_by(MedicationStatement.status, MedicationStatement.start_date.desc())
    ).all()


def observations_of(
    session: Session, resident_id: int, *, codes: Sequence[str] | None = None, limit: int = 500
) -> Sequence[Observation]:
    stmt = select(Observation).where(Observation.resident_id == resident_id)
    if codes:
        stmt = stmt.where(Observation.code.in_(codes))
    return session.scalars(stmt.order_by(Observation.effective_at.desc()).limit(limit)).all()


def latest_observations(session: Session, resident_id: int) -> Sequence[Observation]:
    """The most recent observation of each code."""
    latest = (
        select(Observation.code, func.max(Observation.effective_at).label("at"))
        .where(Observation.resident_id == resident_id)
        .group_by(Observation.code)
        .subquery()
    )
    return session.scalars(
        select(Observation)
        .join(latest, (latest.c.code == Observation.code) & (latest.c.at == Observation.effective_at))
        .where(Observation.resident_id == resident_id)
        .order_by(Observation.code)
    ).all()


def exams_of(session: Session, resident_id: int) -> Sequence[PhysicalExam]:
    return session.scalars(
        select(PhysicalExam).where(PhysicalExam.resident_id == resident_id).order_by(PhysicalExam.exam_date.desc())
    ).all()


def observations_of_encounters(session: Session, encounter_ids: Sequence[int]) -> Sequence[Observation]:
    if not encounter_ids:
        return []
    return session.scalars(select(Observation).where(Observation.encounter_id.in_(encounter_ids))).all()


def active_residents_by_id_number(session: Session, numbers: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    wanted = list(set(numbers))
    for start in range(0, len(wanted), 900):
        rows = session.execute(
            select(Resident.id_number, Resident.id, Resident.status, Resident.merged_into_id).where(
                Resident.id_number.in_(wanted[start : start + 900])
            )
        )
        for number, rid, status, merged_into in rows:
            if number is not None:
                found[number] = merged_into if status == "merged" and merged_into else rid
    return found


def existing_resident_ids(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = list(set(ids))
    found: set[int] = set()
    for start in range(0, len(wanted), 900):
        found.update(
            session.scalars(
                select(Resident.id).where(Resident.id.in_(wanted[start : start + 900]), Resident.status == "active")
            )
        )
    return found


def insert_observations(session: Session, rows: Iterable[Sequence[Any]]) -> int:
    """Set-based insert of observation tuples (``OBSERVATION_COLUMNS`` order); rows whose
    ``source_key`` is already stored are skipped. Returns how many were inserted."""
    return bulk_insert(session, Observation.__table__, OBSERVATION_COLUMNS, rows, skip_conflicts=True)  # type: ignore[arg-type]


def batch_by_key(session: Session, batch_key: str) -> IngestBatch | None:
    return session.scalar(select(IngestBatch).where(IngestBatch.batch_key == batch_key))


def rejections_of(session: Session, batch_id: int) -> Sequence[IngestRejection]:
    return session.scalars(
        select(IngestRejection).where(IngestRejection.batch_id == batch_id).order_by(IngestRejection.row_number)
    ).all()


def recent_batches(session: Session, *, user_id: int, limit: int = 10) -> Sequence[IngestBatch]:
    return session.scalars(
        select(IngestBatch).where(IngestBatch.user_id == user_id).order_by(IngestBatch.id.desc()).limit(limit)
    ).all()


def encounter_owners(session: Session, encounter_ids: set[int]) -> dict[int, int]:
    """Encounter id → its resident, for the ids that exist."""
    wanted = sorted(encounter_ids)
    owners: dict[int, int] = {}
    for start in range(0, len(wanted), 900):
        rows = session.execute(
            select(Encounter.id, Encounter.resident_id).where(Encounter.id.in_(wanted[start : start + 900]))
        )
        owners.update({eid: rid for eid, rid in rows})
    return owners


def by_source_key(session: Session, model: Any, source_key: str) -> Any:
    return session.scalar(select(model).where(model.source_key == source_key))


# --- the longitudinal record page (records/pages.py) -------------------------------------------------
# Every function takes a resident the caller was already allowed to read (people.service.get_resident)
# and is bounded: a resident with thousands of entries costs one indexed range scan per part.


def timeline_encounters(
    session: Session,
    resident_id: int,
    *,
    kinds: Sequence[str] = (),
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[AnyRow]:
    """One page of encounters, newest first, with the institution's and practitioner's names
    (uses ix_encounter_resident_start)."""
    stmt = (
        select(
            Encounter.id,
            Encounter.encounter_class,
            Encounter.start_at,
            Encounter.end_at,
            Encounter.reason_code,
            Encounter.reason_text,
            Institution.name.label("institution"),
            Practitioner.name.label("practitioner"),
        )
        .outerjoin(Institution, Institution.id == Encounter.institution_id)
        .outerjoin(Practitioner, Practitioner.id == Encounter.practitioner_id)
        .where(Encounter.resident_id == resident_id)
    )
    if kinds:
        stmt = stmt.where(Encounter.encounter_class.in_(list(kinds)))
    if since is not None:
        stmt = stmt.where(Encounter.start_at >= since)
    stmt = stmt.order_by(Encounter.start_at.desc(), Encounter.id.desc()).offset(offset).limit(limit)
    return list(session.execute(stmt).all())


def encounter_counts(session: Session, resident_id: int, *, since: datetime | None = None) -> dict[str, int]:
    """How many encounters of each class (for the timeline's filter)."""
    stmt = select(Encounter.encounter_class, func.count()).where(Encounter.resident_id == resident_id)
    if since is not None:
        stmt = stmt.where(Encounter.start_at >= since)
    return {kind: n for kind, n in session.execute(stmt.group_by(Encounter.encounter_class)).all()}


def findings_of_encounters(
    session: Session, resident_id: int, encounter_ids: Sequence[int]
) -> tuple[list[AnyRow], list[AnyRow]]:
    """The observations and the conditions recorded in some encounters of a resident."""
    if not encounter_ids:
        return [], []
    ids = list(encounter_ids)
    observations = session.execute(
        select(
            Observation.encounter_id, Observation.code, Observation.value_num, Observation.value_text, Observation.unit
        )
        .where(Observation.encounter_id.in_(ids), Observation.resident_id == resident_id)
        .order_by(Observation.encounter_id, Observation.effective_at)
    ).all()
    conditions = session.execute(
        select(Condition.encounter_id, Condition.code, Condition.display).where(
            Condition.resident_id == resident_id, Condition.encounter_id.in_(ids)
        )
    ).all()
    return list(observations), list(conditions)


def observation_series(
    session: Session, resident_id: int, codes: Sequence[str], *, since: datetime | None = None
) -> list[AnyRow]:
    """(code, value_num, effective_at) of numeric observations of some codes, oldest first
    (uses ix_observation_resident_code_time)."""
    stmt = select(Observation.code, Observation.value_num, Observation.effective_at).where(
        Observation.resident_id == resident_id,
        Observation.code.in_(list(codes)),
        Observation.value_num.is_not(None),
        Observation.status != "entered-in-error",
    )
    if since is not None:
        stmt = stmt.where(Observation.effective_at >= since)
    return list(session.execute(stmt.order_by(Observation.effective_at)).all())


def latest_height(session: Session, resident_id: int, code: str) -> AnyRow | None:
    """The last height measured, whatever the chart's range (a BMI needs one)."""
    return session.execute(
        select(Observation.effective_at, Observation.value_num)
        .where(Observation.resident_id == resident_id, Observation.code == code, Observation.value_num.is_not(None))
        .order_by(Observation.effective_at.desc())
        .limit(1)
    ).first()


def immunizations_of(session: Session, resident_id: int, *, limit: int = 200) -> list[AnyRow]:
    return list(
        session.execute(
            select(Immunization, Institution.name.label("institution"))
            .outerjoin(Institution, Institution.id == Immunization.institution_id)
            .where(Immunization.resident_id == resident_id)
            .order_by(Immunization.occurrence_date.desc(), Immunization.id.desc())
            .limit(limit)
        ).all()
    )


def exams_with_places(session: Session, resident_id: int, *, limit: int = 100) -> list[AnyRow]:
    """Physical examinations (健康体检表), newest first, with institution and practitioner names."""
    return list(
        session.execute(
            select(
                PhysicalExam,
                Institution.name.label("institution"),
                Practitioner.name.label("practitioner"),
            )
            .outerjoin(Institution, Institution.id == PhysicalExam.institution_id)
            .outerjoin(Practitioner, Practitioner.id == PhysicalExam.practitioner_id)
            .where(PhysicalExam.resident_id == resident_id)
            .order_by(PhysicalExam.exam_date.desc(), PhysicalExam.id.desc())
            .limit(limit)
        ).all()
    )


def exam_of_resident(session: Session, resident_id: int, exam_id: int) -> AnyRow | None:
    return session.execute(
        select(PhysicalExam, Institution.name.label("institution"), Practitioner.name.label("practitioner"))
        .outerjoin(Institution, Institution.id == PhysicalExam.institution_id)
        .outerjoin(Practitioner, Practitioner.id == PhysicalExam.practitioner_id)
        .where(PhysicalExam.id == exam_id, PhysicalExam.resident_id == resident_id)
    ).first()


def contracts_of_resident(session: Session, resident_id: int) -> list[AnyRow]:
    """The resident's family-doctor contracts, newest first, with team, package, signing doctor
    and the signature's method (contract_consent)."""
    consent = (
        select(ContractConsent.contract_id, func.max(ContractConsent.method).label("method"))
        .where(ContractConsent.resident_id == resident_id, ContractConsent.status == "active")
        .group_by(ContractConsent.contract_id)
        .subquery()
    )
    return list(
        session.execute(
            select(
                Contract,
                CareTeam.name.label("team"),
                ServicePackage.name.label("package"),
                Practitioner.name.label("practitioner"),
                consent.c.method.label("consent_method"),
            )
            .join(CareTeam, CareTeam.id == Contract.team_id)
            .join(ServicePackage, ServicePackage.id == Contract.package_id)
            .outerjoin(Practitioner, Practitioner.id == Contract.practitioner_id)
            .outerjoin(consent, consent.c.contract_id == Contract.id)
            .where(Contract.resident_id == resident_id)
            .order_by(Contract.start_date.desc(), Contract.id.desc())
        ).all()
    )


def documents_of(session: Session, resident_id: int, *, limit: int = 50) -> tuple[list[FhirResource], int]:
    """Resources received verbatim from hospitals for the resident (newest first) and their count."""
    total = session.scalar(select(func.count()).where(FhirResource.resident_id == resident_id)) or 0
    rows = session.scalars(
        select(FhirResource)
        .where(FhirResource.resident_id == resident_id)
        .order_by(FhirResource.last_updated.desc(), FhirResource.id.desc())
        .limit(limit)
    ).all()
    return list(rows), total
