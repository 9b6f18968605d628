"""Chronic-disease API: path entry, follow-ups, devices and readings, the worklist, the chart's data,
health prescriptions and monthly reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from healthbrain.auth.deps import PrincipalDep
from healthbrain.chronic import care, devices, readings, service, worklist
from healthbrain.chronic.schemas import (
    AlertHandleIn,
    DeclineIn,
    DeviceIn,
    DeviceOut,
    EndIn,
    EnrolIn,
    EnrolmentOut,
    FollowUpIn,
    FollowUpOut,
    PathOut,
    PrescriptionIn,
    PrescriptionOut,
    ProposeIn,
    ReadingOut,
    ReadingsBatch,
    ReadingsResult,
    ReportOut,
    SnoozeIn,
    Worklist,
)
from healthbrain.core.params import IdPath
from healthbrain.people.models import Resident
from healthbrain.web.deps import LanguageDep, SessionDep, read_only

router = APIRouter(prefix="/api/v1/chronic", tags=["chronic"])

DeviceSerial = Annotated[str, Query(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _enrolment_out(session: SessionDep, enrolment: object) -> EnrolmentOut:
    from healthbrain.chronic.models import ChronicEnrolment

    assert isinstance(enrolment, ChronicEnrolment)
    resident = session.get(Resident, enrolment.resident_id)
    assert resident is not None
    return service.enrolment_out(enrolment, resident)


# --- path entry ------------------------------------------------------------------------------------------
@router.get("/residents/{resident_id}/enrolments", response_model=list[EnrolmentOut])
def list_enrolments(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> list[EnrolmentOut]:
    return service.enrolments(session, principal=principal, resident_id=resident_id)


@router.post(
    "/residents/{resident_id}/enrolments",
    response_model=EnrolmentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Propose a resident for a management path by hand",
)
def propose(session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: ProposeIn) -> EnrolmentOut:
    return _enrolment_out(session, service.propose(session, principal=principal, resident_id=resident_id, data=data))


@router.post(
    "/enrolments/{enrolment_id}/enrol",
    response_model=EnrolmentOut,
    summary="Confirm a proposal: the patient is under management (入径)",
)
def enrol(session: SessionDep, principal: PrincipalDep, enrolment_id: IdPath, data: EnrolIn) -> EnrolmentOut:
    return _enrolment_out(session, service.enrol(session, principal=principal, enrolment_id=enrolment_id, data=data))


@router.post("/enrolments/{enrolment_id}/decline", response_model=EnrolmentOut)
def decline(session: SessionDep, principal: PrincipalDep, enrolment_id: IdPath, data: DeclineIn) -> EnrolmentOut:
    return _enrolment_out(
        session, service.decline(session, principal=principal, enrolment_id=enrolment_id, note=data.note)
    )


@router.post(
    "/enrolments/{enrolment_id}/end",
    response_model=EnrolmentOut,
    summary="End of management: died, moved, lost to follow-up, refused",
)
def end(session: SessionDep, principal: PrincipalDep, enrolment_id: IdPath, data: EndIn) -> EnrolmentOut:
    return _enrolment_out(session, service.end(session, principal=principal, enrolment_id=enrolment_id, data=data))


# --- follow-ups --------------------------------------------------------------------------------------------
@router.get("/residents/{resident_id}/followups", response_model=list[FollowUpOut])
def list_followups(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> list[FollowUpOut]:
    return service.followups(session, principal=principal, resident_id=resident_id)


@router.post(
    "/residents/{resident_id}/followups",
    response_model=FollowUpOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a BPHS follow-up; the answer carries its classification and next date",
    description="A `source_key` already stored answers the stored form (a resend changes nothing).",
)
def add_followup(session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: FollowUpIn) -> FollowUpOut:
    return service.record_followup(session, principal=principal, resident_id=resident_id, data=data)


# --- devices and readings -------------------------------------------------------------------------------
@router.get("/residents/{resident_id}/devices", response_model=list[DeviceOut])
def list_devices(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> list[DeviceOut]:
    return list(devices.devices(session, principal=principal, resident_id=resident_id))


@router.post(
    "/residents/{resident_id}/devices",
    response_model=DeviceOut,
    status_code=status.HTTP_201_CREATED,
    summary="Bind a home device; the answer carries the device's token, shown once",
)
def bind_device(session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: DeviceIn) -> DeviceOut:
    return devices.bind(session, principal=principal, resident_id=resident_id, data=data)


@router.delete("/devices/{device_pk}", response_model=DeviceOut)
def unbind_device(session: SessionDep, principal: PrincipalDep, device_pk: IdPath) -> DeviceOut:
    return devices.unbind(session, principal=principal, device_pk=device_pk)


@router.post(
    "/device-readings",
    response_model=ReadingsResult,
    summary="A device sends its readings with its own token (Authorization: Bearer <device token>)",
    description="Rows are checked one by one; implausible ones come back with row and field and are kept. "
    "A reading sent twice is stored once (deterministic identifier).",
)
def device_readings(
    session: SessionDep,
    language: LanguageDep,
    device_id: DeviceSerial,
    batch: ReadingsBatch,
    authorization: Annotated[str | None, Header()] = None,
) -> ReadingsResult:
    token = authorization[7:] if authorization and authorization.lower().startswith("bearer ") else None
    device = devices.authenticated_device(session, device_id, token)
    return readings.ingest_readings(
        session,
        rows=list(enumerate(batch.readings, start=1)),
        channel="api.device_readings",
        device=device,
        batch_key=batch.batch_key,
        language=language,
    )


@router.post(
    "/readings",
    response_model=ReadingsResult,
    summary="A gateway (a maker's platform) sends readings of many devices; each row names its device_id",
)
def gateway_readings(
    session: SessionDep, principal: PrincipalDep, language: LanguageDep, batch: ReadingsBatch
) -> ReadingsResult:
    return readings.ingest_readings(
        session,
        rows=list(enumerate(batch.readings, start=1)),
        channel="api.readings",
        principal=principal,
        batch_key=batch.batch_key,
        language=language,
    )


@router.get("/residents/{resident_id}/readings", response_model=list[ReadingOut])
def list_readings(
    session: SessionDep,
    principal: PrincipalDep,
    resident_id: IdPath,
    days: Annotated[int, Query(ge=1, le=730)] = 30,
) -> list[ReadingOut]:
    return care.readings(session, principal=principal, resident_id=resident_id, days=days)


# --- worklist ----------------------------------------------------------------------------------------------
@router.get(
    "/worklist",
    response_model=Worklist,
    summary="The family doctor's worklist: critical readings, follow-ups due, referrals, screenings, "
    "silent devices, proposals",
)
@read_only
def get_worklist(
    session: SessionDep,
    principal: PrincipalDep,
    team_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    risk: Annotated[str | None, Query(max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Worklist:
    return worklist.worklist(session, principal=principal, team_id=team_id, risk=risk, limit=limit)


@router.post(
    "/residents/{resident_id}/snooze",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="'agreed_to_visit' hides the item 7 days, 'remind_later' 30 days",
)
def snooze(session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: SnoozeIn) -> Response:
    worklist.snooze(session, principal=principal, resident_id=resident_id, data=data)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/alerts/{alert_id}/handle", status_code=status.HTTP_204_NO_CONTENT)
def handle_alert(session: SessionDep, principal: PrincipalDep, alert_id: IdPath, data: AlertHandleIn) -> Response:
    worklist.handle_alert(session, principal=principal, alert_id=alert_id, data=data)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the chart: path, prescriptions, reports --------------------------------------------------------------
@router.get(
    "/residents/{resident_id}/path",
    response_model=PathOut,
    summary="The path's indicators in 6 dimensions: last done, due date, state; execution rate",
)
def get_path(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> PathOut:
    return care.path_of(session, principal=principal, resident_id=resident_id)


@router.get(
    "/residents/{resident_id}/prescriptions/draft",
    response_model=PrescriptionOut,
    summary="A health prescription generated from the patient's own data (not saved)",
)
def draft_prescription(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> PrescriptionOut:
    return care.draft_prescription(session, principal=principal, resident_id=resident_id)


@router.get("/residents/{resident_id}/prescriptions", response_model=list[PrescriptionOut])
def list_prescriptions(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> list[PrescriptionOut]:
    return care.prescriptions(session, principal=principal, resident_id=resident_id)


@router.post(
    "/residents/{resident_id}/prescriptions",
    response_model=PrescriptionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Save a (doctor-edited) health prescription",
)
def save_prescription(
    session: SessionDep, principal: PrincipalDep, resident_id: IdPath, data: PrescriptionIn
) -> PrescriptionOut:
    return care.save_prescription(session, principal=principal, resident_id=resident_id, data=data)


@router.get("/residents/{resident_id}/reports", response_model=list[ReportOut])
def list_reports(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> list[ReportOut]:
    return care.reports(session, principal=principal, resident_id=resident_id)


@router.post(
    "/residents/{resident_id}/reports",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    summary="Generate (or regenerate) the patient's monthly report for a month (YYYY-MM)",
)
def make_report(
    session: SessionDep,
    principal: PrincipalDep,
    resident_id: IdPath,
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
) -> ReportOut:
    return care.generate_report(session, principal=principal, resident_id=resident_id, month=care.parse_month(month))


@router.get("/reports/{report_id}.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(session: SessionDep, principal: PrincipalDep, report_id: IdPath) -> Response:
    pdf, filename = care.report_pdf(session, principal=principal, report_id=report_id)
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )
