"""``healthbrain surveillance evaluate`` as a user runs it: a real subprocess on a small district."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = [sys.executable, "-m", "healthbrain", "surveillance", "evaluate"]
WIDE = {**os.environ, "COLUMNS": "220"}  # rich wraps tables to the terminal; keep headers on one line


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=600, check=False, env=WIDE)


def test_evaluate_prints_the_tables_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "evaluation.json"
    result = run(
        "--residents", "3000", "--days", "120", "--eval-days", "90",
        "--noufaily-replicates", "2", "--scenarios", "1,2", "--workers", "1", "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for title in (
        "Synthetic district",
        "Outbreaks found",
        "Alert episodes",
        "Detectors (each on its own)",
        "Definitions",
        "Noufaily et al. (2013) simulation",
        "Per method, all scenarios",
        "POD / FPR per scenario",
    ):
        assert title in result.stdout
    for method in ("ears-c1", "ears-c2", "ears-c3", "farrington-flexible", "cusum", "percentile"):
        assert method in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["parameters"]["scenarios"] == [1, 2]
    assert [k["kind"] for k in data["district"]["by_kind"]][-1] == "all"
    assert {row["method"] for row in data["noufaily"]["overall"]} == {
        "ears-c1", "ears-c2", "ears-c3", "farrington-flexible", "cusum", "percentile",
    }  # fmt: skip
    assert {row["scenario"] for row in data["noufaily"]["per_scenario"]} == {1, 2}
    assert all(row["series"] == 2 * 2 for row in data["noufaily"]["overall"])  # 2 scenarios × 2 series


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenarios", "0,99"], "--scenarios"),
        (["--scenarios", "one"], "--scenarios"),
        (["--as-of", "2026-13-01"], "--as-of"),
        (["--eval-days", "500"], "--eval-days"),
        (["--residents", "10"], "--residents"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args, "--noufaily-replicates", "0")
    assert result.returncode == 2
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "error" in lines[0]
