"""CHG 2018 cardiovascular risk tiers: BP grade × risk factors, organ damage, CKD, diabetes, CVD."""

from __future__ import annotations

from typing import Any

import pytest

from healthbrain.chronic.risk import (
    BP_LEVEL_ORDER,
    GRADE_1,
    GRADE_2,
    GRADE_3,
    HIGH_NORMAL,
    NORMAL_BP,
    RISK_TABLE,
    RISK_TIER_NAMES,
    RiskFacts,
    RiskRow,
    RiskTier,
    bp_grade,
    risk_factor_count,
    risk_tier,
)

LOW, MEDIUM, HIGH, VERY_HIGH = RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.VERY_HIGH
# One BP per column of the guideline table.
BP = {HIGH_NORMAL: (132, 80), GRADE_1: (145, 85), GRADE_2: (165, 95), GRADE_3: (185, 95)}


def facts(column: int | tuple[float | None, float | None], **extra: Any) -> RiskFacts:
    """A 40-year-old man with no risk factor unless told otherwise."""
    sbp, dbp = BP[column] if isinstance(column, int) else column
    return RiskFacts(sbp=sbp, dbp=dbp, age=extra.pop("age", 40), male=extra.pop("male", True), **extra)


@pytest.mark.parametrize(
    ("sbp", "dbp", "grade"),
    [
        (129, 84, NORMAL_BP),
        (130, 70, HIGH_NORMAL),
        (120, 85, HIGH_NORMAL),
        (139, 89, HIGH_NORMAL),
        (140, 80, GRADE_1),
        (120, 90, GRADE_1),
        (159, 99, GRADE_1),
        (160, 80, GRADE_2),
        (135, 100, GRADE_2),  # the higher of the two decides
        (179, 109, GRADE_2),
        (180, 70, GRADE_3),
        (120, 110, GRADE_3),
        (150, None, GRADE_1),  # one value: it decides
        (None, 87, HIGH_NORMAL),
        (None, 80, NORMAL_BP),
    ],
)
def test_bp_grade(sbp: float | None, dbp: float | None, grade: int) -> None:
    assert bp_grade(sbp, dbp) == grade


def test_bp_grade_needs_a_value() -> None:
    with pytest.raises(ValueError):
        bp_grade(None, None)


def test_high_normal_is_not_hypertension() -> None:
    """`grade >= 1` means hypertension; BP_LEVEL_ORDER orders the levels."""
    high_normal, normal = bp_grade(135, 85), bp_grade(120, 80)
    assert high_normal < GRADE_1 and high_normal != normal
    assert BP_LEVEL_ORDER.index(NORMAL_BP) < BP_LEVEL_ORDER.index(HIGH_NORMAL) < BP_LEVEL_ORDER.index(GRADE_1)


@pytest.mark.parametrize(
    ("age", "male", "count"),
    [(55, True, 0), (56, True, 1), (65, False, 0), (66, False, 1), (60, False, 0)],
)
def test_age_as_risk_factor(age: int, male: bool, count: int) -> None:
    assert risk_factor_count(facts(GRADE_1, age=age, male=male)) == count


def test_every_risk_factor_counts() -> None:
    every = facts(
        GRADE_1,
        age=70,
        smoking=True,
        impaired_glucose=True,
        dyslipidaemia=True,
        family_history_premature_cvd=True,
        abdominal_obesity=True,
        high_homocysteine=True,
    )
    assert risk_factor_count(every) == 7
    # Organ damage, CKD, diabetes and CVD choose the row; they are not counted as risk factors.
    assert risk_factor_count(facts(GRADE_1, target_organ_damage=True, diabetes=True, clinical_cvd=True)) == 0


TWO_RF = {"smoking": True, "dyslipidaemia": True}
THREE_RF = {"smoking": True, "dyslipidaemia": True, "abdominal_obesity": True}


