"""The district evaluation: episodes, the matching rule and the scores, on feeds small enough to
work out by hand, then one run on a generated district."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

from healthbrain.sim.feeds import Feeds, Truth
from healthbrain.surveillance.defaults import DEFAULTS_V1, Default
from healthbrain.surveillance.definitions import Feed
from healthbrain.surveillance.district_eval import OUTBREAK_KINDS, build_series, evaluate_district, simulate_district
from healthbrain.surveillance.district_report import Alarm, episodes
from healthbrain.surveillance.series import PlaceIndex, aggregate, contributions
from healthbrain.surveillance.truth import District, matches

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 31)  # a Monday; no holiday in March
OUTBREAK_DAY = date(2026, 3, 18)

# District 1; towns 2 and 3; communities 10, 11 (town 2) and 12 (town 3); school 100 in
# community 10 with classes 1–3, school 101 in community 12 with class 4; hospital 200.
DISTRICT = District(
    places=PlaceIndex(
        district_id=1,
        town_of_division={2: 2, 3: 3, 10: 2, 11: 2, 12: 3},
        division_of_institution={100: 10, 101: 12, 200: 11},
    ),
    school_of_class={1: 100, 2: 100, 3: 100, 4: 101},
    communities=((10, 120.00, 30.00), (11, 120.01, 30.00), (12, 120.20, 30.10)),
)


def absence_rows(rows: list[tuple[int, int, date, str, int]]) -> dict[str, list[Any]]:
    """(school, class, day, cause, absent) → the feed's columns."""
    return {
        "school_id": [r[0] for r in rows],
        "class_id": [r[1] for r in rows],
        "day": [r[2] for r in rows],
        "cause": [r[3] for r in rows],
        "absent": [r[4] for r in rows],
        "enrolled": [40] * len(rows),
    }


def hand_made_feeds() -> Feeds:
    """One ILI cluster: 4 fever absences in class 1 on 18 March. Elsewhere, single absences that
    no rule should flag: a cough now and then in class 2, headaches in class 4."""
    school_days = [FIRST + timedelta(days=d) for d in range(30) if (FIRST + timedelta(days=d)).weekday() < 5]
    rows = [(100, 2, d, "cough", 1) for d in school_days[::3]]
    rows += [(101, 4, d, "headache", 2) for d in school_days[::4]]
    rows.append((100, 1, OUTBREAK_DAY, "fever", 4))
    truth = [Truth("school_ili", "absence.respiratory", "school", 100, OUTBREAK_DAY, OUTBREAK_DAY, 4, {"classes": [1]})]
    return Feeds(
        rows={Feed.SCHOOL_ABSENCE: absence_rows(rows)}, holidays=[], truth=truth, first_day=FIRST, last_day=LAST
    )


CLASS_1D3 = Default(
    "test.class.respiratory.1d3",
    "班级1天内≥3例",
    "Class: ≥ 3 in 1 day",
    "absence.respiratory",
    "class",
    "window",
    {"days": 1, "min_count": 3},
)


def test_one_class_cluster_is_one_true_episode() -> None:
    report = evaluate_district(hand_made_feeds(), DISTRICT, [CLASS_1D3], eval_days=30)
    ili = report.kind("school_ili")
    assert (ili.outbreaks, ili.detected, ili.sensitivity, ili.delays) == (1, 1, 1.0, (0,))
    assert (ili.median_delay, ili.mean_delay) == (0.0, 0.0)
    overall = report.overall
    assert (overall.episodes, overall.true, overall.false, overall.ppv) == (1, 1, 0, 1.0)
    assert overall.false_per_area_week == 0.0
    (by_class, _all) = report.by_place_kind
    assert by_class.label == "class"
    assert by_class.places == 2  # classes 1 and 2 have respiratory absences; class 4 only headaches
    (detector,) = report.detectors
    counts = detector.counts
    assert (detector.run.alarms, counts.episodes, counts.true, detector.outbreaks_detected) == (1, 1, 1, 1)
    (outbreak,) = report.outbreaks
    assert outbreak.first_alarm is not None and outbreak.first_alarm.place_id == 1
    assert report.kind("community_hfmd").outbreaks == 0


