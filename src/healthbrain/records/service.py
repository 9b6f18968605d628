"""Use cases of the clinical record: add encounters, observations, conditions, medications and
physical examinations to a resident; read the basic record; take observations in bulk."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Scope
from healthbrain.auth.scope import Principal
from healthbrain.core.bulk import db_datetime
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.core.ingest import Rejects, stored_errors, validation_reasons, verbatim_json
from healthbrain.core.params import is_db_id
from healthbrain.core.time import SHANGHAI, utcnow
from healthbrain.people import service as people
from healthbrain.people.models import Resident, ResidentStatus
from healthbrain.records import codes, repository
from healthbrain.records.models import (
    Condition,
    Encounter,
    IngestBatch,
    IngestRejection,
    MedicationStatement,
    Observation,
    PhysicalExam,
)
from healthbrain.records.schemas import (
    BulkObservationBatch,
    BulkResult,
    ConditionIn,
    ConditionOut,
    EncounterIn,
    EncounterOut,
    MedicationIn,
    MedicationOut,
    ObservationIn,
    ObservationOut,
    PhysicalExamIn,
    PhysicalExamOut,
    ResidentRecord,
)

# Physical-examination measurements and the observation each becomes.
EXAM_MEASUREMENTS: dict[str, tuple[str, str]] = {
    "height_cm": (codes.BODY_HEIGHT, "cm"),
    "weight_kg": (codes.BODY_WEIGHT, "kg"),
    "waist_cm": (codes.WAIST, "cm"),
    "systolic_bp": (codes.SYSTOLIC_BP, "mm[Hg]"),
    "diastolic_bp": (codes.DIASTOLIC_BP, "mm[Hg]"),
    "heart_rate": (codes.HEART_RATE, "/min"),
    "fasting_glucose": (codes.GLUCOSE_FASTING, "mmol/L"),
}
_CODE_TO_MEASUREMENT = {code: name for name, (code, _unit) in EXAM_MEASUREMENTS.items()}


def writable_resident(session: Session, *, principal: Principal, resident_id: int) -> Resident:
    """The resident a principal may add clinical data to.

    Institution-bound submitters (a hospital's interface) may write for any active resident of
    the district; everybody else only within their scope.
    """
    principal.require(Permission.RECORD_WRITE)
    if principal.scope == Scope.INSTITUTION:
        resident = session.get(Resident, resident_id)
        if resident is None:
            raise NotFound("error.resident.not_found", id=resident_id)
        audit.record(session, principal, "record.write", resident_id=resident_id)
    else:
        resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="record.write")
    if resident.status != ResidentStatus.ACTIVE:
        raise Conflict("error.resident.not_active", link=people.resident_link(resident.merged_into_id or resident.id))
    return resident


def _resent(session: Session, model: Any, resident: Resident, source_key: str | None) -> Any:
    """The row a sender already delivered under this ``source_key`` (a resend changes nothing and
    answers the stored row), or None; a key already used for another resident is a conflict."""
    if source_key is None:
        return None
    previous = repository.by_source_key(session, model, source_key)
    if previous is not None and previous.resident_id != resident.id:
        raise Conflict("error.record.source_key_taken", field="source_key")
    return previous


def _institution(session: Session, code: str | None, principal: Principal, field: str) -> int | None:
    if code is None:
        return principal.institution_id
    found = repository.institution_id(session, code)
    if found is None:
        raise InvalidInput("error.unknown_institution_code", field=field, code=code)
    return found


def _practitioner(session: Session, code: str | None, field: str) -> int | None:
    if code is None:
        return None
    found = repository.practitioner_id(session, code)
    if found is None:
        raise InvalidInput("error.unknown_practitioner_code", field=field, code=code)
    return found


def add_encounter(session: Session, *, principal: Principal, resident_id: int, data: EncounterIn) -> Encounter:
    resident = writable_resident(session, principal=principal, resident_id=resident_id)
    if (previous := _resent(session, Encounter, resident, data.source_key)) is not None:
        return previous  # type: ignore[no-any-return]
    if data.end_at is not None and data.end_at < data.start_at:
        raise InvalidInput("error.encounter.ends_before_start", field="end_at")
    encounter = Encounter(
        resident_id=resident.id,
        institution_id=_institution(session, data.institution_code, principal, "institution_code"),
        practitioner_id=_practitioner(session, data.practitioner_code, "practitioner_code"),
        encounter_class=data.encounter_class,
        start_at=data.start_at,
        end_at=data.end_at,
        reason_code=data.reason_code,
        reason_text=data.reason_text,
        source_key=data.source_key,
    )
    session.add(encounter)
    session.flush()
    return encounter


def _check_encounter(session: Session, resident: Resident, encounter_id: int | None) -> None:
    if encounter_id is None:
        return
    encounter = session.get(Encounter, encounter_id)
    if encounter is None or encounter.resident_id != resident.id:
        raise InvalidInput("error.encounter.not_of_resident", field="encounter_id", id=encounter_id)


def add_observation(session: Session, *, principal: Principal, resident_id: int, data: ObservationIn) -> Observation:
    resident = writable_resident(session, principal=principal, resident_id=resident_id)
    if (previous := _resent(session, Observation, resident, data.source_key)) is not None:
        return previous  # type: ignore[no-any-return]
    _check_encounter(session, resident, data.encounter_id)
    observation = Observation(
        resident_id=resident.id,
        encounter_id=data.encounter_id,
        code=data.code,
        value_num=data.value_num,
        value_text=data.value_text,
        unit=data.unit,
        effective_at=data.effective_at,
        institution_id=_institution(session, data.institution_code, principal, "institution_code"),
        device_id=data.device_id,
        status="final",
        source_key=data.source_key,
    )
    session.add(observation)
    session.flush()
    return observation


def add_condition(session: Session, *, principal: Principal, resident_id: int, data: ConditionIn) -> Condition:
    resident = writable_resident(session, principal=principal, resident_id=resident_id)
    if (previous := _resent(session, Condition, resident, data.source_key)) is not None:
        return previous  # type: ignore[no-any-return]
    if data.onset_date and data.abatement_date and data.abatement_date < data.onset_date:
        raise InvalidInput("error.condition.abates_before_onset", field="abatement_date")
    condition = Condition(
        resident_id=resident.id,
        code=data.code.upper(),
        display=data.display,
        clinical_status=data.clinical_status,
        onset_date=data.onset_date,
        abatement_date=data.abatement_date,
        recorded_at=utcnow(),
        institution_id=_institution(session, data.institution_code, principal, "institution_code"),
        source_key=data.source_key,
    )
    session.add(condition)
    session.flush()
    return condition


def add_medication(
    session: Session, *, principal: Principal, resident_id: int, data: MedicationIn
) -> MedicationStatement:
    resident = writable_resident(session, principal=principal, resident_id=resident_id)
    if (previous := _resent(session, MedicationStatement, resident, data.source_key)) is not None:
        return previous  # type: ignore[no-any-return]
    if data.start_date and data.end_date and data.end_date < data.start_date:
        raise InvalidInput("error.medication.ends_before_start", field="end_date")
    medication = MedicationStatement(
        resident_id=resident.id,
        code=data.code,
        name=data.name,
        dose=data.dose,
        frequency=data.frequency,
        route=data.route,
        start_date=data.start_date,
        end_date=data.end_date,
        status=data.status,
        institution_id=_institution(session, data.institution_code, principal, "institution_code"),
        recorded_at=utcnow(),
        source_key=data.source_key,
    )
    session.add(medication)
    session.flush()
    return medication


def add_physical_exam(
    session: Session, *, principal: Principal, resident_id: int, data: PhysicalExamIn
) -> PhysicalExam:
    """A physical examination: its encounter, its form, and its measurements as observations."""
    resident = writable_resident(session, principal=principal, resident_id=resident_id)
    if (previous := _resent(session, PhysicalExam, resident, data.source_key)) is not None:
        return previous  # type: ignore[no-any-return]
    institution_id = _institution(session, data.institution_code, principal, "institution_code")
    practitioner_id = _practitioner(session, data.practitioner_code, "practitioner_code")
    at = datetime.combine(data.exam_date, time(9, 0), SHANGHAI)
    encounter = Encounter(
        resident_id=resident.id,
        institution_id=institution_id,
        practitioner_id=practitioner_id,
        encounter_class="physical_exam",
        start_at=at,
        source_key=f"{data.source_key}:encounter" if data.source_key else None,
    )
    session.add(encounter)
    session.flush()
    for name, value in data.measurements.model_dump(exclude_none=True).items():
        code, unit = EXAM_MEASUREMENTS[name]
        session.add(
            Observation(
                resident_id=resident.id,
                encounter_id=encounter.id,
                code=code,
                value_num=value,
                unit=unit,
                effective_at=at,
                institution_id=institution_id,
                status="final",
            )
        )
    exam = PhysicalExam(
        resident_id=resident.id,
        encounter_id=encounter.id,
        exam_date=data.exam_date,
        institution_id=institution_id,
        practitioner_id=practitioner_id,
        symptoms=data.symptoms,
        smoking=data.smoking,
        drinking=data.drinking,
        exercise=data.exercise,
        diet=data.diet,
        conclusion=data.conclusion,
        abnormalities=data.abnormalities,
        guidance=data.guidance,
        source_key=data.source_key,
    )
    session.add(exam)
    session.flush()
    return exam


def exam_out(exam: PhysicalExam, observations: Sequence[Observation]) -> PhysicalExamOut:
    measurements = {
        _CODE_TO_MEASUREMENT[o.code]: o.value_num
        for o in observations
        if o.encounter_id == exam.encounter_id and o.code in _CODE_TO_MEASUREMENT and o.value_num is not None
    }
    return PhysicalExamOut(
        id=exam.id,
        encounter_id=exam.encounter_id,
        exam_date=exam.exam_date,
        institution_id=exam.institution_id,
        measurements=measurements,
        smoking=exam.smoking,
        drinking=exam.drinking,
        exercise=exam.exercise,
        diet=exam.diet,
        conclusion=exam.conclusion,
        abnormalities=list(exam.abnormalities or []),
        guidance=list(exam.guidance or []),
    )


def resident_record(session: Session, *, principal: Principal, resident_id: int) -> ResidentRecord:
    """The basic record of one resident (audited as a read of the record)."""
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="record.read")
    return record_of(session, resident)


def record_of(session: Session, resident: Resident) -> ResidentRecord:
    """The basic record of a resident the caller has already been allowed to read."""
    exams = repository.exams_of(session, resident.id)
    exam_observations = repository.observations_of_encounters(session, [e.encounter_id for e in exams])
    return ResidentRecord(
        conditions=[ConditionOut.model_validate(c) for c in repository.conditions_of(session, resident.id)],
        medications=[MedicationOut.model_validate(m) for m in repository.medications_of(session, resident.id)],
        encounters=[EncounterOut.model_validate(e) for e in repository.encounters_of(session, resident.id)],
        latest_observations=[
            ObservationOut.model_validate(o)
            for o in sorted(
                repository.latest_observations(session, resident.id), key=lambda o: codes.display_order(o.code)
            )
        ],
        physical_exams=[exam_out(e, exam_observations) for e in exams],
    )


def series_of(
    session: Session, resident: Resident, code_filter: Sequence[str], *, limit: int = 200
) -> list[Observation]:
    """Observations of some codes for a resident the caller may read (for charts)."""
    return list(repository.observations_of(session, resident.id, codes=code_filter, limit=limit))


def observations(
    session: Session, *, principal: Principal, resident_id: int, code_filter: Sequence[str] | None, limit: int
) -> list[ObservationOut]:
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="record.read")
    return [
        ObservationOut.model_validate(o)
        for o in repository.observations_of(session, resident.id, codes=code_filter, limit=limit)
    ]


# --- bulk observations ---------------------------------------------------------------------


def _auto_key(resident_id: int, row: ObservationIn, institution_id: int | None) -> str:
    """A deterministic key for a row sent without one: the same reading sent twice is one row."""
    basis = "|".join(
        str(x)
        for x in (
            resident_id,
            row.code,
            row.value_num,
            row.value_text,
            row.unit,
            db_datetime(row.effective_at),
            row.device_id or institution_id,
        )
    )
    return "auto:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


@dataclass
class _Candidate:
    number: int
    raw: dict[str, Any]
    item: ObservationIn
    resident_id: int = 0
    institution_id: int | None = None


def _parse_rows(observations: list[dict[str, Any]], rejects: Rejects) -> list[_Candidate]:
    candidates: list[_Candidate] = []
    for number, raw in enumerate(observations, start=1):
        reasons: list[tuple[str | None, str]] = []
        item: ObservationIn | None = None
        try:
            item = ObservationIn.model_validate(raw)
        except ValidationError as exc:
            reasons = validation_reasons(exc)
        if raw.get("resident_id") is not None and not is_db_id(raw["resident_id"]):
            reasons.append(("resident_id", "resident_id must be a whole number from 1 to 2^63-1"))
        elif raw.get("resident_id") is None and not isinstance(raw.get("id_number"), str):
            reasons.append(("resident_id", "resident_id or id_number is required"))
        if reasons or item is None:
            rejects.add(number, raw, reasons)
        else:
            candidates.append(_Candidate(number, raw, item))
    return candidates


def _resolve(
    session: Session, principal: Principal, candidates: list[_Candidate], rejects: Rejects
) -> list[_Candidate]:
    """Find each row's resident, institution and encounter; reject what does not resolve."""
    by_number = repository.active_residents_by_id_number(
        session, [people.canonical_id_or_raw(c.raw["id_number"]) for c in candidates if "id_number" in c.raw]
    )
    known_ids = repository.existing_resident_ids(
        session, [c.raw["resident_id"] for c in candidates if c.raw.get("resident_id") is not None]
    )
    encounters = repository.encounter_owners(session, {c.item.encounter_id for c in candidates if c.item.encounter_id})
    institutions: dict[str, int | None] = {}
    resolved: list[_Candidate] = []
    for c in candidates:
        if c.raw.get("resident_id") is not None:
            resident_id, field_name = (
                (c.raw["resident_id"] if c.raw["resident_id"] in known_ids else None),
                "resident_id",
            )
        else:
            resident_id, field_name = by_number.get(people.canonical_id_or_raw(c.raw["id_number"])), "id_number"
        if resident_id is None:
            rejects.add(c.number, c.raw, [(field_name, "no active resident with this identifier")])
            continue
        if c.item.encounter_id is not None and encounters.get(c.item.encounter_id) != resident_id:
            rejects.add(c.number, c.raw, [("encounter_id", "no such encounter of this resident")])
            continue
        c.resident_id, c.institution_id = resident_id, principal.institution_id
        if (code := c.item.institution_code) is not None:
            if code not in institutions:
                institutions[code] = repository.institution_id(session, code)
            c.institution_id = institutions[code]
            if c.institution_id is None:
                rejects.add(c.number, c.raw, [("institution_code", "unknown institution code")])
                continue
        resolved.append(c)
    return _in_scope(session, principal, resolved, rejects)


def _in_scope(
    session: Session, principal: Principal, candidates: list[_Candidate], rejects: Rejects
) -> list[_Candidate]:
    """Scope-bound submitters (a centre) may only send data for residents they serve: a row for
    anybody else is rejected, and kept, like any other bad row."""
    if principal.scope in (Scope.ALL, Scope.INSTITUTION, Scope.NONE) or not candidates:
        return candidates
    visible = people.ids_in_scope(session, principal, {c.resident_id for c in candidates})
    kept = []
    for c in candidates:
        if c.resident_id in visible:
            kept.append(c)
        else:
            rejects.add(c.number, c.raw, [("resident_id", "resident outside the area you serve")])
    return kept


def bulk_observations(
    session: Session, *, principal: Principal, batch: BulkObservationBatch, channel: str = "api.observations"
) -> BulkResult:
    """Validate every row, store the good ones set-based and keep the bad ones with reasons.

    Idempotent twice over: a batch key already seen replays the stored result, and every row
    carries a ``source_key`` (the sender's, or one derived from its content) that is stored once.
    """
    principal.require(Permission.OBSERVATION_SUBMIT)
    full_key = f"{channel}:{principal.user_id}:{batch.batch_key}" if batch.batch_key else None
    if full_key and (previous := repository.batch_by_key(session, full_key)) is not None:
        return _stored_result(session, previous)
    rejects = Rejects()
    good = _resolve(session, principal, _parse_rows(batch.observations, rejects), rejects)
    rows = [
        (
            c.resident_id,
            c.item.encounter_id,
            c.item.code,
            c.item.value_num,
            c.item.value_text,
            c.item.unit,
            db_datetime(c.item.effective_at),
            c.institution_id,
            c.item.device_id,
            "final",
            c.item.source_key or _auto_key(c.resident_id, c.item, c.institution_id),
        )
        for c in good
    ]
    inserted = repository.insert_observations(session, rows)
    record = IngestBatch(
        channel=channel,
        batch_key=full_key,
        user_id=principal.user_id or None,
        institution_id=principal.institution_id,
        received_at=utcnow(),
        received=len(batch.observations),
        inserted=inserted,
        duplicates=len(rows) - inserted,
        rejected=len(rejects.rows),
    )
    session.add(record)
    session.flush()
    rejects.rows.sort(key=lambda r: r[0])
    session.add_all(
        IngestRejection(batch_id=record.id, row_number=n, payload=verbatim_json(raw), errors=errs)
        for n, raw, errs in rejects.rows
    )
    session.flush()
    audit.record(
        session,
        principal,
        "record.bulk_observations",
        object_type="ingest_batch",
        object_id=record.id,
        detail={"received": record.received, "inserted": inserted, "rejected": record.rejected},
    )
    return BulkResult(
        batch_id=record.id,
        received=record.received,
        inserted=inserted,
        duplicates=record.duplicates,
        rejected=record.rejected,
        errors=sorted(rejects.errors, key=lambda e: e.row),
    )


def _stored_result(session: Session, batch: IngestBatch) -> BulkResult:
    errors = stored_errors(repository.rejections_of(session, batch.id))
    return BulkResult(
        batch_id=batch.id,
        received=batch.received,
        inserted=batch.inserted,
        duplicates=batch.duplicates,
        rejected=batch.rejected,
        errors=errors,
        replayed=True,
    )


def exam_of_record(session: Session, exam: PhysicalExam) -> PhysicalExamOut:
    return exam_out(exam, repository.observations_of_encounters(session, [exam.encounter_id]))


def my_batches(session: Session, *, principal: Principal) -> list[IngestBatch]:
    return list(repository.recent_batches(session, user_id=principal.user_id))