@pytest.mark.parametrize(
    ("column", "extra", "tier"),
    [
        # no other risk factor
        (HIGH_NORMAL, {}, LOW),  # guideline "–": our choice
        (GRADE_1, {}, LOW),
        (GRADE_2, {}, MEDIUM),
        (GRADE_3, {}, HIGH),
        # 1–2 risk factors
        (HIGH_NORMAL, {"smoking": True}, LOW),
        (GRADE_1, {"smoking": True}, MEDIUM),
        (GRADE_1, TWO_RF, MEDIUM),
        (GRADE_2, TWO_RF, HIGH),  # guideline 中/高危: the higher tier
        (GRADE_3, {"age": 56}, VERY_HIGH),
        # ≥ 3 risk factors, target-organ damage, CKD 3, uncomplicated diabetes
        (HIGH_NORMAL, THREE_RF, HIGH),  # guideline 中/高危
        (GRADE_1, THREE_RF, HIGH),
        (GRADE_1, {"target_organ_damage": True}, HIGH),
        (GRADE_2, {"ckd_stage": 3}, HIGH),
        (GRADE_2, {"diabetes": True}, HIGH),
        (GRADE_3, {"diabetes": True}, VERY_HIGH),
        (GRADE_1, {"ckd_stage": 2}, LOW),  # CKD 1–2 alone does not move the row
        # clinical CVD, CKD ≥ 4, diabetes with complications
        (HIGH_NORMAL, {"clinical_cvd": True}, VERY_HIGH),  # guideline 高/很高危
        (GRADE_1, {"clinical_cvd": True}, VERY_HIGH),
        (GRADE_1, {"ckd_stage": 4}, VERY_HIGH),
        (GRADE_2, {"ckd_stage": 5}, VERY_HIGH),
        (GRADE_1, {"diabetes": True, "diabetes_with_complications": True}, VERY_HIGH),
        (GRADE_1, {"diabetes_with_complications": True}, VERY_HIGH),  # complications imply diabetes
        (GRADE_3, {"clinical_cvd": True, **THREE_RF}, VERY_HIGH),
    ],
)
def test_risk_tier(column: int, extra: dict[str, Any], tier: RiskTier) -> None:
    assert risk_tier(facts(column, **extra))[0] == tier


@pytest.mark.parametrize(
    ("bp", "extra", "tier", "reasons"),
    [
        ((None, None), {"clinical_cvd": True}, None, ("bp:missing",)),
        ((120, 80), {"clinical_cvd": True}, None, ("bp:normal",)),
        ((None, 80), {}, None, ("bp:normal", "bp:partial")),
        ((150, None), {}, LOW, ("bp:grade_1", "bp:partial")),
        ((145, 85), {"age": 60, "smoking": True}, MEDIUM, ("bp:grade_1", "rf:age", "rf:smoking")),
        ((165, 95), TWO_RF, HIGH, ("bp:grade_2", "rf:smoking", "rf:dyslipidaemia", "guideline_range")),
        (
            (132, 80),
            {**THREE_RF, "target_organ_damage": True},
            HIGH,
            (
                "bp:high_normal",
                "rf:smoking",
                "rf:dyslipidaemia",
                "rf:abdominal_obesity",
                "risk_factors_3_plus",
                "target_organ_damage",
                "guideline_range",
            ),
        ),
        ((185, 95), {"ckd_stage": 4, "diabetes": True}, VERY_HIGH, ("bp:grade_3", "ckd_stage_4_plus")),
        ((132, 80), {}, LOW, ("bp:high_normal", "guideline_range")),
    ],
)
def test_risk_reasons(
    bp: tuple[float | None, float | None], extra: dict[str, Any], tier: RiskTier | None, reasons: tuple[str, ...]
) -> None:
    assert risk_tier(facts(bp, **extra)) == (tier, reasons)


@pytest.mark.parametrize("stage", [0, 6])
def test_ckd_stage_out_of_range(stage: int) -> None:
    with pytest.raises(ValueError):
        risk_tier(facts(GRADE_1, ckd_stage=stage))


def test_table_is_complete_and_monotonic() -> None:
    """Every row has every column, and risk never falls as BP or the row rises."""
    order = list(RiskTier)
    columns = (HIGH_NORMAL, GRADE_1, GRADE_2, GRADE_3)
    for row in RiskRow:
        tiers = [order.index(RISK_TABLE[row][c]) for c in columns]
        assert tiers == sorted(tiers)
    for column in columns:
        tiers = [order.index(RISK_TABLE[row][column]) for row in RiskRow]
        assert tiers == sorted(tiers)
    assert set(RISK_TIER_NAMES) == set(RiskTier)
    assert RISK_TIER_NAMES[VERY_HIGH][0] == "很高危"
