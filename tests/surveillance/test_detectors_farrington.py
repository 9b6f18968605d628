"""Farrington flexible against R surveillance 1.20.3 ``farringtonFlexible`` (Noufaily settings) on
every reference series that has one, plus hand-made cases.

Targets: alarms ≥ 99 % identical per series and overall; thresholds within 1 % where both are
finite; NA exactly where R has NA. (Observed: 100 % identical alarms, identical thresholds, no NA
mismatch — the thresholds are negative-binomial quantiles, i.e. integers.)
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import stats

from healthbrain.surveillance.detectors.base import Detection, InsufficientHistory
from healthbrain.surveillance.detectors.farrington import farrington_flexible, min_history, qnbinom, qpois
from healthbrain.surveillance.detectors.registry import InvalidParams, run_method
from tests.surveillance import Reference, close, load_reference, load_series, with_reference

NAMES = with_reference("farringtonFlexible")


@cache
def _run(name: str) -> tuple[Detection, Reference]:
    series = load_series(name)
    ref = load_reference(name, "farringtonFlexible")
    # the README's R call; dated series (salmNewport, rotaBB) use R's epochAsDate reference weeks
    result = farrington_flexible(
        series.observed,
        freq=series.freq,
        start=int(ref.t[0]) - 1,
        b=5,
        w=3,
        no_periods=10,
        past_weeks_not_included=26,
        weights_threshold=2.58,
        threshold_method="nbPlugin",
        alpha=0.01,
        powertrans="2/3",
        reweight=True,
        trend=True,
        p_threshold_trend=0.05,
        limit54=(5, 4),
        dates=series.dates,
    )
    return result, ref


def test_all_reference_series_are_covered() -> None:
    assert len(NAMES) == 36


@pytest.mark.parametrize("name", NAMES)
def test_matches_r_farrington_flexible(name: str) -> None:
    result, ref = _run(name)
    assert (result.index + 1).tolist() == ref.t.tolist()
    agreement = float(np.mean(result.alarm == (ref.alarm == 1)))
    assert agreement >= 0.99, f"{name}: {agreement:.1%} of alarms identical"
    r_na = np.isnan(ref.upperbound)
    assert (np.isnan(result.threshold) == r_na).all(), f"{name}: NA thresholds differ"
    assert close(result.threshold[~r_na], ref.upperbound[~r_na], 0.01).all()


def test_alarm_agreement_overall() -> None:
    same = total = 0
    for name in NAMES:
        result, ref = _run(name)
        same += int(np.sum(result.alarm == (ref.alarm == 1)))
        total += len(ref.t)
    assert total == 5245
    assert same / total >= 0.99


def test_constant_series() -> None:
    # no overdispersion (phi = 1): the threshold is the Poisson 99 % quantile of the mean (R: 18)
    result = farrington_flexible(np.full(300, 10.0), freq=52)
    assert result.index[0] == min_history(b=5, w=3, freq=52) == 263
    assert (result.threshold == stats.poisson.ppf(0.99, 10)).all()
    assert np.allclose(result.expected, 10.0)
    assert not result.alarm.any()


def test_all_zero_series_has_no_threshold_and_no_alarm() -> None:
    # fewer than 5 cases in the last 4 weeks (limit54): R gives NA, and so do we
    result = farrington_flexible(np.zeros(300), freq=52)
    assert np.isnan(result.threshold).all()
    assert not result.alarm.any()


def test_an_outbreak_week_alarms() -> None:
    rng = np.random.default_rng(3)
    x = rng.poisson(8, 320).astype(float)
    x[-1] = 40
    result = farrington_flexible(x, freq=52)
    assert bool(result.alarm[-1])
    assert not result.alarm[:-1].any()
    assert result.threshold[-1] < 40


def test_no_model_with_or_without_trend_gives_no_threshold() -> None:
    # Nothing for four and a half years, then about two cases a week: at some weeks the GLM
    # converges neither with nor without trend within 25 IRLS iterations; R returns no model
    # there (upper bound and alarm NA) even with enough recent cases, and so do we.
    x = np.zeros(300)
    x[250:] = np.random.default_rng(3).poisson(2, 50)
    result = farrington_flexible(x, freq=52)
    recent = np.array([x[k - 3 : k + 1].sum() for k in result.index])
    no_model = np.isnan(result.threshold) & (recent >= 5)
    assert no_model.any()
    assert not result.alarm[no_model].any()
    assert np.isnan(result.score[no_model]).all()


def test_too_short_raises_insufficient_history() -> None:
    with pytest.raises(InsufficientHistory):
        farrington_flexible(np.ones(263), freq=52)
    with pytest.raises(InsufficientHistory):
        farrington_flexible(np.ones(400), freq=52, start=200)
    with pytest.raises(InsufficientHistory):
        run_method("farrington-flexible", np.ones(263), freq=52)
    assert len(run_method("farrington-flexible", np.ones(264), freq=52)) == 1


def test_monthly_series_with_too_many_periods_is_refused() -> None:
    with pytest.raises(InvalidParams, match="no_periods"):
        run_method("farrington-flexible", np.ones(100), {"no_periods": 20, "w": 3}, freq=12)


@pytest.mark.parametrize(
    ("size", "prob"),
    [(0.5, 0.3), (3.0, 0.5), (12.0, 0.9), (1e-6, 0.5), (200.0, 0.99)],
)
def test_negative_binomial_quantile_is_the_smallest_with_cdf_at_least_p(size: float, prob: float) -> None:
    q = qnbinom(0.99, np.array([size]), np.array([prob]))[0]
    assert stats.nbinom.cdf(q, size, prob) >= 0.99 * (1 - 1e-14)
    if q > 0:
        assert stats.nbinom.cdf(q - 1, size, prob) < 0.99


def test_poisson_quantile() -> None:
    lam = np.array([0.0, 0.5, 10.0, 123.4])
    assert qpois(0.99, lam).tolist() == stats.poisson.ppf(0.99, lam).tolist()
