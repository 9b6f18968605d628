"""``healthbrain detect`` as a user runs it: a real subprocess (as tests/test_cli.py does), the R
reference files as input, one clear line and exit code 2 on every kind of error."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from healthbrain.surveillance.detectors.registry import METHODS
from tests.surveillance import REFERENCE, close, load_reference

SHADAR = REFERENCE / "shadar.series.csv"  # quoted header, a date column, an extra "state" column


def healthbrain(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healthbrain", *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_help_lists_every_method() -> None:
    result = healthbrain("detect", "--help")
    assert result.returncode == 0
    for slug in METHODS:
        assert slug in result.stdout


def test_ears_c1_reproduces_r(tmp_path: Path) -> None:
    out = tmp_path / "c1.csv"
    result = healthbrain(
        "detect", "--method", "ears-c1", "--input", SHADAR, "--freq", "52", "--from", "12", "--output", out,
        "--param", "alpha=0.001", "--param", "baseline=7",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_output(out)
    ref = load_reference("shadar", "earsC1")
    assert [int(r["t"]) for r in rows] == ref.t.tolist()
    threshold = np.array([float("nan") if r["threshold"] == "NA" else float(r["threshold"]) for r in rows])
    assert close(threshold, ref.upperbound, 1e-6).all()
    assert [int(r["alarm"]) for r in rows] == ref.alarm.tolist()
    assert list(rows[0]) == ["t", "observed", "threshold", "alarm"]


@pytest.mark.parametrize(
    ("series", "method", "reference", "freq"),
    [
        ("ha__chwi", "ears-c3", "earsC3", "52"),  # R says NA (not 0) where C3 has no bound
        ("salmNewport__Bavaria", "farrington-flexible", "farringtonFlexible", "52"),  # dated weekly
        ("rotaBB__00_04", "farrington-flexible", "farringtonFlexible", "12"),  # dated monthly
    ],
)
def test_the_output_file_reads_as_r_does(tmp_path: Path, series: str, method: str, reference: str, freq: str) -> None:
    """The file a checker compares with R's, row for row: same t, threshold and alarm (NA included);
    a series R holds with dates takes Farrington's reference weeks by date."""
    out = tmp_path / "out.csv"
    result = healthbrain(
        "detect", "--method", method, "--input", REFERENCE / f"{series}.series.csv", "--freq", freq, "--output", out
    )
    assert result.returncode == 0, result.stderr
    ours = {r["t"]: r for r in read_output(out)}
    with (REFERENCE / f"{series}.{reference}.csv").open() as fh:
        theirs = list(csv.DictReader(fh))
    assert len(theirs) > 20
    for row in theirs:
        mine = ours[row["t"]]
        assert mine["alarm"] == row["alarm"], row
        if row["upperbound"] == "NA":
            assert mine["threshold"] == "NA", row
        else:
            assert abs(float(mine["threshold"]) - float(row["upperbound"])) <= 1e-6 * max(
                1.0, abs(float(row["upperbound"]))
            )


def test_farrington_defaults_start_after_five_years_and_write_na(tmp_path: Path) -> None:
    out = tmp_path / "ff.csv"
    result = healthbrain(
        "detect", "--method", "farrington-flexible", "--input", SHADAR, "--freq", "52", "--output", out
    )
    assert result.returncode == 0, result.stderr
    rows = read_output(out)
    ref = load_reference("shadar", "farringtonFlexible")
    assert int(rows[0]["t"]) == 5 * 52 + 3 + 1 == ref.t[0]
    assert [r["threshold"] == "NA" for r in rows] == np.isnan(ref.upperbound).tolist()
    assert [int(r["alarm"]) for r in rows] == ref.alarm.tolist()


def test_without_a_date_column(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("t,observed\n" + "".join(f"{t},{c}\n" for t, c in enumerate([0, 0, 1, 0, 4, 0], start=1)))
    out = tmp_path / "out.csv"
    result = healthbrain(
        "detect",
        "--method",
        "window",
        "--input",
        source,
        "--freq",
        "7",
        "--output",
        out,
        "--param",
        "days=3",
        "--param",
        "min_count=4",
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines() == ["t,observed,threshold,alarm", "3,1,4,0", "4,0,4,0", "5,4,4,1", "6,0,4,1"]


def _series(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "text", "expected"),
    [
        (["--method", "ears-c1"], None, "input file not found"),
        (["--method", "ears-c1"], "t,count\n1,2\n", "missing column 'observed'"),
        (["--method", "ears-c1"], "t,observed\n1,2\n2,3\n3,abc\n", "row 3 (t=3): observed 'abc' is not a number"),
        (["--method", "ears-c1"], "t,observed\n1,2\n2,-1\n", "row 2 (t=2): observed '-1' is not a non-negative count"),
        (["--method", "ears-c1"], "t,observed\n1,2\nx,3\n", "row 2: t 'x' is not an integer"),
        (["--method", "ears-c1"], "t,observed\n1,2\n3,3\n", "t must be consecutive"),
        (["--method", "ears-c1"], "t,observed\n" + "".join(f"{t},1\n" for t in range(1, 6)), "needs at least 8"),
        (
            ["--method", "ears-c1", "--from", "3"],
            "t,observed\n" + "".join(f"{t},1\n" for t in range(1, 30)),
            "first possible t = 8",
        ),
        (
            ["--method", "ears-c1", "--from", "99"],
            "t,observed\n" + "".join(f"{t},1\n" for t in range(1, 30)),
            "outside the series",
        ),
        (["--method", "ears-c1", "--param", "alpha=2"], "t,observed\n1,1\n", "bad --param: ears-c1: alpha"),
        (["--method", "ears-c1", "--param", "alpha"], "t,observed\n1,1\n", "bad --param 'alpha'"),
        (["--method", "cusum", "--param", "speed=3"], "t,observed\n1,1\n", "speed: Extra inputs are not permitted"),
        (["--method", "ears-c9"], "t,observed\n1,1\n", "unknown --method 'ears-c9'"),
        (["--method", "fixed", "--freq", "0"], "t,observed\n1,1\n", "--freq must be a positive integer"),
    ],
)
def test_errors_are_one_clear_line_and_exit_code_2(
    tmp_path: Path, args: list[str], text: str | None, expected: str
) -> None:
    source = _series(tmp_path, text) if text is not None else tmp_path / "missing.csv"
    freq = [] if "--freq" in args else ["--freq", "52"]
    result = healthbrain("detect", *args, *freq, "--input", source, "--output", tmp_path / "out.csv")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not (tmp_path / "out.csv").exists()
