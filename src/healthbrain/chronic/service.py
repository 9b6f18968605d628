"""Chronic-disease use cases: path entry (入径), end of management, follow-ups by the BPHS standard.

Services flush, never commit. Resident data is read through ``people.service.get_resident``
(scoped and audited)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, exists, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.chronic import facts, path, pathdata, repository
from healthbrain.chronic.classify import VisitFacts, classify
from healthbrain.chronic.definitions import (
    DISEASE_ICD10,
    ENROL_MIN_AGE,
    FACE_TO_FACE,
    Disease,
    EnrolmentStatus,
    VisitClass,
    VisitMethod,
)
from healthbrain.chronic.models import ChronicEnrolment, ChronicFollowUp, ChronicTask
from healthbrain.chronic.schemas import EndIn, EnrolIn, EnrolmentOut, FollowUpIn, FollowUpOut, ProposeIn
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.core.time import SHANGHAI, age_on, local_today, utcnow, years_before
from healthbrain.geo.models import CareTeamCommunity
from healthbrain.people import service as people
from healthbrain.people.models import Resident, ResidentStatus
from healthbrain.records import codes
from healthbrain.records.models import Condition, Encounter, EncounterClass, Observation

SCREENING_BP_DAYS = 3  # BPHS: raised BP on 3 different days → provisional diagnosis
SCREENING_GLUCOSE_DAYS = 2  # WHO/CDS: fasting glucose ≥ 7.0 on two occasions
SCREENING_LOOKBACK_DAYS = 365


# --- path entry -----------------------------------------------------------------------------------------
def propose_enrolments(session: Session, *, today: date | None = None) -> dict[str, int]:
    """Propose every eligible resident not yet on a path (set-based): ≥ 35 years, alive, with the
    disease on the problem list (``condition``) or with screening readings that meet the BPHS
    provisional-diagnosis rule (``screening``). Returns how many were proposed per disease and reason."""
    today = today or local_today()
    now = utcnow()
    born_before = years_before(today, ENROL_MIN_AGE)
    team = (
        select(func.min(CareTeamCommunity.team_id))
        .where(CareTeamCommunity.division_id == Resident.division_id)
        .scalar_subquery()
    )
    since = datetime.combine(today - timedelta(days=SCREENING_LOOKBACK_DAYS), time.min, tzinfo=UTC)
    counts: dict[str, int] = {}
    for disease in Disease:
        has_condition = exists().where(
            Condition.resident_id == Resident.id,
            Condition.clinical_status == "active",
            or_(*(Condition.code.startswith(p) for p in DISEASE_ICD10[disease])),
        )
        if disease is Disease.HYPERTENSION:
            raised = or_(
                and_(Observation.code == codes.SYSTOLIC_BP, Observation.value_num >= 140),
                and_(Observation.code == codes.DIASTOLIC_BP, Observation.value_num >= 90),
            )
            days_needed = SCREENING_BP_DAYS
        else:
            raised = and_(Observation.code == codes.GLUCOSE_FASTING, Observation.value_num >= 7.0)
            days_needed = SCREENING_GLUCOSE_DAYS
        screened = (
            select(Observation.resident_id)
            .where(raised, Observation.effective_at >= since)
            .group_by(Observation.resident_id)
            .having(func.count(func.distinct(func.date(Observation.effective_at))) >= days_needed)
        )
        not_on_path = ~exists().where(
            ChronicEnrolment.resident_id == Resident.id, ChronicEnrolment.disease == disease.value
        )
        eligible = and_(
            Resident.status == ResidentStatus.ACTIVE,
            Resident.deceased_date.is_(None),
            Resident.birth_date <= born_before,
            not_on_path,
        )
        for reason, clause in (("condition", has_condition), ("screening", Resident.id.in_(screened))):
            chosen = select(
                Resident.id,
                literal(disease.value),
                literal(EnrolmentStatus.PROPOSED.value),
                team,
                literal(now, type_=ChronicEnrolment.proposed_at.type),
                literal(reason),
                literal(1),
            ).where(eligible, clause)
            # RETURNING, not rowcount: psycopg reports no rowcount for INSERT … SELECT through SQLAlchemy.
            created = session.scalars(
                insert(ChronicEnrolment)
                .from_select(
                    ["resident_id", "disease", "status", "team_id", "proposed_at", "proposed_reason", "version"],
                    chosen,
                )
                .returning(ChronicEnrolment.id)
            ).all()
            counts[f"{disease.value}.{reason}"] = len(created)
    session.flush()
    return counts


def _enrolment_in_scope(session: Session, principal: Principal, enrolment_id: int, action: str) -> ChronicEnrolment:
    enrolment = repository.enrolment(session, enrolment_id)
    if enrolment is None:
        raise NotFound("error.chronic.enrolment_not_found", id=enrolment_id)
    people.get_resident(session, principal=principal, resident_id=enrolment.resident_id, action=action)
    return enrolment


def _check_version(enrolment: ChronicEnrolment, version: int | None) -> None:
    if version is not None and version != enrolment.version:
        raise Conflict("error.chronic.stale", current=enrolment.version)


def propose(session: Session, *, principal: Principal, resident_id: int, data: ProposeIn) -> ChronicEnrolment:
    """A doctor puts a resident forward by hand (e.g. diagnosed at a hospital not yet reporting)."""
    principal.require(Permission.CHRONIC_MANAGE)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.propose")
    if age_on(resident.birth_date, local_today()) < ENROL_MIN_AGE:
        raise InvalidInput("error.chronic.too_young", field="resident_id", age=ENROL_MIN_AGE)
    existing = repository.enrolment_for(session, resident.id, data.disease.value)
    if existing is not None:
        raise Conflict("error.chronic.already_on_path", link=f"/api/v1/chronic/enrolments/{existing.id}")
    enrolment = ChronicEnrolment(
        resident_id=resident.id,
        disease=data.disease.value,
        status=EnrolmentStatus.PROPOSED.value,
        team_id=_team_for(session, principal, resident),
        proposed_at=utcnow(),
        proposed_reason="manual",
        note=data.note,
        version=1,
    )
    session.add(enrolment)
    session.flush()
    return enrolment


def _team_for(session: Session, principal: Principal, resident: Resident) -> int | None:
    serving = repository.team_serving(session, resident.division_id)
    if principal.team_ids:
        mine = session.scalar(
            select(CareTeamCommunity.team_id).where(
                CareTeamCommunity.division_id == resident.division_id, CareTeamCommunity.team_id.in_(principal.team_ids)
            )
        )
        return mine or serving
    return serving


def enrol(session: Session, *, principal: Principal, enrolment_id: int, data: EnrolIn) -> ChronicEnrolment:
    """The family doctor confirms a proposal: the patient is under management from today."""
    principal.require(Permission.CHRONIC_MANAGE)
    enrolment = _enrolment_in_scope(session, principal, enrolment_id, "chronic.enrol")
    _check_version(enrolment, data.version)
    if enrolment.status not in (EnrolmentStatus.PROPOSED, EnrolmentStatus.DECLINED, EnrolmentStatus.ENDED):
        raise Conflict("error.chronic.bad_status", status=enrolment.status)
    today = local_today()
    enrolment.status = EnrolmentStatus.ENROLLED.value
    enrolment.enrolled_on = today
    enrolment.enrolled_by = principal.user_id or None
    enrolment.ended_on = None
    enrolment.end_reason = None
    if data.team_id is not None:
        enrolment.team_id = data.team_id
    elif enrolment.team_id is None:
        resident = session.get(Resident, enrolment.resident_id)
        assert resident is not None
        enrolment.team_id = _team_for(session, principal, resident)
    if data.note:
        enrolment.note = data.note
    # The first follow-up is due at once (the enrolment visit), screenings within the path's window.
    enrolment.next_followup_date = enrolment.next_followup_date or today
    refresh_schedule(session, enrolment, today=today)
    enrolment.version += 1
    session.flush()
    audit.record(session, principal, "chronic.enrol", resident_id=enrolment.resident_id, object_id=enrolment.id)
    return enrolment


def decline(session: Session, *, principal: Principal, enrolment_id: int, note: str) -> ChronicEnrolment:
    principal.require(Permission.CHRONIC_MANAGE)
    enrolment = _enrolment_in_scope(session, principal, enrolment_id, "chronic.decline")
    if enrolment.status != EnrolmentStatus.PROPOSED:
        raise Conflict("error.chronic.bad_status", status=enrolment.status)
    enrolment.status = EnrolmentStatus.DECLINED.value
    enrolment.note = note
    enrolment.version += 1
    session.flush()
    return enrolment


def end(session: Session, *, principal: Principal, enrolment_id: int, data: EndIn) -> ChronicEnrolment:
    """End of management (结案): death, moved away, lost to follow-up, refused."""
    principal.require(Permission.CHRONIC_MANAGE)
    enrolment = _enrolment_in_scope(session, principal, enrolment_id, "chronic.end")
    if enrolment.status != EnrolmentStatus.ENROLLED:
        raise Conflict("error.chronic.bad_status", status=enrolment.status)
    if data.ended_on > local_today():
        raise InvalidInput("error.chronic.future_date", field="ended_on")
    if enrolment.enrolled_on and data.ended_on < enrolment.enrolled_on:
        raise InvalidInput("error.chronic.end_before_start", field="ended_on")
    enrolment.status = EnrolmentStatus.ENDED.value
    enrolment.ended_on = data.ended_on
    enrolment.end_reason = data.reason.value
    enrolment.note = data.note or enrolment.note
    enrolment.next_followup_date = None
    enrolment.next_screening_date = None
    for task in repository.open_tasks(session, enrolment.id):
        task.status = "cancelled"
    enrolment.version += 1
    session.flush()
    audit.record(
        session, principal, "chronic.end", resident_id=enrolment.resident_id, detail={"reason": data.reason.value}
    )
    return enrolment


def enrolment_out(enrolment: ChronicEnrolment, resident: Resident, *, today: date | None = None) -> EnrolmentOut:
    return EnrolmentOut(
        id=enrolment.id,
        resident_id=resident.id,
        resident_name=resident.name,
        sex=resident.sex,
        age=age_on(resident.birth_date, today or local_today()),
        disease=enrolment.disease,
        status=enrolment.status,
        team_id=enrolment.team_id,
        proposed_at=enrolment.proposed_at,
        proposed_reason=enrolment.proposed_reason,
        evidence=enrolment.evidence,
        enrolled_on=enrolment.enrolled_on,
        ended_on=enrolment.ended_on,
        end_reason=enrolment.end_reason,
        last_followup_date=enrolment.last_followup_date,
        last_visit_class=enrolment.last_visit_class,
        next_followup_date=enrolment.next_followup_date,
        next_screening_date=enrolment.next_screening_date,
        risk_tier=enrolment.risk_tier,
        version=enrolment.version,
    )


def enrolments(session: Session, *, principal: Principal, resident_id: int) -> list[EnrolmentOut]:
    principal.require(Permission.CHRONIC_READ)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.read")
    return [enrolment_out(e, resident) for e in repository.enrolments_of(session, resident.id)]


# --- the schedule -------------------------------------------------------------------------------------------
def refresh_schedule(session: Session, enrolment: ChronicEnrolment, *, today: date) -> None:
    """Recompute the enrolment's next complication screening and (hypertension) risk tier."""
    resident = session.get(Resident, enrolment.resident_id)
    assert resident is not None
    record = facts.gather(session, resident, today=today)
    done = path_done_dates(session, record)
    statuses = path.path_status(
        record.diseases or {Disease(enrolment.disease)},
        last_done={slug: (max(dates) if dates else None) for slug, dates in done.items()},
        enrolled_on=enrolment.enrolled_on or today,
        today=today,
    )
    screenings = [s.due_date for s in statuses if s.item.complication_screening]
    enrolment.next_screening_date = min(screenings) if screenings else None
    tier = facts.tier_of(record)
    enrolment.risk_tier = tier.value if tier is not None and enrolment.disease == Disease.HYPERTENSION else None


