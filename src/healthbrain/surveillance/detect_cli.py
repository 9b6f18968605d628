"""``healthbrain detect``: run one temporal detector on a count series from a CSV file.

Input: a CSV with columns ``t`` (1-based, consecutive) and ``observed`` (non-negative counts);
``date`` is optional: when every row has a calendar date (YYYY-MM-DD), Farrington flexible takes
its reference weeks by date, as R does for a series it holds with dates; other columns (R
reference files have ``state``) are ignored. Output: ``t,observed,threshold,alarm`` from ``--from`` on, the
threshold ``NA`` where the method gives none (as R), the alarm 0/1 (``NA`` where R's earsC has none). For ``fixed`` and ``window``
the threshold is the alarm level (a count equal to it alarms); for the others it is the upper
bound the count must exceed.

Every error (file, column, row, parameter, history) is one line on stderr and exit code 2.
The detectors (NumPy, SciPy, Pydantic) are imported only when the command runs, so that the rest
of the command line starts fast.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

METHOD_SLUGS = "fixed, window, percentile, ears-c1, ears-c2, ears-c3, farrington-flexible, cusum"


class _InputError(Exception):
    """A problem with the input file, named by row and field."""


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NA"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


if TYPE_CHECKING:
    import numpy as np


def _alarm(method: str, alarm: bool, threshold: float) -> str:
    """0/1, or NA where R's earsC gives NA (no upper bound: a zero standard deviation in C3), so
    the file reads as R's does; R's farringtonFlexible says 0 where it has no bound, and so do we."""
    if method.startswith("ears-") and math.isnan(threshold):
        return "NA"
    return "1" if alarm else "0"


def _iso_dates(dates: list[str] | None) -> np.ndarray | None:
    """The dates as datetime64 when every row has a calendar date (R's epochAsDate series), else
    None (R's reference outputs number the weeks of undated series: "  1", "  2" …)."""
    import numpy as np

    if not dates or not all(len(d) == 10 and d[4] == "-" and d[7] == "-" for d in dates):
        return None
    try:
        return np.array(dates, dtype="datetime64[D]")
    except ValueError:
        return None


def _read_series(path: Path) -> tuple[list[int], list[str] | None, list[float]]:
    """(t, date or None, observed) from the CSV; raises _InputError naming the row and field."""
    if not path.is_file():
        raise _InputError(f"input file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise _InputError(f"{path}: the file is empty")
            columns = {name.strip(): i for i, name in enumerate(header)}
            for needed in ("t", "observed"):
                if needed not in columns:
                    raise _InputError(f"{path}: missing column {needed!r} (columns: {', '.join(columns) or 'none'})")
            it, io, id_ = columns["t"], columns["observed"], columns.get("date")
            ts: list[int] = []
            dates: list[str] = []
            counts: list[float] = []
            for row_number, row in enumerate(reader, start=1):
                if not row or all(not cell.strip() for cell in row):
                    continue  # a blank line
                where = f"{path} row {row_number}"
                if len(row) <= max(it, io):
                    raise _InputError(f"{where}: expected {len(header)} fields, found {len(row)}")
                try:
                    t = int(row[it].strip())
                except ValueError:
                    raise _InputError(f"{where}: t {row[it]!r} is not an integer") from None
                if ts and t != ts[-1] + 1:
                    raise _InputError(f"{where}: t={t} does not follow t={ts[-1]} (t must be consecutive)")
                text = row[io].strip()
                try:
                    count = float(text)
                except ValueError:
                    raise _InputError(f"{where} (t={t}): observed {text!r} is not a number") from None
                if not math.isfinite(count) or count < 0:
                    raise _InputError(f"{where} (t={t}): observed {text!r} is not a non-negative count")
                ts.append(t)
                counts.append(count)
                if id_ is not None:
                    dates.append(row[id_].strip() if id_ < len(row) else "")
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise _InputError(f"cannot read {path}: {error}") from None
    if not ts:
        raise _InputError(f"{path}: no data rows")
    return ts, (dates if id_ is not None else None), counts


def _parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _InputError(f"bad --param {item!r}: expected key=value")
        params[key.strip()] = value.strip()
    return params


def detect(
    method: Annotated[str, typer.Option("--method", help=f"Detector: {METHOD_SLUGS}.")],
    input_path: Annotated[Path, typer.Option("--input", help="CSV with columns t,observed (date optional).")],
    freq: Annotated[int, typer.Option("--freq", help="Points per year: 52 weekly, 7 (or 364) daily, 12 monthly.")],
    output: Annotated[
        Path,
        typer.Option("--output", help="CSV to write: t,observed,threshold,alarm."),
    ],
    from_t: Annotated[
        int | None, typer.Option("--from", help="First t to evaluate (default: the first with enough history).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Method parameter key=value (repeatable), e.g. alpha=0.01.")
    ] = None,
) -> None:
    """Run a temporal outbreak detector on a count series (CSV in, CSV out)."""

    def fail(message: str) -> NoReturn:
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2)

    from healthbrain.surveillance.detectors.base import InsufficientHistory
    from healthbrain.surveillance.detectors.registry import METHODS, InvalidParams, InvalidSeries, run_method

    if method not in METHODS:
        fail(f"unknown --method {method!r}; choose one of: {', '.join(METHODS)}")
    if freq < 1:
        fail(f"--freq must be a positive integer, not {freq}")
    try:
        params = _parse_params(param or [])
        ts, dates, counts = _read_series(input_path)
    except _InputError as error:
        fail(str(error))
    start: int | None = None
    if from_t is not None:
        if not ts[0] <= from_t <= ts[-1]:
            fail(f"--from {from_t} is outside the series (t = {ts[0]} … {ts[-1]})")
        start = from_t - ts[0]
    try:
        result = run_method(method, counts, params, freq=freq, start=start, dates=_iso_dates(dates))
    except InsufficientHistory as error:
        if error.start is not None:
            fail(
                f"{method}: t={ts[error.start]} has {error.available} points before it; the method needs "
                f"{error.needed} (first possible t = {ts[0] + error.needed})"
            )
        fail(f"{method}: the series has {error.available} points; the method needs at least {error.needed}")
    except (InvalidParams, InvalidSeries) as error:
        fail(f"bad --param: {error}" if isinstance(error, InvalidParams) else str(error))
    header = ["t", "observed", "threshold", "alarm"]
    try:
        with output.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for i, threshold, alarm in zip(
                result.index.tolist(), result.threshold.tolist(), result.alarm.tolist(), strict=True
            ):
                row = [
                    str(ts[i]),
                    _fmt(counts[i]),
                    _fmt(threshold),
                    _alarm(method, alarm, threshold),
                ]
                writer.writerow(row)
    except OSError as error:
        fail(f"cannot write {output}: {error}")
    typer.echo(f"{method}: {len(result)} points evaluated, {int(result.alarm.sum())} alarms → {output}")
