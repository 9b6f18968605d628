"""BPHS follow-up classification: targets, urgent referral, precedence, referral and next date."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any, cast

import pytest

from healthbrain.chronic.classify import VisitFacts, classify, target_met, urgent_reasons
from healthbrain.chronic.definitions import (
    REFERRAL_FOLLOWUP_DAYS,
    ROUTINE_INTERVAL_DAYS,
    SHORT_INTERVAL_DAYS,
    Disease,
    Symptom,
    VisitClass,
)

VISIT = date(2025, 3, 3)
C, U, A, X = VisitClass.CONTROLLED, VisitClass.UNCONTROLLED, VisitClass.ADVERSE_REACTION, VisitClass.COMPLICATION
ROUTINE, SHORT, REFERRAL = ROUTINE_INTERVAL_DAYS, SHORT_INTERVAL_DAYS, REFERRAL_FOLLOWUP_DAYS


def htn(sbp: float | None = 130, dbp: float | None = 80, *, age: int = 50, **extra: Any) -> VisitFacts:
    """A hypertension follow-up; controlled unless told otherwise."""
    return VisitFacts(Disease.HYPERTENSION, VISIT, age, sbp=sbp, dbp=dbp, **extra)


def dm(glucose: float | None = 6.0, *, sbp: float | None = 130, dbp: float | None = 80, **extra: Any) -> VisitFacts:
    """A diabetes follow-up; controlled unless told otherwise."""
    return VisitFacts(Disease.DIABETES, VISIT, 55, sbp=sbp, dbp=dbp, fasting_glucose=glucose, **extra)


CASES = [
    # --- hypertension: the target, strictly below both values --------------------------------------
    pytest.param(htn(139, 89), C, False, False, ROUTINE, (), id="htn-139/89-controlled"),
    pytest.param(htn(140, 89), U, False, False, SHORT, ("bp_not_met",), id="htn-140/89-not"),
    pytest.param(htn(139, 90), U, False, False, SHORT, ("bp_not_met",), id="htn-139/90-not"),
    pytest.param(htn(149, 89, age=65), C, False, False, ROUTINE, (), id="htn-65y-149/89-controlled"),
    pytest.param(htn(150, 89, age=65), U, False, False, SHORT, ("bp_not_met",), id="htn-65y-150/89-not"),
    pytest.param(htn(149, 90, age=65), U, False, False, SHORT, ("bp_not_met",), id="htn-65y-149/90-not"),
    pytest.param(htn(149, 89, age=64), U, False, False, SHORT, ("bp_not_met",), id="htn-64y-149/89-not"),
    # --- hypertension: urgent referral ------------------------------------------------------------
    pytest.param(htn(179, 109), U, False, False, SHORT, ("bp_not_met",), id="htn-179/109-not-urgent"),
    pytest.param(htn(180, 100), U, True, True, REFERRAL, ("urgent_sbp", "bp_not_met"), id="htn-sbp-180-urgent"),
    pytest.param(htn(150, 110), U, True, True, REFERRAL, ("urgent_dbp", "bp_not_met"), id="htn-dbp-110-urgent"),
    pytest.param(
        htn(185, 115), U, True, True, REFERRAL, ("urgent_sbp", "urgent_dbp", "bp_not_met"), id="htn-both-urgent"
    ),
    pytest.param(
        htn(symptoms=frozenset({Symptom.EYE_PAIN})),
        C,
        True,
        True,
        REFERRAL,
        ("urgent_symptom:eye_pain",),
        id="htn-eye-pain-urgent-though-controlled",
    ),
    pytest.param(
        htn(symptoms=frozenset({Symptom.PALPITATIONS, Symptom.BLURRED_VISION, Symptom.NONE})),
        C,
        True,
        True,
        REFERRAL,
        ("urgent_symptom:blurred_vision", "urgent_symptom:palpitations"),
        id="htn-symptoms-sorted",
    ),
    pytest.param(
        htn(symptoms=frozenset({Symptom.NUMBNESS, Symptom.KETOTIC_BREATH})),
        C,
        False,
        False,
        ROUTINE,
        (),
        id="htn-non-urgent-symptoms",
    ),
    pytest.param(htn(pregnant_or_lactating=True), C, True, True, REFERRAL, ("pregnancy",), id="htn-pregnancy"),
    pytest.param(
        htn(fasting_glucose=20.0, heart_rate=120, temperature=39.5),
        C,
        False,
        False,
        ROUTINE,
        (),
        id="htn-dm-only-criteria",
    ),
    # --- two consecutive uncontrolled -------------------------------------------------------------
    pytest.param(
        htn(150, 95, previous_class=U),
        U,
        True,
        False,
        REFERRAL,
        ("bp_not_met", "two_uncontrolled"),
        id="htn-two-uncontrolled-refer",
    ),
    pytest.param(htn(150, 95, previous_class=C), U, False, False, SHORT, ("bp_not_met",), id="htn-after-controlled"),
    pytest.param(htn(150, 95, previous_class=A), U, False, False, SHORT, ("bp_not_met",), id="htn-after-adverse"),
    pytest.param(htn(130, 80, previous_class=U), C, False, False, ROUTINE, (), id="htn-controlled-after-uncontrolled"),
    pytest.param(
        htn(150, 95, previous_class="uncontrolled"),
        U,
        True,
        False,
        REFERRAL,
        ("bp_not_met", "two_uncontrolled"),
        id="htn-previous-as-stored-string",
    ),
    # --- missing measurement ------------------------------------------------------------------------
    pytest.param(htn(None, None), U, False, False, SHORT, ("missing_measurement",), id="htn-nothing-measured"),
    pytest.param(htn(130, None), U, False, False, SHORT, ("missing_measurement",), id="htn-dbp-missing-undecided"),
    pytest.param(htn(150, None), U, False, False, SHORT, ("bp_not_met",), id="htn-dbp-missing-sbp-decides"),
    pytest.param(htn(None, 95), U, False, False, SHORT, ("bp_not_met",), id="htn-sbp-missing-dbp-decides"),
    pytest.param(
        htn(None, None, previous_class=U),
        U,
        False,
        False,
        SHORT,
        ("missing_measurement",),
        id="htn-missing-is-not-a-second-miss",
    ),
    # --- precedence: complication, adverse reaction ---------------------------------------------------
    pytest.param(htn(new_or_worse_complication=True), X, True, False, REFERRAL, ("complication",), id="complication"),
    pytest.param(
        htn(150, 95, new_or_worse_complication=True, adverse_reaction=True),
        X,
        True,
        False,
        REFERRAL,
        ("complication", "adverse_reaction", "bp_not_met"),
        id="complication-before-adverse",
    ),
    pytest.param(htn(adverse_reaction=True), A, False, False, SHORT, ("adverse_reaction",), id="adverse-controllable"),
    pytest.param(
        htn(adverse_reaction=True, adverse_reaction_uncontrollable=True),
        A,
        True,
        False,
        REFERRAL,
        ("adverse_reaction", "adverse_reaction_uncontrollable"),
        id="adverse-uncontrollable-refer",
    ),
    pytest.param(
        htn(150, 95, adverse_reaction=True),
        A,
        False,
        False,
        SHORT,
        ("adverse_reaction", "bp_not_met"),
        id="adverse-before-uncontrolled",
    ),
    pytest.param(
        htn(150, 95, adverse_reaction=True, previous_class=U),
        A,
        True,
        False,
        REFERRAL,
        ("adverse_reaction", "bp_not_met", "two_uncontrolled"),
        id="adverse-second-miss-refers",
    ),
    pytest.param(
        htn(adverse_reaction_uncontrollable=True), C, False, False, ROUTINE, (), id="uncontrollable-without-reaction"
    ),
    # --- diabetes: graded on fasting glucose ------------------------------------------------------------
    pytest.param(dm(6.9), C, False, False, ROUTINE, (), id="dm-6.9-controlled"),
    pytest.param(dm(7.0), U, False, False, SHORT, ("glucose_not_met",), id="dm-7.0-not"),
    pytest.param(dm(16.6), U, False, False, SHORT, ("glucose_not_met",), id="dm-16.6-not-urgent"),
    pytest.param(dm(16.7), U, True, True, REFERRAL, ("urgent_glucose_high", "glucose_not_met"), id="dm-16.7-urgent"),
    pytest.param(dm(3.9), C, True, True, REFERRAL, ("urgent_glucose_low",), id="dm-3.9-urgent"),
    pytest.param(dm(4.0), C, False, False, ROUTINE, (), id="dm-4.0-not-urgent"),
    pytest.param(dm(6.0, sbp=150, dbp=95), C, False, False, ROUTINE, (), id="dm-bp-not-graded"),
    pytest.param(dm(6.0, sbp=180, dbp=95), C, True, True, REFERRAL, ("urgent_sbp",), id="dm-sbp-180-urgent"),
    pytest.param(dm(6.0, sbp=150, dbp=110), C, True, True, REFERRAL, ("urgent_dbp",), id="dm-dbp-110-urgent"),
    pytest.param(dm(heart_rate=100), C, False, False, ROUTINE, (), id="dm-heart-rate-100"),
    pytest.param(dm(heart_rate=101), C, True, True, REFERRAL, ("urgent_heart_rate",), id="dm-heart-rate-101"),
    pytest.param(dm(temperature=39.0), C, False, False, ROUTINE, (), id="dm-temperature-39.0"),
    pytest.param(dm(temperature=39.1), C, True, True, REFERRAL, ("urgent_temperature",), id="dm-temperature-39.1"),
    pytest.param(
        dm(symptoms=frozenset({Symptom.KETOTIC_BREATH})),
        C,
        True,
        True,
        REFERRAL,
        ("urgent_symptom:ketotic_breath",),
        id="dm-ketotic-breath",
    ),
    pytest.param(dm(symptoms=frozenset({Symptom.EYE_PAIN})), C, False, False, ROUTINE, (), id="dm-htn-only-symptom"),
    pytest.param(dm(pregnant_or_lactating=True), C, False, False, ROUTINE, (), id="dm-pregnancy-not-on-form"),
    pytest.param(dm(None), U, False, False, SHORT, ("missing_measurement",), id="dm-glucose-missing"),
    pytest.param(
        dm(8.0, previous_class=U), U, True, False, REFERRAL, ("glucose_not_met", "two_uncontrolled"), id="dm-two-misses"
    ),
]


@pytest.mark.parametrize(("facts", "visit_class", "refer", "urgent", "days", "reasons"), CASES)
def test_classify(
    facts: VisitFacts, visit_class: VisitClass, refer: bool, urgent: bool, days: int, reasons: tuple[str, ...]
) -> None:
    result = classify(facts)
    assert result.visit_class == visit_class
    assert result.refer is refer
    assert result.urgent is urgent
    assert result.next_date == VISIT + timedelta(days=days)
    assert result.reasons == reasons


@pytest.mark.parametrize(
    ("facts", "met"),
    [
        (htn(139, 89), True),
        (htn(140, 80), False),
        (htn(None, 80), None),
        (htn(None, 90), False),
        (htn(149, 89, age=70), True),
        (dm(6.99), True),
        (dm(7.0), False),
        (dm(None, sbp=120, dbp=70), None),  # BP does not decide the diabetes form
    ],
)
def test_target_met(facts: VisitFacts, met: bool | None) -> None:
    assert target_met(facts) is met


def test_urgent_reasons_follow_the_form() -> None:
    """The same measurements are urgent on one form and not on the other."""
    facts = htn(150, 95, fasting_glucose=2.0, heart_rate=130, symptoms=frozenset({Symptom.ORTHOPNOEA}))
    assert urgent_reasons(facts) == ("urgent_symptom:orthopnoea",)
    as_dm = replace(facts, disease=Disease.DIABETES, fasting_glucose=2.0)
    assert urgent_reasons(as_dm) == ("urgent_glucose_low", "urgent_heart_rate")


def test_urgent_implies_refer() -> None:
    for case in CASES:
        facts = cast(VisitFacts, case.values[0])
        result = classify(facts)
        assert not result.urgent or result.refer
        assert result.urgent == bool(urgent_reasons(facts))
