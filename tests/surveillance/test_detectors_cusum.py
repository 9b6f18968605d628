"""CUSUM against R surveillance 1.20.3 ``cusum`` / ``algo.cusum`` (k = 1.04, h = 2.26, m = mean of
the first year) — references made by ``tests/data/rsurveillance/make_cusum_reference.R`` — plus
hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from healthbrain.surveillance.detectors.base import InsufficientHistory
from healthbrain.surveillance.detectors.cusum import cusum
from healthbrain.surveillance.detectors.registry import run_method
from tests.surveillance import close, load_reference, load_series, reference_column, with_reference

NAMES = with_reference("cusum")
TRANSFORMS = ["standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin"]
TOLERANCE = 1e-6  # |Δ| ≤ 1e-6 · max(1, |R|)


def test_reference_series() -> None:
    assert len(NAMES) == 9  # including salmNewport__Saarland, whose first year is all zero (m = 0)


@pytest.mark.parametrize("trans", TRANSFORMS)
@pytest.mark.parametrize("name", NAMES)
def test_matches_r_cusum(name: str, trans: str) -> None:
    series = load_series(name)
    ref = load_reference(name, "cusum", trans=trans)
    sums = reference_column(name, "cusum", "cusum", trans=trans)
    result = cusum(series.observed, start=int(ref.t[0]) - 1, trans=trans)  # type: ignore[arg-type]
    assert (result.index + 1).tolist() == ref.t.tolist()
    assert close(result.threshold, ref.upperbound, TOLERANCE).all()  # R never leaves it NA
    assert (np.isnan(result.score) == np.isnan(sums)).all()
    finite = np.isfinite(sums)
    assert (np.isinf(result.score) == np.isinf(sums)).all()
    assert close(result.score[finite], sums[finite], TOLERANCE).all()
    # R's alarm is NA where the sum is NaN (m = 0); ours is False there
    assert ((ref.alarm == -1) == np.isnan(sums)).all()
    assert (result.alarm == (ref.alarm == 1)).all()


def test_in_control_series_by_hand() -> None:
    # m = 4 from the first 4 points; counts at m give z = 0, so the sum stays 0
    x = np.array([3, 5, 4, 4, 4, 4, 4], dtype=float)
    result = cusum(x, start=4)
    assert result.expected.tolist() == [4.0, 4.0, 4.0]
    assert result.score.tolist() == [0.0, 0.0, 0.0]
    assert not result.alarm.any()
    assert (result.threshold == math.ceil(2 * (2.26 + 1.04) + 4)).all()  # ceil(sqrt(m)(h + k) + m) = 11


def test_a_shift_accumulates_to_an_alarm() -> None:
    x = np.array([4, 4, 4, 4, 8, 8, 8], dtype=float)
    result = cusum(x, start=4)
    z = (8 - 4) / 2 - 1.04  # standardised step minus k: 0.96
    assert np.allclose(result.score, [z, 2 * z, 3 * z])  # 0.96, 1.92, 2.88
    assert result.alarm.tolist() == [False, False, True]  # h = 2.26
    # R's upper bound: the count that would have alarmed, ceil(sqrt(m)(h + k - S_{t-1}) + m)
    assert result.threshold.tolist() == [math.ceil(2 * (3.3 - s) + 4) for s in (0.0, z, 2 * z)]


def test_given_m_needs_no_history() -> None:
    result = run_method("cusum", np.array([5.0, 9.0, 12.0]), {"m": 4.0}, freq=52)
    assert result.index.tolist() == [0, 1, 2]
    assert result.expected.tolist() == [4.0, 4.0, 4.0]


def test_too_short_raises_insufficient_history() -> None:
    with pytest.raises(InsufficientHistory):
        cusum(np.ones(5), start=0)  # m = mean of nothing
    with pytest.raises(InsufficientHistory):
        run_method("cusum", np.ones(52), freq=52)  # a year of baseline plus one point
    assert len(run_method("cusum", np.ones(53), freq=52)) == 1
