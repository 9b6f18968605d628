"""The resident's longitudinal record page (居民健康档案): identity header, timeline of encounters,
charts of BP / glucose / weight, the record's sections, and the export as a FHIR Bundle.

Every view (the page, an examination form, the export) resolves the resident through
``people.service.get_resident``, which checks the caller's scope and writes the audit entry
("record.view", or "record.export" for a download).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.roles import Permission
from healthbrain.chronic import repository as chronic_repository
from healthbrain.chronic.definitions import BP_TARGET, FASTING_GLUCOSE_TARGET
from healthbrain.chronic.prescription import BMI_OBESE, BMI_OVERWEIGHT
from healthbrain.core.errors import NotFound
from healthbrain.core.i18n import translate
from healthbrain.core.params import IdPath, OffsetQuery
from healthbrain.core.time import local_today, to_local
from healthbrain.people import service as people
from healthbrain.people.models import Resident
from healthbrain.records import codes, repository, timeline
from healthbrain.records.service import EXAM_MEASUREMENTS, exam_of_record
from healthbrain.web.charts import Series, line_chart
from healthbrain.web.deps import LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)

VIEW = "record.view"
EXPORT = "record.export"
DOCUMENT_PREVIEW_CHARS = 20_000  # a collapsible JSON view, not a dump of a 5 MB bundle
DOCUMENTS_SHOWN = 50


def record_link(resident_id: int) -> str:
    return f"/records/residents/{resident_id}"


# --- parts of the page ------------------------------------------------------------------------------
def _timeline(
    session: Session, resident: Resident, *, kinds: tuple[str, ...], period: str, offset: int
) -> dict[str, Any]:
    since = timeline.since_instant(timeline.period_start(period, local_today()))
    rows = repository.timeline_encounters(
        session, resident.id, kinds=kinds, since=since, offset=offset, limit=timeline.PAGE_SIZE + 1
    )
    has_more = len(rows) > timeline.PAGE_SIZE
    rows = rows[: timeline.PAGE_SIZE]
    encounters = [
        timeline.EncounterFact(
            id=r.id,
            kind=r.encounter_class,
            start_at=r.start_at,
            end_at=r.end_at,
            institution=r.institution,
            practitioner=r.practitioner,
            reason_code=r.reason_code,
            reason_text=r.reason_text,
        )
        for r in rows
    ]
    observations, conditions = repository.findings_of_encounters(session, resident.id, [e.id for e in encounters])
    years = timeline.build_timeline(
        encounters,
        (timeline.ObservationFact(o.encounter_id, o.code, o.value_num, o.value_text, o.unit) for o in observations),
        (timeline.ConditionFact(c.encounter_id, c.code, c.display) for c in conditions),
    )
    return {
        "years": years,
        "counts": repository.encounter_counts(session, resident.id, since=since),
        "kinds": kinds,
        "all_kinds": timeline.KINDS,
        "period": period,
        "offset": offset,
        "page_size": timeline.PAGE_SIZE,
        "has_more": has_more,
        "shown": len(encounters),
    }


def _points(rows: list[Any], code: str) -> list[tuple[datetime, float]]:
    """A code's points, in local time (the chart's axis shows local dates)."""
    return [(to_local(r.effective_at), float(r.value_num)) for r in rows if r.code == code]


def _charts(session: Session, resident: Resident, *, chart_range: str, language: str) -> dict[str, str]:
    """SVG charts over the range: BP with the 140/90 lines, fasting glucose with 7.0, weight, BMI."""
    since = timeline.since_instant(timeline.period_start(chart_range, local_today()))
    rows = repository.observation_series(
        session,
        resident.id,
        [codes.SYSTOLIC_BP, codes.DIASTOLIC_BP, codes.GLUCOSE_FASTING, codes.BODY_WEIGHT, codes.BMI, codes.BODY_HEIGHT],
        since=since,
    )

    def t(key: str) -> str:
        return translate(key, language)

    sbp, dbp = timeline.thin(_points(rows, codes.SYSTOLIC_BP)), timeline.thin(_points(rows, codes.DIASTOLIC_BP))
    bp_chart = line_chart(
        [Series(t("rec.chart.systolic"), "#c0392b", sbp), Series(t("rec.chart.diastolic"), "#2471a3", dbp)],
        bands=[(float(BP_TARGET[0]), str(BP_TARGET[0])), (float(BP_TARGET[1]), str(BP_TARGET[1]))],
        height=220,
        title=t("rec.chart.bp"),
    )
    glucose_chart = line_chart(
        [Series(t("rec.chart.glucose"), "#7d3c98", timeline.thin(_points(rows, codes.GLUCOSE_FASTING)))],
        bands=[(FASTING_GLUCOSE_TARGET, f"{FASTING_GLUCOSE_TARGET:g}")],
        title=t("rec.chart.glucose"),
    )
    weights = _points(rows, codes.BODY_WEIGHT)
    weight_chart = line_chart(
        [Series(t("rec.chart.weight"), "#1e8449", timeline.thin(weights))], title=t("rec.chart.weight")
    )
    heights = _points(rows, codes.BODY_HEIGHT)
    if not heights and weights and (last := repository.latest_height(session, resident.id, codes.BODY_HEIGHT)):
        heights = [(to_local(last.effective_at), float(last.value_num))]
    bmi = timeline.bmi_series(weights, heights) or _points(rows, codes.BMI)
    bmi_chart = line_chart(
        [Series("BMI", "#b9770e", timeline.thin(bmi))],
        bands=[(BMI_OVERWEIGHT, f"{BMI_OVERWEIGHT:g}"), (BMI_OBESE, f"{BMI_OBESE:g}")],
        title="BMI (kg/m²)",
    )
    return {"bp": bp_chart, "glucose": glucose_chart, "weight": weight_chart, "bmi": bmi_chart}


def _documents(session: Session, resident: Resident) -> dict[str, Any]:
    rows, total = repository.documents_of(session, resident.id, limit=DOCUMENTS_SHOWN)
    documents = []
    for row in rows:
        try:
            text = json.dumps(json.loads(row.content), ensure_ascii=False, indent=2)
        except ValueError:
            text = row.content
        truncated = len(text) > DOCUMENT_PREVIEW_CHARS
        documents.append(
            {
                "type": row.resource_type,
                "logical_id": row.logical_id,
                "last_updated": row.last_updated,
                "json": text[:DOCUMENT_PREVIEW_CHARS],
                "truncated": truncated,
                "size": len(row.content),
            }
        )
    return {"documents": documents, "documents_total": total}


def _header(session: Session, principal: PrincipalDep, resident: Resident) -> dict[str, Any]:
    today = local_today()
    enrolments = [e for e in chronic_repository.enrolments_of(session, resident.id) if e.status != "declined"]
    contracts = repository.contracts_of_resident(session, resident.id)
    status = timeline.contract_status(
        (
            timeline.ContractFact(r.Contract.id, r.Contract.status, r.Contract.start_date, r.Contract.end_date, r.team)
            for r in contracts
        ),
        today,
    )
    return {
        "r": people.detail(session, resident),
        "enrolments": enrolments,
        "enrolled": any(e.status == "enrolled" for e in enrolments),
        "can_chronic": principal.can(Permission.CHRONIC_READ),
        "contracts": contracts,
        "contract": status,
        "today": today,
    }


# --- routes -----------------------------------------------------------------------------------------
@router.get("/records/residents/{resident_id}", response_class=HTMLResponse)
def record_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    resident_id: IdPath,
    kind: Annotated[list[str] | None, Query()] = None,
    period: str = timeline.DEFAULT_PERIOD,
    chart: Annotated[str, Query(alias="range")] = timeline.DEFAULT_RANGE,
    offset: OffsetQuery = 0,
) -> Response:
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action=VIEW)
    kinds = timeline.parse_kinds(kind or [])
    period = timeline.parse_period(period)
    chart_range = timeline.parse_period(chart, timeline.DEFAULT_RANGE)
    context: dict[str, Any] = _header(session, principal, resident)
    context.update(_timeline(session, resident, kinds=kinds, period=period, offset=offset))
    context.update(_documents(session, resident))
    context.update(
        {
            "charts": _charts(session, resident, chart_range=chart_range, language=language),
            "chart_range": chart_range,
            "periods": timeline.PERIODS,
            "conditions": repository.conditions_of(session, resident.id),
            "medications": repository.medications_of(session, resident.id),
            "immunizations": repository.immunizations_of(session, resident.id),
            "exams": repository.exams_with_places(session, resident.id),
            "loinc": codes.LOINC_NAMES,
            "units": codes.UNIT_DISPLAY,
            "base": record_link(resident.id),
        }
    )
    return render(request, "records/resident.html", context, principal=principal)


@router.get("/records/residents/{resident_id}/exams/{exam_id}", response_class=HTMLResponse)
def exam_page(
    request: Request, session: SessionDep, principal: PrincipalDep, resident_id: IdPath, exam_id: IdPath
) -> Response:
    """One physical examination form (健康体检表) of the resident."""
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action=VIEW)
    found = repository.exam_of_resident(session, resident.id, exam_id)
    if found is None:
        raise NotFound("error.record.exam_not_found", id=exam_id)
    exam = exam_of_record(session, found.PhysicalExam)
    context = {
        "resident": resident,
        "exam": exam,
        "measurements": [  # in the form's order, with units
            (name, exam.measurements[name], codes.UNIT_DISPLAY.get(unit, unit))
            for name, (_code, unit) in EXAM_MEASUREMENTS.items()
            if name in exam.measurements
        ],
        "form": found.PhysicalExam,
        "institution": found.institution,
        "practitioner": found.practitioner,
        "base": record_link(resident.id),
    }
    return render(request, "records/resident_exam.html", context, principal=principal)


@router.get("/records/residents/{resident_id}/export")
def export_bundle(session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> Response:
    """The resident's record as a FHIR R4 Bundle (Patient/$everything), as a file to download."""
    people.get_resident(session, principal=principal, resident_id=resident_id, action=EXPORT)
    from healthbrain.interop.fhir.export import patient_everything

    bundle: dict[str, Any] = patient_everything(session, principal=principal, resident_id=resident_id)
    body = json.dumps(bundle, ensure_ascii=False, indent=1).encode()
    name = f"resident-{resident_id}-{local_today():%Y%m%d}.fhir.json"
    return Response(
        body,
        media_type="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
