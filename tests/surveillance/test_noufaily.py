"""The Noufaily et al. (2013) simulation: scenario table, baseline model, outbreak placement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from healthbrain.surveillance.noufaily import (
    CURRENT_WEEKS,
    WEEKS,
    scenario,
    scenarios,
    simulate,
    simulate_baseline,
)


def test_forty_two_scenarios_numbered_in_order() -> None:
    table = scenarios()
    assert [s.id for s in table] == list(range(1, 43))
    assert len({(s.alpha, s.beta, s.m, s.phi) for s in table}) == 42
    # seven parameter sets × (no trend, trend) × (m = 0, 1, 2)
    assert [(s.trend, s.m) for s in table[:6]] == [(False, 0), (False, 1), (False, 2), (True, 0), (True, 1), (True, 2)]
    assert all(s.gamma1 == s.gamma2 == 0.0 for s in table if s.m == 0)


@pytest.mark.parametrize(
    ("scenario_id", "alpha", "beta", "gamma1", "gamma2", "m", "phi"),
    [
        (1, 0.1, 0.0, 0.0, 0.0, 0, 1.5),
        (14, 1.5, 0.0, 0.2, -0.4, 1, 1.0),  # Saratoon's reproduction calls this "scenario 14" too
        (18, 1.5, 0.003, 0.2, -0.4, 2, 1.0),
        (22, 0.5, 0.002, 0.0, 0.0, 0, 5.0),
        (42, 5.0, 0.0001, 0.05, 0.01, 2, 1.2),
    ],
)
def test_scenario_rows(
    scenario_id: int, alpha: float, beta: float, gamma1: float, gamma2: float, m: int, phi: float
) -> None:
    s = scenario(scenario_id)
    assert (s.alpha, s.beta, s.gamma1, s.gamma2, s.m, s.phi) == (alpha, beta, gamma1, gamma2, m, phi)


def test_scenario_id_out_of_range() -> None:
    with pytest.raises(ValueError, match="between 1 and 42"):
        scenario(43)


def test_mean_follows_the_model() -> None:
    s = scenario(18)  # trend and two harmonics
    t = 100
    eta = 1.5 + 0.003 * t
    for j in (1, 2):
        eta += 0.2 * math.cos(2 * math.pi * j * t / 52) - 0.4 * math.sin(2 * math.pi * j * t / 52)
    assert s.mean()[t - 1] == pytest.approx(math.exp(eta))
    assert s.mean().shape == (WEEKS,)
    assert s.sd()[t - 1] == pytest.approx(math.sqrt(1.0 * math.exp(eta)))


@pytest.mark.parametrize("scenario_id", [3, 14, 22, 29, 36])
def test_baseline_mean_and_variance_match_the_model(scenario_id: int) -> None:
    """Over 3,000 series, each week's average is within sampling error of μ(t), and the spread
    of those averages says the variance is φ·μ(t)."""
    s = scenario(scenario_id)
    rng = np.random.default_rng(scenario_id)
    replicates = 3000
    draws = np.stack([simulate_baseline(s, rng=rng) for _ in range(replicates)])
    mu = s.mean()
    z = (draws.mean(axis=0) - mu) / np.sqrt(s.phi * mu / replicates)
    assert abs(float(z.mean())) < 0.15  # 624 z-scores: their mean has SD 0.04
    assert float(z.std()) == pytest.approx(1.0, abs=0.1)
    dispersion = draws.var(axis=0, ddof=1) / mu
    assert float(dispersion.mean()) == pytest.approx(s.phi, rel=0.03)


def test_outbreaks_are_placed_where_stated() -> None:
    rng = np.random.default_rng(11)
    evaluation_start = WEEKS - CURRENT_WEEKS  # 575: week 576, 1-based
    for sid in (2, 14, 27, 40):
        for _ in range(25):
            series = simulate(scenario(sid), rng=rng)
            assert series.evaluation_start == evaluation_start
            np.testing.assert_array_equal(series.observed, series.baseline + series.outbreak)
            assert series.outbreak.sum() == sum(o.size for o in series.outbreaks)
            past = [o for o in series.outbreaks if not o.current]
            assert len(past) == 4 and len({o.seeded for o in past}) == 4
            for o in past:
                assert 312 <= o.seeded <= 574  # weeks 313–575
                assert o.k in (2, 3, 5, 10)
                assert o.size >= 2
            now = series.current_outbreak
            assert evaluation_start <= now.seeded <= WEEKS - 1  # weeks 576–624
            assert 1 <= now.k <= 10
            expected_flags = np.zeros(WEEKS, dtype=bool)
            for o in series.outbreaks:
                assert o.seeded <= o.start <= o.end < WEEKS
                assert o.end - o.seeded <= 8  # ⌊LN(0, 0.5)⌋ hardly ever reaches 8
                if o.size:
                    assert series.outbreak[o.start] > 0 and series.outbreak[o.end] > 0
                    expected_flags[o.start : o.end + 1] = True
            np.testing.assert_array_equal(series.in_outbreak, expected_flags)
            assert not np.any(series.outbreak[~series.in_outbreak])


def test_outbreak_size_is_k_times_the_standard_deviation_at_the_start() -> None:
    s = scenario(36)  # θ = 3.75, φ = 1.1: the "at least 2 cases" rule never bites
    rng = np.random.default_rng(3)
    ratios = []
    for _ in range(400):
        series = simulate(s, rng=rng)
        sd = s.sd()
        ratios += [o.size / (o.k * sd[o.seeded]) for o in series.outbreaks if not o.current]
    assert float(np.mean(ratios)) == pytest.approx(1.0, abs=0.02)


def test_cases_spread_over_weeks_like_a_rounded_down_lognormal() -> None:
    s = scenario(40)
    rng = np.random.default_rng(5)
    by_offset = np.zeros(4)
    for _ in range(300):
        series = simulate(s, rng=rng, current_k=10)
        now = series.current_outbreak
        past_end = max(o.end for o in series.outbreaks if not o.current)
        if now.seeded + 4 > WEEKS or past_end >= now.seeded:
            continue  # truncated by the end of the series, or mixed with a past outbreak
        by_offset += series.outbreak[now.seeded : now.seeded + 4]
    share = by_offset / by_offset.sum()
    # P(⌊X⌋ = j) for log X ~ N(0, 0.5²): Φ(2 ln(j + 1)) − Φ(2 ln j)
    phi = [0.5 * (1 + math.erf(2 * math.log(j) / math.sqrt(2))) if j else 0.0 for j in range(1, 5)]
    want = np.diff([0.0, *phi])
    np.testing.assert_allclose(share, want, atol=0.01)


def test_current_k_can_be_fixed() -> None:
    series = simulate(scenario(8), rng=np.random.default_rng(1), current_k=7)
    assert series.current_outbreak.k == 7


def test_same_seed_same_series() -> None:
    a = simulate(scenario(20), rng=np.random.default_rng(99))
    b = simulate(scenario(20), rng=np.random.default_rng(99))
    c = simulate(scenario(20), rng=np.random.default_rng(100))
    np.testing.assert_array_equal(a.observed, b.observed)
    np.testing.assert_array_equal(a.in_outbreak, b.in_outbreak)
    assert a.outbreaks == b.outbreaks
    assert not np.array_equal(a.observed, c.observed)


@pytest.mark.parametrize(("kwargs", "message"), [({"weeks": 40}, "weeks"), ({"current_k": 0}, "current_k")])
def test_bad_arguments(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate(scenario(1), rng=np.random.default_rng(0), **kwargs)


def test_shorter_series_keep_the_last_49_weeks_as_current() -> None:
    series = simulate(scenario(5), rng=np.random.default_rng(2), weeks=200)
    assert series.evaluation_start == 151
    assert 151 <= series.current_outbreak.seeded < 200
    assert all(o.seeded < 151 for o in series.outbreaks if not o.current)
