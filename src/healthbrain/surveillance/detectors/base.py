"""The shared shape of a temporal detector's answer, and its one error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class InsufficientHistory(ValueError):
    """The series is too short for the method: says how many points it needs and has."""

    def __init__(self, method: str, *, needed: int, available: int, start: int | None = None) -> None:
        self.method = method
        self.needed = needed
        self.available = available
        self.start = start
        where = f" before t={start + 1}" if start is not None else ""
        super().__init__(f"{method}: needs at least {needed} points of history{where}, the series has {available}")


@dataclass(frozen=True, slots=True)
class Detection:
    """What a detector says about each evaluated time point.

    ``index`` holds 0-based positions into the input series (the evaluated range, ascending);
    the other arrays are aligned with it. ``threshold`` is the upper bound the observation is
    compared with (NaN where the method could not compute one, as R ``surveillance`` gives NA);
    ``expected`` the baseline expectation where the method has one (NaN otherwise); ``score`` the
    method's own statistic (C1/C2/C3 value, CUSUM sum, Farrington's exceedance score, percentile
    rank …; NaN where undefined), used to grade alerts.
    """

    index: NDArray[np.int64]
    observed: FloatArray
    threshold: FloatArray
    alarm: BoolArray
    expected: FloatArray
    score: FloatArray

    def __len__(self) -> int:
        return int(self.index.shape[0])
