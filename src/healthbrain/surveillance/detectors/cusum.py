"""CUSUM (累积和控制图) on standardised counts: R ``surveillance::algo.cusum`` / ``cusum``, ported.

Sources: Rossi G., Lampugnani L., Marchi M., "An approximate CUSUM procedure for surveillance of
health events", Stat Med 1999;18:2111–22 (the "rossi" transform); R ``surveillance`` 1.20.3
``algo.cusum`` (defaults k = 1.04, h = 2.26, m = NULL, trans = "standard").

From ``start`` on: ``S_t = max(0, S_{t-1} + z_t - k)``, ``S`` before ``start`` = 0, alarm when
``S_t ≥ h``. ``z_t`` is the count standardised against the in-control mean ``m`` — by default the
mean of all points before ``start`` (R: ``mean(observed[1:(timePoint - 1)])``). The threshold is
R's ``upperbound``: the count at t that would just raise an alarm given ``S_{t-1}`` (rounded up
for "standard"), with NaN and negative values set to 0 as R does. Where ``m = 0`` R's
standardisation divides by zero; the NaN or infinite sums are kept (no alarm where NaN).

The sum is a recursion, computed by a plain loop over the evaluated points (as R does); it is
cheap next to everything else.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from healthbrain.surveillance.detectors.base import Detection, FloatArray, InsufficientHistory

CusumTransform = Literal["standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin"]

# R surveillance::algo.cusum defaults
DEFAULT_K = 1.04
DEFAULT_H = 2.26
DEFAULT_NB_ALPHA = 0.1  # overdispersion for "pearsonNegBin" (R: control$alpha, default 0.1)
METHOD = "cusum"


def _standardise(x: FloatArray, mean: float, trans: CusumTransform, alpha: float) -> FloatArray:
    m = np.float64(mean)  # IEEE semantics (0 ** -1/3 = inf), as R, not Python's ZeroDivisionError
    with np.errstate(divide="ignore", invalid="ignore"):
        if trans == "rossi":
            return np.asarray((x - 3 * m + 2 * np.sqrt(x * m)) / (2 * np.sqrt(m)), dtype=np.float64)
        if trans == "standard":
            return np.asarray((x - m) / np.sqrt(m), dtype=np.float64)
        if trans == "anscombe":
            return np.asarray(1.5 * (x ** (2 / 3) - m ** (2 / 3)) / m ** (1 / 6), dtype=np.float64)
        if trans == "anscombe2nd":
            return np.asarray(
                (x ** (2 / 3) - (m ** (2 / 3) - m ** (-1 / 3) / 9)) / (2 / 3 * m ** (1 / 6)), dtype=np.float64
            )
        return np.asarray((x - m) / np.sqrt(m + alpha * m**2), dtype=np.float64)


def _upper_bound(
    before: FloatArray, mean: float, h: float, k: float, trans: CusumTransform, alpha: float
) -> FloatArray:
    """R's ``upperbound`` from ``Ctm1`` (the sum before each point)."""
    m = np.float64(mean)
    margin = h + k - before
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if trans == "rossi":
            m32 = m**1.5
            inner = 4 * m**2 + 2 * m32 * h + 2 * m32 * k - 2 * m32 * before
            bound = 2 * h * m**0.5 + 2 * k * m**0.5 - 2 * before * m**0.5 + 5 * m - 2 * np.sqrt(inner)
        elif trans == "standard":
            bound = np.ceil(np.sqrt(m) * margin + m)
        elif trans in ("anscombe", "anscombe2nd"):
            centre = m ** (2 / 3) if trans == "anscombe" else m ** (2 / 3) - m ** (1 / 3) / 9
            base = 2 / 3 * m ** (1 / 6) * margin + centre
            bound = np.where(base < 0, 0.0, np.maximum(base, 0.0) ** 1.5)  # R: ifelse(base < 0, 0, base^(3/2))
        else:
            bound = np.sqrt(m + alpha * m**2) * margin + m
    bound = np.where(np.isnan(bound), 0.0, bound)
    return np.asarray(np.where(bound < 0, 0.0, bound), dtype=np.float64)


def cusum(
    observed: ArrayLike,
    *,
    start: int,
    k: float = DEFAULT_K,
    h: float = DEFAULT_H,
    m: float | None = None,
    trans: CusumTransform = "standard",
    alpha: float = DEFAULT_NB_ALPHA,
) -> Detection:
    """CUSUM over ``observed[start:]`` (0-based ``start``); ``m`` None = mean of ``observed[:start]``."""
    x = np.asarray(observed, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{METHOD}: observed must be one-dimensional")
    if h <= 0:
        raise ValueError(f"{METHOD}: h must be > 0")
    if m is not None and m < 0:
        raise ValueError(f"{METHOD}: m must be ≥ 0")
    first = 1 if m is None else 0
    if start < first:
        raise InsufficientHistory(METHOD, needed=first, available=start, start=start)
    n = len(x)
    if n <= start:
        raise InsufficientHistory(METHOD, needed=start + 1, available=n)
    mean = float(x[:start].mean()) if m is None else float(m)
    evaluated = x[start:]
    steps = _standardise(evaluated, mean, trans, alpha) - k
    sums = np.empty(len(evaluated))
    total = 0.0
    for i, step in enumerate(steps.tolist()):
        total = total + step
        # R's max(0, NaN) is NaN: a NaN sum stays NaN (Python's max would drop it)
        total = total if math.isnan(total) or total > 0 else 0.0
        sums[i] = total
    before = np.concatenate([[0.0], sums[:-1]])
    with np.errstate(invalid="ignore"):
        alarm = sums >= h
    return Detection(
        index=np.arange(start, n, dtype=np.int64),
        observed=evaluated,
        threshold=_upper_bound(before, mean, h, k, trans, alpha),
        alarm=alarm,
        expected=np.full(len(evaluated), mean),
        score=sums,
    )
