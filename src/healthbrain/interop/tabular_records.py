"""Writing the rows of an encounters, observations or physical-examinations file set-based.

Three steps, whatever the size of the file: every row is checked against what was looked up in
bulk (residents, scope, codes, the rows already stored under the file's keys) and planned as an
insert, a correction or a duplicate; the new rows are then inserted a chunk at a time (one
``executemany`` per table and chunk), and the corrections applied a chunk at a time.

A chunk is written in a savepoint. When the database refuses it (a row that breaks a constraint
the checks did not foresee, a value too long for a column, a row stored meanwhile by another
upload), the chunk is rolled back and written again one row per savepoint: the refused row is
rejected as unstorable, and the others land — a refused row leaves nothing behind.

The checks raise the same errors in the same order as the per-row services did
(``records.service.add_encounter`` / ``add_observation`` / ``add_physical_exam`` and the
corrections of ``tabular_service``), so a row is refused with the same reason as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import partial
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from healthbrain.core.errors import Conflict, DomainError, InvalidInput
from healthbrain.core.time import SHANGHAI
from healthbrain.interop import tabular_repository as repository
from healthbrain.interop.tabular import CellError, Kind, read_observation
from healthbrain.interop.tabular_lookup import (
    CORRECTED,
    INSERTED,
    UNCHANGED,
    Directory,
    Outcomes,
    Residents,
    Row,
    Upload,
    Writable,
    resident_of,
)
from healthbrain.people.models import Resident
from healthbrain.records import service as records
from healthbrain.records.models import Encounter, Observation, PhysicalExam
from healthbrain.records.schemas import EncounterIn, ExamMeasurements, ObservationIn, PhysicalExamIn

CHUNK_ROWS: Final = 2_000  # rows per insert (and per savepoint)
# The fields a resent encounter or observation is compared on (and a correction replaces).
COMPARED: Final[dict[Kind, tuple[str, ...]]] = {
    Kind.ENCOUNTERS: (
        "encounter_class",
        "start_at",
        "end_at",
        "reason_code",
        "reason_text",
        "institution_id",
        "practitioner_id",
    ),
    Kind.OBSERVATIONS: ("code", "value_num", "value_text", "unit", "effective_at", "institution_id"),
}
# The examination's measurements: observation code → form field.
EXAM_CODES: Final = {code: name for name, (code, _unit) in records.EXAM_MEASUREMENTS.items()}


@dataclass
class _Planned:
    """A row that passed every check: what to insert, or which stored row to correct and how."""

    row: Row
    resident_id: int
    insert: dict[str, Any] = field(default_factory=dict)
    stored: Any = None
    changes: dict[str, Any] = field(default_factory=dict)
    exam: PhysicalExamIn | None = None


@dataclass
class _Plan:
    inserts: list[_Planned] = field(default_factory=list)
    corrections: list[_Planned] = field(default_factory=list)


def write_records(up: Upload, kind: Kind, rows: list[Row], residents: Residents) -> Outcomes:
    """Check every row, then write the new ones and the corrections set-based."""
    session = up.session
    outcomes = Outcomes()
    model = {Kind.ENCOUNTERS: Encounter, Kind.OBSERVATIONS: Observation, Kind.EXAMS: PhysicalExam}[kind]
    keys = [r.key for r in rows]
    stored = (
        repository.by_source_keys(session, model, keys)
        if kind == Kind.EXAMS
        else repository.stored_rows(session, model, keys, COMPARED[kind])
    )
    # Whom the file is about, for one scope query; each row resolves its resident again (from the
    # cache) at the point where the per-row path did, so that its first error is the same.
    named: list[Resident] = []
    for row in rows:
        try:
            named.append(resident_of(residents, row.values))
        except InvalidInput:
            continue
    writable = Writable(session, up.principal, named)
    directory = Directory(session, up.principal, rows)
    planners: dict[Kind, Callable[[Row, Residents, Any, Writable, Directory], _Planned]] = {
        Kind.ENCOUNTERS: _plan_encounter,
        Kind.OBSERVATIONS: _plan_observation,
        Kind.EXAMS: _plan_exam,
    }
    planner = planners[kind]
    stored_measurements = (
        repository.exams_observations(session, [e.encounter_id for e in stored.values()], list(EXAM_CODES))
        if kind == Kind.EXAMS
        else {}
    )
    plan = _Plan()
    for row in rows:
        try:
            planned = planner(row, residents, stored.get(row.key), writable, directory)
        except (DomainError, ValidationError) as exc:
            outcomes.fail(row, exc)
            continue
        if planned.stored is None:
            plan.inserts.append(planned)
        elif planned.changes or (planned.exam is not None and _exam_measurements_changed(planned, stored_measurements)):
            plan.corrections.append(planned)
        else:
            outcomes.ok(row, UNCHANGED, planned.resident_id)
    writable.audit()
    insert = {Kind.ENCOUNTERS: _insert_encounters, Kind.OBSERVATIONS: _insert_observations, Kind.EXAMS: _insert_exams}
    _in_chunks(session, plan.inserts, partial(insert[kind], session), INSERTED, outcomes)
    correct = partial(_correct_exams, session) if kind == Kind.EXAMS else partial(_correct_rows, session, model)
    _in_chunks(session, plan.corrections, correct, CORRECTED, outcomes)
    return outcomes


def _in_chunks(
    session: Session,
    items: list[_Planned],
    write: Callable[[list[_Planned]], None],
    outcome: str,
    outcomes: Outcomes,
) -> None:
    """Write the items a chunk per savepoint; a chunk the database refuses, one row per savepoint."""
    for start in range(0, len(items), CHUNK_ROWS):
        chunk = items[start : start + CHUNK_ROWS]
        try:
            with session.begin_nested():
                write(chunk)
        except (IntegrityError, DataError):
            for item in chunk:
                try:
                    with session.begin_nested():
                        write([item])
                except (IntegrityError, DataError) as exc:
                    outcomes.fail(item.row, exc)
                else:
                    outcomes.ok(item.row, outcome, item.resident_id)
        else:
            for item in chunk:
                outcomes.ok(item.row, outcome, item.resident_id)


def _owned(stored: Any, resident: Resident) -> None:
    if stored.resident_id != resident.id:
        raise Conflict("error.record.source_key_taken", field="record_no")


def _changes(stored: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if getattr(stored, name) != value}


# --- encounters -------------------------------------------------------------------------------------


def _plan_encounter(row: Row, residents: Residents, stored: Any, writable: Writable, directory: Directory) -> _Planned:
    values = row.values
    resident = resident_of(residents, values)
    writable.check(resident)
    data = EncounterIn(
        encounter_class=values["encounter_class"],
        start_at=values["start_at"],
        end_at=values.get("end_at"),
        institution_code=values.get("institution_code"),
        practitioner_code=values.get("practitioner_code"),
        reason_code=values.get("reason_code"),
        reason_text=values.get("reason_text"),
        source_key=row.key,
    )
    if stored is None:
        if data.end_at is not None and data.end_at < data.start_at:
            raise InvalidInput("error.encounter.ends_before_start", field="end_at")
        institution_id = directory.institution_id(data.institution_code)
        practitioner_id = directory.practitioner_id(data.practitioner_code)
        return _Planned(
            row,
            resident.id,
            insert={
                "resident_id": resident.id,
                "institution_id": institution_id,
                "practitioner_id": practitioner_id,
                "encounter_class": data.encounter_class,
                "start_at": data.start_at,
                "end_at": data.end_at,
                "reason_code": data.reason_code,
                "reason_text": data.reason_text,
                "source_key": row.key,
            },
        )
    _owned(stored, resident)
    if data.end_at is not None and data.end_at < data.start_at:
        raise InvalidInput("error.encounter.ends_before_start", field="end_at")
    practitioner_id = directory.practitioner_id(data.practitioner_code)
    fields = {
        "encounter_class": data.encounter_class,
        "start_at": data.start_at,
        "end_at": data.end_at,
        "reason_code": data.reason_code,
        "reason_text": data.reason_text,
        "institution_id": directory.institution_id(values.get("institution_code")),
        "practitioner_id": practitioner_id,
    }
    return _Planned(row, resident.id, stored=stored, changes=_changes(stored, fields))


def _insert_encounters(session: Session, items: list[_Planned]) -> None:
    repository.insert_rows(session, Encounter, [i.insert for i in items])


# --- observations -----------------------------------------------------------------------------------


def _plan_observation(
    row: Row, residents: Residents, stored: Any, writable: Writable, directory: Directory
) -> _Planned:
    values = row.values
    try:
        item = read_observation(values)
    except CellError as exc:
        field_name = "unit" if exc.key == "tab.cell.unit_of_item" else "code" if exc.key == "tab.cell.item" else "value"
        raise InvalidInput(exc.key, field=field_name, **exc.params) from None
    resident = resident_of(residents, values)
    data = ObservationIn(
        code=item.code,
        value_num=item.value_num,
        value_text=item.value_text,
        unit=item.unit,
        effective_at=values["effective_at"],
        institution_code=values.get("institution_code"),
        source_key=row.key,
    )
    writable.check(resident)
    if stored is None:
        return _Planned(
            row,
            resident.id,
            insert={
                "resident_id": resident.id,
                "encounter_id": None,
                "code": data.code,
                "value_num": data.value_num,
                "value_text": data.value_text,
                "unit": data.unit,
                "effective_at": data.effective_at,
                "institution_id": directory.institution_id(data.institution_code),
                "device_id": None,
                "status": "final",
                "source_key": row.key,
            },
        )
    _owned(stored, resident)
    fields = {
        "code": data.code,
        "value_num": data.value_num,
        "value_text": data.value_text,
        "unit": data.unit,
        "effective_at": data.effective_at,
        "institution_id": directory.institution_id(values.get("institution_code")),
    }
    return _Planned(row, resident.id, stored=stored, changes=_changes(stored, fields))


def _insert_observations(session: Session, items: list[_Planned]) -> None:
    repository.insert_rows(session, Observation, [i.insert for i in items])


# --- physical examinations ---------------------------------------------------------------------------


def _plan_exam(
    row: Row, residents: Residents, stored: PhysicalExam | None, writable: Writable, directory: Directory
) -> _Planned:
    values = row.values
    resident = resident_of(residents, values)
    measurements = ExamMeasurements.model_validate({k: values[k] for k in records.EXAM_MEASUREMENTS if k in values})
    data = PhysicalExamIn(
        exam_date=values["exam_date"],
        institution_code=values.get("institution_code"),
        practitioner_code=values.get("practitioner_code"),
        measurements=measurements,
        symptoms=values.get("symptoms"),
        smoking=values.get("smoking"),
        drinking=values.get("drinking"),
        exercise=values.get("exercise"),
        diet=values.get("diet"),
        conclusion=values.get("conclusion"),
        abnormalities=values.get("abnormalities", []),
        guidance=values.get("guidance", []),
        source_key=row.key,
    )
    writable.check(resident)
    if stored is None:
        institution_id = directory.institution_id(data.institution_code)
        practitioner_id = directory.practitioner_id(data.practitioner_code)
        return _Planned(
            row,
            resident.id,
            insert={"institution_id": institution_id, "practitioner_id": practitioner_id},
            exam=data,
        )
    _owned(stored, resident)
    return _Planned(row, resident.id, stored=stored, changes=_changes(stored, exam_form(data)), exam=data)


def exam_form(data: PhysicalExamIn) -> dict[str, Any]:
    """The form's own fields (what a correction replaces besides the measurements)."""
    return {
        "exam_date": data.exam_date,
        "symptoms": data.symptoms,
        "smoking": data.smoking,
        "drinking": data.drinking,
        "exercise": data.exercise,
        "diet": data.diet,
        "conclusion": data.conclusion,
        "abnormalities": data.abnormalities,
        "guidance": data.guidance,
    }


