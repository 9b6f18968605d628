"""What the record says about one patient, gathered once for the risk tier, the prescription, the
report and the chart: latest measurements, the problem list's groups, the latest lifestyle
answers, medications and devices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.chronic import repository
from healthbrain.chronic.definitions import Adherence, Disease, EnrolmentStatus
from healthbrain.chronic.models import ChronicEnrolment, ChronicFollowUp
from healthbrain.chronic.risk import RiskFacts, RiskTier, risk_tier
from healthbrain.core.time import age_on
from healthbrain.people.models import Resident
from healthbrain.records import codes
from healthbrain.records.models import Condition, MedicationStatement, Observation

# ICD-10 groups that decide the 2018 risk tier (CHG 2018, "clinical complications").
CLINICAL_CVD = ("I20", "I21", "I22", "I23", "I24", "I25", "I50", "I48", "I60", "I61", "I63", "I64", "G45", "I70", "I73")
CKD = "N18"  # N18.1–N18.5 give the stage
DYSLIPIDAEMIA = ("E78",)
DM_COMPLICATIONS = ("E11.2", "E11.3", "E11.4", "E11.5", "E11.6", "E11.7")  # renal, eye, neuro, circulatory …
TOTAL_CHOLESTEROL_HIGH = 5.2  # mmol/L, CHG 2018 risk factor
IMPAIRED_FASTING_GLUCOSE = (6.1, 7.0)  # mmol/L, CHG 2018 risk factor (IFG)


@dataclass(slots=True)
class PatientRecord:
    resident: Resident
    age: int
    diseases: frozenset[Disease]
    enrolments: list[ChronicEnrolment]
    latest: dict[str, tuple[float, datetime]] = field(default_factory=dict)  # LOINC → (value, when)
    condition_codes: list[str] = field(default_factory=list)
    last_followup: ChronicFollowUp | None = None
    medications: list[str] = field(default_factory=list)
    has_bp_device: bool = False
    has_glucose_device: bool = False

    def value(self, code: str) -> float | None:
        hit = self.latest.get(code)
        return hit[0] if hit else None

    def has_condition(self, prefixes: tuple[str, ...]) -> bool:
        return any(c.startswith(prefixes) for c in self.condition_codes)

    @property
    def bmi(self) -> float | None:
        if (b := self.value(codes.BMI)) is not None:
            return b
        w, h = self.value(codes.BODY_WEIGHT), self.value(codes.BODY_HEIGHT)
        return round(w / (h / 100) ** 2, 1) if w and h else None


def gather(session: Session, resident: Resident, *, today: date) -> PatientRecord:
    enrolments = list(repository.enrolments_of(session, resident.id))
    active = [e for e in enrolments if e.status in (EnrolmentStatus.ENROLLED, EnrolmentStatus.PROPOSED)]
    record = PatientRecord(
        resident=resident,
        age=age_on(resident.birth_date, today),
        diseases=frozenset(Disease(e.disease) for e in active),
        enrolments=enrolments,
    )
    since = datetime.combine(today - timedelta(days=730), time.min, tzinfo=UTC)
    rows = session.execute(
        select(Observation.code, Observation.value_num, Observation.effective_at)
        .where(Observation.resident_id == resident.id, Observation.effective_at >= since)
        .where(Observation.value_num.is_not(None))
        .order_by(Observation.effective_at)
    )
    for code, value, when in rows:
        if value is not None:
            record.latest[code] = (value, when)  # ascending: the last one wins
    record.condition_codes = list(
        session.scalars(
            select(Condition.code).where(Condition.resident_id == resident.id, Condition.clinical_status == "active")
        )
    )
    followups = [f for e in enrolments if (f := repository.last_followup(session, e.id)) is not None]
    record.last_followup = max(followups, key=lambda f: (f.visit_date, f.id), default=None)
    record.medications = list(
        session.scalars(
            select(MedicationStatement.name).where(
                MedicationStatement.resident_id == resident.id, MedicationStatement.status == "active"
            )
        )
    )
    for d in repository.devices_of(session, resident.id):
        if d.unbound_at is None:
            record.has_bp_device |= d.kind == "bp"
            record.has_glucose_device |= d.kind == "glucose"
    return record


def ckd_stage(condition_codes: list[str]) -> int | None:
    stages = [int(c[4]) for c in condition_codes if c.startswith(CKD) and len(c) >= 5 and c[4].isdigit()]
    return max(stages) if stages else (3 if any(c.startswith(CKD) for c in condition_codes) else None)


def risk_facts(record: PatientRecord) -> RiskFacts:
    f = record.last_followup
    glucose = record.value(codes.GLUCOSE_FASTING)
    tc = record.value(codes.TOTAL_CHOLESTEROL)
    bmi = record.bmi
    waist = record.value(codes.WAIST)
    male = record.resident.sex == "M"
    return RiskFacts(
        sbp=record.value(codes.SYSTOLIC_BP),
        dbp=record.value(codes.DIASTOLIC_BP),
        age=record.age,
        male=male,
        smoking=bool(f and f.smoking == "current"),
        impaired_glucose=glucose is not None and IMPAIRED_FASTING_GLUCOSE[0] <= glucose < IMPAIRED_FASTING_GLUCOSE[1],
        dyslipidaemia=record.has_condition(DYSLIPIDAEMIA) or (tc is not None and tc >= TOTAL_CHOLESTEROL_HIGH),
        abdominal_obesity=(bmi is not None and bmi >= 28) or (waist is not None and waist >= (90 if male else 85)),
        ckd_stage=ckd_stage(record.condition_codes),
        diabetes=Disease.DIABETES in record.diseases or record.has_condition(("E11", "E14")),
        diabetes_with_complications=record.has_condition(DM_COMPLICATIONS),
        clinical_cvd=record.has_condition(CLINICAL_CVD),
    )


def tier_of(record: PatientRecord) -> RiskTier | None:
    if Disease.HYPERTENSION not in record.diseases:
        return None
    tier, _reasons = risk_tier(risk_facts(record))
    return tier


def adherence_of(record: PatientRecord) -> Adherence | None:
    f = record.last_followup
    return Adherence(f.adherence) if f and f.adherence else None