def path_done_dates(session: Session, record: facts.PatientRecord) -> dict[str, list[date]]:
    """When each path item of the patient was done (observations, follow-up fields, home readings)."""
    return pathdata.done_dates(session, record.resident.id, record.diseases)


# --- follow-ups -----------------------------------------------------------------------------------------------
def _visit_instant(visit_date: date) -> datetime:
    now = utcnow()
    if visit_date == now.astimezone(SHANGHAI).date():
        return now
    return datetime.combine(visit_date, time(10, 0), tzinfo=SHANGHAI).astimezone(UTC)


def record_followup(session: Session, *, principal: Principal, resident_id: int, data: FollowUpIn) -> FollowUpOut:
    """Save a BPHS follow-up form: classify it, book the next visit, open a referral task when the
    patient is referred, close the referral task this visit answers, and write the measurements
    into the record as observations of the visit's encounter."""
    principal.require(Permission.CHRONIC_MANAGE)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.followup")
    if data.source_key and (previous := repository.followup_by_source_key(session, data.source_key)) is not None:
        if previous.resident_id != resident.id:
            raise Conflict("error.record.source_key_taken", field="source_key")
        return followup_out(previous)
    enrolment = repository.enrolment_for(session, resident.id, data.disease.value)
    if enrolment is None or enrolment.status != EnrolmentStatus.ENROLLED:
        raise InvalidInput("error.chronic.not_enrolled", field="disease")
    today = local_today()
    if data.visit_date > today:
        raise InvalidInput("error.chronic.future_date", field="visit_date")
    previous_visit = repository.last_followup(session, enrolment.id, before=data.visit_date)
    age = age_on(resident.birth_date, data.visit_date)
    outcome = classify(
        VisitFacts(
            disease=data.disease,
            visit_date=data.visit_date,
            age=age,
            sbp=data.sbp,
            dbp=data.dbp,
            heart_rate=data.heart_rate,
            fasting_glucose=data.fasting_glucose,
            symptoms=frozenset(data.symptoms),
            adverse_reaction=data.adverse_reaction,
            adverse_reaction_uncontrollable=data.adverse_reaction_uncontrollable,
            new_or_worse_complication=data.new_or_worse_complication,
            pregnant_or_lactating=data.pregnant_or_lactating,
            previous_class=VisitClass(previous_visit.visit_class) if previous_visit else None,
        )
    )
    at = _visit_instant(data.visit_date)
    encounter = Encounter(
        resident_id=resident.id,
        institution_id=principal.institution_id,
        practitioner_id=principal.practitioner_id,
        encounter_class=EncounterClass.PHONE if data.method == VisitMethod.PHONE else EncounterClass.FOLLOWUP,
        start_at=at,
        reason_code=DISEASE_ICD10[data.disease][0],
        reason_text="高血压患者随访" if data.disease == Disease.HYPERTENSION else "2型糖尿病患者随访",
    )
    session.add(encounter)
    session.flush()
    bmi = _bmi(data, session, resident.id)
    measured: list[tuple[str, float | None, str]] = [
        (codes.SYSTOLIC_BP, data.sbp, "mm[Hg]"),
        (codes.DIASTOLIC_BP, data.dbp, "mm[Hg]"),
        (codes.HEART_RATE, data.heart_rate, "/min"),
        (codes.BODY_WEIGHT, data.weight_kg, "kg"),
        (codes.BODY_HEIGHT, data.height_cm, "cm"),
        (codes.BMI, bmi, "kg/m2"),
        (codes.WAIST, data.waist_cm, "cm"),
        (codes.GLUCOSE_FASTING, data.fasting_glucose, "mmol/L"),
    ]
    session.add_all(
        Observation(
            resident_id=resident.id,
            encounter_id=encounter.id,
            code=code,
            value_num=value,
            unit=unit,
            effective_at=at,
            institution_id=principal.institution_id,
            status="final",
        )
        for code, value, unit in measured
        if value is not None
    )
    row = ChronicFollowUp(
        enrolment_id=enrolment.id,
        resident_id=resident.id,
        encounter_id=encounter.id,
        disease=data.disease.value,
        visit_date=data.visit_date,
        method=data.method.value,
        practitioner_id=principal.practitioner_id,
        institution_id=principal.institution_id,
        symptoms=[s.value for s in data.symptoms],
        sbp=data.sbp,
        dbp=data.dbp,
        heart_rate=data.heart_rate,
        weight_kg=data.weight_kg,
        height_cm=data.height_cm,
        waist_cm=data.waist_cm,
        fasting_glucose=data.fasting_glucose,
        dorsalis_pedis=data.dorsalis_pedis,
        smoking=data.smoking,
        cigarettes_per_day=data.cigarettes_per_day,
        drinking=data.drinking,
        alcohol_g_per_day=data.alcohol_g_per_day,
        exercise=data.exercise,
        exercise_minutes_per_week=data.exercise_minutes_per_week,
        salt=data.salt,
        staple_food_g=data.staple_food_g,
        adherence=data.adherence.value if data.adherence else None,
        adverse_reaction=data.adverse_reaction,
        adverse_reaction_uncontrollable=data.adverse_reaction_uncontrollable,
        adverse_reaction_text=data.adverse_reaction_text,
        hypoglycaemia=data.hypoglycaemia,
        new_or_worse_complication=data.new_or_worse_complication,
        complication_text=data.complication_text,
        pregnant_or_lactating=data.pregnant_or_lactating,
        education=data.education,
        medications=[m.model_dump() for m in data.medications],
        visit_class=outcome.visit_class.value,
        refer=outcome.refer,
        urgent=outcome.urgent,
        reasons=list(outcome.reasons),
        referral_to=data.referral_to,
        next_date=outcome.next_date,
        note=data.note,
        created_by=principal.user_id or None,
        created_at=utcnow(),
        source_key=data.source_key,
    )
    session.add(row)
    session.flush()
    # A face-to-face visit after a referral is that referral's follow-up.
    if data.method in FACE_TO_FACE:
        for task in repository.open_tasks(session, enrolment.id):
            if task.followup_id != row.id:
                task.status = "done"
                task.done_followup_id = row.id
                task.done_at = utcnow()
    task_id = None
    if outcome.refer:
        task = ChronicTask(
            resident_id=resident.id,
            enrolment_id=enrolment.id,
            team_id=enrolment.team_id,
            kind="referral_followup",
            due_date=outcome.next_date,
            status="open",
            followup_id=row.id,
            urgent=outcome.urgent,
        )
        session.add(task)
        session.flush()
        task_id = task.id
    if enrolment.last_followup_date is None or data.visit_date >= enrolment.last_followup_date:
        enrolment.last_followup_date = data.visit_date
        enrolment.last_visit_class = outcome.visit_class.value
        enrolment.next_followup_date = outcome.next_date
    refresh_schedule(session, enrolment, today=today)
    enrolment.version += 1
    session.flush()
    audit.record(
        session,
        principal,
        "chronic.followup",
        resident_id=resident.id,
        object_type="chronic_followup",
        object_id=row.id,
        detail={"class": outcome.visit_class.value, "refer": outcome.refer},
    )
    out = followup_out(row)
    out.referral_task_id = task_id
    return out


