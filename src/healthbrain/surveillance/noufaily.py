"""Simulated weekly surveillance series with outbreaks, after Noufaily et al. (模拟暴发数据).

Noufaily A, Enki DG, Farrington P, Garthwaite P, Andrews N, Charlett A. An improved algorithm for
outbreak detection in multiple surveillance systems. Stat Med 2013;32(7):1206–1222 — section 4
and Table I; used unchanged (42 scenarios, 624 weeks, the last 49 evaluated) by Bédubourg G,
Le Strat Y. Evaluation and comparison of statistical methods for early temporal detection of
outbreaks: a simulation-based study. PLoS One 2017;12(7):e0181227.

Baseline: negative binomial with mean μ(t) and variance φ·μ(t) (Poisson when φ = 1), t = 1 … 624::

    μ(t) = exp(θ + β·t + Σ_{j=1..m} [γ1·cos(2πjt/52) + γ2·sin(2πjt/52)])

Outbreaks: a start week t0 is drawn; the size is Poisson with mean k × the baseline standard
deviation at t0, sqrt(φ·μ(t0)); each case is placed ⌊LN(0, 0.5²)⌋ weeks after t0 (a log-normal
with log-mean 0 and log-sd 0.5, rounded down: about 50 % in the start week, 42 % the week after,
7 % two weeks after). Four outbreaks start in the baseline weeks 313–575 with k drawn from
{2, 3, 5, 10}; one starts in the current weeks 576–624 with k drawn from 1 … 10.

Where the numbers come from. The paper itself was not at hand; the 42-scenario table
(:data:`SCENARIO_PARAMETERS`) and the outbreak design are as reproduced in public code:

- telkamp7/AEDDO, ``src/simulation/simulation.R`` and ``simulation_functions.R`` (Telkamp,
  Statens Serum Institut, "a replication of the outbreak simulation study of doi:10.1002/sim.5595"):
  θ, β, γ1, γ2, φ for the 7 parameter sets, each crossed with trend (none / β) and seasonality
  (m = 0, 1, 2) in that order to give scenarios 1–42; baseline weeks 313–575, current weeks
  576–624, k ∈ {2, 3, 5, 10} for the four past outbreaks and 1 … 10 for the current one, the
  ⌊LN(0, 0.5)⌋ spread; their article ``articles/aeddo_simulation/aeddo_simulation.Rmd`` states
  the same design in words.
- An independent reproduction (T. Saratoon, ``sampler.spike.farrington``, Scala, 2015) gives
  "scenario 14" as α = 1.5, β = 0, m = 1, γ1 = 0.2, γ2 = −0.4, φ = 1, which matches row 14 here.
- The size's standard deviation is the model's sqrt(φ·μ(t0)) at the start week, as in the R code
  of Noufaily et al.'s later simulation (hannapalya/syndromic_anomaly, ``generate_data.r``:
  ``s = sqrt(mu*phi)``, ``rpois(1, s[start]*k)``, redrawn until at least 2 cases) — AEDDO uses
  the sample SD of the whole baseline instead. The "at least 2 cases" rule also comes from that
  code (:data:`MIN_OUTBREAK_CASES`); set ``min_outbreak_cases=0`` for the bare Poisson.
- Cases that would fall after the last week are dropped (they are never observed), as in that
  code; AEDDO piles them onto the last week instead.
- The seasonal sum over j = 1 … m with the same γ1, γ2 for both harmonics is also how R
  ``surveillance::sts_creation`` ("following Noufaily et al.") builds μ(t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

WEEKS = 624
CURRENT_WEEKS = 49  # evaluated weeks: 576–624 (1-based), the last 49
BASELINE_OUTBREAK_WEEKS = 263  # past outbreaks start in weeks 313–575, the 263 weeks before
PAST_OUTBREAKS = 4
PAST_K = (2, 3, 5, 10)
CURRENT_K = tuple(range(1, 11))
SPREAD_LOG_MEAN, SPREAD_LOG_SD = 0.0, 0.5
MIN_OUTBREAK_CASES = 2  # hannapalya/syndromic_anomaly generate_data.r: while (size < 2) redraw
PERIOD = 52  # weeks per year in the seasonal terms

# (θ, β when trended, γ1, γ2, φ) of the 7 parameter sets — telkamp7/AEDDO src/simulation/simulation.R
SCENARIO_PARAMETERS: tuple[tuple[float, float, float, float, float], ...] = (
    (0.1, 0.0025, 0.6, 0.6, 1.5),
    (-2.0, 0.005, 0.1, 0.3, 2.0),
    (1.5, 0.003, 0.2, -0.4, 1.0),
    (0.5, 0.002, 0.5, 0.5, 5.0),
    (2.5, 0.001, 1.0, 0.1, 3.0),
    (3.75, 0.001, 0.1, -0.1, 1.1),
    (5.0, 0.0001, 0.05, 0.01, 1.2),
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One of the 42 scenarios: ``alpha`` (θ, baseline frequency), ``beta`` (weekly trend, 0 when
    untrended), ``gamma1``/``gamma2`` (seasonal amplitudes, 0 when m = 0), ``m`` (0 none,
    1 annual, 2 biannual harmonics) and ``phi`` (dispersion: variance = φ·mean)."""

    id: int
    alpha: float
    beta: float
    gamma1: float
    gamma2: float
    m: int
    phi: float

    @property
    def trend(self) -> bool:
        return self.beta != 0.0

    def mean(self, weeks: int = WEEKS) -> FloatArray:
        """μ(t) for t = 1 … ``weeks``."""
        t = np.arange(1, weeks + 1, dtype=np.float64)
        eta = self.alpha + self.beta * t
        for j in range(1, self.m + 1):
            angle = 2 * math.pi * j * t / PERIOD
            eta = eta + self.gamma1 * np.cos(angle) + self.gamma2 * np.sin(angle)
        return np.asarray(np.exp(eta), dtype=np.float64)

    def sd(self, weeks: int = WEEKS) -> FloatArray:
        """The baseline standard deviation sqrt(φ·μ(t))."""
        return np.asarray(np.sqrt(self.phi * self.mean(weeks)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Outbreak:
    """One simulated outbreak, in 0-based week indices: ``seeded`` is the drawn start week,
    ``start``/``end`` the first and last weeks that received outbreak cases (inclusive; both equal
    ``seeded`` when no case was placed), ``size`` the cases added to the series, ``k`` the size
    multiplier, ``current`` whether it was seeded in the evaluated weeks."""

    seeded: int
    start: int
    end: int
    size: int
    k: int
    current: bool


@dataclass(frozen=True, slots=True, eq=False)  # arrays inside: compare the fields, not series
class SimulatedSeries:
    """A simulated series: ``observed = baseline + outbreak`` per week; ``in_outbreak`` is true in
    every week from an outbreak's ``start`` to its ``end``; ``evaluation_start`` is the 0-based
    index of the first current week (575 for 624 weeks)."""

    scenario: Scenario
    baseline: IntArray
    outbreak: IntArray
    observed: IntArray
    in_outbreak: BoolArray
    outbreaks: tuple[Outbreak, ...]
    evaluation_start: int

    @property
    def current_outbreak(self) -> Outbreak:
        return next(o for o in self.outbreaks if o.current)


def scenarios() -> list[Scenario]:
    """The 42 scenarios: parameter set i = 1 … 7 × trend (none, β_i) × seasonality (m = 0, 1, 2),
    numbered in that order (id = 6(i − 1) + 3·trend + m + 1)."""
    out: list[Scenario] = []
    for alpha, beta, gamma1, gamma2, phi in SCENARIO_PARAMETERS:
        for trended in (False, True):
            for m in (0, 1, 2):
                out.append(
                    Scenario(
                        id=len(out) + 1,
                        alpha=alpha,
                        beta=beta if trended else 0.0,
                        gamma1=gamma1 if m else 0.0,
                        gamma2=gamma2 if m else 0.0,
                        m=m,
                        phi=phi,
                    )
                )
    return out


def scenario(scenario_id: int) -> Scenario:
    """Scenario ``scenario_id`` (1 … 42)."""
    table = scenarios()
    if not 1 <= scenario_id <= len(table):
        raise ValueError(f"scenario id must be between 1 and {len(table)}, got {scenario_id}")
    return table[scenario_id - 1]


def simulate_baseline(scenario: Scenario, *, rng: np.random.Generator, weeks: int = WEEKS) -> IntArray:
    """Outbreak-free counts: negative binomial with mean μ(t) and variance φ·μ(t) — NumPy's
    (n, p) with n = μ/(φ − 1) and p = 1/φ — or Poisson when φ = 1."""
    mu = scenario.mean(weeks)
    if scenario.phi == 1.0:
        return rng.poisson(mu).astype(np.int64)
    if scenario.phi < 1.0:
        raise ValueError(f"phi must be ≥ 1 (variance = phi × mean), got {scenario.phi}")
    return rng.negative_binomial(mu / (scenario.phi - 1.0), 1.0 / scenario.phi).astype(np.int64)


def simulate(
    scenario: Scenario,
    *,
    rng: np.random.Generator,
    weeks: int = WEEKS,
    current_k: int | None = None,
    min_outbreak_cases: int = MIN_OUTBREAK_CASES,
) -> SimulatedSeries:
    """One series of ``scenario``: the baseline, four past outbreaks seeded in the 263 weeks
    before the last 49, and one current outbreak seeded in the last 49 weeks (with multiplier
    ``current_k`` if given, else drawn from 1 … 10)."""
    if weeks < CURRENT_WEEKS + PAST_OUTBREAKS:
        raise ValueError(f"weeks must be at least {CURRENT_WEEKS + PAST_OUTBREAKS}, got {weeks}")
    if current_k is not None and current_k < 1:
        raise ValueError(f"current_k must be at least 1, got {current_k}")
    baseline = simulate_baseline(scenario, rng=rng, weeks=weeks)
    sd = scenario.sd(weeks)
    evaluation_start = weeks - CURRENT_WEEKS
    past_first = max(0, evaluation_start - BASELINE_OUTBREAK_WEEKS)

    added = np.zeros(weeks, dtype=np.int64)
    in_outbreak = np.zeros(weeks, dtype=np.bool_)
    outbreaks: list[Outbreak] = []
    past_starts = rng.choice(np.arange(past_first, evaluation_start), size=PAST_OUTBREAKS, replace=False)
    past_ks = rng.choice(np.array(PAST_K), size=PAST_OUTBREAKS, replace=True)
    seeds = [(int(s), int(k), False) for s, k in zip(past_starts, past_ks, strict=True)]
    current_start = int(rng.integers(evaluation_start, weeks))
    k_now = current_k if current_k is not None else int(rng.choice(np.array(CURRENT_K)))
    seeds.append((current_start, k_now, True))
    for seeded, k, current in seeds:
        size = _outbreak_size(k * float(sd[seeded]), rng, min_outbreak_cases)
        offsets = np.floor(rng.lognormal(SPREAD_LOG_MEAN, SPREAD_LOG_SD, size)).astype(np.int64)
        weeks_hit = seeded + offsets
        weeks_hit = weeks_hit[weeks_hit < weeks]  # cases after the last week are never observed
        cases = np.bincount(weeks_hit, minlength=weeks)
        added += cases
        if weeks_hit.size:
            start, end = int(weeks_hit.min()), int(weeks_hit.max())
            in_outbreak[start : end + 1] = True
        else:
            start = end = seeded
        outbreaks.append(Outbreak(seeded=seeded, start=start, end=end, size=int(weeks_hit.size), k=k, current=current))
    return SimulatedSeries(
        scenario=scenario,
        baseline=baseline,
        outbreak=added,
        observed=baseline + added,
        in_outbreak=in_outbreak,
        outbreaks=tuple(outbreaks),
        evaluation_start=evaluation_start,
    )


def _outbreak_size(mean: float, rng: np.random.Generator, minimum: int) -> int:
    """Poisson(mean) redrawn until it reaches ``minimum``; with a tiny mean the first draw that
    does is taken from the Poisson's tail directly, so this always ends."""
    if minimum <= 0:
        return int(rng.poisson(mean))
    if mean <= 0:
        raise ValueError("an outbreak with a zero mean size cannot reach a minimum size")
    for _ in range(1000):
        size = int(rng.poisson(mean))
        if size >= minimum:
            return size
    # P(X ≥ minimum) is below ~1e-3 per draw: conditional draw by inversion
    return _poisson_at_least(mean, minimum, rng)


def _poisson_at_least(mean: float, minimum: int, rng: np.random.Generator) -> int:
    log_p = [-mean + i * math.log(mean) - math.lgamma(i + 1) for i in range(minimum, minimum + 60)]
    top = max(log_p)
    weights = np.exp(np.array(log_p) - top)
    return minimum + int(rng.choice(len(log_p), p=weights / weights.sum()))
