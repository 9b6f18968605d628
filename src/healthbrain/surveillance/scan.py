"""Prospective space–time permutation scan statistic (时空重排扫描统计量).

Kulldorff M, Heffernan R, Hartman J, Assunção R, Mostashari F. A space–time permutation scan
statistic for disease outbreak detection. PLoS Med 2005;2(3):e59 — the method of SaTScan's
"space-time permutation" model, run prospectively (every cylinder ends on the last day).

Input is a matrix of case counts ``cases[area, day]`` (days ascending, the last day is today).

- Expected count of a cell (paper, Methods): ``μ[a, d] = n_a · N_d / N``, where ``n_a`` is the
  area's total over the study period, ``N_d`` the day's total and ``N`` the grand total; for a
  cylinder ``Z``, ``μ_Z`` is the sum over its cells.
- Cylinders: a centre area plus its ``k`` nearest areas (``k = 0 … K−1``, ``K`` the largest
  number of areas allowed in a cluster) × a time window ending on the last day, 1 … ``max_days``
  days long.
- Score (paper, Methods: the Poisson generalised likelihood ratio), only for ``c > μ``::

      LLR = c·log(c/μ) + (N − c)·log((N − c)/(N − μ))

- Monte Carlo inference (paper, "Inference"): the days of the cases are randomly permuted among
  the cases, which keeps every area total and every day total; the p-value of a cluster is the
  rank of its LLR among the replications' maximum LLRs, ``p = (1 + #{max_r ≥ LLR}) / (R + 1)``.
  Secondary clusters — the best cylinders sharing no area with a better one — are compared with
  the same distribution of maxima, as SaTScan does (conservative for them).

The replications are exact but avoid scoring every cylinder: along a centre's list of neighbours
the observed count only rises at areas that have recent cases while the expected count never
falls, and the LLR rises with ``c`` and falls with ``μ`` when ``c > μ``, so only those positions
can hold a maximum; and a replication only has to be scored where its count reaches the least
count that could match the smallest reported LLR (precomputed per cylinder).
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Two LLRs closer than this (relative) count as a tie: a replication that ties the observed
# maximum counts against it, as in SaTScan's rank.
_TIE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class ScanCluster:
    """One space–time cluster: areas (indices into the input rows, the centre first, then by
    distance), the days it covers (0-based column indices, inclusive), its counts and score."""

    areas: tuple[int, ...]
    centre: int
    start_day: int
    end_day: int
    observed: int
    expected: float
    llr: float
    p_value: float

    @property
    def days(self) -> int:
        return self.end_day - self.start_day + 1

    @property
    def observed_over_expected(self) -> float:
        return self.observed / self.expected

    @property
    def recurrence_interval_days(self) -> float:
        """How often a cluster this unusual would arise by chance if the analysis is repeated
        daily: 1/p days (SaTScan's recurrence interval for prospective daily analyses)."""
        return 1.0 / self.p_value


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The most likely cluster first, then the secondary clusters by decreasing LLR."""

    clusters: tuple[ScanCluster, ...]
    total_cases: int
    replications: int
    max_areas_in_cluster: int
    max_days: int

    @property
    def most_likely(self) -> ScanCluster | None:
        return self.clusters[0] if self.clusters else None

    @property
    def p_value(self) -> float:
        """The most likely cluster's p-value; 1 when no cylinder has more cases than expected."""
        return self.clusters[0].p_value if self.clusters else 1.0


def planar_coordinates(coordinates: ArrayLike, *, lonlat: bool = False) -> FloatArray:
    """Coordinates as a float (areas × 2) array; longitude/latitude in degrees are projected by
    scaling longitude by cos(mean latitude) — an equirectangular approximation, good enough to
    rank the neighbours of a district's areas."""
    xy = np.asarray(coordinates, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coordinates must have shape (areas, 2), got {xy.shape}")
    if not np.all(np.isfinite(xy)):
        raise ValueError("coordinates must be finite numbers")
    if lonlat:
        lon, lat = xy[:, 0], xy[:, 1]
        if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
            raise ValueError("lon/lat coordinates out of range (|lon| ≤ 180, |lat| ≤ 90)")
        xy = np.column_stack([lon * math.cos(math.radians(float(lat.mean()))), lat])
    return xy


def neighbour_order(xy: FloatArray) -> IntArray:
    """For each area, all areas by increasing distance (itself first); ties broken by index."""
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, -1.0)  # the centre always comes first, even on duplicate coordinates
    return np.argsort(d2, axis=1, kind="stable").astype(np.int64)


def expected_counts(cases: ArrayLike) -> FloatArray:
    """The permutation model's expected count of each cell: area total × day total / grand
    total (Kulldorff et al. 2005, Methods); all zeros when there are no cases."""
    counts = _as_counts(cases)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(counts.shape, dtype=np.float64)
    return np.outer(counts.sum(axis=1), counts.sum(axis=0)).astype(np.float64) / total


def poisson_llr(observed: ArrayLike, expected: ArrayLike, total: int) -> FloatArray:
    """The scan's log generalised likelihood ratio (Kulldorff et al. 2005, Methods) for cylinders
    with ``observed`` cases against ``expected`` out of ``total``; 0 where observed ≤ expected."""
    c = np.asarray(observed, dtype=np.float64)
    mu = np.asarray(expected, dtype=np.float64)
    c, mu = np.broadcast_arrays(c, mu)
    out = np.zeros(c.shape, dtype=np.float64)
    high = c > mu
    if np.any(high):
        ch, mh = c[high], mu[high]
        rest = total - ch
        # a zone expected to have no case cannot have one: +inf rather than a warning
        with np.errstate(divide="ignore", invalid="ignore"):
            outside = np.where(rest > 0, rest * np.log(rest / (total - mh)), 0.0)
            out[high] = ch * np.log(ch / mh) + outside
    return out


def permute_days(cases: ArrayLike, rng: np.random.Generator) -> NDArray[np.int64]:
    """One Monte Carlo replicate: the cases' days shuffled among the cases, so every area total
    and every day total is kept (Kulldorff et al. 2005, "Inference"). The replications of
    :func:`space_time_permutation_scan` draw exactly this, one call per replication."""
    counts = _as_counts(cases)
    case_list = _CaseList.of(counts)
    areas = case_list.shuffled_areas(rng)
    flat = np.bincount(areas * counts.shape[1] + case_list.day, minlength=counts.size)
    return flat.reshape(counts.shape).astype(np.int64)


def space_time_permutation_scan(
    cases: ArrayLike,
    coordinates: ArrayLike,
    *,
    max_days: int = 7,
    max_area_share: float = 0.5,
    max_areas: int | None = None,
    replications: int = 999,
    rng: np.random.Generator | int | None = None,
    lonlat: bool = False,
    max_clusters: int = 10,
    workers: int = 1,
) -> ScanResult:
    """Run the prospective space–time permutation scan on ``cases[area, day]``.

    ``max_days`` is the longest cluster duration; a cluster holds at most ``max_area_share`` of
    the areas (at least one) and at most ``max_areas``. ``rng`` (a Generator or a seed) makes
    the Monte Carlo reproducible; ``workers`` threads share the replications (same result for
    any number of workers). Returns the most likely cluster and up to ``max_clusters − 1``
    secondary clusters; no cluster (p = 1) when no cylinder has more cases than expected.

    Memory and time grow with areas × cluster size × ``max_days`` (the observed pass scores every
    cylinder once); 500 areas, half of them per cluster, 7 days and 999 replications take a few
    seconds.
    """
    counts = _as_counts(cases)
    n_areas, n_days = counts.shape
    xy = planar_coordinates(coordinates, lonlat=lonlat)
    if xy.shape[0] != n_areas:
        raise ValueError(f"{xy.shape[0]} coordinates for {n_areas} areas: one (x, y) per row of cases")
    if not 1 <= max_days <= n_days:
        raise ValueError(f"max_days must be between 1 and the number of days ({n_days}), got {max_days}")
    if not 0.0 < max_area_share <= 1.0:
        raise ValueError(f"max_area_share must be in (0, 1], got {max_area_share}")
    if max_areas is not None and max_areas < 1:
        raise ValueError(f"max_areas must be at least 1, got {max_areas}")
    if replications < 0:
        raise ValueError(f"replications must be ≥ 0, got {replications}")
    if max_clusters < 1:
        raise ValueError(f"max_clusters must be at least 1, got {max_clusters}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    k_max = max(1, math.floor(max_area_share * n_areas + 1e-9))
    if max_areas is not None:
        k_max = min(k_max, max_areas)
    k_max = min(k_max, n_areas)

    total = int(counts.sum())
    if total == 0:
        return ScanResult((), 0, replications, k_max, max_days)

    grid = _CylinderGrid.build(counts, neighbour_order(xy)[:, :k_max], max_days)
    observed = grid.recent_counts(_recent_by_area(counts, max_days))
    llr = poisson_llr(observed, grid.expected, total)
    found = grid.non_overlapping(llr, max_clusters)
    if not found:
        return ScanResult((), total, replications, k_max, max_days)

    levels = np.array([score for (_, _, _, score) in found])
    exceed = _replicate(counts, grid, float(levels.min()), replications, generator, workers)
    clusters = []
    for centre, k, w, score in found:
        p = (1 + int(np.count_nonzero(exceed >= score * (1 - _TIE_TOLERANCE)))) / (replications + 1)
        clusters.append(
            ScanCluster(
                areas=tuple(int(a) for a in grid.neighbours[centre, : k + 1]),
                centre=int(centre),
                start_day=n_days - 1 - w,
                end_day=n_days - 1,
                observed=int(observed[centre, k, w]),
                expected=float(grid.expected[centre, k, w]),
                llr=float(score),
                p_value=p,
            )
        )
    return ScanResult(tuple(clusters), total, replications, k_max, max_days)


# --- internals -------------------------------------------------------------------------------


def _as_counts(cases: ArrayLike) -> NDArray[np.int64]:
    raw = np.asarray(cases)
    if raw.ndim != 2:
        raise ValueError(f"cases must be a 2-D (areas × days) array, got {raw.ndim} dimension(s)")
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise ValueError(f"cases must have at least one area and one day, got shape {raw.shape}")
    if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
        raise ValueError(f"cases must be integer counts, got dtype {raw.dtype}")
    if not np.all(np.isfinite(raw)):
        raise ValueError("cases must be finite")
    counts = raw.astype(np.int64)
    if not np.array_equal(counts, raw):
        raise ValueError("cases must be whole numbers")
    if np.any(counts < 0):
        raise ValueError("cases must not be negative")
    return counts


def _recent_by_area(counts: NDArray[np.int64], max_days: int) -> NDArray[np.int64]:
    """``R[w, a]``: cases of area ``a`` in the last ``w + 1`` days."""
    return np.cumsum(counts[:, ::-1][:, :max_days].T, axis=0)


@dataclass(frozen=True, slots=True)
class _CaseList:
    """The cases one by one: ``area`` (sorted) and ``day``, days latest first, so that a
    permutation pairs the first ``N_recent`` shuffled areas with the recent days."""

    area: NDArray[np.int64]
    day: NDArray[np.int64]

    @classmethod
    def of(cls, counts: NDArray[np.int64]) -> _CaseList:
        n_areas, n_days = counts.shape
        area = np.repeat(np.arange(n_areas), counts.sum(axis=1))
        by_day = counts.sum(axis=0)[::-1]
        day = np.repeat(np.arange(n_days - 1, -1, -1), by_day)
        return cls(area=area, day=day)

    def shuffled_areas(self, rng: np.random.Generator) -> NDArray[np.int64]:
        return self.area[rng.permutation(self.area.shape[0])]


@dataclass(frozen=True, slots=True)
class _CylinderGrid:
    """Cylinders as a (centre, k, window) grid: ``neighbours[i, k]`` is the k-th nearest area of
    centre ``i``; window ``w`` covers the last ``w + 1`` days."""

    neighbours: NDArray[np.int64]  # (A, K)
    expected: FloatArray  # (A, K, W)
    zone_totals: FloatArray  # (A, K): n_Z, the cases of the zone over the whole period
    window_totals: FloatArray  # (W,): N_w, all cases in the last w + 1 days
    total: int

    @classmethod
    def build(cls, counts: NDArray[np.int64], neighbours: NDArray[np.int64], max_days: int) -> _CylinderGrid:
        total = int(counts.sum())
        zone_totals = np.cumsum(counts.sum(axis=1)[neighbours], axis=1).astype(np.float64)
        window_totals = np.cumsum(counts.sum(axis=0)[::-1][:max_days]).astype(np.float64)
        expected = zone_totals[:, :, None] * (window_totals / total)[None, None, :]
        return cls(neighbours, expected, zone_totals, window_totals, total)

    def recent_counts(self, recent: NDArray[np.int64]) -> NDArray[np.int64]:
        """Observed count of every cylinder, given ``recent[w, a]``."""
        return np.cumsum(recent.T[self.neighbours], axis=1)

    def non_overlapping(self, llr: FloatArray, limit: int) -> list[tuple[int, int, int, float]]:
        """Greedy: the best cylinder, then the best one sharing no area with those chosen …
        (SaTScan's "no geographical overlap" rule) as (centre, k, window, LLR)."""
        best_w = llr.argmax(axis=2)
        best = np.take_along_axis(llr, best_w[:, :, None], axis=2)[:, :, 0]
        n_areas, k_max = best.shape
        # rank[i, a]: position of area a in centre i's neighbour list (k_max if beyond it)
        rank = np.full((n_areas, n_areas), k_max, dtype=np.int64)
        np.put_along_axis(rank, self.neighbours, np.arange(k_max)[None, :].repeat(n_areas, 0), axis=1)
        first_taken = np.full(n_areas, k_max, dtype=np.int64)  # zones of centre i with k ≥ this overlap
        ks = np.arange(k_max)[None, :]
        chosen: list[tuple[int, int, int, float]] = []
        while len(chosen) < limit:
            free = np.where(ks < first_taken[:, None], best, 0.0)
            flat = int(free.argmax())
            score = float(free.flat[flat])
            if score <= 0.0:
                break
            centre, k = divmod(flat, k_max)
            chosen.append((centre, k, int(best_w[centre, k]), score))
            areas = self.neighbours[centre, : k + 1]
            first_taken = np.minimum(first_taken, rank[:, areas].min(axis=1))
        return chosen

    def least_counts(self, level: float) -> NDArray[np.int32]:
        """``least[w, z]``: the least count with LLR ≥ ``level`` in window ``w`` for a zone holding
        ``z`` of all cases (``total + 1`` if none). The expected count depends on the cylinder only
        through ``(z, w)``, so this small table serves every cylinder. Found by bisection: above
        expectation the LLR increases with the count."""
        total = self.total
        mu = np.arange(total + 1, dtype=np.float64)[None, :] * (self.window_totals / total)[:, None]
        impossible = total + 1
        lo = np.where(mu > 0, np.floor(mu).astype(np.int64) + 1, impossible)
        hi = np.full(mu.shape, impossible, dtype=np.int64)
        target = level * (1 - _TIE_TOLERANCE)
        while True:
            active = np.flatnonzero(lo < hi)
            if active.size == 0:
                return lo.astype(np.int32)
            lo_a, hi_a = lo.flat[active], hi.flat[active]
            mid = (lo_a + hi_a) // 2
            ok = poisson_llr(np.minimum(mid, total), mu.flat[active], total) >= target
            hi.flat[active] = np.where(ok, mid, hi_a)
            lo.flat[active] = np.where(ok, lo_a, mid + 1)


class _Replicator:
    """Scores replications against the least counts for the smallest reported LLR: returns a
    replication's maximum LLR where it reaches that level, −inf otherwise."""

    def __init__(self, grid: _CylinderGrid, level: float) -> None:
        n_areas, k_max = grid.neighbours.shape
        self.n_areas = n_areas
        self.n_windows = grid.expected.shape[2]
        self.total = grid.total
        self.window_share = grid.window_totals / grid.total
        self.neighbours_flat = grid.neighbours.ravel()
        self.centre_flat = np.repeat(np.arange(n_areas), k_max)
        self.zone_flat = grid.zone_totals.ravel().astype(np.int64)
        self.least = grid.least_counts(level)

    def buffers(self) -> tuple[NDArray[np.bool_], NDArray[np.int32], NDArray[np.int32]]:
        # reused across replications: fresh large arrays each time cost page faults
        cells = self.neighbours_flat.shape[0]
        return (
            np.empty(self.n_windows * cells, dtype=np.bool_),
            np.empty((self.n_windows, cells), dtype=np.int32),
            np.empty((self.n_windows, cells), dtype=np.int32),
        )

    def max_llr(
        self,
        areas: NDArray[np.int64],
        offsets: NDArray[np.int64],
        buffers: tuple[NDArray[np.bool_], NDArray[np.int32], NDArray[np.int32]],
    ) -> float:
        n_areas, n_windows = self.n_areas, self.n_windows
        has_buffer, count_buffer, least_buffer = buffers
        recent = np.bincount(offsets * n_areas + areas, minlength=n_windows * n_areas).reshape(n_windows, n_areas)
        recent = np.cumsum(recent, axis=0, dtype=np.int32)
        # only positions holding an area with recent cases can hold a maximum (module docstring)
        has_case = has_buffer[: self.neighbours_flat.shape[0]]
        np.take(recent[-1] > 0, self.neighbours_flat, out=has_case)
        cells = np.flatnonzero(has_case)
        if cells.size == 0:
            return -math.inf
        centres = self.centre_flat[cells]
        zones = self.zone_flat[cells]
        counts = count_buffer[:, : cells.size]
        np.take(recent, self.neighbours_flat[cells], axis=1, out=counts)
        # counts accumulate along each centre's neighbour list: a cumulative sum restarted at
        # each centre's first cell
        starts = np.flatnonzero(np.concatenate(([True], centres[1:] != centres[:-1])))
        if starts.size > 1:
            totals = np.add.reduceat(counts, starts, axis=1)
            counts[:, starts[1:]] -= totals[:, :-1]
        np.cumsum(counts, axis=1, out=counts)
        least = least_buffer[:, : cells.size]
        np.take(self.least, zones, axis=1, out=least)
        # the flag buffer is free again: ``cells`` holds what was read from it
        hit = np.greater_equal(counts, least, out=has_buffer[: counts.size].reshape(counts.shape))
        if not hit.any():
            return -math.inf
        hit_w, hit_j = np.divmod(np.flatnonzero(hit), cells.size)
        c = counts[hit_w, hit_j].astype(np.float64)
        mu = zones[hit_j] * self.window_share[hit_w]
        return float(_llr_above(c, mu, self.total).max())


def _llr_above(c: FloatArray, mu: FloatArray, total: int) -> FloatArray:
    """:func:`poisson_llr` where ``c > mu > 0`` is known."""
    rest = total - c
    with np.errstate(divide="ignore", invalid="ignore"):
        outside = np.where(rest > 0, rest * np.log(rest / (total - mu)), 0.0)
    return np.asarray(c * np.log(c / mu) + outside, dtype=np.float64)


def _replicate(
    counts: NDArray[np.int64],
    grid: _CylinderGrid,
    level: float,
    replications: int,
    rng: np.random.Generator,
    workers: int,
) -> FloatArray:
    if replications == 0:
        return np.empty(0, dtype=np.float64)
    case_list = _CaseList.of(counts)
    n_recent = int(grid.window_totals[-1])
    # days latest first: the first n_recent cases are the recent ones; offset = days before today
    offsets = (counts.shape[1] - 1) - case_list.day[:n_recent]
    replicator = _Replicator(grid, level)
    if workers == 1:
        buffers = replicator.buffers()
        return np.array(
            [
                replicator.max_llr(case_list.shuffled_areas(rng)[:n_recent], offsets, buffers)
                for _ in range(replications)
            ],
            dtype=np.float64,
        )
    # the draws are made here, in order, so the result does not depend on the number of workers
    draws = [case_list.shuffled_areas(rng)[:n_recent] for _ in range(replications)]

    def run(chunk: range) -> list[float]:
        buffers = replicator.buffers()
        return [replicator.max_llr(draws[r], offsets, buffers) for r in chunk]

    bounds = np.linspace(0, replications, workers + 1).astype(int)
    chunks = [range(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(run, chunks))
    return np.array([value for part in parts for value in part], dtype=np.float64)
