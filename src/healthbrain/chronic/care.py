"""The patient's chart: home readings, the path's six dimensions, health prescriptions and monthly reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.chronic import facts, home, path, pathdata, prescription, repository
from healthbrain.chronic.definitions import DISEASE_NAMES, PROTOCOL_722_DAYS, Disease, EnrolmentStatus, VisitClass
from healthbrain.chronic.models import HealthPrescription, HealthReport, HomeReading
from healthbrain.chronic.report_pdf import MonthlyReport, ReportReading, ReportVisit, render_monthly_report
from healthbrain.chronic.risk import RISK_TIER_NAMES, RiskTier
from healthbrain.chronic.schemas import (
    PathItemOut,
    PathOut,
    PrescriptionIn,
    PrescriptionItemIO,
    PrescriptionOut,
    ReadingOut,
    ReportOut,
)
from healthbrain.core.errors import InvalidInput, NotFound
from healthbrain.core.masking import mask_id_number
from healthbrain.core.time import SHANGHAI, local_today, utcnow
from healthbrain.geo.models import CareTeam, Institution, Practitioner
from healthbrain.people import service as people
from healthbrain.people.models import Resident
from healthbrain.records import codes

VISIT_CLASS_ZH = {
    VisitClass.CONTROLLED: "控制满意",
    VisitClass.UNCONTROLLED: "控制不满意",
    VisitClass.ADVERSE_REACTION: "不良反应",
    VisitClass.COMPLICATION: "并发症",
}


def _resident(session: Session, principal: Principal, resident_id: int, action: str = "chronic.read") -> Resident:
    principal.require(Permission.CHRONIC_READ)
    return people.get_resident(session, principal=principal, resident_id=resident_id, action=action)


def reading_out(r: HomeReading) -> ReadingOut:
    return ReadingOut(
        id=r.id,
        kind=r.kind,
        measured_at=r.measured_at,
        sbp=r.sbp,
        dbp=r.dbp,
        heart_rate=r.heart_rate,
        glucose=r.glucose,
        critical=r.critical,
    )


def readings(session: Session, *, principal: Principal, resident_id: int, days: int = 30) -> list[ReadingOut]:
    resident = _resident(session, principal, resident_id)
    since = utcnow() - timedelta(days=days)
    return [reading_out(r) for r in repository.readings_of(session, resident.id, since=since)]


# --- the path's six dimensions -------------------------------------------------------------------------------
def path_of(session: Session, *, principal: Principal, resident_id: int, language: str = "zh-CN") -> PathOut:
    resident = _resident(session, principal, resident_id)
    today = local_today()
    enrolled = [e for e in repository.enrolments_of(session, resident.id) if e.status == EnrolmentStatus.ENROLLED]
    diseases = frozenset(Disease(e.disease) for e in enrolled)
    enrolled_on = min((e.enrolled_on for e in enrolled if e.enrolled_on), default=None)
    if not diseases or enrolled_on is None:
        return PathOut(
            resident_id=resident.id,
            diseases=[],
            enrolled_on=None,
            items=[],
            execution_due=0,
            execution_done=0,
            execution_rate=None,
            screening_done_this_year=False,
        )
    done = pathdata.done_dates(session, resident.id, diseases, today=today)
    statuses = path.path_status(
        diseases,
        last_done={slug: (dates[-1] if dates else None) for slug, dates in done.items()},
        enrolled_on=enrolled_on,
        today=today,
    )
    year_ago = today - timedelta(days=365)
    execution = path.execution(
        diseases, done_dates=done, enrolled_on=enrolled_on, start=max(year_ago, enrolled_on), end=today
    )
    zh = language.startswith("zh")
    return PathOut(
        resident_id=resident.id,
        diseases=sorted(d.value for d in diseases),
        enrolled_on=enrolled_on,
        items=[
            PathItemOut(
                slug=s.item.slug,
                dimension=s.item.dimension.value,
                name=s.item.name_zh if zh else s.item.name_en,
                interval_days=s.item.interval_days,
                complication_screening=s.item.complication_screening,
                last_done=s.last_done,
                due_date=s.due_date,
                state=s.state.value,
            )
            for s in statuses
        ],
        execution_due=execution.due,
        execution_done=execution.done_on_time,
        execution_rate=execution.rate,
        screening_done_this_year=path.complication_screening_done(
            diseases, done_dates=done, year_start=year_ago, year_end=today
        ),
    )


# --- home blood pressure (722) ------------------------------------------------------------------------------
def _bp_points(rows: Sequence[HomeReading]) -> list[tuple[datetime, float, float]]:
    return [(r.measured_at, r.sbp, r.dbp) for r in rows if r.kind == "bp" and r.sbp is not None and r.dbp is not None]


def home_bp_summary(session: Session, resident_id: int, *, end: date) -> home.HomeBPSummary:
    """The 722 evaluation of the home readings of the protocol's days ending on ``end`` (local)."""
    since = datetime.combine(end - timedelta(days=PROTOCOL_722_DAYS), time.min, tzinfo=SHANGHAI)
    return home.evaluate_722(_bp_points(repository.readings_of(session, resident_id, since=since)), end=end)


