"""Clinical record API: a resident's encounters, observations, conditions, medications, exams."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from healthbrain.auth.deps import PrincipalDep
from healthbrain.core.params import IdPath
from healthbrain.records import service
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
from healthbrain.web.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["records"])
CREATED = status.HTTP_201_CREATED


@router.get("/residents/{resident_id}/record", response_model=ResidentRecord, summary="The basic record")
def resident_record(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> ResidentRecord:
    return service.resident_record(session, principal=principal, resident_id=resident_id)


@router.get("/residents/{resident_id}/observations", response_model=list[ObservationOut])
def list_observations(
    session: SessionDep,
    principal: PrincipalDep,
    resident_id: IdPath,
    code: Annotated[list[str] | None, Query(description="LOINC codes")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ObservationOut]:
    return service.observations(session, principal=principal, resident_id=resident_id, code_filter=code, limit=limit)


@router.post("/residents/{resident_id}/encounters", response_model=EncounterOut, status_code=CREATED)
def add_encounter(session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: EncounterIn) -> EncounterOut:
    return EncounterOut.model_validate(
        service.add_encounter(session, principal=principal, resident_id=resident_id, data=data)
    )


@router.post("/residents/{resident_id}/observations", response_model=ObservationOut, status_code=CREATED)
def add_observation(
    session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: ObservationIn
) -> ObservationOut:
    return ObservationOut.model_validate(
        service.add_observation(session, principal=principal, resident_id=resident_id, data=data)
    )


@router.post("/residents/{resident_id}/conditions", response_model=ConditionOut, status_code=CREATED)
def add_condition(session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: ConditionIn) -> ConditionOut:
    return ConditionOut.model_validate(
        service.add_condition(session, principal=principal, resident_id=resident_id, data=data)
    )


@router.post("/residents/{resident_id}/medications", response_model=MedicationOut, status_code=CREATED)
def add_medication(
    session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: MedicationIn
) -> MedicationOut:
    return MedicationOut.model_validate(
        service.add_medication(session, principal=principal, resident_id=resident_id, data=data)
    )


@router.post("/residents/{resident_id}/physical-exams", response_model=PhysicalExamOut, status_code=CREATED)
def add_physical_exam(
    session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: PhysicalExamIn
) -> PhysicalExamOut:
    exam = service.add_physical_exam(session, principal=principal, resident_id=resident_id, data=data)
    return service.exam_of_record(session, exam)


@router.post(
    "/observations/bulk",
    response_model=BulkResult,
    summary="Observations in bulk: set-based insert, per-row errors, idempotent",
)
def bulk_observations(session: SessionDep, principal: PrincipalDep, batch: BulkObservationBatch) -> BulkResult:
    return service.bulk_observations(session, principal=principal, batch=batch)
