"""The engine's pure parts: how far back each detector's history reaches, how far ahead a changed
count moves verdicts."""

from __future__ import annotations

from datetime import date

import pytest

from healthbrain.surveillance import engine
from healthbrain.surveillance.models import DetectorConfig

DAY = date(2026, 11, 25)  # a Wednesday


def _detector(method: str, signal: str, params: dict[str, object], interval: str = "day") -> DetectorConfig:
    return DetectorConfig(
        code="t", signal=signal, place_kind="district", method=method, params=params, interval=interval
    )


@pytest.mark.parametrize(
    ("detector", "at_least"),
    [
        # the CIDARS percentile compares with all b years, not just the first it could start with
        (_detector("percentile", "case.influenza", {"percentile": 80, "window": 7, "b": 3, "w": 14}), 3 * 364 + 14 + 7),
        (_detector("ears-c2", "fever_clinic.ili", {}), 9),
        (_detector("farrington-flexible", "case.hfmd", {}, "week"), 5 * 52 + 3),
        (_detector("window", "case.hfmd", {"days": 7, "min_count": 2}), 7),
    ],
)
def test_history_reaches_back_far_enough(detector: DetectorConfig, at_least: int) -> None:
    axis = engine.history_span(detector, DAY, DAY, [])
    assert len(axis) - 1 >= at_least
    assert axis[-1].item() <= DAY


def test_school_days_skip_weekends_and_holidays() -> None:
    detector = _detector("ears-c2", "absence.all", {"baseline": 7})
    axis = engine.history_span(detector, DAY, DAY, [(date(2026, 11, 16), date(2026, 11, 20))])
    days = [d.item() for d in axis]
    assert all(d.weekday() < 5 for d in days)
    assert not any(date(2026, 11, 16) <= d <= date(2026, 11, 20) for d in days)
    assert len(days) - 1 >= 9  # C2 needs 7 baseline days behind a 2-day guard band


@pytest.mark.parametrize(
    ("method", "params", "ahead"),
    [
        ("window", {"days": 3, "min_count": 5}, 2),
        ("window", {"days": 1, "min_count": 3}, 0),
        ("ears-c3", {}, 2),
        ("ears-c1", {}, 0),
    ],
)
def test_a_changed_count_moves_the_days_a_rule_sums_it_into(method: str, params: dict[str, object], ahead: int) -> None:
    assert engine.lookahead(_detector(method, "case.hfmd", params)) == ahead
