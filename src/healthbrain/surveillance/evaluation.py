"""How well a detector finds outbreaks: pure metrics, and the Noufaily/Bédubourg harness (预警效果评价).

Metrics follow Bédubourg G, Le Strat Y. Evaluation and comparison of statistical methods for
early temporal detection of outbreaks: a simulation-based study. PLoS One 2017;12(7):e0181227, over the evaluated time
points of each series:

- probability of detection (POD): share of outbreaks with at least one alarm between their
  first and last week; POD in the first week: share with an alarm in their first week;
- false-positive rate (FPR): share of non-outbreak points with an alarm; specificity = 1 − FPR;
- sensitivity: share of outbreak points with an alarm; PPV: share of alarms in outbreak points;
  NPV: share of non-alarms outside outbreaks; F1 = 2·TP / (2·TP + FP + FN);
- time to detection: first alarm − outbreak start, for detected outbreaks;
- false alarms per area-week, given how many area-weeks were evaluated.

An outbreak is judged (POD, first week, delay) when it starts inside the evaluated range; every
evaluated point flagged ``in_outbreak`` — including the tail of an outbreak that started before
— counts as an outbreak point. Aggregates pool the counts over series (micro-average); a ratio
with a zero denominator is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from healthbrain.surveillance.detectors.base import Detection, FloatArray
from healthbrain.surveillance.noufaily import Scenario, SimulatedSeries, scenario, scenarios, simulate

Method = Callable[[FloatArray, int], Detection]


@dataclass(frozen=True, slots=True)
class DetectionMetrics:
    """Confusion counts over evaluated points and outbreak-level counts; ratios as properties."""

    outbreaks: int
    detected: int
    detected_first_week: int
    true_positives: int
    false_negatives: int
    false_positives: int
    true_negatives: int
    delays: tuple[int, ...]
    area_weeks: int
    series: int = 1

    @property
    def pod(self) -> float:
        return _ratio(self.detected, self.outbreaks)

    @property
    def pod_first_week(self) -> float:
        return _ratio(self.detected_first_week, self.outbreaks)

    @property
    def fpr(self) -> float:
        return _ratio(self.false_positives, self.false_positives + self.true_negatives)

    @property
    def specificity(self) -> float:
        return _ratio(self.true_negatives, self.false_positives + self.true_negatives)

    @property
    def sensitivity(self) -> float:
        return _ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def ppv(self) -> float:
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def npv(self) -> float:
        return _ratio(self.true_negatives, self.true_negatives + self.false_negatives)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.true_positives, 2 * self.true_positives + self.false_positives + self.false_negatives)

    @property
    def mean_delay(self) -> float:
        return float(np.mean(self.delays)) if self.delays else math.nan

    @property
    def median_delay(self) -> float:
        return float(np.median(self.delays)) if self.delays else math.nan

    @property
    def false_alarms_per_area_week(self) -> float:
        return _ratio(self.false_positives, self.area_weeks)

    def summary(self) -> dict[str, float]:
        """The published measures, by name."""
        return {
            "pod": self.pod,
            "pod_first_week": self.pod_first_week,
            "fpr": self.fpr,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "ppv": self.ppv,
            "npv": self.npv,
            "f1": self.f1,
            "mean_delay": self.mean_delay,
            "false_alarms_per_area_week": self.false_alarms_per_area_week,
        }


def evaluate_alarms(
    alarm: ArrayLike,
    *,
    in_outbreak: ArrayLike,
    outbreaks: Iterable[tuple[int, int]],
    start: int = 0,
    stop: int | None = None,
    area_weeks: int | None = None,
) -> DetectionMetrics:
    """Score ``alarm`` (one bool per time point of the series) against the truth over the
    evaluated points ``start … stop − 1``. ``outbreaks`` are (first, last) index pairs, inclusive;
    ``area_weeks`` defaults to the number of evaluated points (one area)."""
    alarms = _as_flags(alarm, "alarm")
    truth = _as_flags(in_outbreak, "in_outbreak")
    if alarms.shape != truth.shape:
        raise ValueError(f"alarm has {alarms.size} points but in_outbreak has {truth.size}")
    n = alarms.size
    end = n if stop is None else stop
    if not 0 <= start <= end <= n:
        raise ValueError(f"evaluated range {start}…{end} must lie within 0…{n}")
    a, t = alarms[start:end], truth[start:end]
    detected = first_week = 0
    delays: list[int] = []
    judged = 0
    for first, last in outbreaks:
        if first > last or first < 0 or last >= n:
            raise ValueError(f"outbreak ({first}, {last}) is not an interval inside the series")
        if not start <= first < end:
            continue
        judged += 1
        hits = np.flatnonzero(alarms[first : min(last, end - 1) + 1])
        if hits.size:
            detected += 1
            delays.append(int(hits[0]))
            first_week += int(hits[0] == 0)
    evaluated = end - start
    if area_weeks is not None and area_weeks < 0:
        raise ValueError(f"area_weeks must be ≥ 0, got {area_weeks}")
    return DetectionMetrics(
        outbreaks=judged,
        detected=detected,
        detected_first_week=first_week,
        true_positives=int(np.count_nonzero(a & t)),
        false_negatives=int(np.count_nonzero(~a & t)),
        false_positives=int(np.count_nonzero(a & ~t)),
        true_negatives=int(np.count_nonzero(~a & ~t)),
        delays=tuple(delays),
        area_weeks=evaluated if area_weeks is None else area_weeks,
    )


def evaluate_series(detection: Detection, series: SimulatedSeries) -> DetectionMetrics:
    """Score a detector's answer on a simulated series over the points it evaluated, which must
    be the contiguous range from its first index to the end of the series."""
    n = series.observed.size
    index = np.asarray(detection.index, dtype=np.int64)
    if index.size == 0:
        raise ValueError("the detection evaluated no point")
    first = int(index[0])
    if not np.array_equal(index, np.arange(first, n)):
        raise ValueError(f"the detection must cover indices {first}…{n - 1} in order")
    alarm = np.zeros(n, dtype=np.bool_)
    alarm[index] = np.asarray(detection.alarm, dtype=np.bool_)
    return evaluate_alarms(
        alarm,
        in_outbreak=series.in_outbreak,
        outbreaks=[(o.start, o.end) for o in series.outbreaks if o.size],
        start=first,
    )


def combine(metrics: Iterable[DetectionMetrics]) -> DetectionMetrics:
    """Pool several series' counts (micro-average)."""
    items = list(metrics)
    return DetectionMetrics(
        outbreaks=sum(m.outbreaks for m in items),
        detected=sum(m.detected for m in items),
        detected_first_week=sum(m.detected_first_week for m in items),
        true_positives=sum(m.true_positives for m in items),
        false_negatives=sum(m.false_negatives for m in items),
        false_positives=sum(m.false_positives for m in items),
        true_negatives=sum(m.true_negatives for m in items),
        delays=tuple(d for m in items for d in m.delays),
        area_weeks=sum(m.area_weeks for m in items),
        series=sum(m.series for m in items),
    )


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    """One method on one scenario (``scenario_id`` None: pooled over all scenarios run)."""

    method: str
    scenario_id: int | None
    metrics: DetectionMetrics


