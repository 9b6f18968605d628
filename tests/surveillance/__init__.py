"""Tests of the surveillance domain. The helpers here read R ``surveillance``'s reference outputs
for the detector tests (``tests/data/rsurveillance``: ``NAME.series.csv`` and ``NAME.METHOD.csv``,
made by ``make_reference.R`` and ``make_cusum_reference.R``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "rsurveillance"


@dataclass(frozen=True)
class Series:
    name: str
    freq: int
    observed: NDArray[np.float64]
    dates: NDArray[np.datetime64] | None  # set for R's epochAsDate series (ISO dates)


@dataclass(frozen=True)
class Reference:
    """R's answer for one series and method; ``t`` is 1-based, NA upper bounds are NaN, NA
    alarms are -1."""

    t: NDArray[np.int64]
    upperbound: NDArray[np.float64]
    alarm: NDArray[np.int64]


def _number(text: str) -> float:
    return float("nan") if text in ("NA", "NaN") else float(text)


@cache
def series_names() -> tuple[str, ...]:
    with (REFERENCE / "index.csv").open() as fh:
        return tuple(row["series"] for row in csv.DictReader(fh))


@cache
def load_series(name: str) -> Series:
    with (REFERENCE / "index.csv").open() as fh:
        freq = next(int(row["freq"]) for row in csv.DictReader(fh) if row["series"] == name)
    with (REFERENCE / f"{name}.series.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    observed = np.array([float(row["observed"]) for row in rows])
    dated = "-" in rows[0]["date"]
    dates = np.array([row["date"] for row in rows], dtype="datetime64[D]") if dated else None
    return Series(name, freq, observed, dates)


def load_reference(name: str, method: str, **where: str) -> Reference:
    with (REFERENCE / f"{name}.{method}.csv").open() as fh:
        rows = [row for row in csv.DictReader(fh) if all(row[k] == v for k, v in where.items())]
    return Reference(
        t=np.array([int(row["t"]) for row in rows]),
        upperbound=np.array([_number(row["upperbound"]) for row in rows]),
        alarm=np.array([-1 if row["alarm"] == "NA" else int(row["alarm"]) for row in rows]),
    )


def reference_column(name: str, method: str, column: str, **where: str) -> NDArray[np.float64]:
    with (REFERENCE / f"{name}.{method}.csv").open() as fh:
        rows = [row for row in csv.DictReader(fh) if all(row[k] == v for k, v in where.items())]
    return np.array([_number(row[column]) for row in rows])


def with_reference(method: str) -> list[str]:
    """Series names that have a reference file for ``method``."""
    return [name for name in series_names() if (REFERENCE / f"{name}.{method}.csv").exists()]


def close(ours: NDArray[np.float64], theirs: NDArray[np.float64], tolerance: float) -> NDArray[np.bool_]:
    """|ours − R| ≤ tolerance · max(1, |R|): absolute below 1, relative above."""
    return np.asarray(np.abs(ours - theirs) <= tolerance * np.maximum(1.0, np.abs(theirs)))
