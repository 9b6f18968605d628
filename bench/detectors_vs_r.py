"""R ``surveillance`` against healthbrain's detectors on the same series, side by side.

    .venv/bin/python bench/detectors_vs_r.py            # every reference series
    .venv/bin/python bench/detectors_vs_r.py --series ha__   # a subset (name contains)
    .venv/bin/python bench/run.py detectors              # the same, recorded in bench/out/results.jsonl

The series are the R reference series in ``tests/data/rsurveillance``. A small R script (written to
a temporary folder, run with ``Rscript``) builds each ``sts`` from the CSV — with its dates where it
has them, as R's ``epochAsDate`` — and times ``farringtonFlexible`` (the README's Noufaily call)
and ``earsC`` C1/C2/C3 with ``proc.time()`` around the calls only. healthbrain's functions are
timed with ``time.perf_counter``, best of three after a warm-up. Both answers are kept and
compared (alarms identical, thresholds equal). Without R the R columns are skipped.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from healthbrain.surveillance.detectors.base import Detection
from healthbrain.surveillance.detectors.ears import EarsMethod, ears
from healthbrain.surveillance.detectors.farrington import farrington_flexible

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "rsurveillance"
B, W = 5, 3
EARS_FIRST_T = 12  # the reference range 12:n (C3 needs baseline + 4 points before)
EARS_METHODS: tuple[EarsMethod, ...] = ("C1", "C2", "C3")

R_SCRIPT = (
    r"""