def measurement_changes(
    stored: Sequence[tuple[int, str, float | None]], wanted: dict[str, float]
) -> tuple[set[str], list[int]]:
    """Which of an examination's stored measurements (id, code, value) stay, and which go (ids): a
    measurement stays when the form still has it with the same value, once."""
    kept: set[str] = set()
    stale: list[int] = []
    for id_, code, value in stored:
        name = EXAM_CODES[code]
        if name in wanted and name not in kept and value == wanted[name]:
            kept.add(name)
        else:
            stale.append(id_)
    return kept, stale


def _exam_measurements_changed(planned: _Planned, stored: dict[int, list[Observation]]) -> bool:
    assert planned.exam is not None
    wanted = planned.exam.measurements.model_dump(exclude_none=True)
    observations = stored.get(planned.stored.encounter_id, [])
    kept, stale = measurement_changes([(o.id, o.code, o.value_num) for o in observations], wanted)
    return bool(stale) or len(kept) != len(wanted)


def _insert_exams(session: Session, items: list[_Planned]) -> None:
    """Each examination's encounter (ids returned in order), its measurements and its form."""
    encounters, forms = [], []
    for item in items:
        assert item.exam is not None
        at = datetime.combine(item.exam.exam_date, time(9, 0), SHANGHAI)
        encounters.append(
            {
                "resident_id": item.resident_id,
                "institution_id": item.insert["institution_id"],
                "practitioner_id": item.insert["practitioner_id"],
                "encounter_class": "physical_exam",
                "start_at": at,
                "end_at": None,
                "reason_code": None,
                "reason_text": None,
                "source_key": f"{item.row.key}:encounter",
            }
        )
    ids = repository.insert_rows(session, Encounter, encounters, ids=True)
    observations = []
    for item, encounter_id, encounter in zip(items, ids, encounters, strict=True):
        assert item.exam is not None
        for name, value in item.exam.measurements.model_dump(exclude_none=True).items():
            code, unit = records.EXAM_MEASUREMENTS[name]
            observations.append(
                {
                    "resident_id": item.resident_id,
                    "encounter_id": encounter_id,
                    "code": code,
                    "value_num": value,
                    "value_text": None,
                    "unit": unit,
                    "effective_at": encounter["start_at"],
                    "institution_id": encounter["institution_id"],
                    "device_id": None,
                    "status": "final",
                    "source_key": None,
                }
            )
        data = item.exam
        forms.append(
            {
                "resident_id": item.resident_id,
                "encounter_id": encounter_id,
                "institution_id": encounter["institution_id"],
                "practitioner_id": encounter["practitioner_id"],
                "source_key": item.row.key,
                **exam_form(data),
            }
        )
    repository.insert_rows(session, Observation, observations)
    repository.insert_rows(session, PhysicalExam, forms)


