"""EARS C1, C2 and C3 (CDC Early Aberration Reporting System): R ``surveillance::earsC``, ported.

Sources: Hutwagner L. et al., "The bioterrorism preparedness and response Early Aberration
Reporting System (EARS)", J Urban Health 2003;80(suppl 1):i89–96; Fricker R.D. et al., Stat Med
2008;27:3407–29; R ``surveillance`` 1.20.3 ``earsC`` (the thresholds and alarms below are R's).

- C1: baseline = the ``baseline`` points before t; threshold = mean + z(1 - alpha) · max(sd, minSigma).
- C2: the same with a two-point guard band: baseline t - baseline - 2 … t - 3.
- C3: R's upper bound ``y_t + max(sd_t, minSigma) · (z - (C2⁺_{t-2} + C2⁺_{t-1}))`` floored at 0,
  with ``C2⁺ = max(0, C2 - 1)``. It is the count at t at which R's alarm flips, given R's own
  formula: as written in ``earsC`` the alarm ``y_t > upper bound`` reduces to
  ``C2⁺_{t-2} + C2⁺_{t-1} > z`` whenever sd_t > 0, i.e. it does not depend on the count at t
  (the textbook C3 adds ``C2⁺_t``). Ported as is for parity; ``score`` holds the textbook C3
  statistic ``C2⁺_{t-2} + C2⁺_{t-1} + C2⁺_t``.

Alarms are ``observed > threshold`` (R), False where R gives NA (a zero standard deviation in
C3's lags). ``sd`` is the sample standard deviation (n - 1), as R ``sd``. Vectorised over time
with sliding windows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike
from scipy import special

from healthbrain.surveillance.detectors.base import Detection, FloatArray, InsufficientHistory

EarsMethod = Literal["C1", "C2", "C3"]

# R earsC: "Minimum baseline to use is 3."
MIN_BASELINE = 3
DEFAULT_ALPHA = 0.001  # R's default for C1 and C2 (R uses 0.025 for C3 when alpha is NULL)
DEFAULT_BASELINE = 7


def _lag(method: EarsMethod) -> int:
    """Points between the end of the baseline window and t, minus one (the guard band)."""
    return 0 if method == "C1" else 2


def min_history(method: EarsMethod, baseline: int) -> int:
    """Points needed before the first evaluable one (R earsC's ``maxLag``)."""
    return baseline + {"C1": 0, "C2": 2, "C3": 4}[method]


def ears(
    observed: ArrayLike,
    *,
    method: EarsMethod,
    baseline: int = DEFAULT_BASELINE,
    alpha: float = DEFAULT_ALPHA,
    min_sigma: float = 0.0,
    start: int | None = None,
) -> Detection:
    """EARS ``method`` over ``observed[start:]`` (0-based ``start``; default the first evaluable point)."""
    name = f"ears-{method.lower()}"
    x = np.asarray(observed, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: observed must be one-dimensional")
    if baseline < MIN_BASELINE:
        raise ValueError(f"{name}: baseline must be at least {MIN_BASELINE} (R: 'Minimum baseline to use is 3.')")
    if not 0 < alpha < 1:
        raise ValueError(f"{name}: alpha must lie in (0, 1)")
    if min_sigma < 0:
        raise ValueError(f"{name}: min_sigma must be ≥ 0")
    first = min_history(method, baseline)
    if start is None:
        start = first
    if start < first:
        raise InsufficientHistory(name, needed=first, available=start, start=start)
    n = len(x)
    if n <= start:
        raise InsufficientHistory(name, needed=start + 1, available=n)

    z = float(special.ndtri(1 - alpha))  # R qnorm(1 - alpha)
    windows = sliding_window_view(x, baseline)  # windows[j] = x[j : j + baseline]
    t = np.arange(start, n)
    lag = _lag(method)

    def baseline_of(at: np.ndarray) -> tuple[FloatArray, FloatArray]:
        """Mean and max(sd, minSigma) of the baseline window of each point ``at``."""
        win = windows[at - baseline - lag]
        return win.mean(axis=1), np.maximum(win.std(axis=1, ddof=1), min_sigma)

    mean, sd = baseline_of(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method != "C3":
            threshold = mean + z * sd
            score = (x[t] - mean) / sd
            expected = mean
        else:
            # C2 at t - 2, t - 1 and t (R computes it over range[1] - 2 … range[-1])
            t2 = np.arange(start - 2, n)
            mean2, sd2 = baseline_of(t2)
            c2_plus = np.maximum(0.0, (x[t2] - mean2) / sd2 - 1)  # NaN stays NaN, as R's pmax
            lagged = c2_plus[:-2] + c2_plus[1:-1]
            threshold = np.maximum(0.0, x[t] + sd * (z - lagged))
            score = lagged + c2_plus[2:]
            expected = mean
        alarm = x[t] > threshold  # NaN threshold → False (R: NA)
    return Detection(
        index=t.astype(np.int64),
        observed=x[t],
        threshold=threshold,
        alarm=alarm,
        expected=expected,
        score=score,
    )
