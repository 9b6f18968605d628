"""The CSV / Excel import (issue #5, item 3) through the real command line, ``healthbrain import table``.

A district is simulated into a fresh, migrated SQLite file; then, as a clinic's yearly exports:

- a residents xlsx of ``residents`` new residents (valid ID numbers, an MRN, phone, community code),
- an observations xlsx of ``observations`` rows (身份证号 / 项目 / 结果 / 单位 / 检查时间) for the
  district's residents, and a CSV of as many other rows,

each imported by the CLI in a subprocess (Python start-up, reading the file and writing the batch
included), then the same file again (every row a duplicate, nothing written).
"""

from __future__ import annotations

import csv
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HEALTHBRAIN = [sys.executable, "-m", "healthbrain"]
ITEMS = (  # 项目, unit, low, span
    ("收缩压", "mmHg", 100, 70),
    ("舒张压", "mmHg", 60, 40),
    ("心率", "次/分", 55, 40),
    ("体重", "kg", 45, 45),
    ("空腹血糖", "mmol/L", 4, 5),
)
_COUNTS = re.compile(
    r"received\s+(\d+),\s+inserted\s+(\d+),\s+corrected\s+(\d+),\s+duplicates\s+(\d+),\s+rejected\s+(\d+)",
)


def _district(url: str, residents: int) -> tuple[str, list[str], list[str], str]:
    """Simulate; answer the uploading institution's code, the residents' ID numbers, the community
    codes and the district's GB 2260 code."""
    from sqlalchemy import select

    from healthbrain.db import Database
    from healthbrain.geo.models import Division, Institution
    from healthbrain.migrations.runner import upgrade
    from healthbrain.people.models import Resident
    from healthbrain.sim.service import simulate

    database = Database(url)
    upgrade(database.engine)
    simulate(database, residents=residents, seed=1, as_of=date(2026, 11, 25), feed_days=0)
    with database.unit_of_work(read_only=True) as session:
        institution = session.scalars(select(Institution.code).order_by(Institution.id)).first()
        assert institution is not None
        numbers = list(
            session.scalars(
                select(Resident.id_number).where(Resident.status == "active", Resident.id_number.is_not(None))
            )
        )
        communities = list(session.scalars(select(Division.code).where(Division.level == "community")))
        gb2260 = session.scalar(select(Division.gb2260).where(Division.level == "district"))
    database.dispose()
    return institution, [n for n in numbers if n], communities, gb2260 or "330199"


def _new_id_numbers(count: int, address: str, taken: set[str], rng: random.Random) -> list[str]:
    from healthbrain.people.resident_id import check_character

    out: list[str] = []
    while len(out) < count:
        birth = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 90))
        first17 = f"{address}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        number = first17 + check_character(first17)
        if number not in taken:
            taken.add(number)
            out.append(number)
    return out


def _residents_rows(count: int, address: str, taken: set[str], communities: list[str], seed: int) -> list[list[Any]]:
    rng = random.Random(seed)
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
    rows: list[list[Any]] = [["身份证号", "病案号", "姓名", "联系电话", "区划代码", "现住址"]]
    for n, number in enumerate(_new_id_numbers(count, address, taken, rng)):
        name = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
        phone = f"13{rng.randrange(10**9):09d}"
        rows.append([number, f"BENCH-{n:06d}", name, phone, rng.choice(communities), f"{rng.randrange(1, 30)}幢"])
    return rows


def _observation_rows(count: int, numbers: list[str], start: datetime, seed: int) -> list[list[Any]]:
    """Rows with distinct (resident, item, time): each resident's items one visit at a time."""
    rng = random.Random(seed)
    rows: list[list[Any]] = [["身份证号", "项目", "结果", "单位", "检查时间"]]
    visit = 0
    while len(rows) <= count:
        at = start + timedelta(minutes=visit)
        number = numbers[visit % len(numbers)]
        for item, unit, low, span in ITEMS:
            value = round(low + rng.random() * span, 1)
            rows.append([number, item, str(value), unit, at.strftime("%Y-%m-%d %H:%M")])
            if len(rows) > count:
                break
        visit += 1
    return rows


def _xlsx(path: Path, rows: list[list[Any]]) -> None:
    """As Excel saves it: with the sheet's <dimension> (openpyxl's write-only mode leaves it out,
    and a reader must then scan the sheet once more to learn its size)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _csv(path: Path, rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _import(path: Path, kind: str, institution: str, url: str) -> tuple[float, dict[str, int]]:
    command = [*HEALTHBRAIN, "import", "table", str(path), "--kind", kind, "--institution", institution]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--database-url", url],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    seconds = time.perf_counter() - started
    match = _COUNTS.search(done.stdout)
    assert match is not None, done.stdout + done.stderr
    names = ("received", "inserted", "corrected", "duplicates", "rejected")
    return seconds, dict(zip(names, (int(g) for g in match.groups()), strict=True))


def _timed(path: Path, kind: str, institution: str, url: str, rows: int) -> dict[str, Any]:
    seconds, counts = _import(path, kind, institution, url)
    again_seconds, again = _import(path, kind, institution, url)
    assert counts["received"] == rows and counts["inserted"] == rows, counts
    assert again["duplicates"] == rows and again["inserted"] == 0, again
    return {
        "rows": rows,
        "file_kib": round(path.stat().st_size / 1024),
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "same_file_again_seconds": round(again_seconds, 2),
        "same_file_again_rows_per_second": round(rows / again_seconds),
    }


def table_import(*, observations: int = 50_000, residents: int = 10_000, district: int = 20_000) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="hb-table-import-"))
    try:
        url = f"sqlite:///{workdir / 'import.sqlite3'}"
        started = time.perf_counter()
        institution, numbers, communities, gb2260 = _district(url, district)
        build = time.perf_counter() - started
        resident_file = workdir / "residents.xlsx"
        _xlsx(resident_file, _residents_rows(residents, gb2260, set(numbers), communities, seed=5))
        xlsx_file = workdir / "observations.xlsx"
        _xlsx(xlsx_file, _observation_rows(observations, numbers, datetime(2025, 1, 1, 8, 0), seed=6))  # noqa: DTZ001 - a wall-clock cell
        csv_file = workdir / "observations.csv"
        _csv(csv_file, _observation_rows(observations, numbers, datetime(2026, 1, 1, 8, 0), seed=7))  # noqa: DTZ001
        figures = {
            "database": "sqlite",
            "district_residents": district,
            "district_build_seconds": round(build, 1),
            "residents_xlsx": _timed(resident_file, "residents", institution, url, residents),
            "observations_xlsx": _timed(xlsx_file, "observations", institution, url, observations),
            "observations_csv": _timed(csv_file, "observations", institution, url, observations),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "target": "thousands of observation rows per second",
        }
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    import json

    print(json.dumps(table_import(observations=int(sys.argv[1]), residents=int(sys.argv[2])), indent=2))