suppressMessages(library(surveillance))
args <- commandArgs(trailingOnly = TRUE)
ref <- args[1]; out <- args[2]
names <- readLines(file.path(out, "series.txt"))
index <- read.csv(file.path(ref, "index.csv"), stringsAsFactors = FALSE)
timings <- data.frame()
for (nm in names) {
  x <- read.csv(file.path(ref, paste0(nm, ".series.csv")), stringsAsFactors = FALSE)
  f <- index$freq[index$series == nm]
  n <- nrow(x)
  dated <- grepl("-", x$date[1])
  s <- if (dated) {
    sts(observed = matrix(x$observed, ncol = 1), epoch = as.numeric(as.Date(x$date)), epochAsDate = TRUE, frequency = f)
  } else {
    sts(observed = matrix(x$observed, ncol = 1), frequency = f, start = c(2001, 1))
  }
  first <- f * @B@ + @W@ + 1
  if (n > first) {
    rng <- first:n
    ctrl <- list(range = rng, b = @B@, w = @W@, noPeriods = 10, pastWeeksNotIncluded = 26,
                 weightsThreshold = 2.58, thresholdMethod = "nbPlugin", alpha = 0.01,
                 powertrans = "2/3", reweight = TRUE, trend = TRUE, pThresholdTrend = 0.05,
                 limit54 = c(5, 4), glmWarnings = FALSE)
    t0 <- proc.time()[["elapsed"]]
    r <- suppressWarnings(farringtonFlexible(s, control = ctrl))
    el <- proc.time()[["elapsed"]] - t0
    timings <- rbind(timings, data.frame(series = nm, method = "farringtonFlexible", points = length(rng), seconds = el))
    write.csv(data.frame(t = rng, upperbound = as.vector(upperbound(r)), alarm = as.integer(as.vector(alarms(r)))),
              file.path(out, paste0(nm, ".farringtonFlexible.csv")), row.names = FALSE)
  }
  for (m in c("C1", "C2", "C3")) {
    rng <- @EARS_FIRST@:n
    t0 <- proc.time()[["elapsed"]]
    r <- earsC(s, control = list(range = rng, method = m, baseline = 7, alpha = 0.001))
    el <- proc.time()[["elapsed"]] - t0
    timings <- rbind(timings, data.frame(series = nm, method = paste0("ears", m), points = length(rng), seconds = el))
    write.csv(data.frame(t = rng, upperbound = as.vector(upperbound(r)), alarm = as.integer(as.vector(alarms(r)))),
              file.path(out, paste0(nm, ".ears", m, ".csv")), row.names = FALSE)
  }
}
write.csv(timings, file.path(out, "timings.csv"), row.names = FALSE)
""".replace("@B@", str(B))
    .replace("@W@", str(W))
    .replace("@EARS_FIRST@", str(EARS_FIRST_T))
)


@dataclass(frozen=True)
class Series:
    name: str
    freq: int
    observed: NDArray[np.float64]
    dates: NDArray[np.datetime64] | None


@dataclass
class Row:
    series: str
    points_ff: int = 0
    points_ears: int = 0
    r_ff: float | None = None
    hb_ff: float | None = None
    r_ears: float | None = None
    hb_ears: float = 0.0
    same_alarms: int = 0  # healthbrain and R (this run) agree
    compared: int = 0
    same_thresholds: int = 0


def load_series(name_filter: str | None = None) -> list[Series]:
    with (REFERENCE / "index.csv").open() as fh:
        index = [(row["series"], int(row["freq"])) for row in csv.DictReader(fh)]
    out = []
    for name, freq in index:
        if name_filter and name_filter not in name:
            continue
        with (REFERENCE / f"{name}.series.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        dated = "-" in rows[0]["date"]
        out.append(
            Series(
                name,
                freq,
                np.array([float(r["observed"]) for r in rows]),
                np.array([r["date"] for r in rows], dtype="datetime64[D]") if dated else None,
            )
        )
    return out


def run_r(series: list[Series], workdir: Path) -> dict[tuple[str, str], float] | None:
    """R's seconds per (series, method); None when R or surveillance is missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: the R side is skipped.")
        return None
    (workdir / "series.txt").write_text("".join(f"{s.name}\n" for s in series))
    script = workdir / "bench.R"
    script.write_text(R_SCRIPT)
    started = time.perf_counter()
    done = subprocess.run(
        [rscript, str(script), str(REFERENCE), str(workdir)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"R failed (exit {done.returncode}); the R side is skipped:\n{done.stderr.strip()[-2000:]}")
        return None
    print(f"R finished in {time.perf_counter() - started:.1f} s (wall, including start-up)")
    with (workdir / "timings.csv").open() as fh:
        return {(row["series"], row["method"]): float(row["seconds"]) for row in csv.DictReader(fh)}


def best_of(call: Callable[[], Detection], repeat: int = 3) -> tuple[float, Detection]:
    result = call()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best, result


def _compare(row: Row, result: Detection, path: Path) -> None:
    if not path.exists():
        return
    with path.open() as fh:
        ref = list(csv.DictReader(fh))
    upper = np.array([np.nan if r["upperbound"] == "NA" else float(r["upperbound"]) for r in ref])
    alarm = np.array([r["alarm"] == "1" for r in ref])
    row.same_alarms += int(np.sum(result.alarm == alarm))
    row.compared += len(ref)
    both_nan = np.isnan(upper) & np.isnan(result.threshold)
    near = np.abs(result.threshold - upper) <= 1e-6 * np.maximum(1.0, np.abs(upper))
    row.same_thresholds += int(np.sum(both_nan | near))


def run(name_filter: str | None = None, *, with_r: bool = True) -> dict[str, object]:
    series = load_series(name_filter)
    workdir = Path(tempfile.mkdtemp(prefix="hb-detectors-"))
    try:
        r_times = run_r(series, workdir) if with_r else None
        rows = []
        for s in series:
            row = Row(s.name)
            first = s.freq * B + W  # 0-based index of R's first = freq * b + w + 1
            if len(s.observed) > first + 1:
                seconds, result = best_of(
                    partial(farrington_flexible, s.observed, freq=s.freq, start=first, b=B, w=W, dates=s.dates)
                )
                row.points_ff, row.hb_ff = len(result), seconds
                if r_times is not None:
                    row.r_ff = r_times.get((s.name, "farringtonFlexible"))
                    _compare(row, result, workdir / f"{s.name}.farringtonFlexible.csv")
            r_ears = 0.0
            for method in EARS_METHODS:
                seconds, result = best_of(partial(ears, s.observed, method=method, start=EARS_FIRST_T - 1))
                row.hb_ears += seconds
                row.points_ears += len(result)
                if r_times is not None:
                    r_ears += r_times.get((s.name, f"ears{method}"), 0.0)
                    _compare(row, result, workdir / f"{s.name}.ears{method}.csv")
            row.r_ears = r_ears if r_times is not None else None
            rows.append(row)
        return report(rows, r_times is not None)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _ratio(r: float | None, hb: float | None) -> str:
    return f"{r / hb:.0f}×" if r is not None and hb else "–"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def report(rows: list[Row], with_r: bool) -> dict[str, object]:
    print()
    print(
        "| series | points (FF) | R farringtonFlexible s | healthbrain s | ratio | R earsC ×3 s | healthbrain s | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.series} | {row.points_ff} | {_s(row.r_ff)} | {_s(row.hb_ff) if row.points_ff else '–'} | "
            f"{_ratio(row.r_ff, row.hb_ff)} | {_s(row.r_ears)} | {row.hb_ears:.4f} | {_ratio(row.r_ears, row.hb_ears)} |"
        )
    ff_points = sum(r.points_ff for r in rows)
    hb_ff = sum(r.hb_ff or 0.0 for r in rows)
    hb_ears = sum(r.hb_ears for r in rows)
    figures: dict[str, object] = {
        "series": len(rows),
        "farrington_points": ff_points,
        "healthbrain_farrington_seconds": round(hb_ff, 3),
        "healthbrain_farrington_ms_per_point": round(1000 * hb_ff / max(ff_points, 1), 3),
        "healthbrain_ears_seconds": round(hb_ears, 4),
    }
    print()
    print(
        f"healthbrain farringtonFlexible: {hb_ff:.2f} s for {ff_points} points ({1000 * hb_ff / max(ff_points, 1):.2f} ms/point)"
    )
    print(f"healthbrain earsC (C1+C2+C3): {hb_ears:.3f} s")
    if with_r:
        r_ff = sum(r.r_ff or 0.0 for r in rows)
        r_ears = sum(r.r_ears or 0.0 for r in rows)
        compared = sum(r.compared for r in rows)
        same_alarms = sum(r.same_alarms for r in rows)
        same_thresholds = sum(r.same_thresholds for r in rows)
        worst = min((r.r_ff / r.hb_ff for r in rows if r.r_ff and r.hb_ff), default=float("nan"))
        print(f"R farringtonFlexible:           {r_ff:.2f} s ({1000 * r_ff / max(ff_points, 1):.2f} ms/point)")
        print(f"R earsC (C1+C2+C3):             {r_ears:.3f} s")
        print(
            f"farringtonFlexible: healthbrain is {r_ff / hb_ff:.0f}× faster overall, {worst:.0f}× on its slowest series"
        )
        print(f"earsC: healthbrain is {r_ears / hb_ears:.0f}× faster overall")
        print(f"same answers as this R run: alarms {same_alarms}/{compared}, thresholds {same_thresholds}/{compared}")
        figures |= {
            "r_farrington_seconds": round(r_ff, 3),
            "r_ears_seconds": round(r_ears, 4),
            "farrington_speedup": round(r_ff / hb_ff, 1),
            "farrington_speedup_worst_series": round(worst, 1),
            "ears_speedup": round(r_ears / hb_ears, 1),
            "alarms_identical": f"{same_alarms}/{compared}",
            "thresholds_identical": f"{same_thresholds}/{compared}",
        }
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", help="only the series whose name contains this")
    parser.add_argument("--no-r", action="store_true", help="time healthbrain only")
    args = parser.parse_args(argv)
    run(args.series, with_r=not args.no_r)


if __name__ == "__main__":
    main()
