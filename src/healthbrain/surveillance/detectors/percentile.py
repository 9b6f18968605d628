"""Moving percentile method (移动百分位数法), the temporal detector of China's CIDARS.

Sources: Yang W. et al., "A nationwide web-based automated system for outbreak early detection
and rapid response in China", WPSAR 2011;2(1):10–15 (doi:10.5365/wpsar.2010.1.1.009); Wang R. et
al., "How to select a proper early warning threshold to detect infectious disease outbreaks based
on the China infectious disease automated alert and response system (CIDARS)", BMC Public Health
2017;17:570 (s12889-017-4488-0): Px of a "moving window [5 week × 5 year]", P per disease
(chickenpox P75, mumps P80, influenza P75, HFMD P75, scarlet fever P80, rubella P45).

At t the current count is the sum of the last ``window`` points (1 for weekly data, 7 for daily
data: CIDARS's 7-day count). The baseline is the same-length sums ending at ``t - j·period + d``
for j = 1 … b earlier periods and d = -w … w (weekly: 5 years × 5 weeks = up to 25 values), using
only sums whose points all exist (so short histories use the years they have). The threshold is
the P-th percentile of the baseline with numpy's default linear interpolation (type 7, as R's
``quantile`` default; the sources do not name a type).

Alarm when the current count is strictly greater than the percentile. The CIDARS papers found
(Yang 2011, Wang 2017 and its Table 1, Zhang H. et al., Chin J Prev Med 2014;48:265–9) do not
spell out "≥" or ">"; ">" is the plain reading of a count "exceeding" its threshold, and it keeps
a zero count from signalling against a zero percentile in quiet seasons (with "≥", every zero
week of a disease absent for years would alarm).

``observed`` in the result holds the compared count (the window sum), ``score`` the share of
baseline sums at or below it (in %), ``expected`` their median.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from healthbrain.surveillance.detectors.base import Detection, InsufficientHistory

METHOD = "percentile"
DEFAULT_PERCENTILE = 80.0  # CIDARS national optimum for 6 of 16 diseases (Zhang 2014; P90 for the other 10)
DEFAULT_YEARS = 5
DAYS_PER_YEAR = 364  # 52 whole weeks: the same weekdays a year earlier


def is_daily(freq: int) -> bool:
    """Daily series are given as freq 7 (weekly cycle) or a year of days (364/365)."""
    return freq == 7 or freq >= 300


def default_window(freq: int) -> int:
    return 7 if is_daily(freq) else 1


def default_period(freq: int) -> int:
    return DAYS_PER_YEAR if freq == 7 else freq


def default_half_width(freq: int) -> int:
    """± 2 weeks around the same date (the 5-week window): 14 days, 2 weeks, else 1 point."""
    if is_daily(freq):
        return 14
    return 2 if freq == 52 else 1


def min_history(*, period: int, w: int, window: int) -> int:
    """Points needed before the first evaluable one: one full earlier period of sums."""
    return period + w + window - 1


def moving_percentile(
    observed: ArrayLike,
    *,
    period: int,
    window: int = 1,
    w: int = 2,
    b: int = DEFAULT_YEARS,
    percentile: float = DEFAULT_PERCENTILE,
    start: int | None = None,
) -> Detection:
    """Moving percentile over ``observed[start:]`` (0-based; default the first evaluable point)."""
    x = np.asarray(observed, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{METHOD}: observed must be one-dimensional")
    if window < 1 or w < 0 or b < 1:
        raise ValueError(f"{METHOD}: window and b must be ≥ 1 and w ≥ 0")
    if period <= w + window - 1:
        raise ValueError(f"{METHOD}: period ({period}) must exceed w + window - 1 ({w + window - 1})")
    if not 0 < percentile < 100:
        raise ValueError(f"{METHOD}: percentile must lie in (0, 100)")
    first = min_history(period=period, w=w, window=window)
    if start is None:
        start = first
    if start < first:
        raise InsufficientHistory(METHOD, needed=first, available=start, start=start)
    n = len(x)
    if n <= start:
        raise InsufficientHistory(METHOD, needed=start + 1, available=n)

    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    ends = np.arange(n)
    sums = np.full(n, np.nan)
    full = ends >= window - 1
    sums[full] = cumulative[ends[full] + 1] - cumulative[ends[full] + 1 - window]

    t = np.arange(start, n)
    offsets = (np.arange(1, b + 1)[:, None] * period - np.arange(-w, w + 1)[None, :]).ravel()
    at = t[:, None] - offsets[None, :]  # (points, b·(2w+1)) end of each comparable window
    baseline = np.where(at >= window - 1, sums[np.maximum(at, 0)], np.nan)
    current = sums[t]
    threshold = np.nanpercentile(baseline, percentile, axis=1)
    count = np.sum(~np.isnan(baseline), axis=1)
    score = 100.0 * np.sum(baseline <= current[:, None], axis=1) / count
    return Detection(
        index=t.astype(np.int64),
        observed=current,
        threshold=threshold,
        alarm=current > threshold,
        expected=np.nanmedian(baseline, axis=1),
        score=score,
    )