@dataclass(frozen=True, slots=True)
class EvaluationTable:
    """Rows by method then scenario, each method's pooled row last."""

    rows: tuple[EvaluationRow, ...]

    def metrics(self, method: str, scenario_id: int | None = None) -> DetectionMetrics:
        for row in self.rows:
            if row.method == method and row.scenario_id == scenario_id:
                return row.metrics
        raise KeyError((method, scenario_id))

    def overall(self, method: str) -> DetectionMetrics:
        return self.metrics(method, None)

    def records(self) -> list[dict[str, object]]:
        """Flat rows (method, scenario, series, outbreaks and the measures) for a report."""
        return [
            {
                "method": r.method,
                "scenario": r.scenario_id,
                "series": r.metrics.series,
                "outbreaks": r.metrics.outbreaks,
                **r.metrics.summary(),
            }
            for r in self.rows
        ]


def evaluate_noufaily(
    methods: Mapping[str, Method],
    *,
    scenarios: Sequence[Scenario | int] | None = None,
    replicates: int = 100,
    seed: int = 0,
    workers: int = 1,
    current_k: int | None = None,
) -> EvaluationTable:
    """Run each method on ``replicates`` simulated series of each scenario (given as scenarios or
    ids; all 42 by default) and score the last 49 weeks, as Bédubourg & Le Strat (2017) did: each
    method is called as ``method(observed, start_index)`` with the whole series and
    ``start_index`` = 575 (week 576, 1-based) and must return a :class:`Detection` for indices
    575 … 623.

    Every scenario draws from its own stream, ``SeedSequence([seed, scenario id])``, so a row does
    not depend on which other scenarios run or on ``workers``. With ``workers`` > 1 scenarios run
    in parallel processes (``ProcessPoolExecutor``); the methods must then be picklable
    (module-level functions or ``functools.partial`` of them).
    """
    chosen = _default_scenarios() if scenarios is None else [_scenario(s) for s in scenarios]
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not methods:
        raise ValueError("no method to evaluate")
    jobs = [(s, dict(methods), replicates, seed, current_k) for s in chosen]
    if workers == 1:
        results = [_run_scenario(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_run_scenario, jobs))
    rows: list[EvaluationRow] = []
    for name in methods:
        per_scenario = [(s.id, result[name]) for s, result in zip(chosen, results, strict=True)]
        rows += [EvaluationRow(name, sid, m) for sid, m in per_scenario]
        rows.append(EvaluationRow(name, None, combine(m for _, m in per_scenario)))
    return EvaluationTable(tuple(rows))


def _default_scenarios() -> list[Scenario]:
    return scenarios()


def _scenario(item: Scenario | int) -> Scenario:
    return item if isinstance(item, Scenario) else scenario(item)


def _run_scenario(job: tuple[Scenario, dict[str, Method], int, int, int | None]) -> dict[str, DetectionMetrics]:
    scenario, methods, replicates, seed, current_k = job
    rng = np.random.default_rng(np.random.SeedSequence([seed, scenario.id]))
    scored: dict[str, list[DetectionMetrics]] = {name: [] for name in methods}
    for _ in range(replicates):
        series = simulate(scenario, rng=rng, current_k=current_k)
        observed = series.observed.astype(np.float64)
        for name, method in methods.items():
            scored[name].append(evaluate_series(method(observed, series.evaluation_start), series))
    return {name: combine(items) for name, items in scored.items()}


def _as_flags(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one flag per time point (1-D), got {array.ndim} dimension(s)")
    if array.dtype != np.bool_:
        raise ValueError(f"{name} must be booleans, got dtype {array.dtype}")
    return array


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan
