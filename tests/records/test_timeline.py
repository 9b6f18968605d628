"""The record page's pure core, table-driven, no database: filters, periods, the timeline's grouping
and findings, chart thinning, BMI, contract status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from healthbrain.records import codes
from healthbrain.records.timeline import (
    ConditionFact,
    ContractFact,
    EncounterFact,
    Measurement,
    ObservationFact,
    bmi_series,
    build_timeline,
    contract_status,
    measurements_of,
    parse_kinds,
    parse_period,
    period_start,
    since_instant,
    thin,
)


def at(y: int, m: int, d: int, h: int = 2) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ()),
        (["inpatient"], ("inpatient",)),
        (["phone", "outpatient", "phone"], ("outpatient", "phone")),  # canonical order, once
        (["nonsense", " home "], ("home",)),
        (["OUTPATIENT"], ()),
    ],
)
def test_parse_kinds(given: list[str], expected: tuple[str, ...]) -> None:
    assert parse_kinds(given) == expected


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [("1y", "all", "1y"), ("3y", "all", "3y"), ("all", "1y", "all"), (None, "all", "all"), ("10y", "1y", "1y")],
)
def test_parse_period(value: str | None, default: str, expected: str) -> None:
    assert parse_period(value, default) == expected


@pytest.mark.parametrize(
    ("period", "today", "expected"),
    [
        ("1y", date(2025, 6, 15), date(2024, 6, 15)),
        ("3y", date(2025, 6, 15), date(2022, 6, 15)),
        ("1y", date(2024, 2, 29), date(2023, 2, 28)),
        ("all", date(2025, 6, 15), None),
    ],
)
def test_period_start(period: str, today: date, expected: date | None) -> None:
    assert period_start(period, today) == expected


def test_since_instant_is_local_midnight() -> None:
    assert since_instant(None) is None
    assert since_instant(date(2025, 1, 2)) == datetime(2025, 1, 1, 16, tzinfo=UTC)


# --- findings of one encounter -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        ([], ()),
        (
            [ObservationFact(1, codes.DIASTOLIC_BP, 92, unit="mm[Hg]"), ObservationFact(1, codes.SYSTOLIC_BP, 150)],
            (Measurement(codes.BP_PANEL, "150/92", "mm[Hg]"),),
        ),
        (  # a lone systolic stays itself
            [ObservationFact(1, codes.SYSTOLIC_BP, 150, unit="mm[Hg]")],
            (Measurement(codes.SYSTOLIC_BP, "150", "mm[Hg]"),),
        ),
        (  # display order: vital signs first, unknown codes last
            [
                ObservationFact(1, "99999-9", None, "阳性"),
                ObservationFact(1, codes.BODY_WEIGHT, 70.5, unit="kg"),
                ObservationFact(1, codes.HEART_RATE, 72.0, unit="/min"),
            ],
            (
                Measurement(codes.HEART_RATE, "72", "/min"),
                Measurement(codes.BODY_WEIGHT, "70.5", "kg"),
                Measurement("99999-9", "阳性", None),
            ),
        ),
        (  # a second value of the same code in one encounter: the first is shown; empty ones are dropped
            [
                ObservationFact(1, codes.GLUCOSE_FASTING, 7.8),
                ObservationFact(1, codes.GLUCOSE_FASTING, 6.1),
                ObservationFact(1, codes.WAIST, None),
            ],
            (Measurement(codes.GLUCOSE_FASTING, "7.8", None),),
        ),
    ],
)
def test_measurements_of(observations: list[ObservationFact], expected: tuple[Measurement, ...]) -> None:
    assert measurements_of(observations) == expected


# --- the timeline --------------------------------------------------------------------------------------
def test_timeline_newest_first_grouped_by_local_year_and_month() -> None:
    encounters = [
        EncounterFact(1, "outpatient", at(2024, 3, 5)),
        EncounterFact(2, "inpatient", at(2025, 1, 10)),
        EncounterFact(3, "phone", at(2024, 12, 31, 17)),  # 2025-01-01 01:00 in Shanghai
        EncounterFact(4, "home", at(2024, 3, 20)),
        EncounterFact(5, "followup", at(2024, 3, 20)),  # same instant: the higher id first
    ]
    years = build_timeline(encounters)
    assert [y.year for y in years] == [2025, 2024]
    assert [(m.year, m.month) for m in years[0].months] == [(2025, 1)]
    assert [e.encounter.id for e in years[0].months[0].entries] == [2, 3]
    assert [(m.month, [e.encounter.id for e in m.entries]) for m in years[1].months] == [(3, [5, 4, 1])]
    assert years[0].count == 2 and years[1].count == 3
    assert years[0].months[0].entries[1].local_start.hour == 1


def test_timeline_attaches_findings_to_their_encounter() -> None:
    encounters = [EncounterFact(1, "outpatient", at(2025, 1, 1)), EncounterFact(2, "physical_exam", at(2025, 2, 1))]
    observations = [
        ObservationFact(1, codes.SYSTOLIC_BP, 140),
        ObservationFact(1, codes.DIASTOLIC_BP, 85),
        ObservationFact(2, codes.BODY_HEIGHT, 170),
        ObservationFact(99, codes.BODY_HEIGHT, 160),  # another page's encounter: ignored
    ]
    conditions = [ConditionFact(1, "I10", "高血压"), ConditionFact(1, "E11.9", "糖尿病")]
    (year,) = build_timeline(encounters, observations, conditions)
    exam, visit = year.months[0].entries[0], year.months[1].entries[0]
    assert exam.measurements == (Measurement(codes.BODY_HEIGHT, "170", None),) and exam.conditions == ()
    assert visit.measurements == (Measurement(codes.BP_PANEL, "140/85", "mm[Hg]"),)
    assert [c.code for c in visit.conditions] == ["E11.9", "I10"]


def test_empty_timeline() -> None:
    assert build_timeline([]) == []


# --- charts --------------------------------------------------------------------------------------------
def series(n: int) -> list[tuple[datetime, float]]:
    return [(at(2020, 1, 1) + timedelta(days=i), float(i)) for i in range(n)]


@pytest.mark.parametrize(
    ("n", "max_points", "expected_len"),
    [(0, 10, 0), (5, 10, 5), (10, 10, 10), (11, 10, 10), (5000, 400, 400), (3, 1, 3)],
)
def test_thin_keeps_first_and_last(n: int, max_points: int, expected_len: int) -> None:
    points = series(n)
    thinned = thin(points, max_points)
    assert len(thinned) == expected_len
    if points:
        assert thinned[0] == points[0] and thinned[-1] == points[-1]
        assert thinned == sorted(set(thinned))  # in order, no point twice


@pytest.mark.parametrize(
    ("weights", "heights", "expected"),
    [
        ([], [(at(2024, 1, 1), 170.0)], []),
        ([(at(2024, 1, 1), 72.0)], [], []),
        ([(at(2024, 2, 1), 72.0)], [(at(2024, 1, 1), 170.0)], [(at(2024, 2, 1), 24.9)]),
        # a weight before any height takes the first height; later ones the latest before them
        (
            [(at(2023, 1, 1), 80.0), (at(2024, 6, 1), 80.0)],
            [(at(2024, 1, 1), 160.0), (at(2024, 5, 1), 180.0)],
            [(at(2023, 1, 1), 31.2), (at(2024, 6, 1), 24.7)],
        ),
        # an implausible height (entered in metres) is ignored, as is a zero weight
        ([(at(2024, 2, 1), 0.0), (at(2024, 3, 1), 64.0)], [(at(2024, 1, 1), 1.6)], []),
        ([(at(2024, 3, 1), 64.0)], [(at(2024, 1, 1), 1.6), (at(2024, 1, 2), 160.0)], [(at(2024, 3, 1), 25.0)]),
    ],
)
def test_bmi_series(
    weights: list[tuple[datetime, float]], heights: list[tuple[datetime, float]], expected: list[tuple[datetime, float]]
) -> None:
    assert bmi_series(weights, heights) == expected


# --- contract status -----------------------------------------------------------------------------------
TODAY = date(2025, 6, 15)


def contract(cid: int, status: str, start: date, end: date) -> ContractFact:
    return ContractFact(cid, status, start, end, team=f"T{cid}")


@pytest.mark.parametrize(
    ("contracts", "state", "contract_id", "days_left"),
    [
        ([], "none", None, None),
        ([contract(1, "active", date(2025, 1, 1), date(2025, 12, 31))], "contracted", 1, 199),
        ([contract(1, "active", date(2024, 7, 1), date(2025, 6, 30))], "expiring", 1, 15),
        ([contract(1, "active", date(2024, 7, 1), date(2025, 6, 15))], "expiring", 1, 0),
        ([contract(1, "active", date(2024, 1, 1), date(2024, 12, 31))], "expired", 1, None),  # not yet closed
        ([contract(1, "finished", date(2023, 1, 1), date(2023, 12, 31))], "expired", 1, None),
        ([contract(1, "cancelled", date(2025, 1, 1), date(2025, 12, 31))], "expired", 1, None),
        ([contract(1, "entered-in-error", date(2025, 1, 1), date(2025, 12, 31))], "none", None, None),
        ([contract(1, "active", date(2025, 7, 1), date(2026, 6, 30))], "none", None, None),  # starts later
        (  # renewed: the renewal in force wins over the old one
            [
                contract(1, "finished", date(2024, 1, 1), date(2024, 12, 31)),
                contract(2, "active", date(2025, 1, 1), date(2025, 12, 31)),
            ],
            "contracted",
            2,
            199,
        ),
    ],
)
def test_contract_status(
    contracts: list[ContractFact], state: str, contract_id: int | None, days_left: int | None
) -> None:
    status = contract_status(contracts, TODAY)
    assert status.state == state
    assert (status.contract.id if status.contract else None) == contract_id
    assert status.days_left == days_left
