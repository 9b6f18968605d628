"""Classification of a BPHS follow-up visit (此次随访分类) and the urgent-referral check (紧急转诊).

Source: National Basic Public Health Service Standard, 3rd ed. (2017), hypertension and type-2
diabetes patient health management (``shared/reference/chronic.md``); every threshold comes from
:mod:`healthbrain.chronic.definitions`.

The form is per disease: a patient with both diseases has two forms and two classifications.

Choices where the standard is silent (each is a test case):
- Hypertension is graded on BP against :func:`~healthbrain.chronic.definitions.bp_target` (strictly
  below both values). The diabetes visit is graded on fasting glucose alone: BP is recorded on the
  diabetes form, but BPHS classifies that form by glucose control.
- One BP value is enough to say "not met" (SBP 150 with DBP missing is not below 140/90); it is not
  enough to say "met".
- A visit whose deciding value is missing is classed UNCONTROLLED with ``missing_measurement``: a
  visit that measured nothing cannot be called controlled. It does not count as the second of "two
  consecutive uncontrolled" visits, which needs a measured value that missed the target.
- "Two consecutive uncontrolled" also refers a visit classed ADVERSE_REACTION whose target was
  missed after an UNCONTROLLED visit: the class shows the more serious finding, the referral rule
  still sees two misses in a row (the conservative reading).
- The heart rate on the form is one value; the clinician records the persistent rate, so one value
  above the limit counts as "persistently > 100/min".
- BPHS also lists "glucose above normal in pregnancy or lactation" for diabetes; the form has no
  pregnancy-specific glucose limit, so only the hypertension form uses ``pregnant_or_lactating``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from healthbrain.chronic.definitions import (
    FASTING_GLUCOSE_TARGET,
    REFERRAL_FOLLOWUP_DAYS,
    ROUTINE_INTERVAL_DAYS,
    SHORT_INTERVAL_DAYS,
    URGENT_DBP,
    URGENT_GLUCOSE_HIGH,
    URGENT_GLUCOSE_LOW,
    URGENT_HEART_RATE,
    URGENT_SBP,
    URGENT_SYMPTOMS,
    URGENT_TEMPERATURE,
    Disease,
    Symptom,
    VisitClass,
    bp_target,
)

# Reason codes (stable: stored with the visit and translated by the caller).
URGENT_SBP_REASON = "urgent_sbp"
URGENT_DBP_REASON = "urgent_dbp"
URGENT_GLUCOSE_HIGH_REASON = "urgent_glucose_high"
URGENT_GLUCOSE_LOW_REASON = "urgent_glucose_low"
URGENT_HEART_RATE_REASON = "urgent_heart_rate"
URGENT_TEMPERATURE_REASON = "urgent_temperature"
URGENT_SYMPTOM_PREFIX = "urgent_symptom:"  # followed by the Symptom value
PREGNANCY_REASON = "pregnancy"
COMPLICATION_REASON = "complication"
ADVERSE_REACTION_REASON = "adverse_reaction"
ADVERSE_REACTION_UNCONTROLLABLE_REASON = "adverse_reaction_uncontrollable"
BP_NOT_MET_REASON = "bp_not_met"
GLUCOSE_NOT_MET_REASON = "glucose_not_met"
MISSING_MEASUREMENT_REASON = "missing_measurement"
TWO_UNCONTROLLED_REASON = "two_uncontrolled"


@dataclass(frozen=True, slots=True)
class VisitFacts:
    """What one follow-up form (随访表) recorded, for one disease."""

    disease: Disease
    visit_date: date
    age: int
    sbp: float | None = None
    dbp: float | None = None
    heart_rate: float | None = None
    fasting_glucose: float | None = None  # mmol/L (diabetes form)
    temperature: float | None = None  # ℃
    symptoms: frozenset[Symptom] = frozenset()
    adverse_reaction: bool = False  # 药物不良反应
    adverse_reaction_uncontrollable: bool = False  # 不良反应难以控制
    new_or_worse_complication: bool = False  # 出现新的并发症或原有并发症加重
    pregnant_or_lactating: bool = False
    previous_class: VisitClass | None = None  # the previous follow-up's class, same disease


@dataclass(frozen=True, slots=True)
class Classification:
    visit_class: VisitClass
    next_date: date  # 下次随访日期
    refer: bool  # 转诊
    urgent: bool  # 紧急转诊
    reasons: tuple[str, ...]  # machine codes, urgent ones first


def _bp_target_met(sbp: float | None, dbp: float | None, age: int) -> bool | None:
    target_sbp, target_dbp = bp_target(age)
    # A value at or above its limit decides on its own; "met" needs both values.
    if (sbp is not None and sbp >= target_sbp) or (dbp is not None and dbp >= target_dbp):
        return False
    if sbp is None or dbp is None:
        return None
    return True


def target_met(f: VisitFacts) -> bool | None:
    """Whether the visit met the BPHS target for its disease; None when the deciding value is missing.

    Hypertension: SBP and DBP strictly below ``bp_target(age)``. Diabetes: fasting glucose strictly
    below ``FASTING_GLUCOSE_TARGET`` (BP does not grade the diabetes form).
    """
    if f.disease == Disease.HYPERTENSION:
        return _bp_target_met(f.sbp, f.dbp, f.age)
    if f.fasting_glucose is None:
        return None
    return f.fasting_glucose < FASTING_GLUCOSE_TARGET


def urgent_reasons(f: VisitFacts) -> tuple[str, ...]:
    """The BPHS urgent-referral criteria this visit meets (empty when none), in a fixed order."""
    reasons: list[str] = []
    if f.disease == Disease.DIABETES and f.fasting_glucose is not None:
        if f.fasting_glucose >= URGENT_GLUCOSE_HIGH:
            reasons.append(URGENT_GLUCOSE_HIGH_REASON)
        if f.fasting_glucose <= URGENT_GLUCOSE_LOW:
            reasons.append(URGENT_GLUCOSE_LOW_REASON)
    # Both forms: SBP ≥ 180 and/or DBP ≥ 110.
    if f.sbp is not None and f.sbp >= URGENT_SBP:
        reasons.append(URGENT_SBP_REASON)
    if f.dbp is not None and f.dbp >= URGENT_DBP:
        reasons.append(URGENT_DBP_REASON)
    if f.disease == Disease.DIABETES:
        if f.heart_rate is not None and f.heart_rate > URGENT_HEART_RATE:
            reasons.append(URGENT_HEART_RATE_REASON)
        if f.temperature is not None and f.temperature > URGENT_TEMPERATURE:
            reasons.append(URGENT_TEMPERATURE_REASON)
    # Sorted so that the same visit always gives the same codes.
    for symptom in sorted(f.symptoms & URGENT_SYMPTOMS[f.disease]):
        reasons.append(f"{URGENT_SYMPTOM_PREFIX}{symptom}")
    if f.disease == Disease.HYPERTENSION and f.pregnant_or_lactating:
        reasons.append(PREGNANCY_REASON)
    return tuple(reasons)


def classify(f: VisitFacts) -> Classification:
    """Classify the visit, decide on referral and give the next follow-up date.

    Precedence: new or worse complication → COMPLICATION (refer); adverse reaction →
    ADVERSE_REACTION (refer when uncontrollable); target missed or unknown → UNCONTROLLED (refer when
    the previous visit was UNCONTROLLED too and this one measured a miss); else CONTROLLED.
    Any urgent criterion refers. Next date: CONTROLLED without referral → routine interval; a
    referral → the referral follow-up; anything else → the short interval.
    """
    urgent = urgent_reasons(f)
    reasons = list(urgent)
    met = target_met(f)

    if f.new_or_worse_complication:
        reasons.append(COMPLICATION_REASON)
    if f.adverse_reaction:
        reasons.append(ADVERSE_REACTION_REASON)
        if f.adverse_reaction_uncontrollable:
            reasons.append(ADVERSE_REACTION_UNCONTROLLABLE_REASON)
    if met is None:
        reasons.append(MISSING_MEASUREMENT_REASON)
    elif not met:
        reasons.append(BP_NOT_MET_REASON if f.disease == Disease.HYPERTENSION else GLUCOSE_NOT_MET_REASON)

    if f.new_or_worse_complication:
        visit_class = VisitClass.COMPLICATION
    elif f.adverse_reaction:
        visit_class = VisitClass.ADVERSE_REACTION
    elif met is not True:
        visit_class = VisitClass.UNCONTROLLED
    else:
        visit_class = VisitClass.CONTROLLED

    two_uncontrolled = met is False and f.previous_class == VisitClass.UNCONTROLLED
    if two_uncontrolled:
        reasons.append(TWO_UNCONTROLLED_REASON)

    refer = (
        bool(urgent)
        or f.new_or_worse_complication
        or (f.adverse_reaction and f.adverse_reaction_uncontrollable)
        or two_uncontrolled
    )

    if refer:
        interval = REFERRAL_FOLLOWUP_DAYS
    elif visit_class == VisitClass.CONTROLLED:
        interval = ROUTINE_INTERVAL_DAYS
    else:
        interval = SHORT_INTERVAL_DAYS

    return Classification(
        visit_class=visit_class,
        next_date=f.visit_date + timedelta(days=interval),
        refer=refer,
        urgent=bool(urgent),
        reasons=tuple(reasons),
    )
