"""Every query of the CSV / Excel import: residents by ID number or institution record number,
communities by name, the rows a file already delivered, and the institution's uploads.

The ``…s`` functions answer a whole file at once (one query per ``CHUNK`` values), so that the
cost of a file does not grow with one round trip per row."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from healthbrain.geo.models import Division, Institution, Practitioner
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.records.models import IngestBatch, IngestRejection, Observation

CHANNEL_PREFIX = "table."
CHUNK = 900  # values per IN list (SQLite's historical limit of 999 bound parameters)
T = TypeVar("T")


def _chunks(values: Collection[T]) -> list[list[T]]:
    ordered = sorted(values)  # type: ignore[type-var]
    return [ordered[start : start + CHUNK] for start in range(0, len(ordered), CHUNK)]


def institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def institution_by_id(session: Session, institution_id: int) -> Institution | None:
    return session.get(Institution, institution_id)


def resident_by_id_number(session: Session, id_number: str) -> Resident | None:
    return session.scalar(select(Resident).where(Resident.id_number == id_number))


def resident_by_identifier(session: Session, system: str, value: str) -> Resident | None:
    return session.scalar(
        select(Resident)
        .join(ResidentIdentifier, ResidentIdentifier.resident_id == Resident.id)
        .where(ResidentIdentifier.system == system, ResidentIdentifier.value == value)
    )


def residents_by_id_numbers(session: Session, numbers: Collection[str]) -> dict[str, Resident]:
    found: dict[str, Resident] = {}
    for chunk in _chunks(numbers):
        for resident in session.scalars(select(Resident).where(Resident.id_number.in_(chunk))):
            if resident.id_number is not None:
                found[resident.id_number] = resident
    return found


def residents_by_identifiers(session: Session, system: str, values: Collection[str]) -> dict[str, Resident]:
    found: dict[str, Resident] = {}
    for chunk in _chunks(values):
        rows = session.execute(
            select(ResidentIdentifier.value, Resident)
            .join(Resident, ResidentIdentifier.resident_id == Resident.id)
            .where(ResidentIdentifier.system == system, ResidentIdentifier.value.in_(chunk))
        )
        for value, resident in rows:
            found[value] = resident
    return found


def residents_by_ids(session: Session, ids: Collection[int]) -> list[Resident]:
    return [r for chunk in _chunks(ids) for r in session.scalars(select(Resident).where(Resident.id.in_(chunk)))]


def institution_ids(session: Session, codes: Collection[str]) -> dict[str, int]:
    return {
        code: id_
        for chunk in _chunks(codes)
        for code, id_ in session.execute(select(Institution.code, Institution.id).where(Institution.code.in_(chunk)))
    }


def practitioner_ids(session: Session, codes: Collection[str]) -> dict[str, int]:
    return {
        code: id_
        for chunk in _chunks(codes)
        for code, id_ in session.execute(select(Practitioner.code, Practitioner.id).where(Practitioner.code.in_(chunk)))
    }


def by_source_keys(session: Session, model: Any, keys: Collection[str]) -> dict[str, Any]:
    """The rows (encounters, observations, examinations) already stored under these keys."""
    return {
        row.source_key: row
        for chunk in _chunks(keys)
        for row in session.scalars(select(model).where(model.source_key.in_(chunk)))
    }


def stored_rows(session: Session, model: Any, keys: Collection[str], columns: Sequence[str]) -> dict[str, Any]:
    """The rows already stored under these keys, as plain rows of their id, key, resident and
    ``columns`` (what a resend is compared with: no ORM object per row)."""
    selected = [getattr(model, name) for name in ("id", "source_key", "resident_id", *columns)]
    return {
        row.source_key: row
        for chunk in _chunks(keys)
        for row in session.execute(select(*selected).where(model.source_key.in_(chunk)))
    }


def update_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Set-based update by primary key (each dict: ``id`` and the columns to change)."""
    if rows:
        session.execute(update(model), list(rows))


def exams_observations(
    session: Session, encounter_ids: Collection[int], codes: Sequence[str]
) -> dict[int, list[Observation]]:
    """The measurement observations of several examinations' encounters, per encounter."""
    out: dict[int, list[Observation]] = {}
    for chunk in _chunks(encounter_ids):
        for observation in session.scalars(
            select(Observation)
            .where(Observation.encounter_id.in_(chunk), Observation.code.in_(codes))
            .order_by(Observation.id)
        ):
            assert observation.encounter_id is not None
            out.setdefault(observation.encounter_id, []).append(observation)
    return out


def insert_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]], *, ids: bool = False) -> list[int]:
    """Set-based insert of new rows (one executemany); with ``ids``, their ids in the rows' order."""
    if not rows:
        return []
    table = model.__table__
    if ids:
        statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return list(session.execute(statement, list(rows)).scalars())
    session.execute(table.insert(), list(rows))
    return []


def survivor(session: Session, resident: Resident) -> Resident:
    """The record a merged resident was folded into (following a chain of merges)."""
    seen = {resident.id}
    while resident.merged_into_id is not None and resident.merged_into_id not in seen:
        following = session.get(Resident, resident.merged_into_id)
        if following is None:
            break
        seen.add(following.id)
        resident = following
    return resident


def identifier_of(session: Session, resident_id: int, system: str) -> ResidentIdentifier | None:
    return session.scalar(
        select(ResidentIdentifier).where(
            ResidentIdentifier.resident_id == resident_id, ResidentIdentifier.system == system
        )
    )


def communities_named(session: Session, name: str) -> Sequence[Division]:
    return session.scalars(
        select(Division).where(Division.name == name, Division.level == "community").order_by(Division.code)
    ).all()


def exam_observations(session: Session, encounter_id: int, codes: Sequence[str]) -> Sequence[Observation]:
    return session.scalars(
        select(Observation).where(Observation.encounter_id == encounter_id, Observation.code.in_(codes))
    ).all()


def delete_observations(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(Observation).where(Observation.id.in_(ids)))


def batch(session: Session, batch_id: int) -> IngestBatch | None:
    found = session.get(IngestBatch, batch_id)
    return found if found is not None and found.channel.startswith(CHANNEL_PREFIX) else None


def rejections_of(session: Session, batch_id: int) -> Sequence[IngestRejection]:
    return session.scalars(
        select(IngestRejection).where(IngestRejection.batch_id == batch_id).order_by(IngestRejection.row_number)
    ).all()


def recent_batches(
    session: Session, *, institution_id: int | None, user_id: int | None, limit: int = 20
) -> Sequence[IngestBatch]:
    """The uploads of an institution (and the user's own), newest first."""
    who = [IngestBatch.user_id == user_id] if user_id else []
    if institution_id is not None:
        who.append(IngestBatch.institution_id == institution_id)
    if not who:
        return []
    return session.scalars(
        select(IngestBatch)
        .where(IngestBatch.channel.like(CHANNEL_PREFIX + "%"), or_(*who))
        .order_by(IngestBatch.id.desc())
        .limit(limit)
    ).all()
