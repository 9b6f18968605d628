"""Record indicators (建档率, 使用率, 签约率): the arithmetic table-driven without a database, then the
counts, the table, the series, the Excel file and access against the real database and HTTP API."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from healthbrain.app import create_app
from healthbrain.chronic.models import ChronicFollowUp  # noqa: F401  (the table the use rate reads)
from healthbrain.cli import app as cli_app
from healthbrain.contracts.models import Contract
from healthbrain.contracts.service import ensure_default_packages
from healthbrain.core.errors import InvalidInput
from healthbrain.core.time import SHANGHAI, local_today
from healthbrain.db import Database
from healthbrain.indicators.registry import REGISTRY, month_periods, of_domain
from healthbrain.migrations.runner import upgrade
from healthbrain.people.models import Resident
from healthbrain.records import indicator_data, indicator_service, tasks
from healthbrain.records.indicators import (
    COLUMNS,
    DEFINITIONS,
    INDEX,
    ZERO,
    Geography,
    Level,
    RecordFacts,
    rollup,
    share,
)
from healthbrain.records.models import Encounter, RecordIndicatorMonth
from healthbrain.sim.service import simulate
from tests.conftest import bearer
from tests.factories import World, add_resident


# --- pure ---------------------------------------------------------------------------------------------------------
def counts(**values: int) -> tuple[int, ...]:
    row = list(ZERO)
    for name, value in values.items():
        row[INDEX[name]] = value
    return tuple(row)


GEO = Geography(
    town_of={1: 10, 2: 10, 3: 20},
    centres_of={1: [500], 2: [500], 3: [501]},
    teams_of={1: [100], 2: [100, 101], 3: []},
    names={Level.TOWN: {10: "东", 20: "西"}, Level.COMMUNITY: {}, Level.CENTRE: {}, Level.TEAM: {}},
)
C = {1: counts(residents=10, records=9), 2: counts(residents=20, records=10), 3: counts(residents=5, records=5)}


@pytest.mark.parametrize(
    ("level", "unit", "residents", "records"),
    [
        (Level.DISTRICT, None, 35, 24),
        (Level.TOWN, None, 35, 24),
        (Level.TOWN, 10, 30, 19),
        (Level.TOWN, 20, 5, 5),
        (Level.COMMUNITY, 2, 20, 10),
        (Level.CENTRE, 500, 30, 19),
        (Level.TEAM, 100, 30, 19),  # both communities
        (Level.TEAM, 101, 20, 10),  # a community served by two teams counts for both
    ],
)
def test_rollup(level: Level, unit: int | None, residents: int, records: int) -> None:
    row = rollup(C, GEO, level)[unit]
    assert (row[INDEX["residents"]], row[INDEX["records"]]) == (residents, records)


def test_a_community_served_by_no_team_counts_only_in_the_total() -> None:
    rolled = rollup(C, GEO, Level.TEAM)
    assert set(rolled) == {None, 100, 101}


@pytest.mark.parametrize(
    ("num", "den", "value"), [(0, 0, None), (0, 5, 0.0), (1, 3, 33.3), (2, 3, 66.7), (9, 10, 90.0), (7, 7, 100.0)]
)
def test_share(num: int, den: int, value: float | None) -> None:
    v = share(num, den)
    assert v.value == value and v.numerator == num and v.denominator == den


def test_registered_indicators_divide_the_right_columns() -> None:
    slugs = [i.slug for i in of_domain("records")]
    assert slugs[:3] == ["records.record_rate", "records.record_use_rate", "records.contract_rate"]
    assert {s.rsplit("_", 1)[-1] for s in slugs[3:]} == {"elderly", "child", "chronic", "pregnant", "disabled"}
    row = counts(residents=200, records=180, used=90, contracted=50, pop_elderly=40, pop_elderly_contracted=30)
    facts = RecordFacts({"2026-05": {1: row}}, GEO)
    period = month_periods(date(2026, 5, 31), 1)[0]
    values = {s: REGISTRY[s].compute(facts, period, None, {}).value for s in slugs}
    assert values["records.record_rate"] == 90.0
    assert values["records.record_use_rate"] == 50.0
    assert values["records.contract_rate"] == 25.0
    assert values["records.contract_rate_elderly"] == 75.0
    assert values["records.contract_rate_child"] is None
    assert REGISTRY["records.record_rate"].name("en") == "Electronic health record coverage"


def test_window_is_the_twelve_months_up_to_the_day() -> None:
    assert indicator_data.window_start(date(2026, 5, 31)) == date(2025, 6, 1)
    assert indicator_data.window_start(date(2024, 2, 29)) == date(2023, 3, 1)


# --- the database -------------------------------------------------------------------------------------------------
def _encounter(session: Session, resident: int, day: date) -> None:
    at = datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, the same date
    session.add(Encounter(resident_id=resident, encounter_class="outpatient", start_at=at))


def _contract(session: Session, world: World, resident: int, start: date, end: date) -> None:
    package = ensure_default_packages(session)[0]
    now = datetime.now(UTC)
    session.add(
        Contract(
            resident_id=resident,
            team_id=world.teams["team_a1"],
            package_id=package.id,
            status="active",
            start_date=start,
            end_date=end,
            signed_at=now,
            created_at=now,
        )
    )


@pytest.fixture
def district(session: Session, world: World) -> dict[str, int]:
    """Community a1 with: the elder (record, served 2 months ago, contracted since 10 days ago), the wife
    (record, served 13 months ago only), the child (no record yet), a man who died 5 days ago, a merged
    duplicate and a resident who moved out (neither counted)."""
    today = local_today()
    a1 = world.divisions["a1"]
    child = session.get(Resident, world.residents["a1_child"])
    assert child is not None
    child.record_created_on = None
    _encounter(session, world.residents["a1_elder"], today - timedelta(days=60))
    _encounter(session, world.residents["a1_wife"], today - timedelta(days=400))
    _contract(session, world, world.residents["a1_elder"], today - timedelta(days=10), today + timedelta(days=355))
    died = add_resident(session, community_id=a1, name="故人", birth=date(1940, 1, 1))
    died.status, died.deceased_date = "deceased", today - timedelta(days=5)
    merged = add_resident(session, community_id=a1, name="重复", birth=date(1950, 3, 2))
    merged.status = "merged"
    moved = add_resident(session, community_id=a1, name="迁出", birth=date(1980, 1, 1))
    moved.status = "moved_out"
    session.flush()
    return {"a1": a1}


def test_counts_per_community(session: Session, world: World, district: dict[str, int]) -> None:
    today = local_today()
    earlier = today - timedelta(days=20)
    by_day = indicator_data.counts(session, communities=None, days=[today, earlier])
    now, then = by_day[today][district["a1"]], by_day[earlier][district["a1"]]

    def c(row: tuple[int, ...], name: str) -> int:
        return row[COLUMNS.index(name)]

    # today: elder, wife, child (the dead man is not counted any more)
    assert c(now, "residents") == 3 and c(now, "records") == 2 and c(now, "used") == 1
    assert c(now, "contracted") == 1
    assert c(now, "pop_elderly") == 2 and c(now, "pop_elderly_contracted") == 1
    assert c(now, "pop_chronic") == 1 and c(now, "pop_chronic_contracted") == 1
    assert c(now, "pop_child") == 1 and c(now, "pop_child_contracted") == 0
    # 20 days ago: the dead man was alive (no record: the factory gave him one today), no contract yet
    assert c(then, "residents") == 4 and c(then, "contracted") == 0
    assert c(then, "records") == 0  # every record of the world was created today
    only = indicator_data.counts(session, communities=[world.divisions["b1"]], days=[today])[today]
    assert set(only) == {world.divisions["b1"]}


def test_table_per_level_and_scope(client: TestClient, world: World, district: dict[str, int]) -> None:
    url = "/api/v1/records/indicators"
    town = client.get(f"{url}?level=town", headers=bearer(world, "bureau"))
    assert town.status_code == 200, town.text
    body = town.json()
    rows = {r["name"]: r for r in body["rows"]}
    assert body["rows"][0]["unit_id"] is None and body["rows"][0]["name"] == "全区"
    east = rows["东湖街道"]["values"]
    # 东湖街道 = a1 (3 residents, 2 records, 1 used, 1 contracted) + a2 (1 resident with a record)
    assert east["records.record_rate"] == {"value": 75.0, "numerator": 3, "denominator": 4}
    assert east["records.record_use_rate"] == {"value": 33.3, "numerator": 1, "denominator": 3}
    assert east["records.contract_rate"] == {"value": 25.0, "numerator": 1, "denominator": 4}
    assert east["records.contract_rate_elderly"]["value"] == 50.0
    assert rows["西山镇"]["values"]["records.contract_rate"]["value"] == 0.0
    assert body["rows"][0]["values"]["records.record_rate"]["denominator"] == 6

    doctor = client.get(url, headers=bearer(world, "doctor_a1")).json()
    assert doctor["level"] == "team"
    assert [r["unit_id"] for r in doctor["rows"]] == [None, world.teams["team_a1"]]
    assert doctor["rows"][0]["values"]["records.record_rate"]["denominator"] == 3  # a1 only

    centre = client.get(f"{url}?level=centre", headers=bearer(world, "centre_a")).json()
    assert [r["unit_id"] for r in centre["rows"]] == [None, world.institutions["chc_a"]]
    assert centre["rows"][1]["values"]["records.record_rate"]["denominator"] == 4
    community = client.get(f"{url}?level=community", headers=bearer(world, "centre_a")).json()
    assert {r["name"] for r in community["rows"][1:]} == {"青山社区", "绿水社区"}


def test_series_and_past_months(client: TestClient, world: World, district: dict[str, int]) -> None:
    series = client.get("/api/v1/records/indicators/series", headers=bearer(world, "bureau"))
    assert series.status_code == 200
    by_slug = {s["slug"]: s for s in series.json()}
    points = by_slug["records.contract_rate"]["points"]
    assert len(points) == 12 and points[-1]["month"] == local_today().strftime("%Y-%m")
    assert points[-1]["as_of"] == local_today().isoformat()
    assert points[-1]["value"]["numerator"] == 1
    assert all(p["value"]["numerator"] == 0 for p in points[:-2])  # the contract is 10 days old
    assert by_slug["records.record_rate"]["points"][0]["value"]["numerator"] == 0


def test_excel_download(client: TestClient, world: World, district: dict[str, int]) -> None:
    response = client.get("/records/indicators.xlsx?level=community", headers=bearer(world, "bureau"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "社区/村" and rows[1][1] == "电子健康档案建档率"
    assert rows[2][1:4] == ("分子", "分母", "率（%）")
    green = next(r for r in rows if r[0] == "青山社区")
    assert green[1:4] == (2, 3, 66.7)


def test_page_and_errors(client: TestClient, world: World) -> None:
    page = client.get("/records/indicators", headers=bearer(world, "bureau"))
    assert page.status_code == 200 and "电子健康档案建档率" in page.text and "目标 ≥ 90%" in page.text
    fragment = client.get("/records/indicators/series?lang=en", headers=bearer(world, "bureau"))
    assert fragment.status_code == 200 and "<svg" in fragment.text
    bad_level = client.get("/api/v1/records/indicators?level=province", headers=bearer(world, "bureau"))
    assert bad_level.status_code == 422 and bad_level.json()["detail"][0]["loc"] == ["body", "level"]
    bad_month = client.get("/api/v1/records/indicators?month=2026-13", headers=bearer(world, "bureau"))
    assert bad_month.status_code == 422
    assert client.get("/api/v1/records/indicators", headers=bearer(world, "submitter")).status_code == 403
    assert client.get("/api/v1/records/indicators", headers=bearer(world, "cdc")).status_code == 403


# --- the stored months ------------------------------------------------------------------------------------------
def test_stored_rows_roll_every_level_up_from_the_communities() -> None:
    period = month_periods(date(2026, 5, 31), 1)[0]
    now = datetime(2026, 6, 1, 18, 30, tzinfo=UTC)
    rows = indicator_service.stored_rows(
        periods=[period], by_day={date(2026, 5, 20): C}, geo=GEO, today=date(2026, 5, 20), now=now
    )
    record_rate = {(r[2], r[3]): (r[4], r[5]) for r in rows if r[1] == "records.record_rate"}
    assert record_rate == {
        ("district", 0): (24, 35),
        ("town", 10): (19, 30),
        ("town", 20): (5, 5),
        ("community", 1): (9, 10),
        ("community", 2): (10, 20),
        ("community", 3): (5, 5),
        ("centre", 500): (19, 30),
        ("centre", 501): (5, 5),
        ("team", 100): (19, 30),
        ("team", 101): (10, 20),
    }
    assert {r[0] for r in rows} == {"2026-05"} and {r[6] for r in rows} == {date(2026, 5, 20)}  # running month
    assert len(rows) == len(record_rate) * len(DEFINITIONS)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 5, 20, 18, 0, tzinfo=UTC), datetime(2026, 5, 21, 2, 30, tzinfo=SHANGHAI)),  # 02:00 local
        (datetime(2026, 5, 20, 18, 30, tzinfo=UTC), datetime(2026, 5, 22, 2, 30, tzinfo=SHANGHAI)),  # 02:30 sharp
        (datetime(2026, 5, 20, 20, 0, tzinfo=UTC), datetime(2026, 5, 22, 2, 30, tzinfo=SHANGHAI)),
        (datetime(2026, 5, 31, 17, 0, tzinfo=UTC), datetime(2026, 6, 1, 2, 30, tzinfo=SHANGHAI)),
    ],
)
def test_the_nightly_refresh_runs_at_half_past_two_local(now: datetime, expected: datetime) -> None:
    assert tasks.next_run(now) == expected


@pytest.mark.parametrize(
    ("month", "months", "labels"),
    [
        (None, None, ["2026-04", "2026-05"]),  # nightly: the previous and the running month
        ("2026-01", None, ["2026-01"]),
        (None, 3, ["2026-03", "2026-04", "2026-05"]),
    ],
)
def test_refresh_periods(month: str | None, months: int | None, labels: list[str]) -> None:
    periods = indicator_service.refresh_periods(month=month, months=months, today=date(2026, 5, 20))
    assert [p.label for p in periods] == labels


@pytest.mark.parametrize(("month", "months"), [("2026-06", None), ("2026-13", None), (None, 0), (None, 121)])
def test_refresh_periods_refuses(month: str | None, months: int | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        indicator_service.refresh_periods(month=month, months=months, today=date(2026, 5, 20))
    assert raised.value.field in ("month", "months")


def _stored(session: Session) -> set[tuple[object, ...]]:
    m = RecordIndicatorMonth
    return set(session.execute(select(m.month, m.slug, m.level, m.unit_id, m.numerator, m.denominator, m.as_of)).all())


def _without_timing(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k not in ("computed_at", "stored")}


SCOPES = [("bureau", "town"), ("bureau", "community"), ("bureau", "centre"), ("bureau", "team"),
          ("centre_a", "town"), ("centre_a", "community"), ("centre_a", "team"), ("doctor_a1", "team"),
          ("doctor_a1", "community")]  # fmt: skip


def test_stored_months_agree_with_the_live_count(
    client: TestClient, db: Database, session: Session, world: World, district: dict[str, int]
) -> None:
    """Every scope and level, this month and the previous one, and the series: the page's values read from
    the stored months are those counted live before the refresh."""
    today = local_today()
    previous = month_periods(today, 2)[0].label
    url = "/api/v1/records/indicators"
    live = {}
    for user, level in SCOPES:
        for month in ("", previous):
            body = client.get(f"{url}?level={level}&month={month}", headers=bearer(world, user)).json()
            assert body["stored"] is False
            live[user, level, month] = body
    live_series = client.get(f"{url}/series", headers=bearer(world, "bureau")).json()
    assert not any(p["stored"] for p in live_series[0]["points"])

    done = tasks.refresh_months(db, periods=month_periods(today, 12), today=today)
    assert [m for m, _ in done.months][-2:] == [previous, today.strftime("%Y-%m")] and done.rows > 0

    fresh = TestClient(create_app(db))  # an empty cache: what is shown comes from the store
    for (user, level, month), expected in live.items():
        body = fresh.get(f"{url}?level={level}&month={month}", headers=bearer(world, user)).json()
        assert body["stored"] is True, (user, level, month)
        assert _without_timing(body) == _without_timing(expected), (user, level, month)
    stored_series = fresh.get(f"{url}/series", headers=bearer(world, "bureau")).json()
    assert all(p["stored"] for s in stored_series for p in s["points"])
    for a, b in zip(stored_series, live_series, strict=True):
        assert [(p["month"], p["as_of"], p["value"]) for p in a["points"]] == [
            (p["month"], p["as_of"], p["value"]) for p in b["points"]
        ]


def test_refresh_is_idempotent_and_replaces_its_months(
    db: Database, session: Session, world: World, district: dict[str, int]
) -> None:
    today = local_today()
    periods = month_periods(today, 3)
    first = tasks.refresh_months(db, periods=periods, today=today)
    before = _stored(session)
    second = tasks.refresh_months(db, periods=periods, today=today)
    assert second.rows == first.rows == len(before) and _stored(session) == before

    # a new encounter of the wife: the running month changes when refreshed, the stored older months do not
    _encounter(session, world.residents["a1_wife"], today)
    session.flush()
    tasks.refresh_months(db, periods=periods[-1:], today=today)
    after = _stored(session)
    this_month = today.strftime("%Y-%m")
    key = (this_month, "records.record_use_rate", "community", district["a1"])
    used = {r[:4]: r[4:6] for r in after}
    assert used[key] == (2, 2) and {r[:4]: r[4:6] for r in before}[key] == (1, 2)
    assert {r for r in after if r[0] != this_month} == {r for r in before if r[0] != this_month}
    assert len(after) == len(before)


def test_the_page_says_when_the_data_was_updated_or_how_to_store_it(
    client: TestClient, db: Database, world: World, district: dict[str, int]
) -> None:
    month = local_today().strftime("%Y-%m")
    page = client.get("/records/indicators", headers=bearer(world, "bureau"))
    assert f"healthbrain records indicators refresh --month {month}" in page.text
    assert "该月尚未预先计算" in page.text
    tasks.refresh_months(db, periods=month_periods(local_today(), 1))
    stored = TestClient(create_app(db)).get("/records/indicators?lang=en", headers=bearer(world, "bureau"))
    assert "Data updated" in stored.text and "refresh --month" not in stored.text


def test_the_command_line_refresh(db: Database, session: Session, world: World, database_url: str) -> None:
    """``healthbrain records indicators refresh``: refused options say which; the refresh itself is the
    function the tests above check (the command opens its own database, outside the test's transaction)."""
    runner = CliRunner()
    both = runner.invoke(cli_app, ["records", "indicators", "refresh", "--month", "2026-01", "--months", "2"])
    assert both.exit_code == 2 and "not both" in both.output
    bad = runner.invoke(cli_app, ["records", "indicators", "refresh", "--months", "0", "--database-url", database_url])
    assert bad.exit_code == 2 and "--months" in bad.output


def test_a_simulated_district_comes_with_its_last_twelve_months_stored(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'sim.sqlite3'}")
    upgrade(database.engine)
    as_of = date(2026, 11, 25)
    result = simulate(database, residents=1_000, seed=3, as_of=as_of, feed_days=0, record_feed_days=0)
    assert result.counts["record_indicator_rows"] > 0
    with database.sessionmaker() as session:
        months = session.scalars(select(RecordIndicatorMonth.month).distinct().order_by(RecordIndicatorMonth.month))
        assert list(months) == [p.label for p in month_periods(as_of, 12)]
        stored = indicator_data.stored_months(session, months=["2026-11", "2026-05"], communities=None)
        live = indicator_data.counts(session, communities=None, days=[as_of, date(2026, 5, 31)])
        assert stored["2026-11"].as_of == as_of and stored["2026-11"].counts == live[as_of]
        assert stored["2026-05"].counts == live[date(2026, 5, 31)]
    database.dispose()
