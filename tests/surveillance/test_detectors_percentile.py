"""The CIDARS moving percentile, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from healthbrain.surveillance.detectors.base import InsufficientHistory
from healthbrain.surveillance.detectors.percentile import moving_percentile
from healthbrain.surveillance.detectors.registry import METHODS, InvalidParams, PercentileParams, run_method


def weekly_history(current: float) -> tuple[np.ndarray, int]:
    """Five years of weeks; the 25 comparable weeks (5 years × ±2 weeks) hold 1 … 25."""
    t = 5 * 52 + 2
    x = np.zeros(t + 1)
    value = 1.0
    for year in range(1, 6):
        for d in range(-2, 3):
            x[t - year * 52 + d] = value
            value += 1
    x[t] = current
    return x, t


@pytest.mark.parametrize(("current", "alarm"), [(21.0, True), (20.2, False), (20.0, False)])
def test_weekly_p80_of_25_comparable_weeks(current: float, alarm: bool) -> None:
    x, t = weekly_history(current)
    result = moving_percentile(x, period=52, window=1, w=2, b=5, percentile=80, start=t)
    assert result.threshold[0] == pytest.approx(1 + 0.8 * 24)  # linear interpolation: 20.2
    assert result.expected[0] == 13.0  # the median
    assert bool(result.alarm[0]) is alarm  # strictly greater than the percentile


def test_equal_to_the_percentile_does_not_alarm() -> None:
    x, t = weekly_history(13.0)
    result = moving_percentile(x, period=52, window=1, w=2, b=5, percentile=50, start=t)
    assert result.threshold[0] == 13.0
    assert not result.alarm[0]
    assert result.score[0] == pytest.approx(100 * 13 / 25)  # share of comparable weeks ≤ 13


def test_fewer_years_than_b_use_the_years_there_are() -> None:
    rng = np.random.default_rng(1)
    x = rng.poisson(6, 52 * 2 + 10).astype(float)
    t = len(x) - 1
    result = moving_percentile(x, period=52, window=1, w=2, b=5, percentile=80, start=t)
    comparable = [x[t - j * 52 + d] for j in (1, 2) for d in range(-2, 3)]
    assert result.threshold[0] == pytest.approx(np.percentile(comparable, 80))


def test_daily_seven_day_counts() -> None:
    # a year of one case a day: every 7-day count is 7; a cluster in the last week lifts it to 12
    x = np.ones(364 + 14 + 7 + 30)
    x[-3:] = [2, 3, 3]
    result = run_method("percentile", x, {"percentile": 80}, freq=7)
    assert result.index[0] == 364 + 14 + 6
    assert (result.threshold == 7).all()
    assert result.observed[-1] == 7 + 1 + 2 + 2  # the compared count is the 7-day sum
    assert result.alarm.tolist() == [False] * (len(result) - 3) + [True, True, True]


@pytest.mark.parametrize(
    ("freq", "period", "w", "window"), [(52, 52, 2, 1), (7, 364, 14, 7), (364, 364, 14, 7), (12, 12, 1, 1)]
)
def test_defaults_follow_the_frequency(freq: int, period: int, w: int, window: int) -> None:
    params = PercentileParams()
    assert params.resolved(freq) == (period, w, window)
    assert METHODS["percentile"].min_history(params, freq) == period + w + window - 1


def test_too_short_raises_insufficient_history() -> None:
    with pytest.raises(InsufficientHistory):
        moving_percentile(np.ones(54), period=52, w=2)
    with pytest.raises(InsufficientHistory):
        run_method("percentile", np.ones(54), freq=52)
    assert len(run_method("percentile", np.ones(55), freq=52)) == 1


def test_period_must_clear_the_window() -> None:
    with pytest.raises(InvalidParams, match="period"):
        run_method("percentile", np.ones(100), {"period": 5, "w": 3, "window": 3}, freq=52)
