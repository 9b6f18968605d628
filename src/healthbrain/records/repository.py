"""Every query of the clinical record. Callers resolve the resident through the scoped people
service first; these functions then read or write that resident's rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthbrain.core.bulk import bulk_insert
from healthbrain.geo.models import Institution, Practitioner
from healthbrain.people.models import Resident
from healthbrain.records.models import (
    Condition,
    Encounter,
    IngestBatch,
    IngestRejection,
    MedicationStatement,
    Observation,
    PhysicalExam,
)

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
