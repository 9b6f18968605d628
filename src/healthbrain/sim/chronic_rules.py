"""The chronic-disease rules the simulator applies to millions of rows, over arrays: the BPHS
visit classification (:func:`healthbrain.chronic.classify.classify`), the CHG 2018 risk tier
(:func:`healthbrain.chronic.risk.risk_tier`) and completed years of age
(:func:`healthbrain.core.time.age_on`). Each gives what the scalar function gives, row by row
(the simulator's tests check them against it); the thresholds are the domain's own constants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from healthbrain.chronic import classify as rules
from healthbrain.chronic.definitions import (
    BP_TARGET,
    BP_TARGET_ELDERLY,
    ELDERLY_AGE,
    FASTING_GLUCOSE_TARGET,
    REFERRAL_FOLLOWUP_DAYS,
    ROUTINE_INTERVAL_DAYS,
    SHORT_INTERVAL_DAYS,
    URGENT_DBP,
    URGENT_GLUCOSE_HIGH,
    URGENT_GLUCOSE_LOW,
    URGENT_HEART_RATE,
    URGENT_SBP,
    VisitClass,
)
from healthbrain.chronic.risk import (
    _DBP_LIMITS,
    _SBP_LIMITS,
    BP_LEVEL_ORDER,
    MANY_RISK_FACTORS,
    RISK_FACTOR_AGE_FEMALE,
    RISK_FACTOR_AGE_MALE,
    RISK_TABLE,
    RiskRow,
)

VISIT_CLASSES: Final = (
    VisitClass.CONTROLLED,
    VisitClass.UNCONTROLLED,
    VisitClass.ADVERSE_REACTION,
    VisitClass.COMPLICATION,
)
CONTROLLED, UNCONTROLLED, ADVERSE, COMPLICATION = range(4)

# Reason bits, in the order classify() lists the reasons.
_R_GLUCOSE_HIGH, _R_GLUCOSE_LOW, _R_SBP, _R_DBP, _R_HEART_RATE, _R_SYMPTOM, _R_PREGNANCY = range(7)
_R_COMPLICATION, _R_ADVERSE, _R_UNCONTROLLABLE, _R_MISSING, _R_NOT_MET, _R_TWO = range(7, 13)


@dataclass
class Classes:
    """The verdicts of :func:`healthbrain.chronic.classify.classify`, over arrays."""

    visit_class: np.ndarray  # index into VISIT_CLASSES
    refer: np.ndarray
    urgent: np.ndarray
    reasons: np.ndarray  # bit mask of the reasons (see reason_list)
    next_date: np.ndarray  # datetime64[D]


def classify_arrays(
    *,
    hypertension: np.ndarray,
    visit_date: np.ndarray,
    age: np.ndarray,
    sbp: np.ndarray,
    dbp: np.ndarray,
    heart_rate: np.ndarray,
    glucose: np.ndarray,
    urgent_symptom: np.ndarray,
    adverse: np.ndarray,
    uncontrollable: np.ndarray,
    complication: np.ndarray,
    pregnant: np.ndarray,
    previous_uncontrolled: np.ndarray,
) -> Classes:
    """``classify`` over arrays (NaN for a missing value; temperature is never recorded here).
    ``urgent_symptom``: the form has a symptom that is urgent for its disease."""
    dm = ~hypertension
    with np.errstate(invalid="ignore"):
        bits = [
            dm & (glucose >= URGENT_GLUCOSE_HIGH),
            dm & (glucose <= URGENT_GLUCOSE_LOW),
            sbp >= URGENT_SBP,
            dbp >= URGENT_DBP,
            dm & (heart_rate > URGENT_HEART_RATE),
            urgent_symptom.astype(bool),
            hypertension & pregnant,
        ]
        urgent = np.logical_or.reduce(bits)
        elderly = age >= ELDERLY_AGE
        target_sbp = np.where(elderly, BP_TARGET_ELDERLY[0], BP_TARGET[0])
        target_dbp = np.where(elderly, BP_TARGET_ELDERLY[1], BP_TARGET[1])
        bp_missed = (sbp >= target_sbp) | (dbp >= target_dbp)
        bp_known = ~np.isnan(sbp) & ~np.isnan(dbp)
        has_glucose = ~np.isnan(glucose)
        met_false = np.where(hypertension, bp_missed, has_glucose & (glucose >= FASTING_GLUCOSE_TARGET))
        met_true = np.where(hypertension, bp_known & ~bp_missed, has_glucose & (glucose < FASTING_GLUCOSE_TARGET))
    missing = ~met_false & ~met_true
    adverse_uncontrollable = adverse & uncontrollable
    two = met_false & previous_uncontrolled
    bits += [complication, adverse, adverse_uncontrollable, missing, met_false, two]
    mask = np.zeros(len(sbp), dtype=np.int64)
    for k, bit in enumerate(bits):
        mask |= bit.astype(np.int64) << k
    visit_class = np.where(
        complication, COMPLICATION, np.where(adverse, ADVERSE, np.where(met_true, CONTROLLED, UNCONTROLLED))
    )
    refer = urgent | complication | adverse_uncontrollable | two
    interval = np.where(
        refer, REFERRAL_FOLLOWUP_DAYS, np.where(visit_class == CONTROLLED, ROUTINE_INTERVAL_DAYS, SHORT_INTERVAL_DAYS)
    )
    next_date = visit_date.astype("datetime64[D]") + interval.astype("timedelta64[D]")
    return Classes(visit_class, refer, urgent, mask, next_date)


def reason_list(mask: int, symptom: str | None, hypertension: bool) -> list[str]:
    """The reason codes of a form, in the order ``classify`` gives them."""
    names: list[tuple[int, str]] = [
        (_R_GLUCOSE_HIGH, rules.URGENT_GLUCOSE_HIGH_REASON),
        (_R_GLUCOSE_LOW, rules.URGENT_GLUCOSE_LOW_REASON),
        (_R_SBP, rules.URGENT_SBP_REASON),
        (_R_DBP, rules.URGENT_DBP_REASON),
        (_R_HEART_RATE, rules.URGENT_HEART_RATE_REASON),
        (_R_SYMPTOM, f"{rules.URGENT_SYMPTOM_PREFIX}{symptom}"),
        (_R_PREGNANCY, rules.PREGNANCY_REASON),
        (_R_COMPLICATION, rules.COMPLICATION_REASON),
        (_R_ADVERSE, rules.ADVERSE_REACTION_REASON),
        (_R_UNCONTROLLABLE, rules.ADVERSE_REACTION_UNCONTROLLABLE_REASON),
        (_R_MISSING, rules.MISSING_MEASUREMENT_REASON),
        (_R_NOT_MET, rules.BP_NOT_MET_REASON if hypertension else rules.GLUCOSE_NOT_MET_REASON),
        (_R_TWO, rules.TWO_UNCONTROLLED_REASON),
    ]
    return [name for bit, name in names if mask >> bit & 1]


def risk_tiers(
    *,
    sbp: np.ndarray,
    dbp: np.ndarray,
    age: np.ndarray,
    male: np.ndarray,
    smoking: np.ndarray,
    impaired_glucose: np.ndarray,
    dyslipidaemia: np.ndarray,
    abdominal_obesity: np.ndarray,
    ckd_stage: np.ndarray,  # 0 for none
    diabetes: np.ndarray,
    diabetes_with_complications: np.ndarray,
    clinical_cvd: np.ndarray,
    family_history: np.ndarray | None = None,
    high_homocysteine: np.ndarray | None = None,
    target_organ_damage: np.ndarray | None = None,
) -> np.ndarray:
    """``chronic.risk.risk_tier`` over arrays: the tier's value per patient, None where the table
    has no column (no BP, or BP below high-normal)."""
    none = np.zeros(len(sbp), dtype=bool)
    family_history = none if family_history is None else family_history
    high_homocysteine = none if high_homocysteine is None else high_homocysteine
    target_organ_damage = none if target_organ_damage is None else target_organ_damage

    def level_rank(values: np.ndarray, limits: tuple[tuple[int, int], ...]) -> np.ndarray:
        rank = np.where(np.isnan(values), -1, BP_LEVEL_ORDER.index(0))
        with np.errstate(invalid="ignore"):
            for level, limit in reversed(limits):  # lowest limit first, so higher levels win
                rank = np.where(values >= limit, BP_LEVEL_ORDER.index(level), rank)
        return rank

    grade = np.maximum(level_rank(sbp, _SBP_LIMITS), level_rank(dbp, _DBP_LIMITS))
    count = (
        np.where(male, age > RISK_FACTOR_AGE_MALE, age > RISK_FACTOR_AGE_FEMALE).astype(int)
        + smoking
        + impaired_glucose
        + dyslipidaemia
        + family_history
        + abdominal_obesity
        + high_homocysteine
    )
    clinical = clinical_cvd | (ckd_stage >= 4) | diabetes_with_complications
    third = (count >= MANY_RISK_FACTORS) | target_organ_damage | (ckd_stage == 3) | diabetes
    row = np.where(
        clinical,
        RiskRow.CLINICAL,
        np.where(
            third, RiskRow.TOD_CKD3_DIABETES, np.where(count > 0, RiskRow.FEW_RISK_FACTORS, RiskRow.NO_RISK_FACTOR)
        ),
    )
    table = np.full((len(RiskRow), len(BP_LEVEL_ORDER)), None, dtype=object)
    for r, cells in RISK_TABLE.items():
        for level, tier in cells.items():
            table[int(r), BP_LEVEL_ORDER.index(level)] = tier.value
    # Column 0 (below high-normal) holds None, where -1 (no BP) lands too.
    out: np.ndarray = table[row, np.clip(grade, 0, None)]
    return out


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]")
    return years, months.astype(np.int64) % 12 + 1, (days - months.astype("datetime64[D]")).astype(np.int64) + 1


def age_on(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    """``core.time.age_on`` over arrays of dates (completed years)."""
    by, bm, bd = _ymd(birth.astype("datetime64[D]"))
    oy, om, od = _ymd(on.astype("datetime64[D]"))
    before_birthday = (om < bm) | ((om == bm) & (od < bd))
    ages: np.ndarray = oy - by - before_birthday
    return ages
