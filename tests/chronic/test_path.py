"""The management path (管理路径): items per disease, worklist status, execution rate (指标执行率) and the
complication screening numerator — table-driven, no database. Enrolment is 2024-01-01 throughout; ``d(n)``
is the day n days after it."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from healthbrain.chronic.definitions import Disease, ReadingKind
from healthbrain.chronic.path import (
    DIMENSION_NAMES,
    PATH_ITEMS,
    PATH_ITEMS_BY_SLUG,
    Dimension,
    Evidence,
    Execution,
    ItemState,
    complication_screening_done,
    due_list,
    execution,
    item_status,
    items_for,
    path_status,
    schedule,
)

HTN = frozenset({Disease.HYPERTENSION})
DM = frozenset({Disease.DIABETES})
BOTH = HTN | DM
D0 = date(2024, 1, 1)


def d(days: int) -> date:
    return D0 + timedelta(days=days)


# --- the catalogue ----------------------------------------------------------------------------------------
def _loinc_check_digit(body: str) -> int:
    """LOINC's mod-10 check digit (the Luhn scheme), from the LOINC Users' Guide."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def test_catalogue_is_consistent() -> None:
    slugs = [item.slug for item in PATH_ITEMS]
    assert len(slugs) == len(set(slugs)) == len(PATH_ITEMS_BY_SLUG)
    assert {item.dimension for item in PATH_ITEMS} == set(Dimension) == set(DIMENSION_NAMES)
    for item in PATH_ITEMS:
        assert item.codes and item.diseases and item.interval_days > 0 and item.source, item.slug
        assert item.complication_screening == (item.dimension is Dimension.COMPLICATIONS), item.slug
        if item.evidence is Evidence.OBSERVATION:
            for code in item.codes:
                assert re.fullmatch(r"\d{1,6}-\d", code), code
                body, check = code.split("-")
                assert _loinc_check_digit(body) == int(check), f"{item.slug}: {code} fails the LOINC check digit"
        elif item.evidence is Evidence.HOME_READING:
            assert {ReadingKind(code) for code in item.codes}


@pytest.mark.parametrize(
    ("diseases", "slugs"),
    [
        (
            HTN,
            "bp weight heart_rate waist lipids renal smoking drinking exercise salt adherence uacr ecg home_bp education",
        ),
        (
            DM,
            "bp weight waist fasting_glucose hba1c lipids renal smoking drinking exercise salt adherence "
            "fundus uacr foot ecg home_glucose education",
        ),
        (
            BOTH,
            "bp weight heart_rate waist fasting_glucose hba1c lipids renal smoking drinking exercise salt adherence "
            "fundus uacr foot ecg home_bp home_glucose education",
        ),
        (frozenset(), ""),
    ],
)
def test_items_for(diseases: frozenset[Disease], slugs: str) -> None:
    assert [item.slug for item in items_for(diseases)] == slugs.split()


@pytest.mark.parametrize(
    ("diseases", "screening"),
    [(HTN, {"uacr", "ecg"}), (DM, {"fundus", "uacr", "foot", "ecg"}), (BOTH, {"fundus", "uacr", "foot", "ecg"})],
)
def test_complication_items(diseases: frozenset[Disease], screening: set[str]) -> None:
    assert {item.slug for item in items_for(diseases) if item.complication_screening} == screening
    assert all(PATH_ITEMS_BY_SLUG[slug].interval_days == 365 for slug in screening)