def test_a_lower_threshold_adds_false_episodes_per_area_week() -> None:
    # ≥ 1 respiratory absence a day: class 2's coughs (every third school day) alarm too. Evaluated
    # from 4 March, they fall on 5, 10, 13, 18, 23, 26 and 31 March, never 8 days apart: one episode.
    loose = Default("test.loose", "", "", "absence.respiratory", "class", "window", {"days": 1, "min_count": 1})
    report = evaluate_district(hand_made_feeds(), DISTRICT, [loose], eval_days=28)
    (detector,) = report.detectors
    assert detector.run.alarms == 7 + 1
    overall = report.overall
    assert (overall.episodes, overall.true, overall.false, overall.ppv) == (2, 1, 1, 0.5)
    assert overall.false_per_area_week == pytest.approx(1 / (2 * 4))  # 2 classes watched, 4 weeks


def a(
    day: date, place: int = 1, *, signal: str = "absence.respiratory", kind: str = "class", areas: tuple[int, ...] = ()
) -> Alarm:
    return Alarm("d", "yellow", signal, kind, place, day, 4.0, areas)


D = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([0], [(0, 0)]),
        ([0, 3, 10], [(0, 10)]),  # 7 days after the last alarm the episode is still open
        ([0, 8], [(0, 0), (8, 8)]),  # 8 days later it was closed: a new episode
        ([0, 7, 14, 22], [(0, 14), (22, 22)]),
        ([5, 0, 0], [(0, 5)]),  # order and duplicates do not matter
    ],
)
def test_episodes_close_a_week_after_their_last_alarm(days: list[int], expected: list[tuple[int, int]]) -> None:
    found = episodes([a(D + timedelta(days=d)) for d in days])
    assert [((e.first - D).days, (e.last - D).days) for e in found] == expected


def test_episodes_are_per_signal_and_place() -> None:
    found = episodes([a(D, 1), a(D, 2), a(D, 1, signal="absence.all"), a(D + timedelta(days=1), 1)])
    assert sorted((e.signal, e.place_id, len(e.alarms)) for e in found) == [
        ("absence.all", 1, 1),
        ("absence.respiratory", 1, 2),
        ("absence.respiratory", 2, 1),
    ]


SCHOOL_ILI = Truth(
    "school_ili", "absence.respiratory", "school", 100, OUTBREAK_DAY, OUTBREAK_DAY + timedelta(days=1), 20
)
HFMD = Truth(
    "community_hfmd",
    "case.hfmd",
    "community",
    10,
    OUTBREAK_DAY,
    OUTBREAK_DAY + timedelta(days=9),
    12,
    {"areas": [10, 11]},
)
WAVE = Truth("seasonal_influenza", "case.influenza", "district", 1, date(2026, 1, 5), date(2026, 3, 10), 0)


