"""EARS C1/C2/C3 against R surveillance 1.20.3 ``earsC`` on every reference series, plus small
hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from healthbrain.surveillance.detectors.base import InsufficientHistory
from healthbrain.surveillance.detectors.ears import ears, min_history
from healthbrain.surveillance.detectors.registry import run_method
from tests.surveillance import close, load_reference, load_series, series_names

Z_0999 = 3.090232306167813  # qnorm(0.999)
TOLERANCE = 1e-6  # |Δ| ≤ 1e-6 · max(1, |R|): absolute below 1, relative above


@pytest.mark.parametrize("method", ["C1", "C2", "C3"])
@pytest.mark.parametrize("name", series_names())
def test_matches_r_earsC(name: str, method: str) -> None:
    series = load_series(name)
    ref = load_reference(name, f"ears{method}")
    result = ears(series.observed, method=method, baseline=7, alpha=0.001, start=int(ref.t[0]) - 1)  # type: ignore[arg-type]
    assert (result.index + 1).tolist() == ref.t.tolist()
    r_na = np.isnan(ref.upperbound)
    assert (np.isnan(result.threshold) == r_na).all(), "NA thresholds differ"
    assert close(result.threshold[~r_na], ref.upperbound[~r_na], TOLERANCE).all()
    # R's alarm is NA exactly where its threshold is NA; ours is then False
    assert ((ref.alarm == -1) == r_na).all()
    assert (result.alarm == (ref.alarm == 1)).all()


def test_c1_by_hand() -> None:
    x = np.array([1, 2, 3, 4, 5, 6, 7, 10, 30], dtype=float)
    result = ears(x, method="C1", baseline=7, alpha=0.001)
    mean, sd = 4.0, math.sqrt(28 / 6)  # 1 … 7
    assert result.index.tolist() == [7, 8]
    assert result.threshold[0] == pytest.approx(mean + Z_0999 * sd)
    assert result.score[0] == pytest.approx((10 - mean) / sd)  # 10 < 4 + 3.09 · 2.16 = 10.68
    assert result.expected[0] == pytest.approx(mean)
    assert result.alarm.tolist() == [False, True]


def test_c2_leaves_a_two_point_guard_band() -> None:
    x = np.array([2, 2, 2, 2, 2, 2, 2, 50, 50, 3], dtype=float)
    result = ears(x, method="C2", baseline=7)
    # at t = 9 the baseline is x[0:7] (all 2): the two 50s in the guard band do not count
    assert result.index.tolist() == [9]
    assert result.threshold[0] == 2.0
    assert bool(result.alarm[0])  # 3 > 2 with sd 0


def test_constant_series_has_the_mean_as_threshold_and_no_alarm() -> None:
    x = np.full(30, 4.0)
    for method in ("C1", "C2"):
        result = ears(x, method=method)
        assert (result.threshold == 4.0).all()
        assert not result.alarm.any()


def test_all_zero_series() -> None:
    x = np.zeros(30)
    c1 = ears(x, method="C1")
    assert (c1.threshold == 0).all() and not c1.alarm.any()
    # C3 divides by a zero sd in its lags: R gives NA, we give NaN and no alarm
    c3 = ears(x, method="C3")
    assert np.isnan(c3.threshold).all() and not c3.alarm.any()


def test_c3_alarm_follows_r_and_the_score_is_the_textbook_c3() -> None:
    rng = np.random.default_rng(7)
    x = rng.poisson(10, 60).astype(float)
    x[40:43] = [30, 35, 40]
    result = ears(x, method="C3", baseline=7, alpha=0.025)
    c2 = ears(x, method="C2", baseline=7, alpha=0.025, start=result.index[0] - 2).score
    plus = np.maximum(0.0, c2 - 1)
    assert np.allclose(result.score, plus[:-2] + plus[1:-1] + plus[2:])
    # R's alarm: the two lagged terms alone exceed z (see ears.py)
    z = 1.959963984540054
    assert (result.alarm == (plus[:-2] + plus[1:-1] > z)).all()
    assert result.alarm[result.index.tolist().index(42)]


@pytest.mark.parametrize(("method", "needed"), [("C1", 7), ("C2", 9), ("C3", 11)])
def test_too_short_raises_insufficient_history(method: str, needed: int) -> None:
    assert min_history(method, 7) == needed  # type: ignore[arg-type]
    with pytest.raises(InsufficientHistory):
        ears(np.ones(needed), method=method)  # type: ignore[arg-type]
    with pytest.raises(InsufficientHistory):
        ears(np.ones(40), method=method, start=needed - 1)  # type: ignore[arg-type]
    with pytest.raises(InsufficientHistory):
        run_method(f"ears-{method.lower()}", np.ones(needed), freq=7)
    assert len(ears(np.ones(needed + 1), method=method)) == 1  # type: ignore[arg-type]


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="baseline"):
        ears(np.ones(20), method="C1", baseline=2)
    with pytest.raises(ValueError, match="alpha"):
        ears(np.ones(20), method="C1", alpha=1.5)
