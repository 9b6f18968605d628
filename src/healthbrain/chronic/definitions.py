"""Chronic-disease definitions (两慢病: hypertension and type-2 diabetes), defined once with sources.

Sources (``shared/reference/chronic.md``):
- BPHS: National Basic Public Health Service Standard, 3rd edition (2017), hypertension and type-2
  diabetes patient health management (高血压/2型糖尿病患者健康管理服务规范).
- CHG 2018: Chinese Guidelines for the Management of Hypertension, 2018 revision.
- CDS 2020: Chinese Diabetes Society, Guideline for the prevention and treatment of type 2 diabetes
  mellitus in China, 2020 edition.
- HEARTS: WHO HEARTS / Simple (simple.org) monthly cohort definitions.
Where the reference marks a value "to confirm", the comment says so; every such value is a named
constant here, so it is changed in one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Disease(StrEnum):
    HYPERTENSION = "htn"  # 高血压 (primary)
    DIABETES = "t2dm"  # 2型糖尿病


DISEASE_NAMES: Final[dict[Disease, tuple[str, str]]] = {
    Disease.HYPERTENSION: ("高血压", "Hypertension"),
    Disease.DIABETES: ("2型糖尿病", "Type 2 diabetes"),
}

# ICD-10 prefixes that make a resident a candidate (records.codes holds the groups).
DISEASE_ICD10: Final[dict[Disease, tuple[str, ...]]] = {
    Disease.HYPERTENSION: ("I10", "I11", "I12", "I13", "I15"),
    Disease.DIABETES: ("E11", "E14"),
}

# --- who -----------------------------------------------------------------------------------------
ENROL_MIN_AGE: Final = 35  # BPHS: residents aged 35 and over


class EnrolmentStatus(StrEnum):
    PROPOSED = "proposed"  # found in the record, waiting for the family doctor (待入径)
    ENROLLED = "enrolled"  # under management (在管)
    DECLINED = "declined"  # the doctor found the proposal wrong (not this disease / not eligible)
    ENDED = "ended"  # end of management (结案)


class EndReason(StrEnum):
    DIED = "died"  # 死亡
    MOVED = "moved"  # 迁出
    LOST = "lost"  # 失访
    REFUSED = "refused"  # 拒绝管理


# --- how often -----------------------------------------------------------------------------------
FOLLOWUPS_PER_YEAR: Final = 4  # BPHS: at least 4 face-to-face follow-ups a year
FOLLOWUP_MAX_GAP_DAYS: Final = 90  # BPHS: at least one every 90 days counts as "to standard"
ROUTINE_INTERVAL_DAYS: Final = 90  # BPHS: controlled → next routine (quarterly) visit
SHORT_INTERVAL_DAYS: Final = 14  # BPHS: not controlled / adverse reaction → within 2 weeks
REFERRAL_FOLLOWUP_DAYS: Final = 14  # BPHS: a referral is followed up within 2 weeks
DUE_SOON_DAYS: Final = 7  # the worklist shows follow-ups due within a week


# --- targets at a follow-up ----------------------------------------------------------------------
BP_TARGET: Final = (140, 90)  # BPHS: controlled below 140/90 mmHg
BP_TARGET_ELDERLY: Final = (150, 90)  # BPHS indicator for ≥ 65 years (reference: "to confirm")
ELDERLY_AGE: Final = 65
FASTING_GLUCOSE_TARGET: Final = 7.0  # BPHS: fasting glucose < 7.0 mmol/L
HBA1C_TARGET: Final = 7.0  # CDS 2020: HbA1c < 7 %
BP_TARGET_DIABETES_GUIDELINE: Final = (130, 80)  # CDS 2020 / CHG 2018 (if tolerated) — shown, not graded


def bp_target(age: int) -> tuple[int, int]:
    """The BPHS follow-up target (systolic, diastolic) for a patient of this age."""
    return BP_TARGET_ELDERLY if age >= ELDERLY_AGE else BP_TARGET


# --- urgent referral (BPHS) ------------------------------------------------------------------------
URGENT_SBP: Final = 180  # SBP ≥ 180 and/or
URGENT_DBP: Final = 110  # DBP ≥ 110
URGENT_GLUCOSE_HIGH: Final = 16.7  # mmol/L, ≥ (diabetes)
URGENT_GLUCOSE_LOW: Final = 3.9  # mmol/L, ≤ (diabetes)
URGENT_HEART_RATE: Final = 100  # /min, persistently above (diabetes)
URGENT_TEMPERATURE: Final = 39.0  # ℃, above (diabetes)


class Symptom(StrEnum):
    """Symptoms on the BPHS follow-up forms; the urgent ones (per disease) are listed below."""

    NONE = "none"  # 无症状
    HEADACHE_DIZZINESS = "headache_dizziness"  # 头痛头晕 (severe)
    NAUSEA_VOMITING = "nausea_vomiting"  # 恶心呕吐
    BLURRED_VISION = "blurred_vision"  # 眼花耳鸣 / 视物模糊
    EYE_PAIN = "eye_pain"  # 眼痛
    PALPITATIONS = "palpitations"  # 心悸胸闷
    CHEST_TIGHTNESS = "chest_tightness"  # 胸闷
    ORTHOPNOEA = "orthopnoea"  # 呼吸困难不能平卧
    ALTERED_CONSCIOUSNESS = "altered_consciousness"  # 意识或行为改变
    KETOTIC_BREATH = "ketotic_breath"  # 呼气有烂苹果样丙酮味
    DEEP_BREATHING = "deep_breathing"  # 深大呼吸
    SUDDEN_VISION_LOSS = "sudden_vision_loss"  # 视力突然骤降
    POLYURIA_POLYDIPSIA = "polyuria_polydipsia"  # 多饮多尿 (not urgent on its own)
    NUMBNESS = "numbness"  # 手脚麻木 (not urgent on its own)
    OEDEMA = "oedema"  # 下肢浮肿 (not urgent on its own)


URGENT_SYMPTOMS: Final[dict[Disease, frozenset[Symptom]]] = {
    Disease.HYPERTENSION: frozenset(
        {
            Symptom.ALTERED_CONSCIOUSNESS,
            Symptom.HEADACHE_DIZZINESS,
            Symptom.NAUSEA_VOMITING,
            Symptom.BLURRED_VISION,
            Symptom.EYE_PAIN,
            Symptom.PALPITATIONS,
            Symptom.CHEST_TIGHTNESS,
            Symptom.ORTHOPNOEA,
        }
    ),
    Disease.DIABETES: frozenset(
        {
            Symptom.ALTERED_CONSCIOUSNESS,
            Symptom.KETOTIC_BREATH,
            Symptom.DEEP_BREATHING,
            Symptom.SUDDEN_VISION_LOSS,
        }
    ),
}


class Adherence(StrEnum):
    REGULAR = "regular"  # 规律
    INTERMITTENT = "intermittent"  # 间断
    NONE = "none"  # 不服药


class VisitClass(StrEnum):
    """BPHS classification of a follow-up (此次随访分类)."""

    CONTROLLED = "controlled"  # 控制满意
    UNCONTROLLED = "uncontrolled"  # 控制不满意
    ADVERSE_REACTION = "adverse_reaction"  # 不良反应
    COMPLICATION = "complication"  # 并发症


class VisitMethod(StrEnum):
    CLINIC = "clinic"  # 门诊
    HOME = "home"  # 家庭
    PHONE = "phone"  # 电话 (does not count as face-to-face)


FACE_TO_FACE: Final = frozenset({VisitMethod.CLINIC, VisitMethod.HOME})


# --- home monitoring ------------------------------------------------------------------------------
class ReadingKind(StrEnum):
    BP = "bp"  # systolic / diastolic (/ heart rate)
    GLUCOSE = "glucose"  # capillary glucose, mmol/L


# Plausibility: outside these a reading is rejected and kept with its reason
# (reference table "Home monitoring"; the glucose range is marked "to confirm").
PLAUSIBLE_SBP: Final = (70, 300)
PLAUSIBLE_DBP: Final = (40, 180)
PLAUSIBLE_HEART_RATE: Final = (25, 250)  # a pulse outside this is a device fault (house choice)
PLAUSIBLE_GLUCOSE: Final = (1.0, 35.0)  # mmol/L (to confirm)
READING_MAX_FUTURE_MINUTES: Final = 10  # device clocks drift; further ahead is refused
READING_MAX_AGE_DAYS: Final = 365  # an older reading is a device replaying its memory wrongly

# A critical reading puts an alert on the family doctor's worklist at once.
CRITICAL_SBP: Final = 180
CRITICAL_DBP: Final = 110
CRITICAL_GLUCOSE_HIGH: Final = 16.7
CRITICAL_GLUCOSE_LOW: Final = 3.9
# A critical reading measured longer ago than this (a device emptying its memory after days
# offline) is stored and flagged, but opens no worklist alert (house choice).
ALERT_WINDOW_HOURS: Final = 72

# Home blood pressure (CHG 2018): mean ≥ 135/85 is hypertensive; the "722" protocol — 7 days,
# twice a day (morning and evening), 2 readings each time; drop day 1, average the rest; at least
# 4 valid days.
HOME_BP_THRESHOLD: Final = (135, 85)
PROTOCOL_722_DAYS: Final = 7
PROTOCOL_722_MIN_DAYS: Final = 4
MORNING_HOURS: Final = (4, 12)  # local time: a reading in [4, 12) is a morning reading
EVENING_HOURS: Final = (17, 24)  # [17, 24) evening; readings at other times count for neither

DEVICE_SILENT_DAYS: Final = 3  # a bound device with nothing for this long is "silent" (house choice)

# --- worklist ----------------------------------------------------------------------------------------
SNOOZE_AGREED_TO_VISIT_DAYS: Final = 7  # Simple: "agreed to visit" hides the patient for 7 days
SNOOZE_REMIND_LATER_DAYS: Final = 30  # Simple: "remind later" hides for 30 days

# --- indicators ------------------------------------------------------------------------------------------
HEARTS_REGISTERED_MONTHS: Final = 3  # cohort: registered more than 3 months ago
HEARTS_LOST_MONTHS: Final = 12  # lost to follow-up: no BP in 12 months
HEARTS_VISIT_MONTHS: Final = 3  # controlled / missed visit look back 3 months
HEARTS_CONTROLLED: Final = (140, 90)
