"""The chronic programme's indicators (两慢病管理指标): each rule on hand-computed cases, table-driven, no
database. Indicators are computed as of 2026-05-31 throughout: the 12-month window is 2025-06-01 …
2026-05-31 (365 days); HEARTS looks back to 2026-02-28 (3 months) and 2025-05-31 (12 months)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from healthbrain.chronic import path
from healthbrain.chronic.definitions import Disease
from healthbrain.chronic.indicator_rules import (
    UNASSIGNED,
    BpReading,
    Clock,
    DiagnosisFacts,
    DiagnosisTable,
    EnrolmentFacts,
    EnrolmentTable,
    FollowUp,
    Hearts,
    Level,
    Units,
    as_of,
    bp_controlled,
    entered_path,
    glucose_controlled,
    hearts_bucket,
    lost_to_followup,
    management_span,
    months_before,
    outcomes,
    required_visits,
    standard_management,
)
from healthbrain.chronic.indicators import (
    DOMAIN,
    SLUGS,
    ChronicFacts,
    MonthFacts,
    PathPatient,
    evaluate,
    execution,
    path_patients,
    rollup,
    screening_done,
)
from healthbrain.indicators.registry import REGISTRY, Period, month_periods

HTN, DM = Disease.HYPERTENSION, Disease.DIABETES
ON = date(2026, 5, 31)
CLOCK = Clock.of(ON)
MAY = month_periods(ON, 1)[0]
TEAM_A = Units(town=10, centre=20, team=30)
TEAM_B = Units(town=11, centre=20, team=31)


def d(text: str) -> date:
    return date.fromisoformat(text)


def visit(
    day: str, method: str = "clinic", sbp: float | None = 130, dbp: float | None = 80, glucose: float | None = None
) -> FollowUp:
    return FollowUp(d(day), method, sbp, dbp, glucose)


def enrolment(
    *visits: FollowUp,
    disease: Disease = HTN,
    enrolled_on: str | None = "2020-01-01",
    status: str = "enrolled",
    ended_on: str | None = None,
    end_reason: str | None = None,
    birth: str = "1960-01-01",
    deceased: str | None = None,
    clinic_bp: BpReading | None = None,
    units: Units = TEAM_A,
    resident_id: int = 1,
) -> EnrolmentFacts:
    return EnrolmentFacts(
        resident_id=resident_id,
        disease=disease,
        status=status,
        enrolled_on=d(enrolled_on) if enrolled_on else None,
        ended_on=d(ended_on) if ended_on else None,
        end_reason=end_reason,
        birth_date=d(birth),
        deceased_on=d(deceased) if deceased else None,
        units=units,
        followups=visits,
        clinic_bp=clinic_bp,
    )


# --- time ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-05-31", 3, "2026-02-28"),  # the shorter month's last day
        ("2024-05-31", 3, "2024-02-29"),
        ("2026-05-31", 12, "2025-05-31"),
        ("2026-01-15", 1, "2025-12-15"),
        ("2026-03-31", 1, "2026-02-28"),
    ],
)
def test_months_before(day: str, months: int, expected: str) -> None:
    assert months_before(d(day), months) == d(expected)


def test_a_month_is_computed_as_of_its_last_day_or_today() -> None:
    assert as_of(MAY) == ON
    assert as_of(MAY, d("2026-05-20")) == d("2026-05-20")
    assert as_of(MAY, d("2026-07-01")) == ON
    assert (CLOCK.start, CLOCK.window_days) == (d("2025-06-01"), 365)
    assert (CLOCK.first, CLOCK.hearts_registered_by, CLOCK.hearts_lost_before) == (
        d("2026-05-01"),
        d("2026-02-28"),
        d("2025-05-31"),
    )
    assert Clock.of(d("2024-02-29")).start == d("2023-03-01")


# --- who is managed in the window ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "span"),
    [
        ({}, ("2025-06-01", "2026-05-31")),
        ({"enrolled_on": "2026-01-10"}, ("2026-01-10", "2026-05-31")),  # enrolled mid-year
        ({"status": "ended", "ended_on": "2025-10-31", "end_reason": "moved"}, ("2025-06-01", "2025-10-31")),
        ({"deceased": "2026-02-01"}, ("2025-06-01", "2026-02-01")),
        ({"status": "ended", "ended_on": "2027-01-01", "end_reason": "moved"}, ("2025-06-01", "2026-05-31")),
        ({"status": "ended", "ended_on": "2025-05-20", "end_reason": "moved"}, None),  # before the window
        ({"status": "ended", "ended_on": None}, None),  # ended, date unknown: nowhere
        ({"enrolled_on": "2026-06-01"}, None),  # after as_of
        ({"status": "proposed", "enrolled_on": None}, None),
        ({"status": "declined"}, None),
    ],
)
def test_management_span(kwargs: dict[str, Any], span: tuple[str, str] | None) -> None:
    got = management_span(enrolment(**kwargs), CLOCK)
    assert got == (None if span is None else (d(span[0]), d(span[1])))


# --- 1, 2: standard management ---------------------------------------------------------------------------------
QUARTERLY = ("2025-08-01", "2025-10-25", "2026-01-20", "2026-04-15")  # gaps 61, 85, 87, 85, then 46 to the end


@pytest.mark.parametrize(
    ("days", "methods", "kwargs", "expected"),
    [
        (QUARTERLY, "cccc", {}, True),
        # the 90-day rule: 90 days is a pass, 91 a fail, wherever the gap is
        (("2025-08-30", "2025-11-28", "2026-02-26", "2026-05-27"), "cccc", {}, True),
        (("2025-08-31", "2025-11-28", "2026-02-26", "2026-05-27"), "cccc", {}, False),  # 91 from the window start
        (("2025-08-01", "2025-11-05", "2025-12-01", "2026-02-20", "2026-05-10"), "ccccc", {}, False),  # 96 between
        (("2025-06-10", "2025-09-01", "2025-11-25", "2026-02-20"), "cccc", {}, False),  # 100 to the window end
        # phone follow-ups do not count; a home visit does
        (QUARTERLY, "cpcc", {}, False),
        (QUARTERLY, "chcc", {}, True),
        # the same day twice is one visit: three days are not four
        (("2025-08-01", "2025-08-01", "2025-10-25", "2026-01-20"), "cccc", {}, False),
        # enrolled mid-year: 142 days in the window want ceil(4 × 142 / 365) = 2 visits, from enrolment
        (("2026-02-01", "2026-04-20"), "cc", {"enrolled_on": "2026-01-10"}, True),
        (("2026-03-15",), "c", {"enrolled_on": "2026-01-10"}, False),  # one visit is not two
        (("2026-04-20", "2026-05-10"), "cc", {"enrolled_on": "2026-01-10"}, False),  # 100 days from enrolment
        # ended (moved) mid-year: 153 days want 2 visits up to the end
        (
            ("2025-07-15", "2025-10-01"),
            "cc",
            {"status": "ended", "ended_on": "2025-10-31", "end_reason": "moved"},
            True,
        ),
        # visits outside the window do not count
        (("2025-05-20", *QUARTERLY[1:]), "cccc", {}, False),
        ((), "", {}, False),
    ],
)
def test_standard_management(days: tuple[str, ...], methods: str, kwargs: dict[str, Any], expected: bool) -> None:
    names = {"c": "clinic", "h": "home", "p": "phone"}
    visits = [visit(day, names[m]) for day, m in zip(days, methods, strict=True)]
    assert standard_management(enrolment(*visits, **kwargs), CLOCK) is expected
    assert standard_management(enrolment(*visits, disease=DM, **kwargs), CLOCK) is expected  # the same rule


def test_standard_management_is_not_asked_of_those_not_managed_in_the_window() -> None:
    assert standard_management(enrolment(visit("2025-08-01"), enrolled_on="2026-06-02"), CLOCK) is None
    assert standard_management(enrolment(status="ended", ended_on="2025-04-30", end_reason="died"), CLOCK) is None


@pytest.mark.parametrize(("span_days", "needed"), [(365, 4), (300, 4), (270, 3), (142, 2), (91, 1), (1, 1)])
def test_required_visits_are_prorated_and_at_least_one(span_days: int, needed: int) -> None:
    assert required_visits(span_days, 365) == needed


def test_a_patient_enrolled_on_the_last_day_needs_a_visit_that_day() -> None:
    assert standard_management(enrolment(enrolled_on="2026-05-31"), CLOCK) is False
    assert standard_management(enrolment(visit("2026-05-31"), enrolled_on="2026-05-31"), CLOCK) is True


# --- 3, 4: control ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("visits", "birth", "expected"),
    [
        ([visit("2026-04-15", sbp=138, dbp=88)], "1966-01-01", True),
        ([visit("2026-04-15", sbp=140, dbp=80)], "1966-01-01", False),  # strictly below 140
        ([visit("2026-04-15", sbp=130, dbp=90)], "1966-01-01", False),  # and below 90
        # ≥ 65 on the visit's day: below 150/90
        ([visit("2026-04-15", sbp=145, dbp=85)], "1960-03-01", True),
        ([visit("2026-04-15", sbp=150, dbp=85)], "1960-03-01", False),
        ([visit("2026-04-15", sbp=145, dbp=85)], "1961-05-01", False),  # 64 on that day
        ([visit("2026-05-02", sbp=145, dbp=85)], "1961-05-01", True),  # 65 on that day
        # the latest follow-up with a BP decides; one without a BP is passed over; any method
        ([visit("2025-10-01", sbp=130, dbp=80), visit("2026-03-01", sbp=160, dbp=95)], "1966-01-01", False),
        ([visit("2025-10-01", sbp=160, dbp=95), visit("2026-03-01", "phone", sbp=132, dbp=82)], "1966-01-01", True),
        ([visit("2026-03-01", sbp=132, dbp=82), visit("2026-04-01", sbp=None, dbp=None)], "1966-01-01", True),
        ([visit("2026-03-01", sbp=150, dbp=None)], "1966-01-01", False),  # half a BP is no BP
        # the same day twice: the form recorded last
        ([visit("2026-03-01", sbp=150, dbp=95), visit("2026-03-01", sbp=130, dbp=80)], "1966-01-01", True),
        # no follow-up with a BP in the window: not controlled
        ([visit("2025-05-30", sbp=120, dbp=70)], "1966-01-01", False),
        ([], "1966-01-01", False),
    ],
)
def test_bp_control(visits: list[FollowUp], birth: str, expected: bool) -> None:
    assert bp_controlled(enrolment(*visits, birth=birth), CLOCK) is expected


def test_bp_control_counts_a_clinic_observation_for_hearts_only() -> None:
    e = enrolment(clinic_bp=BpReading(d("2026-05-01"), 120, 70))
    assert bp_controlled(e, CLOCK) is False
    assert hearts_bucket(e, CLOCK) is Hearts.CONTROLLED


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        ([visit("2026-04-01", glucose=6.8)], True),
        ([visit("2026-04-01", glucose=7.0)], False),  # strictly below 7.0
        ([visit("2025-12-01", glucose=6.0), visit("2026-04-01", glucose=8.1)], False),
        ([visit("2025-12-01", glucose=6.0), visit("2026-04-01", glucose=None)], True),
        ([], False),
    ],
)
def test_glucose_control(visits: list[FollowUp], expected: bool) -> None:
    assert glucose_controlled(enrolment(*visits, disease=DM), CLOCK) is expected
    assert glucose_controlled(enrolment(*visits, disease=DM, enrolled_on="2026-06-05"), CLOCK) is None


# --- 5: path entry ---------------------------------------------------------------------------------------------------
def diagnosis(
    status: str | None = "enrolled",
    enrolled_on: str | None = "2024-01-01",
    ended_on: str | None = None,
    birth: str = "1980-01-01",
    onset: str | None = None,
    deceased: str | None = None,
) -> DiagnosisFacts:
    return DiagnosisFacts(
        resident_id=1,
        disease=HTN,
        birth_date=d(birth),
        deceased_on=d(deceased) if deceased else None,
        onset=d(onset) if onset else None,
        units=TEAM_A,
        status=status,
        enrolled_on=d(enrolled_on) if enrolled_on else None,
        ended_on=d(ended_on) if ended_on else None,
    )


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (diagnosis(), True),
        (diagnosis(status=None, enrolled_on=None), False),  # diagnosed, never proposed
        (diagnosis(status="proposed", enrolled_on=None), False),
        (diagnosis(status="ended", ended_on="2026-01-01"), False),  # refused, moved …
        (diagnosis(status="ended", ended_on="2026-06-30"), True),  # ended after as_of
        (diagnosis(enrolled_on="2026-06-02"), False),  # enrolled after as_of
        (diagnosis(birth="1991-06-01"), None),  # 34 on as_of: not in the denominator
        (diagnosis(birth="1991-05-31"), True),  # 35 that day
        (diagnosis(onset="2026-06-15"), None),  # diagnosed after as_of
        (diagnosis(onset="2026-05-31"), True),
        (diagnosis(deceased="2026-05-01"), None),
    ],
)
def test_path_entry(facts: DiagnosisFacts, expected: bool | None) -> None:
    assert entered_path(facts, ON) is expected


# --- 6, 7: the path ----------------------------------------------------------------------------------------------------
def test_execution_over_the_month_by_hand() -> None:
    """Hypertension only, enrolled 2026-04-01. In May: the 14 items of 30 days or more are first due on
    05-01; the weekly home BP is due 05-06, 05-13, 05-20, 05-27: 18 due. Done on time: BP on 04-20
    (within 90 days of 05-01), the ECG of 03-01 (before enrolment, within 365), home readings on 05-05
    and 05-19 (cover 05-06 and 05-20, not 05-13 nor 05-27): 4."""
    patient = PathPatient(1, frozenset({HTN}), d("2026-04-01"), TEAM_A)
    done = {"bp": [d("2026-04-20")], "ecg": [d("2026-03-01")], "home_bp": [d("2026-05-05"), d("2026-05-19")]}
    result = execution(patient, done, CLOCK)
    assert (result.done_on_time, result.due) == (4, 18)
    assert result == path.execution({HTN}, done_dates=done, enrolled_on=d("2026-04-01"), start=d("2026-05-01"), end=ON)
    # as of mid-month, only what fell due by then
    mid = execution(patient, done, Clock.of(d("2026-05-15")))
    assert (mid.done_on_time, mid.due) == (3, 16)


@pytest.mark.parametrize(
    ("diseases", "done", "expected"),
    [
        ({HTN}, {"uacr": ["2025-09-01"], "ecg": ["2026-03-01"]}, True),
        ({HTN}, {"ecg": ["2026-03-01"]}, False),
        ({HTN}, {"uacr": ["2025-05-31"], "ecg": ["2026-03-01"]}, False),  # before the window
        ({DM}, {"uacr": ["2025-09-01"], "ecg": ["2026-03-01"], "fundus": ["2026-01-01"]}, False),  # no foot exam
        (
            {HTN, DM},
            {"uacr": ["2025-09-01"], "ecg": ["2026-03-01"], "fundus": ["2026-01-01"], "foot": ["2026-05-31"]},
            True,
        ),
    ],
)
def test_complication_screening(diseases: set[Disease], done: dict[str, list[str]], expected: bool) -> None:
    patient = PathPatient(1, frozenset(diseases), d("2020-01-01"), TEAM_A)
    dates = {slug: [d(x) for x in days] for slug, days in done.items()}
    assert screening_done(patient, dates, CLOCK) is expected


def test_path_patients_are_residents_on_a_path_with_the_hypertension_team() -> None:
    both = [
        enrolment(disease=DM, enrolled_on="2022-03-01", units=TEAM_B, resident_id=7),
        enrolment(disease=HTN, enrolled_on="2023-03-01", units=TEAM_A, resident_id=7),
        enrolment(disease=HTN, status="ended", ended_on="2026-01-01", end_reason="moved", resident_id=8),
        enrolment(disease=DM, enrolled_on="2026-06-01", resident_id=9),
    ]
    (patient,) = path_patients(EnrolmentTable.of(both), ON)
    assert patient == PathPatient(7, frozenset({HTN, DM}), d("2022-03-01"), TEAM_A)


# --- 8: HEARTS ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"visits": [visit("2026-04-10", sbp=138, dbp=88)]}, Hearts.CONTROLLED),
        ({"visits": [visit("2026-04-10", sbp=140, dbp=85)]}, Hearts.UNCONTROLLED),
        ({"visits": [visit("2026-04-10", sbp=130, dbp=90)]}, Hearts.UNCONTROLLED),
        (
            {"visits": [visit("2026-04-10", sbp=145, dbp=85)], "birth": "1940-01-01"},
            Hearts.UNCONTROLLED,
        ),  # 140/90 at any age
        ({"visits": [visit("2026-04-10", "home", sbp=128, dbp=78)]}, Hearts.CONTROLLED),  # a home visit is a visit
        ({"visits": [visit("2026-03-01")]}, Hearts.CONTROLLED),  # the first day of the 3 months
        ({"visits": [visit("2026-02-28")]}, Hearts.MISSED_VISIT),
        ({"visits": [visit("2025-06-01")]}, Hearts.MISSED_VISIT),
        ({"visits": [visit("2025-05-31")]}, None),  # no BP in 12 months: lost, not in the cohort
        ({"visits": []}, None),
        # a phone follow-up is not a visit: the last visit was in November
        ({"visits": [visit("2025-11-01"), visit("2026-05-01", "phone", sbp=120, dbp=70)]}, Hearts.MISSED_VISIT),
        ({"visits": [visit("2026-05-01", "phone", sbp=120, dbp=70)]}, None),
        # a clinic BP observation is a visit, and the later reading decides
        (
            {"visits": [visit("2026-04-01", sbp=150, dbp=95)], "clinic_bp": BpReading(d("2026-05-20"), 130, 80)},
            Hearts.CONTROLLED,
        ),
        ({"visits": [], "clinic_bp": BpReading(d("2025-12-20"), 130, 80)}, Hearts.MISSED_VISIT),
        # on the same day the follow-up form wins over the observation
        (
            {"visits": [visit("2026-05-20", sbp=150, dbp=95)], "clinic_bp": BpReading(d("2026-05-20"), 130, 80)},
            Hearts.UNCONTROLLED,
        ),
        # registered more than 3 months before: 2026-02-28 is in, 2026-03-01 is not
        ({"visits": [visit("2026-04-10")], "enrolled_on": "2026-02-28"}, Hearts.CONTROLLED),
        ({"visits": [visit("2026-04-10")], "enrolled_on": "2026-03-01"}, None),
        # alive and on the path on as_of
        ({"visits": [visit("2026-04-10")], "deceased": "2026-05-01"}, None),
        ({"visits": [visit("2026-04-10")], "status": "ended", "ended_on": "2026-04-30", "end_reason": "moved"}, None),
        ({"visits": [visit("2026-04-10")], "disease": DM}, None),
    ],
)
def test_hearts_buckets(kwargs: dict[str, Any], expected: Hearts | None) -> None:
    kwargs = dict(kwargs)
    visits = kwargs.pop("visits")
    assert hearts_bucket(enrolment(*visits, **kwargs), CLOCK) is expected


# --- 9: lost to follow-up -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, True),  # on the path since 2020, no follow-up in 12 months
        ({"visits": [visit("2025-05-31")]}, True),
        ({"visits": [visit("2026-01-01", "phone")]}, False),  # a phone call reached the patient
        ({"enrolled_on": "2025-09-01"}, False),  # not yet 12 months on the path
        ({"enrolled_on": "2025-06-01"}, False),
        ({"enrolled_on": "2025-05-31"}, True),
        ({"status": "ended", "ended_on": "2026-01-15", "end_reason": "lost"}, True),
        ({"status": "ended", "ended_on": "2026-01-15", "end_reason": "moved"}, False),
        ({"status": "ended", "ended_on": "2024-12-01", "end_reason": "lost"}, None),  # before the window
        ({"disease": DM}, True),
    ],
)
def test_lost_to_followup(kwargs: dict[str, Any], expected: bool | None) -> None:
    kwargs = dict(kwargs)
    visits = kwargs.pop("visits", [])
    assert lost_to_followup(enrolment(*visits, **kwargs), CLOCK) is expected


# --- one month, per unit, through the registry ----------------------------------------------------------------------
def month() -> MonthFacts:
    good = [visit(day) for day in QUARTERLY]
    return MonthFacts(
        first=MAY.first,
        as_of=ON,
        enrolments=EnrolmentTable.of(
            [
                enrolment(*good, resident_id=1, units=TEAM_A),  # standard, controlled
                enrolment(visit("2025-08-01", sbp=160, dbp=100), resident_id=2, units=TEAM_A),  # neither
                enrolment(*good, resident_id=3, units=TEAM_B),  # standard, controlled
                enrolment(resident_id=4, units=Units(town=10)),  # no team, lost
                enrolment(visit("2026-04-01", glucose=6.5), disease=DM, resident_id=3, units=TEAM_B),
            ]
        ),
        diagnoses=DiagnosisTable.of([diagnosis(), DiagnosisFacts(5, HTN, d("1950-01-01"), None, None, TEAM_B)]),
        done_dates={},
    )


def test_evaluate_counts_each_indicator_per_unit_and_rolls_up() -> None:
    counts = evaluate(month())
    assert set(counts) == set(SLUGS)
    htn = counts["chronic.htn_standard_management"]
    assert htn[TEAM_A] == [1, 2] and htn[TEAM_B] == [1, 1] and htn[Units(town=10)] == [0, 1]
    assert rollup(htn, Level.DISTRICT) == {None: (2, 4)}
    assert rollup(htn, Level.TEAM) == {None: (2, 4), 30: (1, 2), 31: (1, 1), UNASSIGNED: (0, 1)}
    assert rollup(htn, Level.CENTRE) == {None: (2, 4), 20: (2, 3), UNASSIGNED: (0, 1)}
    assert rollup(htn, Level.TOWN) == {None: (2, 4), 10: (1, 3), 11: (1, 1)}
    assert rollup(counts["chronic.lost_to_followup"], Level.DISTRICT) == {None: (1, 5)}  # 4, never followed up
    assert rollup(counts["chronic.path_entry"], Level.DISTRICT) == {None: (1, 2)}
    assert rollup(counts["chronic.glucose_control"], Level.DISTRICT) == {None: (1, 1)}
    hearts = {s: rollup(counts[s], Level.DISTRICT)[None] for s in SLUGS if "hearts" in s}
    assert hearts == {
        "chronic.hearts_controlled": (2, 3),  # 1 and 3 (April visit), of 1, 2 and 3 (4 is lost)
        "chronic.hearts_uncontrolled": (0, 3),
        "chronic.hearts_missed_visit": (1, 3),
    }


def test_registered_indicators_compute_through_the_registry() -> None:
    chronic = [i for i in REGISTRY.values() if i.domain == DOMAIN]
    assert [i.slug for i in chronic] == list(SLUGS) and len(SLUGS) == 11
    assert all(i.unit == "percent" and i.name_zh and i.name_en and i.source for i in chronic)
    facts = ChronicFacts.of({MAY.label: month()})
    bp = REGISTRY["chronic.bp_control"]
    district = bp.compute(facts, MAY, None, {"level": "district"})
    assert (district.value, district.numerator, district.denominator) == (50.0, 2, 4)
    team_a = bp.compute(facts, MAY, 30, {"level": "team"})
    assert (team_a.value, team_a.numerator, team_a.denominator) == (50.0, 1, 2)
    nobody = bp.compute(facts, MAY, 999, {"level": "team"})
    assert nobody.value is None and nobody.denominator == 0
    other = Period(MAY.first - timedelta(days=31), MAY.first - timedelta(days=1), "2026-04")
    with pytest.raises(KeyError):
        bp.compute(facts, other, None, {"level": "district"})


def _random_enrolments(seed: int, n: int) -> list[EnrolmentFacts]:
    rng = random.Random(seed)

    def day(low: str, high: str) -> date:
        a, b = d(low), d(high)
        return a + timedelta(days=rng.randint(0, (b - a).days))

    out = []
    for i in range(n):
        status = rng.choice(["enrolled", "enrolled", "enrolled", "ended", "proposed"])
        enrolled = day("2024-01-01", "2026-07-01") if status != "proposed" else None
        ended = day("2025-01-01", "2026-08-01") if status == "ended" and rng.random() < 0.9 else None
        visits = sorted(
            (
                visit(
                    day("2025-03-01", "2026-06-30").isoformat(),
                    rng.choice(["clinic", "clinic", "home", "phone"]),
                    sbp=rng.choice([None, 120, 139, 140, 145, 150, 160]),
                    dbp=rng.choice([None, 70, 85, 89, 90, 95]),
                    glucose=rng.choice([None, 6.0, 6.9, 7.0, 8.0]),
                )
                for _ in range(rng.randint(0, 7))
            ),
            key=lambda f: f.day,
        )
        out.append(
            enrolment(
                *visits,
                disease=rng.choice([HTN, HTN, DM]),
                enrolled_on=enrolled.isoformat() if enrolled else None,
                status=status,
                ended_on=ended.isoformat() if ended else None,
                end_reason=rng.choice(["lost", "moved", "died"]) if status == "ended" else None,
                birth=rng.choice(["1950-05-01", "1961-04-20", "1975-01-01"]),
                deceased=day("2025-06-01", "2026-09-01").isoformat() if rng.random() < 0.05 else None,
                clinic_bp=BpReading(day("2025-01-01", "2026-05-31"), rng.choice([120, 145]), 80)
                if rng.random() < 0.3
                else None,
                units=rng.choice([TEAM_A, TEAM_B, Units(town=10)]),
                resident_id=i // 2,
            )
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_table_of_many_gives_what_each_patient_alone_gives(seed: int) -> None:
    """The rules run over columns; each enrolment's result must not depend on its neighbours."""
    many = _random_enrolments(seed, 400)
    together = outcomes(EnrolmentTable.of(many), CLOCK)
    for i, e in enumerate(many):
        managed = together.managed[i]
        assert (bool(together.standard[i]) if managed else None) is standard_management(e, CLOCK), i
        assert (bool(together.bp_controlled[i]) if managed else None) is bp_controlled(e, CLOCK), i
        assert (bool(together.glucose_controlled[i]) if managed else None) is glucose_controlled(e, CLOCK), i
        assert (bool(together.lost[i]) if managed else None) is lost_to_followup(e, CLOCK), i
        code = int(together.hearts[i])
        assert (None if code < 0 else list(Hearts)[code]) is hearts_bucket(e, CLOCK), i
    assert together.managed.sum() > 100 and together.standard.sum() > 0 and (together.hearts >= 0).sum() > 0