# --- status on the worklist -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("slug", "last_done", "today", "due", "state"),
    [
        # never done: due a month after enrolment (the baseline), never shown as done
        ("bp", None, d(10), d(30), ItemState.DUE_SOON),
        ("bp", None, d(30), d(30), ItemState.DUE),
        ("bp", None, d(60), d(30), ItemState.DUE),  # 30 days' grace
        ("bp", None, d(61), d(30), ItemState.OVERDUE),
        ("lipids", None, d(5), d(30), ItemState.DUE_SOON),  # a yearly screening wants a baseline too
        ("home_bp", None, d(3), d(7), ItemState.DUE_SOON),
        # done recently
        ("bp", d(100), d(182), d(190), ItemState.DONE),
        ("bp", d(100), d(183), d(190), ItemState.DUE_SOON),  # 7-day window
        ("bp", d(100), d(190), d(190), ItemState.DUE),
        ("bp", d(100), d(220), d(190), ItemState.DUE),
        ("bp", d(100), d(221), d(190), ItemState.OVERDUE),
        ("hba1c", d(0), d(172), d(180), ItemState.DONE),
        ("hba1c", d(0), d(173), d(180), ItemState.DUE_SOON),
        # a result from before enrolment counts
        ("lipids", date(2023, 6, 1), d(9), date(2024, 5, 31), ItemState.DONE),
        ("lipids", date(2023, 1, 1), d(9), date(2024, 1, 1), ItemState.DUE),
        ("lipids", date(2022, 11, 1), d(9), date(2023, 11, 1), ItemState.OVERDUE),
        # the weekly home reading: 1-day warning, no grace
        ("home_bp", d(50), d(55), d(57), ItemState.DONE),
        ("home_bp", d(50), d(56), d(57), ItemState.DUE_SOON),
        ("home_bp", d(50), d(57), d(57), ItemState.DUE),
        ("home_bp", d(50), d(58), d(57), ItemState.OVERDUE),
    ],
)
def test_item_status(slug: str, last_done: date | None, today: date, due: date, state: ItemState) -> None:
    status = item_status(PATH_ITEMS_BY_SLUG[slug], last_done=last_done, enrolled_on=D0, today=today)
    assert (status.due_date, status.state, status.last_done) == (due, state, last_done)


@pytest.mark.parametrize(
    ("diseases", "last_done", "today", "expected"),
    [
        # enrolled a week ago, nothing done: everything is due soon, the weekly reading due today
        (HTN, {}, d(7), {"home_bp": ItemState.DUE} | {s: ItemState.DUE_SOON for s in ("bp", "ecg", "education")}),
        # DM, a follow-up done at enrolment; fundus never done, 3 months on
        (
            DM,
            {"bp": d(0), "fasting_glucose": d(0), "hba1c": d(0), "fundus": None, "home_glucose": d(88)},
            d(90),
            {
                "bp": ItemState.DUE,
                "fasting_glucose": ItemState.DUE,
                "hba1c": ItemState.DONE,
                "fundus": ItemState.OVERDUE,
                "home_glucose": ItemState.DONE,
            },
        ),
        # both: labs from last month, quarterly items due soon
        (
            BOTH,
            {"lipids": d(300), "bp": d(300), "heart_rate": d(300), "home_bp": d(384)},
            d(385),
            {
                "lipids": ItemState.DONE,
                "bp": ItemState.DUE_SOON,
                "heart_rate": ItemState.DUE_SOON,
                "home_bp": ItemState.DONE,
                "home_glucose": ItemState.OVERDUE,
            },
        ),
    ],
)
def test_path_status(
    diseases: frozenset[Disease], last_done: dict[str, date | None], today: date, expected: dict[str, ItemState]
) -> None:
    statuses = path_status(diseases, last_done=last_done, enrolled_on=D0, today=today)
    assert [s.item.slug for s in statuses] == [item.slug for item in items_for(diseases)]
    by_slug = {s.item.slug: s.state for s in statuses}
    assert {slug: by_slug[slug] for slug in expected} == expected


def test_due_list_puts_overdue_first_then_due_then_due_soon() -> None:
    last_done = {
        "lipids": d(100),  # due d465: done, left out
        "weight": d(315),  # due d405: due soon
        "bp": d(305),  # due d395: due
        "ecg": d(0),  # due d365, grace to d395: overdue
        "home_bp": d(394),  # due d401: due soon (1-day window)
        "heart_rate": d(300),  # due d390: due
        "uacr": d(-10),  # due d355: overdue
    }
    statuses = [
        item_status(PATH_ITEMS_BY_SLUG[slug], last_done=done, enrolled_on=D0, today=d(400))
        for slug, done in last_done.items()
    ]
    assert [(s.item.slug, s.state) for s in due_list(statuses)] == [
        ("uacr", ItemState.OVERDUE),
        ("ecg", ItemState.OVERDUE),
        ("heart_rate", ItemState.DUE),
        ("bp", ItemState.DUE),
        ("home_bp", ItemState.DUE_SOON),
        ("weight", ItemState.DUE_SOON),
    ]


# --- execution rate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("slug", "until", "dates"),
    [
        ("bp", d(365), [d(30), d(120), d(210), d(300)]),
        ("lipids", d(400), [d(30), d(395)]),
        ("hba1c", d(400), [d(30), d(210), d(390)]),
        ("home_bp", d(29), [d(7), d(14), d(21), d(28)]),
        ("bp", d(29), []),
    ],
)
def test_schedule(slug: str, until: date, dates: list[date]) -> None:
    assert schedule(PATH_ITEMS_BY_SLUG[slug], enrolled_on=D0, until=until) == dates