def _bmi(data: FollowUpIn, session: Session, resident_id: int) -> float | None:
    if data.weight_kg is None:
        return None
    height = data.height_cm
    if height is None:
        height = session.scalar(
            select(Observation.value_num)
            .where(Observation.resident_id == resident_id, Observation.code == codes.BODY_HEIGHT)
            .order_by(Observation.effective_at.desc())
            .limit(1)
        )
    return round(data.weight_kg / (height / 100) ** 2, 1) if height else None


def followup_out(row: ChronicFollowUp) -> FollowUpOut:
    bmi = round(row.weight_kg / (row.height_cm / 100) ** 2, 1) if row.weight_kg and row.height_cm else None
    return FollowUpOut(
        id=row.id,
        enrolment_id=row.enrolment_id,
        resident_id=row.resident_id,
        encounter_id=row.encounter_id,
        disease=row.disease,
        visit_date=row.visit_date,
        method=row.method,
        symptoms=list(row.symptoms),
        sbp=row.sbp,
        dbp=row.dbp,
        heart_rate=row.heart_rate,
        weight_kg=row.weight_kg,
        bmi=bmi,
        fasting_glucose=row.fasting_glucose,
        smoking=row.smoking,
        drinking=row.drinking,
        exercise=row.exercise,
        salt=row.salt,
        adherence=row.adherence,
        adverse_reaction=row.adverse_reaction,
        new_or_worse_complication=row.new_or_worse_complication,
        education=row.education,
        medications=list(row.medications),
        visit_class=row.visit_class,
        refer=row.refer,
        urgent=row.urgent,
        reasons=list(row.reasons),
        next_date=row.next_date,
    )


def followups(session: Session, *, principal: Principal, resident_id: int) -> list[FollowUpOut]:
    principal.require(Permission.CHRONIC_READ)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.read")
    return [followup_out(f) for f in repository.followups_of(session, resident.id)]
