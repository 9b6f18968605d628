"""Count rules: a fixed threshold (固定阈值法) and China's cluster rules over a time window (聚集性疫情规则).

- ``fixed``: alarm when the count at t is ≥ ``threshold``. Default 1: "one case is a signal", the
  rule of China's CIDARS for plague, cholera, SARS, H5N1 and the other diseases it watches case by
  case (Yang W. et al., WPSAR 2011;2(1):10–15).
- ``window``: alarm when the sum over the last ``days`` points is ≥ ``min_count`` — the cluster
  rules of China's school and outbreak reporting standards, e.g. ≥ 3 cases in one class in 1 day,
  ≥ 5 within 3 days (学校和托幼机构传染病疫情报告工作规范), ≥ 10 in 7 days (see
  ``shared/reference/surveillance.md`` and :mod:`healthbrain.surveillance.defaults`).

Unlike R-style detectors, whose ``threshold`` is an upper bound that the count must *exceed*,
here ``threshold`` is the alarm level itself: a count *equal to* it alarms (the rules say "≥").
``observed`` is the count that was compared (for ``window``, the sum over the window) and
``score`` its ratio to the threshold (≥ 1 alarms); ``expected`` is NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from healthbrain.surveillance.detectors.base import Detection, FloatArray, InsufficientHistory

ONE_CASE = 1.0  # CIDARS: a single case of a fixed-threshold disease is a signal
SCHOOL_CLASS_1_DAY = (1, 3)  # (days, min_count): ≥ 3 similar cases in one class in 1 day
SCHOOL_CLASS_3_DAYS = (3, 5)  # ≥ 5 within 3 days
SCHOOL_WEEK = (7, 10)  # ≥ 10 cases of mumps, scarlet fever or varicella in one school in a week


def _checked(observed: ArrayLike, method: str) -> FloatArray:
    x = np.asarray(observed, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{method}: observed must be one-dimensional")
    return x


def _result(counts: FloatArray, level: float, start: int) -> Detection:
    n = len(counts)
    return Detection(
        index=np.arange(start, n, dtype=np.int64),
        observed=counts[start:],
        threshold=np.full(n - start, level),
        alarm=counts[start:] >= level,
        expected=np.full(n - start, np.nan),
        score=counts[start:] / level,
    )


def fixed_threshold(observed: ArrayLike, *, threshold: float = ONE_CASE, start: int = 0) -> Detection:
    """Alarm where ``observed[t] ≥ threshold``, for t from ``start`` (0-based)."""
    x = _checked(observed, "fixed")
    if threshold <= 0:
        raise ValueError("fixed: threshold must be > 0")
    if start < 0:
        raise ValueError("fixed: start must be ≥ 0")
    if len(x) <= start:
        raise InsufficientHistory("fixed", needed=start + 1, available=len(x))
    return _result(x, float(threshold), start)


def window_min_history(days: int) -> int:
    """Points needed before the first evaluable one: the rest of the first window."""
    return days - 1


def window_count(
    observed: ArrayLike,
    *,
    days: int = SCHOOL_CLASS_3_DAYS[0],
    min_count: float = SCHOOL_CLASS_3_DAYS[1],
    start: int | None = None,
) -> Detection:
    """Alarm where the sum of ``observed[t - days + 1 … t]`` is ≥ ``min_count``."""
    x = _checked(observed, "window")
    if days < 1:
        raise ValueError("window: days must be ≥ 1")
    if min_count <= 0:
        raise ValueError("window: min_count must be > 0")
    first = window_min_history(days)
    if start is None:
        start = first
    if start < first:
        raise InsufficientHistory("window", needed=first, available=start, start=start)
    if len(x) <= start:
        raise InsufficientHistory("window", needed=start + 1, available=len(x))
    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    sums = np.full(len(x), np.nan)
    sums[first:] = cumulative[first + 1 :] - cumulative[: len(x) - first]
    return _result(sums, float(min_count), start)