# --- health prescriptions ----------------------------------------------------------------------------------
def patient_facts(session: Session, record: facts.PatientRecord, today: date) -> prescription.PatientFacts:
    f = record.last_followup
    summary = home_bp_summary(session, record.resident.id, end=today)
    tier = facts.tier_of(record)
    return prescription.PatientFacts(
        age=record.age,
        male=record.resident.sex == "M",
        diseases=record.diseases,
        sbp=record.value(codes.SYSTOLIC_BP),
        dbp=record.value(codes.DIASTOLIC_BP),
        fasting_glucose=record.value(codes.GLUCOSE_FASTING) or record.value(codes.GLUCOSE_CAPILLARY),
        hba1c=record.value(codes.HBA1C),
        height_cm=record.value(codes.BODY_HEIGHT),
        weight_kg=record.value(codes.BODY_WEIGHT),
        waist_cm=record.value(codes.WAIST),
        smoking=f.smoking if f else None,
        cigarettes_per_day=f.cigarettes_per_day if f else None,
        drinking=f.drinking if f else None,
        alcohol_g_per_day=f.alcohol_g_per_day if f else None,
        exercise=f.exercise if f else None,
        exercise_minutes_per_week=f.exercise_minutes_per_week if f else None,
        salt=f.salt if f else None,
        adherence=facts.adherence_of(record),
        medications=tuple(record.medications),
        risk_tier=tier.value if tier else None,
        has_bp_device=record.has_bp_device,
        has_glucose_device=record.has_glucose_device,
        home_bp_mean=(summary.mean_sbp, summary.mean_dbp)
        if summary.valid and summary.mean_sbp is not None and summary.mean_dbp is not None
        else None,
    )


def draft_prescription(session: Session, *, principal: Principal, resident_id: int) -> PrescriptionOut:
    resident = _resident(session, principal, resident_id)
    today = local_today()
    record = facts.gather(session, resident, today=today)
    items = prescription.generate(patient_facts(session, record, today))
    return PrescriptionOut(
        id=None,
        resident_id=resident.id,
        items=[PrescriptionItemIO(section=i.section.value, text=i.text, basis=i.basis) for i in items],
        created_at=None,
        draft=True,
    )


def _prescription_out(row: HealthPrescription, authors: dict[int, str]) -> PrescriptionOut:
    return PrescriptionOut(
        id=row.id,
        resident_id=row.resident_id,
        items=[PrescriptionItemIO.model_validate(i) for i in row.items],
        created_at=row.created_at,
        created_by=authors.get(row.practitioner_id or 0),
    )


def prescriptions(session: Session, *, principal: Principal, resident_id: int) -> list[PrescriptionOut]:
    resident = _resident(session, principal, resident_id)
    rows = repository.prescriptions_of(session, resident.id)
    authors = _practitioner_names(session, {r.practitioner_id for r in rows if r.practitioner_id})
    return [_prescription_out(r, authors) for r in rows]


def _practitioner_names(session: Session, ids: set[int]) -> dict[int, str]:
    return {i: p.name for i in ids if (p := session.get(Practitioner, i)) is not None}


def save_prescription(
    session: Session, *, principal: Principal, resident_id: int, data: PrescriptionIn
) -> PrescriptionOut:
    principal.require(Permission.CHRONIC_MANAGE)
    resident = _resident(session, principal, resident_id, action="chronic.prescribe")
    known = {s.value for s in prescription.Section}
    for n, item in enumerate(data.items):
        if item.section not in known:
            raise InvalidInput(
                "error.chronic.bad_section", field=f"items.{n}.section", allowed=", ".join(sorted(known))
            )
    row = HealthPrescription(
        resident_id=resident.id,
        items=[i.model_dump() for i in data.items],
        created_by=principal.user_id or None,
        created_at=utcnow(),
        practitioner_id=principal.practitioner_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, principal, "chronic.prescribe", resident_id=resident.id, object_id=row.id)
    return _prescription_out(row, _practitioner_names(session, {row.practitioner_id} if row.practitioner_id else set()))


# --- monthly reports -----------------------------------------------------------------------------------------
def parse_month(text: str) -> date:
    try:
        year, month = (int(p) for p in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise InvalidInput("error.chronic.bad_month", field="month", value=text) from None


def _month_range(month: date) -> tuple[datetime, datetime]:
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    start = datetime.combine(month, time.min, tzinfo=SHANGHAI).astimezone(UTC)
    end = datetime.combine(nxt, time.min, tzinfo=SHANGHAI).astimezone(UTC)
    return start, end


def _bp_text(sbp: float | None, dbp: float | None) -> str:
    return f"{sbp:.0f}/{dbp:.0f} mmHg" if sbp is not None and dbp is not None else "—"


def build_report(session: Session, resident: Resident, month: date, *, generated_at: datetime) -> MonthlyReport:
    """Everything the month's report shows, from the record (pure data; rendering is report_pdf)."""
    start, end = _month_range(month)
    month_end = (end.astimezone(SHANGHAI) - timedelta(days=1)).date()
    record = facts.gather(session, resident, today=min(month_end, local_today()))
    month_readings = list(repository.readings_of(session, resident.id, since=start, until=end))
    before = list(repository.readings_of(session, resident.id, since=start - timedelta(days=31), until=start))
    followups = [
        f for f in repository.followups_of(session, resident.id, limit=200) if month <= f.visit_date <= month_end
    ]
    followups.sort(key=lambda f: f.visit_date)
    enrolment = next((e for e in record.enrolments if e.status == EnrolmentStatus.ENROLLED), None)
    team = session.get(CareTeam, enrolment.team_id) if enrolment and enrolment.team_id else None
    centre = session.get(Institution, team.home_institution_id) if team else None
    doctor = session.get(Practitioner, team.leader_id) if team and team.leader_id else None

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    bp_now = [(r.sbp, r.dbp) for r in month_readings if r.kind == "bp" and r.sbp and r.dbp]
    bp_before = [(r.sbp, r.dbp) for r in before if r.kind == "bp" and r.sbp and r.dbp]
    glu_now = [r.glucose for r in month_readings if r.kind == "glucose" and r.glucose]
    glu_before = [r.glucose for r in before if r.kind == "glucose" and r.glucose]
    control: list[tuple[str, str]] = []
    changes: list[str] = []
    sbp_mean, dbp_mean = mean([s for s, _d in bp_now]), mean([d for _s, d in bp_now])
    if Disease.HYPERTENSION in record.diseases:
        if sbp_mean is not None and dbp_mean is not None:
            ok = sbp_mean < 135 and dbp_mean < 85
            control.append(
                (
                    "家庭血压（月均值）",
                    f"{'达标' if ok else '未达标'}（{_bp_text(sbp_mean, dbp_mean)}，{len(bp_now)} 次）",
                )
            )
        else:
            control.append(("家庭血压", "本月无家庭血压读数"))
    if Disease.DIABETES in record.diseases:
        g = mean(glu_now)
        control.append(
            ("家庭血糖（月均值）", f"{g:.1f} mmol/L（{len(glu_now)} 次）" if g is not None else "本月无家庭血糖读数")
        )
    if followups:
        last = followups[-1]
        control.append(("本月随访", f"{len(followups)} 次，最近一次：{VISIT_CLASS_ZH[VisitClass(last.visit_class)]}"))
    else:
        control.append(("本月随访", "本月无随访"))
    critical = sum(1 for r in month_readings if r.critical)
    if critical:
        control.append(("危急值", f"{critical} 次"))
    if bp_now and bp_before:
        prev_s, prev_d = mean([s for s, _d in bp_before]), mean([d for _s, d in bp_before])
        assert prev_s is not None and prev_d is not None and sbp_mean is not None and dbp_mean is not None
        delta = sbp_mean - prev_s
        trend = "下降" if delta < -2 else "上升" if delta > 2 else "基本持平"
        changes.append(
            f"家庭收缩压月均值 {prev_s:.0f} → {sbp_mean:.0f} mmHg，较上月{trend}（舒张压 {prev_d:.0f} → {dbp_mean:.0f}）。"
        )
    if glu_now and glu_before:
        a, b = mean(glu_before), mean(glu_now)
        assert a is not None and b is not None
        changes.append(f"家庭血糖月均值 {a:.1f} → {b:.1f} mmol/L。")
    if len(bp_now) + len(glu_now) and not (bp_before or glu_before):
        changes.append("本月开始居家监测。")
    if not changes:
        changes.append("与上月相比无可比较的监测数据。")
    summary = home.evaluate_722(_bp_points(month_readings), end=month_end)
    home_text = None
    if summary.valid and summary.mean_sbp is not None and summary.mean_dbp is not None:
        verdict = "达到家庭高血压标准（≥135/85 mmHg）" if summary.hypertensive else "未达家庭高血压标准"
        home_text = (
            f"722 方案（月末 7 天）：{summary.days_used} 天 {summary.readings_used} 次读数，"
            f"平均 {_bp_text(summary.mean_sbp, summary.mean_dbp)}，{verdict}"
        )
    advice = [i.text for i in prescription.generate(patient_facts(session, record, month_end))][:6]
    tier = facts.tier_of(record)
    id_text = mask_id_number(resident.id_number) or f"档案号 {resident.id}"
    return MonthlyReport(
        month=month,
        patient_name=resident.name,
        sex_zh="男" if resident.sex == "M" else "女",
        age=record.age,
        record_number=id_text,
        diseases_zh=tuple(DISEASE_NAMES[d][0] for d in sorted(record.diseases)),
        team_name=team.name if team else "—",
        doctor_name=doctor.name if doctor else "—",
        institution_name=centre.name if centre else "—",
        risk_tier_zh=RISK_TIER_NAMES[RiskTier(tier)][0] if tier else None,
        control_status=tuple(control),
        readings=tuple(
            ReportReading(
                at=r.measured_at,
                kind=r.kind,
                sbp=r.sbp,
                dbp=r.dbp,
                heart_rate=r.heart_rate,
                glucose=r.glucose,
                critical=r.critical,
            )
            for r in month_readings
        ),
        visits=tuple(
            ReportVisit(
                visit_date=f.visit_date,
                disease_zh=DISEASE_NAMES[Disease(f.disease)][0],
                visit_class_zh=VISIT_CLASS_ZH[VisitClass(f.visit_class)],
                sbp=f.sbp,
                dbp=f.dbp,
                glucose=f.fasting_glucose,
                next_date=f.next_date,
            )
            for f in followups
        ),
        home_bp_summary_zh=home_text,
        changes=tuple(changes),
        advice=tuple(advice),
        generated_at=generated_at,
    )


def store_report(
    session: Session, resident: Resident, month: date, *, user_id: int | None, font_path: str | None = None
) -> HealthReport:
    now = utcnow()
    report = build_report(session, resident, month, generated_at=now)
    pdf = render_monthly_report(report, font_path=font_path)
    summary: dict[str, Any] = {
        "control_status": [list(p) for p in report.control_status],
        "changes": list(report.changes),
        "readings": len(report.readings),
        "visits": len(report.visits),
        "home_bp": report.home_bp_summary_zh,
    }
    row = repository.report_for(session, resident.id, month)
    if row is None:
        row = HealthReport(resident_id=resident.id, month=month, summary=summary, pdf=pdf, generated_at=now)
        session.add(row)
    row.summary, row.pdf, row.generated_at, row.generated_by = summary, pdf, now, user_id
    session.flush()
    return row


def report_out(row: HealthReport) -> ReportOut:
    return ReportOut(
        id=row.id,
        resident_id=row.resident_id,
        month=row.month,
        generated_at=row.generated_at,
        summary=row.summary,
        pdf_url=f"/api/v1/chronic/reports/{row.id}.pdf",
    )


def generate_report(session: Session, *, principal: Principal, resident_id: int, month: date) -> ReportOut:
    principal.require(Permission.CHRONIC_MANAGE)
    resident = _resident(session, principal, resident_id, action="chronic.report")
    if month > local_today():
        raise InvalidInput("error.chronic.future_month", field="month")
    row = store_report(session, resident, month, user_id=principal.user_id or None)
    return report_out(row)


def reports(session: Session, *, principal: Principal, resident_id: int) -> list[ReportOut]:
    resident = _resident(session, principal, resident_id)
    return [report_out(r) for r in repository.reports_of(session, resident.id)]


def report_pdf(session: Session, *, principal: Principal, report_id: int) -> tuple[bytes, str]:
    row = session.get(HealthReport, report_id)
    if row is None:
        raise NotFound("error.chronic.report_not_found", id=report_id)
    _resident(session, principal, row.resident_id, action="chronic.report.read")
    return row.pdf, f"health-report-{row.resident_id}-{row.month:%Y-%m}.pdf"