APRIL = [date(2024, 4, 1) + timedelta(days=i) for i in range(30)]


@pytest.mark.parametrize(
    ("diseases", "done", "start", "end", "expected"),
    [
        # HTN, calendar 2024 (366 days), nothing done. Due: 9 quarterly items × 4 (d30, d120, d210, d300)
        # + 5 yearly items × 1 (d30) + the weekly home reading × 52 (d7 … d364) = 93.
        (HTN, {}, date(2024, 1, 1), date(2024, 12, 31), Execution(93, 0, 0.0)),
        # BP measured on d0, d100, d200, d290: each of its 4 due dates is met.
        (HTN, {"bp": [d(290), d(0), d(100), d(200)]}, date(2024, 1, 1), date(2024, 12, 31), Execution(93, 4, 4 / 93)),
        # BP every 6 months only: d30 (d0) and d210 (d200) met, d120 and d300 missed.
        (HTN, {"bp": [d(0), d(200)]}, date(2024, 1, 1), date(2024, 12, 31), Execution(93, 2, 2 / 93)),
        # Q2 2024 (d91 … d181): 9 quarterly items due d120 + home reading d91 … d175 (13) = 22. BP on d45 meets
        # d120; home readings every day of April (d91 … d120) meet d91, d98, d105, d112, d119 and d126.
        (HTN, {"bp": [d(45)], "home_bp": APRIL}, date(2024, 4, 1), date(2024, 6, 30), Execution(22, 7, 7 / 22)),
        # DM, on d30 only: 9 quarterly + HbA1c + 7 yearly baseline items = 17 (the weekly reading falls on d28,
        # d35). Lipids 100 days before enrolment count; fasting glucose on d-60 is exactly one interval
        # before d30 (inclusive); HbA1c on d-200 is too old.
        (
            DM,
            {"lipids": [d(-100)], "fasting_glucose": [d(-60)], "hba1c": [d(-200)]},
            d(30),
            d(30),
            Execution(17, 2, 2 / 17),
        ),
        # Both, d7 … d14: the two weekly readings × 2. One BP reading on d7 covers d7 and d14.
        (BOTH, {"home_bp": [d(7)]}, d(7), d(14), Execution(4, 2, 0.5)),
        # A reading after the due date is not on time.
        (HTN, {"home_bp": [d(8)]}, d(7), d(7), Execution(1, 0, 0.0)),
        # enrolled after the period: nothing due, no rate
        (BOTH, {}, date(2023, 1, 1), date(2023, 12, 31), Execution(0, 0, None)),
    ],
)
def test_execution(
    diseases: frozenset[Disease], done: dict[str, list[date]], start: date, end: date, expected: Execution
) -> None:
    assert execution(diseases, done_dates=done, enrolled_on=D0, start=start, end=end) == expected


def test_execution_rejects_an_inverted_period() -> None:
    with pytest.raises(ValueError, match="after end"):
        execution(HTN, done_dates={}, enrolled_on=D0, start=d(10), end=d(9))


# --- complication screening (并发症筛查率 numerator) -------------------------------------------------------
YEAR = (date(2024, 1, 1), date(2024, 12, 31))
ALL_FOUR = {"fundus": [date(2024, 3, 1)], "uacr": [date(2024, 1, 1)], "foot": [date(2024, 12, 31)], "ecg": [d(40)]}


@pytest.mark.parametrize(
    ("diseases", "done", "screened"),
    [
        (DM, ALL_FOUR, True),  # the year's ends count
        (DM, {k: v for k, v in ALL_FOUR.items() if k != "foot"}, False),
        (DM, ALL_FOUR | {"foot": [date(2023, 12, 31), date(2025, 1, 1)]}, False),
        (HTN, {"uacr": [d(100)], "ecg": [d(200)]}, True),  # fundus and foot are not on the HTN path
        (HTN, {"uacr": [d(100)], "ecg": [date(2023, 6, 1)]}, False),
        (BOTH, {"uacr": [d(100)], "ecg": [d(200)]}, False),
        (BOTH, ALL_FOUR, True),
        (frozenset(), ALL_FOUR, False),  # nothing to screen: not counted
    ],
)
def test_complication_screening_done(diseases: frozenset[Disease], done: dict[str, list[date]], screened: bool) -> None:
    assert complication_screening_done(diseases, done_dates=done, year_start=YEAR[0], year_end=YEAR[1]) is screened
