"""Space–time permutation scan (Kulldorff et al., PLoS Med 2005): table-driven, no database."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from healthbrain.surveillance.scan import (
    expected_counts,
    neighbour_order,
    permute_days,
    planar_coordinates,
    poisson_llr,
    space_time_permutation_scan,
)


def llr_by_hand(c: float, mu: float, total: float) -> float:
    """The paper's likelihood ratio, written out."""
    return c * math.log(c / mu) + (total - c) * math.log((total - c) / (total - mu))


# Three areas on a line (x = 0, 1, 2), three days. Area totals 5, 2, 3; day totals 2, 3, 5; N = 10.
TINY = np.array(
    [
        [1, 0, 4],
        [1, 1, 0],
        [0, 2, 1],
    ]
)
LINE = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])


@dataclass(frozen=True)
class Expected:
    areas: tuple[int, ...]
    start_day: int
    observed: int
    expected: float
    llr: float


@pytest.mark.parametrize(
    ("max_days", "max_areas", "clusters"),
    [
        # single areas, today only: area 0 has 4 of today's 5 cases against 5 × 5/10 = 2.5
        (1, 1, [Expected((0,), 2, 4, 2.5, llr_by_hand(4, 2.5, 10))]),
        # pairs allowed: {0, 1} today (4 against 7 × 5/10 = 3.5) scores less than {0} alone;
        # area 2 alone over the last two days: 3 against 3 × 8/10 = 2.4, sharing no area with {0}
        (
            2,
            2,
            [Expected((0,), 2, 4, 2.5, llr_by_hand(4, 2.5, 10)), Expected((2,), 1, 3, 2.4, llr_by_hand(3, 2.4, 10))],
        ),
        # today only, pairs: {2} today has 1 against 1.5 and {1, 2} (centre 2) 1 against 2.5, so
        # nothing apart from area 0 has more than expected
        (1, 2, [Expected((0,), 2, 4, 2.5, llr_by_hand(4, 2.5, 10))]),
    ],
)
def test_tiny_example_by_hand(max_days: int, max_areas: int, clusters: list[Expected]) -> None:
    result = space_time_permutation_scan(
        TINY, LINE, max_days=max_days, max_area_share=1.0, max_areas=max_areas, replications=0
    )
    assert len(result.clusters) == len(clusters)
    for got, want in zip(result.clusters, clusters, strict=True):
        assert got.areas == want.areas
        assert (got.start_day, got.end_day) == (want.start_day, 2)
        assert got.observed == want.observed
        assert got.expected == pytest.approx(want.expected)
        assert got.llr == pytest.approx(want.llr, rel=1e-12)
        assert got.observed_over_expected == pytest.approx(want.observed / want.expected)
        assert got.p_value == 1.0  # no replication: rank 1 of 1
    assert result.clusters[0].llr == pytest.approx(0.5411, abs=1e-4)  # 4 ln 1.6 + 6 ln 0.8


def test_expected_counts_are_area_total_times_day_total_over_grand_total() -> None:
    mu = expected_counts(TINY)
    assert mu[0, 2] == pytest.approx(5 * 5 / 10)
    assert mu[2, 1] == pytest.approx(3 * 3 / 10)
    assert mu.sum() == pytest.approx(10)
    np.testing.assert_allclose(mu.sum(axis=1), TINY.sum(axis=1))
    np.testing.assert_allclose(mu.sum(axis=0), TINY.sum(axis=0))


@pytest.mark.parametrize(
    ("c", "mu", "total", "want"),
    [
        (4, 2.5, 10, llr_by_hand(4, 2.5, 10)),
        (10, 4.0, 10, 10 * math.log(10 / 4)),  # every case inside: the outside term vanishes
        (2, 2.5, 10, 0.0),  # fewer than expected: not a cluster
        (3, 3.0, 10, 0.0),  # exactly as expected
    ],
)
def test_poisson_llr(c: int, mu: float, total: int, want: float) -> None:
    assert float(poisson_llr(c, mu, total)) == pytest.approx(want, rel=1e-12)


def brute_force_max_llr(cases: np.ndarray, xy: np.ndarray, max_days: int, k_max: int) -> float:
    """Every cylinder, one at a time."""
    total = cases.sum()
    mu = expected_counts(cases)
    order = neighbour_order(xy)
    best = 0.0
    for centre in range(cases.shape[0]):
        for k in range(k_max):
            zone = order[centre, : k + 1]
            for w in range(1, max_days + 1):
                c = cases[zone, -w:].sum()
                m = mu[zone, -w:].sum()
                if c > m:
                    best = max(best, llr_by_hand(c, m, total))
    return best


