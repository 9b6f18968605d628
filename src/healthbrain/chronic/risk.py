"""Cardiovascular risk tiers of a hypertensive patient (高血压患者心血管风险分层).

Source: Chinese Guidelines for the Management of Hypertension, 2018 revision (CHG 2018), table
"血压升高患者心血管风险水平分层": BP level (high-normal, grade 1, 2, 3) × other risk factors,
target-organ damage, CKD and diabetes, clinical complications (``shared/reference/chronic.md``).

The BP grades and the risk-factor definitions are not in :mod:`healthbrain.chronic.definitions`;
they are defined here, once, from CHG 2018.

Cells of the guideline table that give a range (中/高危, 高/很高危) or no tier (–) are module
constants, so a programme can change them; by default a range is placed in its higher tier (the
conservative choice) and "no risk factor × high-normal" is LOW.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final


class RiskTier(StrEnum):
    LOW = "low"  # 低危
    MEDIUM = "medium"  # 中危
    HIGH = "high"  # 高危
    VERY_HIGH = "very_high"  # 很高危


RISK_TIER_NAMES: Final[dict[RiskTier, tuple[str, str]]] = {
    RiskTier.LOW: ("低危", "Low risk"),
    RiskTier.MEDIUM: ("中危", "Medium risk"),
    RiskTier.HIGH: ("高危", "High risk"),
    RiskTier.VERY_HIGH: ("很高危", "Very high risk"),
}

# --- BP levels (CHG 2018, office BP, mmHg); the higher of systolic and diastolic decides ---------
HIGH_NORMAL_BP: Final = (130, 85)  # 正常高值 130–139 and/or 85–89
GRADE_1_BP: Final = (140, 90)  # 1级 140–159 and/or 90–99
GRADE_2_BP: Final = (160, 100)  # 2级 160–179 and/or 100–109
GRADE_3_BP: Final = (180, 110)  # 3级 ≥ 180 and/or ≥ 110

# bp_grade() values. Grades 1–3 are their own number and 0 is "below high-normal"; high-normal is
# -1 so that `grade >= 1` still means hypertension. Do not order grades by value: use BP_LEVEL_ORDER.
NORMAL_BP: Final = 0
HIGH_NORMAL: Final = -1
GRADE_1: Final = 1
GRADE_2: Final = 2
GRADE_3: Final = 3
BP_LEVEL_ORDER: Final[tuple[int, ...]] = (NORMAL_BP, HIGH_NORMAL, GRADE_1, GRADE_2, GRADE_3)
_LEVEL_LIMITS: Final = (
    (GRADE_3, GRADE_3_BP),
    (GRADE_2, GRADE_2_BP),
    (GRADE_1, GRADE_1_BP),
    (HIGH_NORMAL, HIGH_NORMAL_BP),
)

# --- risk factors (CHG 2018 "影响高血压患者心血管预后的重要因素") -------------------------------------
RISK_FACTOR_AGE_MALE: Final = 55  # men older than 55
RISK_FACTOR_AGE_FEMALE: Final = 65  # women older than 65
MANY_RISK_FACTORS: Final = 3  # "≥ 3 other risk factors" moves the patient to the third row
CKD_STAGE_ROW_3: Final = 3  # CKD stage 3 sits with target-organ damage
CKD_STAGE_ROW_4: Final = 4  # CKD stage ≥ 4 sits with clinical complications


class RiskRow(IntEnum):
    """Rows of the CHG 2018 table."""

    NO_RISK_FACTOR = 0  # 无其他危险因素
    FEW_RISK_FACTORS = 1  # 1–2 个其他危险因素
    TOD_CKD3_DIABETES = 2  # ≥ 3 个危险因素, 靶器官损害, CKD 3期, 无并发症的糖尿病
    CLINICAL = 3  # 临床并发症, CKD ≥ 4期, 有并发症的糖尿病


# The ambiguous cells. The guideline gives a range (or "–"); we name the tier chosen.
NO_RISK_FACTOR_HIGH_NORMAL: Final = RiskTier.LOW  # guideline "–": not stratified; we call it low
FEW_RISK_FACTORS_GRADE_2: Final = RiskTier.HIGH  # guideline 中/高危
TOD_HIGH_NORMAL: Final = RiskTier.HIGH  # guideline 中/高危
CLINICAL_HIGH_NORMAL: Final = RiskTier.VERY_HIGH  # guideline 高/很高危
AMBIGUOUS_CELLS: Final[frozenset[tuple[RiskRow, int]]] = frozenset(
    {
        (RiskRow.NO_RISK_FACTOR, HIGH_NORMAL),
        (RiskRow.FEW_RISK_FACTORS, GRADE_2),
        (RiskRow.TOD_CKD3_DIABETES, HIGH_NORMAL),
        (RiskRow.CLINICAL, HIGH_NORMAL),
    }
)

# Columns: high-normal, grade 1, grade 2, grade 3.
RISK_TABLE: Final[dict[RiskRow, dict[int, RiskTier]]] = {
    RiskRow.NO_RISK_FACTOR: {
        HIGH_NORMAL: NO_RISK_FACTOR_HIGH_NORMAL,
        GRADE_1: RiskTier.LOW,
        GRADE_2: RiskTier.MEDIUM,
        GRADE_3: RiskTier.HIGH,
    },
    RiskRow.FEW_RISK_FACTORS: {
        HIGH_NORMAL: RiskTier.LOW,
        GRADE_1: RiskTier.MEDIUM,
        GRADE_2: FEW_RISK_FACTORS_GRADE_2,
        GRADE_3: RiskTier.VERY_HIGH,
    },
    RiskRow.TOD_CKD3_DIABETES: {
        HIGH_NORMAL: TOD_HIGH_NORMAL,
        GRADE_1: RiskTier.HIGH,
        GRADE_2: RiskTier.HIGH,
        GRADE_3: RiskTier.VERY_HIGH,
    },
    RiskRow.CLINICAL: {
        HIGH_NORMAL: CLINICAL_HIGH_NORMAL,
        GRADE_1: RiskTier.VERY_HIGH,
        GRADE_2: RiskTier.VERY_HIGH,
        GRADE_3: RiskTier.VERY_HIGH,
    },
}

# Reason codes (machine codes for the caller to translate).
BP_LEVEL_CODES: Final[dict[int, str]] = {
    NORMAL_BP: "bp:normal",
    HIGH_NORMAL: "bp:high_normal",
    GRADE_1: "bp:grade_1",
    GRADE_2: "bp:grade_2",
    GRADE_3: "bp:grade_3",
}
BP_MISSING_REASON = "bp:missing"
BP_PARTIAL_REASON = "bp:partial"  # one of SBP/DBP missing: the grade is a lower bound
GUIDELINE_RANGE_REASON = "guideline_range"  # the cell was a range or "–"; the module constant chose


@dataclass(frozen=True, slots=True)
class RiskFacts:
    sbp: float | None  # the BP that grades (highest recent, or latest)
    dbp: float | None
    age: int
    male: bool
    smoking: bool = False
    impaired_glucose: bool = False  # IGT or impaired fasting glucose (6.1–6.9 mmol/L)
    dyslipidaemia: bool = False  # TC ≥ 5.2 or LDL-C ≥ 3.4 or HDL-C < 1.0 mmol/L
    family_history_premature_cvd: bool = False
    abdominal_obesity: bool = False  # waist ≥ 90 (men) / 85 (women) cm, or BMI ≥ 28
    high_homocysteine: bool = False  # ≥ 15 µmol/L
    # LVH, carotid IMT/plaque, eGFR 30–59 or mildly raised creatinine, UACR 30–300, ABI < 0.9, PWV
    target_organ_damage: bool = False
    ckd_stage: int | None = None  # 1–5
    diabetes: bool = False
    diabetes_with_complications: bool = False
    # stroke/TIA, coronary heart disease, heart failure, AF, peripheral artery disease, advanced retinopathy
    clinical_cvd: bool = False


# Lower limits, highest level first.
_SBP_LIMITS: Final = tuple((level, limits[0]) for level, limits in _LEVEL_LIMITS)
_DBP_LIMITS: Final = tuple((level, limits[1]) for level, limits in _LEVEL_LIMITS)


def _level(value: float, limits: tuple[tuple[int, int], ...]) -> int:
    for level, limit in limits:
        if value >= limit:
            return level
    return NORMAL_BP


def bp_grade(sbp: float | None, dbp: float | None) -> int:
    """The CHG 2018 BP level: NORMAL_BP (0), HIGH_NORMAL (-1), GRADE_1..GRADE_3 (1–3).

    The higher of the systolic and diastolic levels decides; with one value missing the other
    decides (a lower bound). Raises ValueError when both are missing.
    """
    if sbp is None and dbp is None:
        raise ValueError("bp_grade needs a systolic or a diastolic value")
    levels = [_level(v, limits) for v, limits in ((sbp, _SBP_LIMITS), (dbp, _DBP_LIMITS)) if v is not None]
    return max(levels, key=BP_LEVEL_ORDER.index)


def _risk_factors(f: RiskFacts) -> list[str]:
    age_limit = RISK_FACTOR_AGE_MALE if f.male else RISK_FACTOR_AGE_FEMALE
    present = {
        "rf:age": f.age > age_limit,
        "rf:smoking": f.smoking,
        "rf:impaired_glucose": f.impaired_glucose,
        "rf:dyslipidaemia": f.dyslipidaemia,
        "rf:family_history": f.family_history_premature_cvd,
        "rf:abdominal_obesity": f.abdominal_obesity,
        "rf:homocysteine": f.high_homocysteine,
    }
    return [code for code, yes in present.items() if yes]


def risk_factor_count(f: RiskFacts) -> int:
    """The number of "other" CHG 2018 risk factors: age (men > 55, women > 65), smoking, impaired
    glucose tolerance or fasting glucose, dyslipidaemia, family history of premature CVD, abdominal
    obesity, raised homocysteine."""
    return len(_risk_factors(f))


def _row(f: RiskFacts) -> tuple[RiskRow, list[str]]:
    if f.ckd_stage is not None and not 1 <= f.ckd_stage <= 5:
        raise ValueError(f"ckd_stage must be 1–5, got {f.ckd_stage}")
    clinical = [
        code
        for code, yes in (
            ("clinical_cvd", f.clinical_cvd),
            ("ckd_stage_4_plus", f.ckd_stage is not None and f.ckd_stage >= CKD_STAGE_ROW_4),
            ("diabetes_with_complications", f.diabetes_with_complications),
        )
        if yes
    ]
    if clinical:
        return RiskRow.CLINICAL, clinical
    count = risk_factor_count(f)
    # CKD stages 1–2 do not move the row by themselves (their albuminuria is target-organ damage).
    third = [
        code
        for code, yes in (
            ("risk_factors_3_plus", count >= MANY_RISK_FACTORS),
            ("target_organ_damage", f.target_organ_damage),
            ("ckd_stage_3", f.ckd_stage == CKD_STAGE_ROW_3),
            ("diabetes", f.diabetes),
        )
        if yes
    ]
    if third:
        return RiskRow.TOD_CKD3_DIABETES, third
    return (RiskRow.FEW_RISK_FACTORS if count else RiskRow.NO_RISK_FACTOR), []


def risk_tier(f: RiskFacts) -> tuple[RiskTier | None, tuple[str, ...]]:
    """The CHG 2018 risk tier and the reasons (machine codes) that placed it.

    None when there is no BP at all (``bp:missing``) or the BP is below high-normal (``bp:normal``):
    the table has no column for them. Reasons: the BP level, ``bp:partial`` when one value is
    missing, each risk factor present (``rf:…``), what chose the row (e.g. ``target_organ_damage``),
    and ``guideline_range`` when the cell was a range the module constants resolved.
    """
    if f.sbp is None and f.dbp is None:
        return None, (BP_MISSING_REASON,)
    grade = bp_grade(f.sbp, f.dbp)
    reasons = [BP_LEVEL_CODES[grade]]
    if f.sbp is None or f.dbp is None:
        reasons.append(BP_PARTIAL_REASON)
    if grade == NORMAL_BP:
        return None, tuple(reasons)
    row, drivers = _row(f)
    reasons.extend(_risk_factors(f))
    reasons.extend(drivers)
    if (row, grade) in AMBIGUOUS_CELLS:
        reasons.append(GUIDELINE_RANGE_REASON)
    return RISK_TABLE[row][grade], tuple(reasons)
