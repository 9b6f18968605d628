"""`healthbrain detect` against R `surveillance`'s reference outputs, through the command line as a
checker would run it: every reference series, EARS C1/C2/C3 and Farrington flexible, the output
file compared row by row with R's (alarms identical; thresholds within 1e-6 for EARS, 1 % for
Farrington; NA where R has NA)."""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "rsurveillance"
METHODS = {"earsC1": "ears-c1", "earsC2": "ears-c2", "earsC3": "ears-c3", "farringtonFlexible": "farrington-flexible"}


def run() -> dict[str, Any]:
    with (REFERENCE / "index.csv").open() as fh:
        series = {row["series"]: row["freq"] for row in csv.DictReader(fh)}
    totals: dict[str, list[int]] = {m: [0, 0, 0] for m in METHODS}  # points, alarms same, thresholds off
    differing: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, freq in series.items():
            for reference, method in METHODS.items():
                expected = REFERENCE / f"{name}.{reference}.csv"
                if not expected.exists():
                    continue
                out = Path(tmp) / f"{name}.{reference}.csv"
                command = [sys.executable, "-m", "healthbrain", "detect", "--method", method]
                command += ["--input", str(REFERENCE / f"{name}.series.csv"), "--freq", freq, "--output", str(out)]
                subprocess.run(command, check=True, capture_output=True)
                with out.open() as fh:
                    ours = {row["t"]: row for row in csv.DictReader(fh)}
                tolerance = 1e-6 if reference.startswith("ears") else 0.01
                with expected.open() as fh:
                    for row in csv.DictReader(fh):
                        mine = ours[row["t"]]
                        total = totals[reference]
                        total[0] += 1
                        total[1] += mine["alarm"] == row["alarm"]
                        if (mine["threshold"] == "NA") != (row["upperbound"] == "NA"):
                            off = True
                        elif row["upperbound"] == "NA":
                            off = False
                        else:
                            r = float(row["upperbound"])
                            off = abs(float(mine["threshold"]) - r) > tolerance * max(1.0, abs(r))
                        total[2] += off
                        if off or mine["alarm"] != row["alarm"]:
                            differing.append(f"{name} {reference} t={row['t']}")
    for reference, (points, same, off) in totals.items():
        print(f"{reference:<20} {points:>6} points   alarms identical {same}/{points}   thresholds off {off}")
    return {
        "series": len(series),
        **{f"{m}_points": t[0] for m, t in totals.items()},
        **{f"{m}_alarms_identical": t[1] for m, t in totals.items()},
        **{f"{m}_thresholds_off": t[2] for m, t in totals.items()},
        "differing_points": differing[:20],
    }