@pytest.mark.parametrize(
    ("truth", "alarm", "expected"),
    [
        (SCHOOL_ILI, a(OUTBREAK_DAY, 1), True),  # a class of the school
        (SCHOOL_ILI, a(OUTBREAK_DAY, 4), False),  # a class of another school
        (SCHOOL_ILI, a(OUTBREAK_DAY, 100, kind="school"), True),
        (SCHOOL_ILI, a(OUTBREAK_DAY, 101, kind="school"), False),
        (SCHOOL_ILI, a(OUTBREAK_DAY, 2, kind="town"), False),  # school outbreaks: the school and its classes only
        (SCHOOL_ILI, a(OUTBREAK_DAY, 100, kind="school", signal="absence.all"), True),
        (SCHOOL_ILI, a(OUTBREAK_DAY, 100, kind="school", signal="case.influenza"), True),
        (SCHOOL_ILI, a(OUTBREAK_DAY, 100, kind="school", signal="absence.gastrointestinal"), False),
        (SCHOOL_ILI, a(OUTBREAK_DAY - timedelta(days=1), 1), False),  # the day before
        (SCHOOL_ILI, a(OUTBREAK_DAY + timedelta(days=8), 1), True),  # last day + 7
        (SCHOOL_ILI, a(OUTBREAK_DAY + timedelta(days=9), 1), False),
        (HFMD, a(OUTBREAK_DAY, 10, signal="case.hfmd", kind="community"), True),
        (HFMD, a(OUTBREAK_DAY, 11, signal="case.hfmd", kind="community"), True),  # a neighbour in detail.areas
        (HFMD, a(OUTBREAK_DAY, 12, signal="case.hfmd", kind="community"), False),
        # a scan cluster centred outside that reaches into the outbreak's communities
        (HFMD, a(OUTBREAK_DAY, 12, signal="case.hfmd", kind="community", areas=(12, 11)), True),
        (HFMD, a(OUTBREAK_DAY, 2, signal="case.hfmd", kind="town"), True),
        (HFMD, a(OUTBREAK_DAY, 3, signal="case.hfmd", kind="town"), False),
        (HFMD, a(OUTBREAK_DAY, 100, signal="case.hfmd", kind="school"), True),  # a school in the outbreak's town
        (HFMD, a(OUTBREAK_DAY, 4, signal="case.hfmd", kind="class"), False),  # a class in another town
        (HFMD, a(OUTBREAK_DAY, 10, signal="case.varicella", kind="community"), False),
        (WAVE, a(date(2026, 2, 1), 1, signal="case.influenza", kind="district"), True),
        (WAVE, a(date(2026, 2, 1), 200, signal="fever_clinic.ili", kind="institution"), True),
        (WAVE, a(date(2026, 2, 1), 2, signal="lab.influenza_a", kind="town"), True),
        (WAVE, a(date(2026, 2, 1), 10, signal="case.influenza", kind="community"), False),
        (WAVE, a(date(2026, 2, 1), 1, signal="absence.respiratory", kind="class"), False),
        (WAVE, a(date(2026, 3, 17), 1, signal="case.influenza", kind="district"), True),
        (WAVE, a(date(2026, 3, 18), 1, signal="case.influenza", kind="district"), False),
    ],
)
def test_matching_rule(truth: Truth, alarm: Alarm, expected: bool) -> None:
    assert matches(truth, alarm, DISTRICT) is expected


def test_series_are_the_platforms_cells() -> None:
    feeds = hand_made_feeds()
    blocks = build_series(
        feeds, DISTRICT.places, [("absence.respiratory", "class", False), ("absence.all", "school", True)]
    )
    columns = {k: np.asarray(v) for k, v in feeds.rows[Feed.SCHOOL_ABSENCE].items()}
    columns["day"] = columns["day"].astype("datetime64[D]")
    for (signal, kind, weekly), block in blocks.items():
        cells = aggregate(contributions(Feed.SCHOOL_ABSENCE, columns, DISTRICT.places), weekly=weekly)
        expected = {(p, d): v for s, k, p, d, v, _den in cells.rows() if (s, k) == (signal, kind)}
        got = {
            (int(p), block.axis[j].astype(object)): block.counts[i, j]
            for i, p in enumerate(block.places)
            for j in np.flatnonzero(block.counts[i])
        }
        assert got == expected


def test_the_window_must_fit_the_feeds() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        evaluate_district(hand_made_feeds(), DISTRICT, [CLASS_1D3], eval_days=31)


def test_a_generated_district_end_to_end() -> None:
    feeds, district = simulate_district(
        residents=5_000, seed=3, as_of=date(2026, 11, 25), days=120, outbreaks_per_year=24
    )
    report = evaluate_district(feeds, district, DEFAULTS_V1, eval_days=90, scan_replications=99)
    assert [k.kind for k in report.by_kind][: len(OUTBREAK_KINDS)] == list(OUTBREAK_KINDS)
    assert report.by_kind[-1].kind == "all"
    assert report.by_place_kind[-1].label == "all"
    assert len(report.detectors) == len(DEFAULTS_V1)
    overall = report.kind("all")
    assert overall.outbreaks > 0
    assert overall.detected > 0
    assert all(d >= 0 for d in overall.delays)
    assert 0 < report.overall.episodes == sum(c.episodes for c in report.by_place_kind[:-1])
    assert 0.0 <= report.overall.ppv <= 1.0
    encoded = json.dumps(report.to_dict(), allow_nan=False)
    assert {"by_kind", "by_place_kind", "detectors", "outbreaks", "definitions"} <= json.loads(encoded).keys()