@pytest.mark.parametrize("seed", [3, 11, 2024])
def test_p_values_match_a_brute_force_monte_carlo(seed: int) -> None:
    """The fast replications (pruned to the cylinders that can matter) give exactly the ranks
    that scoring every cylinder of every permutation gives."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10, (12, 2))
    cases = rng.poisson(0.4, (12, 10))
    cases[:2, -2:] += 2  # something to find
    result = space_time_permutation_scan(cases, xy, max_days=3, max_area_share=0.5, replications=99, rng=seed)
    assert result.clusters
    assert result.clusters[0].llr == pytest.approx(brute_force_max_llr(cases, xy, 3, 6), rel=1e-12)

    replay = np.random.default_rng(seed)
    maxima = np.array([brute_force_max_llr(permute_days(cases, replay), xy, 3, 6) for _ in range(99)])
    for cluster in result.clusters:
        rank = 1 + np.count_nonzero(maxima >= cluster.llr * (1 - 1e-9))
        assert cluster.p_value == rank / 100


def grid_areas(side: int) -> np.ndarray:
    return np.array([(x, y) for x in range(side) for y in range(side)], dtype=np.float64)


def test_an_injected_cluster_is_found() -> None:
    rng = np.random.default_rng(7)
    xy = grid_areas(10)  # 100 areas, area index = 10 x + y
    cases = rng.poisson(0.3, (100, 30))
    injected = (44, 45, 54)  # three neighbouring areas
    cases[list(injected), -3:] += 4  # four extra cases a day each over the last three days
    result = space_time_permutation_scan(cases, xy, max_days=7, max_area_share=0.1, replications=199, rng=1)
    top = result.most_likely
    assert top is not None
    assert top.p_value < 0.05
    assert set(injected) <= set(top.areas)
    assert len(top.areas) <= 6
    assert top.end_day == 29 and 26 <= top.start_day <= 27
    assert top.observed_over_expected > 2
    assert top.recurrence_interval_days == pytest.approx(1 / top.p_value)
    # secondary clusters share no area with better ones and come in decreasing LLR
    seen: set[int] = set()
    for cluster in result.clusters:
        assert not seen & set(cluster.areas)
        seen |= set(cluster.areas)
    assert [c.llr for c in result.clusters] == sorted((c.llr for c in result.clusters), reverse=True)
    assert all(c.p_value >= top.p_value for c in result.clusters)


def test_uniform_data_is_rarely_significant() -> None:
    p_values = []
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        cases = rng.poisson(0.5, (49, 28))
        result = space_time_permutation_scan(
            cases, grid_areas(7), max_days=7, max_area_share=0.5, replications=99, rng=seed
        )
        p_values.append(result.p_value)
    assert sum(p > 0.05 for p in p_values) >= 8, p_values
    assert float(np.median(p_values)) > 0.2, p_values


@settings(max_examples=60, deadline=None)
@given(
    cases=arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(1, 8)), elements=st.integers(0, 5)),
    seed=st.integers(0, 2**32 - 1),
)
def test_permutation_keeps_the_margins(cases: np.ndarray, seed: int) -> None:
    shuffled = permute_days(cases, np.random.default_rng(seed))
    assert shuffled.shape == cases.shape
    assert shuffled.min(initial=0) >= 0
    np.testing.assert_array_equal(shuffled.sum(axis=1), cases.sum(axis=1))
    np.testing.assert_array_equal(shuffled.sum(axis=0), cases.sum(axis=0))


def test_permutation_actually_shuffles() -> None:
    cases = np.zeros((4, 6), dtype=np.int64)
    cases[0, :] = 5  # area 0 has every case of the first days …
    cases[:, 5] = 5  # … and all areas share the last day
    draws = {permute_days(cases, np.random.default_rng(seed)).tobytes() for seed in range(20)}
    assert len(draws) > 10


def test_same_seed_same_result_whatever_the_workers() -> None:
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 20, (60, 2))
    cases = rng.poisson(0.6, (60, 21))
    one = space_time_permutation_scan(cases, xy, replications=199, rng=42)
    again = space_time_permutation_scan(cases, xy, replications=199, rng=np.random.default_rng(42))
    threaded = space_time_permutation_scan(cases, xy, replications=199, rng=42, workers=2)
    assert one == again == threaded
    other = space_time_permutation_scan(cases, xy, replications=199, rng=43)
    assert [c.llr for c in other.clusters] == [c.llr for c in one.clusters]  # the data decide the clusters


@pytest.mark.parametrize(
    "cases",
    [
        np.zeros((5, 10), dtype=np.int64),  # no case at all
        np.pad(np.ones((5, 3), dtype=np.int64), ((0, 0), (0, 7))),  # cases only before the window
        np.ones((5, 10), dtype=np.int64),  # perfectly even: nothing exceeds its expectation
    ],
)
def test_nothing_to_find_means_no_cluster_and_p_one(cases: np.ndarray) -> None:
    result = space_time_permutation_scan(cases, grid_areas(3)[:5], max_days=3, replications=9, rng=0)
    assert result.clusters == ()
    assert result.most_likely is None
    assert result.p_value == 1.0


@pytest.mark.parametrize(
    ("cases", "coordinates", "kwargs", "message"),
    [
        (np.ones((3, 4)), np.zeros((2, 2)), {}, "2 coordinates for 3 areas"),
        (np.ones(4), np.zeros((4, 2)), {}, "2-D"),
        (np.ones((3, 0)), np.zeros((3, 2)), {}, "at least one area and one day"),
        (np.array([[1, -1], [0, 2]]), np.zeros((2, 2)), {"max_days": 1}, "negative"),
        (np.array([[1.5, 1], [0, 2]]), np.zeros((2, 2)), {"max_days": 1}, "whole numbers"),
        (np.array([[np.nan, 1], [0, 2]]), np.zeros((2, 2)), {"max_days": 1}, "finite"),
        (np.array([["a", "b"]]), np.zeros((1, 2)), {"max_days": 1}, "integer counts"),
        (np.ones((3, 4)), np.zeros((3, 3)), {}, "shape \\(areas, 2\\)"),
        (np.ones((3, 4)), np.full((3, 2), np.inf), {}, "finite"),
        (np.ones((3, 4)), np.zeros((3, 2)), {"max_days": 0}, "max_days"),
        (np.ones((3, 4)), np.zeros((3, 2)), {"max_days": 5}, "max_days"),
        (np.ones((3, 4)), np.zeros((3, 2)), {"max_days": 2, "max_area_share": 0.0}, "max_area_share"),
        (np.ones((3, 4)), np.zeros((3, 2)), {"max_days": 2, "max_area_share": 1.5}, "max_area_share"),
        (np.ones((3, 4)), np.zeros((3, 2)), {"max_days": 2, "max_areas": 0}, "max_areas"),
        (np.ones((3, 4)), np.zeros((3, 2)), {"max_days": 2, "replications": -1}, "replications"),
        (np.ones((3, 4)), np.zeros((3, 2)), {"max_days": 2, "workers": 0}, "workers"),
        (np.ones((3, 4)), np.array([[200.0, 0], [0, 0], [0, 0]]), {"max_days": 2, "lonlat": True}, "lon/lat"),
    ],
)
def test_bad_input_is_refused_clearly(
    cases: np.ndarray, coordinates: np.ndarray, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        space_time_permutation_scan(cases, coordinates, **kwargs)  # type: ignore[arg-type]


def test_lonlat_scales_longitude_by_the_cosine_of_latitude() -> None:
    # near 60° N a degree of longitude is about half a degree of latitude (mean latitude 60.2°)
    xy = planar_coordinates([[120.0, 60.0], [121.0, 60.0], [120.0, 60.6]], lonlat=True)
    assert xy[1, 0] - xy[0, 0] == pytest.approx(math.cos(math.radians(60.2)))
    assert xy[2, 1] - xy[0, 1] == pytest.approx(0.6)
    # so the area 1° east (0.5) is nearer than the one 0.6° north
    assert list(neighbour_order(xy)[0]) == [0, 1, 2]
    assert list(neighbour_order(planar_coordinates([[120.0, 60.0], [121.0, 60.0], [120.0, 60.6]]))[0]) == [0, 2, 1]


def test_cluster_size_limits() -> None:
    rng = np.random.default_rng(9)
    cases = rng.poisson(0.5, (25, 14))
    cases[:, -2:] += 3  # everywhere busy at the end: the best zone wants to be large
    capped = space_time_permutation_scan(
        cases, grid_areas(5), max_days=3, max_area_share=0.5, max_areas=4, replications=0
    )
    assert capped.max_areas_in_cluster == 4
    assert all(len(c.areas) <= 4 for c in capped.clusters)
    share = space_time_permutation_scan(cases, grid_areas(5), max_days=3, max_area_share=0.2, replications=0)
    assert share.max_areas_in_cluster == 5
    assert all(len(c.areas) <= 5 for c in share.clusters)
