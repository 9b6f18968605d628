"""Chronic-disease pages: the family doctor's worklist and the patient's chart (readings, follow-up
history and form, the path's six dimensions, prescriptions, reports, devices)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.chronic import care, devices, repository, service, worklist
from healthbrain.chronic.definitions import DISEASE_NAMES, Disease, EnrolmentStatus, Symptom
from healthbrain.chronic.prescription import SECTION_NAMES, Section
from healthbrain.chronic.schemas import (
    AlertHandleIn,
    DeviceIn,
    EndIn,
    EnrolIn,
    FollowUpIn,
    PrescriptionIn,
    SnoozeIn,
)
from healthbrain.core.errors import DomainError, NotFound
from healthbrain.core.i18n import translate
from healthbrain.core.ingest import validation_messages
from healthbrain.core.params import IdPath
from healthbrain.core.time import age_on, local_today, utcnow
from healthbrain.db import rollback
from healthbrain.people import service as people
from healthbrain.records import codes
from healthbrain.records.models import Observation
from healthbrain.web.charts import Series, line_chart
from healthbrain.web.deps import LanguageDep, SessionDep, read_only
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)

CHART_DAYS = (30, 90, 365)


@router.get("/chronic", response_class=HTMLResponse)
@read_only
def worklist_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    team: str = "",
    risk: str = "",
    notice: str = "",
) -> Response:
    principal.require(Permission.CHRONIC_READ)
    team_id = int(team) if team.isdigit() and len(team) < 19 else None
    data = worklist.worklist(
        session, principal=principal, team_id=team_id, risk=risk if risk in worklist.RISK_TIERS else None
    )
    teams = worklist.teams_of(session, principal)
    context = {
        "wl": data,
        "sections": {s.kind: s for s in data.sections},
        "team": team_id,
        "risk": risk,
        "teams": repository.team_names(session, teams),
        "risk_tiers": worklist.RISK_TIERS,
        "notice": notice,
    }
    return render(request, "chronic/worklist.html", context, principal=principal)


def _back(url: str, notice: str = "") -> RedirectResponse:
    joiner = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{joiner}notice={notice}" if notice else url, status_code=303)


def _safe_next(value: str, default: str) -> str:
    return value if value.startswith("/chronic") and "//" not in value else default


@router.post("/chronic/residents/{resident_id}/snooze", response_class=HTMLResponse)
def snooze_action(
    session: SessionDep,
    principal: PrincipalDep,
    resident_id: IdPath,
    item: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/chronic",
) -> Response:
    worklist.snooze(
        session,
        principal=principal,
        resident_id=resident_id,
        data=SnoozeIn.model_validate({"item": item, "reason": reason}),
    )
    return _back(_safe_next(next, "/chronic"), "snoozed")


@router.post("/chronic/alerts/{alert_id}/handle", response_class=HTMLResponse)
def handle_action(
    session: SessionDep,
    principal: PrincipalDep,
    alert_id: IdPath,
    action: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/chronic",
) -> Response:
    data = AlertHandleIn.model_validate({"action": action, "note": note or None})
    worklist.handle_alert(session, principal=principal, alert_id=alert_id, data=data)
    return _back(_safe_next(next, "/chronic"), "handled")


@router.post("/chronic/enrolments/{enrolment_id}/act", response_class=HTMLResponse)
def enrolment_action(
    session: SessionDep,
    principal: PrincipalDep,
    enrolment_id: IdPath,
    action: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    ended_on: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/chronic",
) -> Response:
    if action == "enrol":
        service.enrol(session, principal=principal, enrolment_id=enrolment_id, data=EnrolIn(note=note or None))
    elif action == "decline":
        service.decline(session, principal=principal, enrolment_id=enrolment_id, note=note or "—")
    elif action == "end":
        data = EndIn.model_validate(
            {"reason": reason, "ended_on": ended_on or local_today().isoformat(), "note": note or None}
        )
        service.end(session, principal=principal, enrolment_id=enrolment_id, data=data)
    else:
        raise NotFound("error.not_found")
    return _back(_safe_next(next, "/chronic"), action)


# --- the chart --------------------------------------------------------------------------------------------
def _readings_chart(session: Session, resident_id: int, days: int, language: str) -> tuple[str, str | None]:
    """BP chart (home readings and clinic measurements) and, when there are any, a glucose chart."""
    since = utcnow() - timedelta(days=days)
    home_rows = repository.readings_of(session, resident_id, since=since)
    clinic = session.execute(
        Observation.__table__.select()
        .with_only_columns(Observation.code, Observation.value_num, Observation.effective_at)
        .where(
            Observation.resident_id == resident_id,
            Observation.code.in_(
                [codes.SYSTOLIC_BP, codes.DIASTOLIC_BP, codes.GLUCOSE_FASTING, codes.GLUCOSE_CAPILLARY]
            ),
            Observation.effective_at >= since,
        )
    ).all()
    zh = language.startswith("zh")
    sbp = [(r.measured_at, r.sbp) for r in home_rows if r.kind == "bp" and r.sbp is not None]
    dbp = [(r.measured_at, r.dbp) for r in home_rows if r.kind == "bp" and r.dbp is not None]
    glucose = [(r.measured_at, r.glucose) for r in home_rows if r.kind == "glucose" and r.glucose is not None]
    c_sbp = [(at, v) for code, v, at in clinic if code == codes.SYSTOLIC_BP and v is not None]
    c_dbp = [(at, v) for code, v, at in clinic if code == codes.DIASTOLIC_BP and v is not None]
    c_glu = [
        (at, v) for code, v, at in clinic if code != codes.SYSTOLIC_BP and code != codes.DIASTOLIC_BP and v is not None
    ]
    start, end = since, utcnow()
    bp_series = [
        Series("家庭收缩压" if zh else "Home systolic", "#c0392b", sorted(sbp)),
        Series("家庭舒张压" if zh else "Home diastolic", "#2e86c1", sorted(dbp)),
        Series("诊室收缩压" if zh else "Clinic systolic", "#7b241c", sorted(c_sbp), style="points"),
        Series("诊室舒张压" if zh else "Clinic diastolic", "#1b4f72", sorted(c_dbp), style="points"),
        Series("140", "#999999", [(start, 140.0), (end, 140.0)], style="dashed"),
        Series("90", "#999999", [(start, 90.0), (end, 90.0)], style="dashed"),
    ]
    bp = line_chart([s for s in bp_series if s.points], height=240, title="mmHg")
    glu_chart = None
    if glucose or c_glu:
        glu_series = [
            Series("家庭血糖" if zh else "Home glucose", "#8e44ad", sorted(glucose)),
            Series("诊室/化验血糖" if zh else "Clinic glucose", "#4a235a", sorted(c_glu), style="points"),
            Series("7.0", "#999999", [(start, 7.0), (end, 7.0)], style="dashed"),
            Series("3.9", "#999999", [(start, 3.9), (end, 3.9)], style="dashed"),
        ]
        glu_chart = line_chart([s for s in glu_series if s.points], height=200, title="mmol/L")
    return bp, glu_chart


def _chart_context(
    session: Session, principal: Principal, language: str, resident_id: int, days: int
) -> dict[str, Any]:
    principal.require(Permission.CHRONIC_READ)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.chart")
    today = local_today()
    enrolments = list(repository.enrolments_of(session, resident.id))
    bp_chart, glucose_chart = _readings_chart(session, resident.id, days, language)
    summary = care.home_bp_summary(session, resident.id, end=today)
    prescriptions = care.prescriptions(session, principal=principal, resident_id=resident.id)
    return {
        "resident": resident,
        "age": age_on(resident.birth_date, today),
        "enrolments": enrolments,
        "enrolled": [e for e in enrolments if e.status == EnrolmentStatus.ENROLLED],
        "teams": repository.team_names(session, {e.team_id for e in enrolments if e.team_id}),
        "followups": service.followups(session, principal=principal, resident_id=resident.id),
        "tasks": repository.tasks_of(session, resident.id),
        "alerts": repository.alerts_of(session, resident.id, limit=10),
        "pathway": care.path_of(session, principal=principal, resident_id=resident.id, language=language),
        "prescriptions": prescriptions,
        "reports": care.reports(session, principal=principal, resident_id=resident.id),
        "devices": devices.devices(session, principal=principal, resident_id=resident.id),
        "bp_chart": bp_chart,
        "glucose_chart": glucose_chart,
        "home_summary": summary,
        "days": days,
        "chart_days": CHART_DAYS,
        "symptoms": [s.value for s in Symptom if s != Symptom.NONE],
        "sections": [(s.value, SECTION_NAMES[s]) for s in Section],
        "disease_names": {d.value: DISEASE_NAMES[d] for d in Disease},
        "month": today.strftime("%Y-%m"),
        "today": today,
        "can_manage": principal.can(Permission.CHRONIC_MANAGE),
    }


@router.get("/chronic/residents/{resident_id}", response_class=HTMLResponse)
def chart_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    resident_id: IdPath,
    days: int = 90,
    notice: str = "",
    draft: str = "",
) -> Response:
    days = days if days in CHART_DAYS else 90
    context = _chart_context(session, principal, language, resident_id, days)
    context["notice"] = notice
    if draft == "1" and context["can_manage"]:
        context["draft"] = care.draft_prescription(session, principal=principal, resident_id=resident_id)
    return render(request, "chronic/chart.html", context, principal=principal)


def _error_page(
    request: Request,
    session: Session,
    principal: Principal,
    language: str,
    resident_id: int,
    message: str,
    **extra: Any,
) -> Response:
    rollback(session)
    context = _chart_context(session, principal, language, resident_id, 90)
    context.update(error=message, **extra)
    return render(request, "chronic/chart.html", context, principal=principal, status_code=422)


def _form_dict(form: FormData) -> dict[str, Any]:
    """Form fields as the follow-up schema takes them: blanks left out, checkboxes as booleans."""
    data: dict[str, Any] = {}
    for key in (
        "disease",
        "visit_date",
        "method",
        "smoking",
        "drinking",
        "exercise",
        "salt",
        "adherence",
        "dorsalis_pedis",
        "hypoglycaemia",
        "adverse_reaction_text",
        "complication_text",
        "referral_to",
        "note",
    ):
        value = str(form.get(key) or "").strip()
        if value:
            data[key] = value
    for key in (
        "sbp",
        "dbp",
        "heart_rate",
        "weight_kg",
        "height_cm",
        "waist_cm",
        "fasting_glucose",
        "cigarettes_per_day",
        "alcohol_g_per_day",
        "exercise_minutes_per_week",
        "staple_food_g",
    ):
        value = str(form.get(key) or "").strip()
        if value:
            data[key] = value
    for key in (
        "adverse_reaction",
        "adverse_reaction_uncontrollable",
        "new_or_worse_complication",
        "pregnant_or_lactating",
        "education",
    ):
        data[key] = form.get(key) == "1"
    data["symptoms"] = [str(s) for s in form.getlist("symptoms")]
    return data


@router.post("/chronic/residents/{resident_id}/followups", response_class=HTMLResponse)
async def followup_action(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, resident_id: IdPath
) -> Response:
    form = await request.form()
    raw = _form_dict(form)
    try:
        data = FollowUpIn.model_validate(raw)
        saved = service.record_followup(session, principal=principal, resident_id=resident_id, data=data)
    except ValidationError as exc:
        message = "; ".join(f"{field}: {text}" for field, text in validation_messages(exc, language))
        return _error_page(request, session, principal, language, resident_id, message, form_values=raw)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        message = translate(exc.key, language, **exc.params)
        return _error_page(request, session, principal, language, resident_id, message, form_values=raw)
    notice = f"followup:{saved.visit_class}:{saved.next_date.isoformat()}:{int(saved.refer)}:{int(saved.urgent)}"
    return _back(f"/chronic/residents/{resident_id}", notice)


@router.post("/chronic/residents/{resident_id}/prescriptions", response_class=HTMLResponse)
async def prescription_action(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, resident_id: IdPath
) -> Response:
    form = await request.form()
    items = []
    for section in Section:
        text = str(form.get(f"text_{section.value}") or "").strip()
        if text:
            items.append(
                {"section": section.value, "text": text, "basis": str(form.get(f"basis_{section.value}") or "")}
            )
    try:
        data = PrescriptionIn.model_validate({"items": items})
        care.save_prescription(session, principal=principal, resident_id=resident_id, data=data)
    except ValidationError as exc:
        message = "; ".join(f"{field}: {text}" for field, text in validation_messages(exc, language))
        return _error_page(request, session, principal, language, resident_id, message)
    return _back(f"/chronic/residents/{resident_id}", "prescribed")


@router.get("/chronic/residents/{resident_id}/prescriptions/{prescription_id}", response_class=HTMLResponse)
def prescription_print(
    request: Request, session: SessionDep, principal: PrincipalDep, resident_id: IdPath, prescription_id: IdPath
) -> Response:
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.read")
    found = [
        p for p in care.prescriptions(session, principal=principal, resident_id=resident.id) if p.id == prescription_id
    ]
    if not found:
        raise NotFound("error.not_found")
    names = {s.value: SECTION_NAMES[s] for s in Section}
    context = {"resident": resident, "p": found[0], "names": names}
    return render(request, "chronic/prescription.html", context, principal=principal)


@router.post("/chronic/residents/{resident_id}/reports", response_class=HTMLResponse)
def report_action(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    resident_id: IdPath,
    month: Annotated[str, Form()],
) -> Response:
    try:
        care.generate_report(session, principal=principal, resident_id=resident_id, month=care.parse_month(month))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _error_page(
            request, session, principal, language, resident_id, translate(exc.key, language, **exc.params)
        )
    return _back(f"/chronic/residents/{resident_id}", "reported")


@router.get("/chronic/reports/{report_id}.pdf")
def report_download(session: SessionDep, principal: PrincipalDep, report_id: IdPath) -> Response:
    pdf, filename = care.report_pdf(session, principal=principal, report_id=report_id)
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )


@router.post("/chronic/residents/{resident_id}/devices", response_class=HTMLResponse)
def device_action(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    resident_id: IdPath,
    device_id: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    model: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = DeviceIn.model_validate({"device_id": device_id.strip(), "kind": kind, "model": model or None})
        bound = devices.bind(session, principal=principal, resident_id=resident_id, data=data)
    except ValidationError as exc:
        message = "; ".join(f"{field}: {text}" for field, text in validation_messages(exc, language))
        return _error_page(request, session, principal, language, resident_id, message)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return _error_page(
            request, session, principal, language, resident_id, translate(exc.key, language, **exc.params)
        )
    # The token is shown once, on this answer; it is not kept in clear anywhere.
    context = _chart_context(session, principal, language, resident_id, 90)
    context["new_device"] = bound
    return render(request, "chronic/chart.html", context, principal=principal)


@router.post("/chronic/devices/{device_pk}/unbind", response_class=HTMLResponse)
def unbind_action(
    session: SessionDep,
    principal: PrincipalDep,
    device_pk: IdPath,
    next: Annotated[str, Form()] = "/chronic",
) -> Response:
    devices.unbind(session, principal=principal, device_pk=device_pk)
    return _back(_safe_next(next, "/chronic"), "unbound")