# --- corrections ----------------------------------------------------------------------------------


def _correct_rows(session: Session, model: Any, items: list[_Planned]) -> None:
    """Encounters and observations: the stored row's changed fields replaced (one update per chunk)."""
    repository.update_rows(session, model, [{"id": item.stored.id, **item.changes} for item in items])


def _correct_exams(session: Session, items: list[_Planned]) -> None:
    """Examinations: the form's fields, and the measurements replaced where they differ."""
    for item in items:
        exam: PhysicalExam = item.stored
        assert item.exam is not None
        for name, value in item.changes.items():
            setattr(exam, name, value)
        wanted = item.exam.measurements.model_dump(exclude_none=True)
        stored = repository.exam_observations(session, exam.encounter_id, list(EXAM_CODES))
        kept, stale = measurement_changes([(o.id, o.code, o.value_num) for o in stored], wanted)
        repository.delete_observations(session, stale)
        encounter = session.get(Encounter, exam.encounter_id)
        assert encounter is not None
        for name, value in wanted.items():
            if name not in kept:
                code, unit = records.EXAM_MEASUREMENTS[name]
                session.add(
                    Observation(
                        resident_id=item.resident_id,
                        encounter_id=exam.encounter_id,
                        code=code,
                        value_num=value,
                        unit=unit,
                        effective_at=encounter.start_at,
                        institution_id=exam.institution_id,
                        status="final",
                    )
                )
    session.flush()
