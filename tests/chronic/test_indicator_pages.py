"""The chronic programme's indicators end to end: data written with the ORM, the month read set-based,
the page, the Excel file, the chart fragment and the JSON API, per role.

The month is December 2025 (as of 2025-12-31; the 12-month window is the calendar year 2025), so the
world's own "now" readings fall after it. Enrolments:
- E1 王大爷 (a1, team_a1, born 1950): clinic visits 02-15, 05-10, 08-01, 10-25 (138/85) — managed to
  standard (gaps 45, 84, 83, 85, 67), controlled (≥ 65: below 150/90), HEARTS controlled.
- E2 李阿姨 (a1, team_a1): the same days but 05-10 by phone, 155/95 last — not to standard (167 days
  between face-to-face visits), not controlled, HEARTS uncontrolled.
- E3 钱大妈 (b2, team_b): one visit 03-01 (128/78) — not to standard, controlled, HEARTS missed visit.
- E4 孙先生 (b1, team_b, diabetes, enrolled 2025-07-01): visits 08-15, 09-20, 11-10 (glucose 7.4) —
  184 days want 3 visits: to standard; glucose not controlled.
- E5 a new resident in a2 (team_a2, enrolled 2019): no follow-up — lost, outside the HEARTS cohort.
- E6 a new resident in b1 (team_b): ended 2025-06-30 as lost.
赵女士 (a2, 35 on 2025-12-31) has hypertension on the problem list and no enrolment.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from healthbrain.app import create_app
from healthbrain.chronic import indicator_data, indicator_service, path, pathdata
from healthbrain.chronic.indicator_pages import router
from healthbrain.chronic.indicator_rules import Clock
from healthbrain.chronic.indicators import path_patients
from healthbrain.chronic.models import ChronicEnrolment, ChronicFollowUp, HomeDevice, HomeReading
from healthbrain.core.time import local_today
from healthbrain.db import Database
from healthbrain.people.models import Resident
from healthbrain.records import codes
from healthbrain.records.models import Condition, Observation
from tests.conftest import bearer
from tests.factories import World, add_resident, blood_pressure, hypertensive

MONTH = "2025-12"
AS_OF = date(2025, 12, 31)
NOW = datetime(2025, 12, 31, 12, tzinfo=UTC)


@pytest.fixture
def app_client(db: Database) -> Iterator[TestClient]:
    """The application with the indicator routes (included here unless app.py already does)."""
    app = create_app(db)
    if not any(getattr(route, "path", "") == "/chronic/indicators" for route in app.routes):
        app.include_router(router)
    with TestClient(app) as client:
        yield client


def _condition(session: Session, resident_id: int, code: str) -> None:
    session.add(
        Condition(resident_id=resident_id, code=code, clinical_status="active", onset_date=None, recorded_at=NOW)
    )


def _enrol(
    session: Session,
    resident_id: int,
    team: int,
    *,
    disease: str = "htn",
    enrolled_on: date = date(2020, 1, 1),
    status: str = "enrolled",
    ended_on: date | None = None,
    end_reason: str | None = None,
) -> ChronicEnrolment:
    e = ChronicEnrolment(
        resident_id=resident_id,
        disease=disease,
        status=status,
        team_id=team,
        proposed_at=NOW,
        proposed_reason="condition",
        enrolled_on=enrolled_on,
        ended_on=ended_on,
        end_reason=end_reason,
        version=1,
    )
    session.add(e)
    session.flush()
    return e


def _visit(
    session: Session,
    e: ChronicEnrolment,
    day: str,
    method: str = "clinic",
    bp: tuple[float, float] | None = (130, 80),
    glucose: float | None = None,
) -> None:
    session.add(
        ChronicFollowUp(
            enrolment_id=e.id,
            resident_id=e.resident_id,
            disease=e.disease,
            visit_date=date.fromisoformat(day),
            method=method,
            symptoms=[],
            sbp=bp[0] if bp else None,
            dbp=bp[1] if bp else None,
            fasting_glucose=glucose,
            smoking="never",
            adherence="regular",
            education=method != "phone",
            medications=[],
            visit_class="controlled",
            reasons=[],
            next_date=date.fromisoformat(day) + timedelta(days=90),
            created_at=NOW,
        )
    )


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=2, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def programme(session: Session, world: World) -> dict[str, Any]:
    r = world.residents
    teams = world.teams
    e1 = _enrol(session, r["a1_elder"], teams["team_a1"])
    for day in ("2025-02-15", "2025-05-10", "2025-08-01"):
        _visit(session, e1, day)
    _visit(session, e1, "2025-10-25", bp=(138, 85))
    _condition(session, r["a1_wife"], "I10")
    e2 = _enrol(session, r["a1_wife"], teams["team_a1"])
    _visit(session, e2, "2025-02-15")
    _visit(session, e2, "2025-05-10", method="phone")
    _visit(session, e2, "2025-08-01")
    _visit(session, e2, "2025-10-25", bp=(155, 95))
    _condition(session, r["b2_villager"], "I10.x00")
    e3 = _enrol(session, r["b2_villager"], teams["team_b"])
    _visit(session, e3, "2025-03-01", bp=(128, 78))
    _condition(session, r["b1_adult"], "E11.9")
    e4 = _enrol(session, r["b1_adult"], teams["team_b"], disease="t2dm", enrolled_on=date(2025, 7, 1))
    _visit(session, e4, "2025-08-15", glucose=6.5)
    _visit(session, e4, "2025-09-20", glucose=6.9)
    _visit(session, e4, "2025-11-10", glucose=7.4)
    lost = add_resident(session, community_id=world.divisions["a2"], name="周先生", birth=date(1960, 4, 4))
    _condition(session, lost.id, "I10")
    _enrol(session, lost.id, teams["team_a2"], enrolled_on=date(2019, 3, 1))
    gone = add_resident(session, community_id=world.divisions["b1"], name="吴女士", birth=date(1958, 6, 6), male=False)
    _enrol(
        session,
        gone.id,
        teams["team_b"],
        enrolled_on=date(2018, 1, 1),
        status="ended",
        ended_on=date(2025, 6, 30),
        end_reason="lost",
    )
    a2 = session.get(Resident, r["a2_adult"])
    assert a2 is not None
    hypertensive(session, a2)
    # the complication screening of 王大爷 (UACR, ECG), a clinic BP, and a week of home readings
    elder = session.get(Resident, r["a1_elder"])
    assert elder is not None
    for code, day in (
        (path.UACR_MASS, "2025-03-01"),
        (path.ECG_12_LEAD, "2025-06-01"),
        (codes.BODY_WEIGHT, "2025-12-02"),
    ):
        session.add(Observation(resident_id=elder.id, code=code, value_num=1.0, effective_at=_at(day), status="final"))
    blood_pressure(session, elder, 132, 84, at=_at("2025-11-20"))
    device = HomeDevice(device_id="BP-IND-1", kind="bp", resident_id=elder.id, token_hash="x" * 64, bound_at=NOW)
    session.add(device)
    session.flush()
    for k in range(7):
        at = _at("2025-12-20") + timedelta(days=k)
        session.add(
            HomeReading(
                reading_key=9_000_000 + k,
                device_pk=device.id,
                resident_id=elder.id,
                kind="bp",
                measured_at=at,
                sbp=130,
                dbp=80,
                critical=False,
            )
        )
    session.commit()
    return {"lost": lost.id, "gone": gone.id}


def _values(client: TestClient, world: World, user: str, level: str = "team") -> dict[Any, dict[str, Any]]:
    answer = client.get(f"/api/v1/chronic/indicators?month={MONTH}&level={level}", headers=bearer(world, user))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["month"] == MONTH and body["as_of"] == AS_OF.isoformat() and body["level"] == level
    return {row["unit_id"]: row["values"] for row in body["rows"]}


def _rate(values: dict[str, Any], slug: str) -> tuple[float | None, int, int]:
    v = values[slug]
    return v["value"], v["numerator"], v["denominator"]


def test_the_bureau_sees_the_district_and_each_team(
    app_client: TestClient, world: World, programme: dict[str, Any]
) -> None:
    rows = _values(app_client, world, "bureau")
    district = rows[None]
    assert _rate(district, "chronic.htn_standard_management") == (20.0, 1, 5)  # E1 of E1, E2, E3, E5, E6
    assert _rate(district, "chronic.dm_standard_management") == (100.0, 1, 1)
    assert _rate(district, "chronic.bp_control") == (40.0, 2, 5)  # E1 (≥ 65 target) and E3
    assert _rate(district, "chronic.glucose_control") == (0.0, 0, 1)
    assert _rate(district, "chronic.path_entry") == (83.3, 5, 6)  # 赵女士 is not on the path
    assert _rate(district, "chronic.hearts_controlled") == (33.3, 1, 3)
    assert _rate(district, "chronic.hearts_uncontrolled") == (33.3, 1, 3)
    assert _rate(district, "chronic.hearts_missed_visit") == (33.3, 1, 3)
    assert _rate(district, "chronic.lost_to_followup") == (33.3, 2, 6)  # E5 and E6
    assert _rate(district, "chronic.complication_screening") == (20.0, 1, 5)  # 王大爷 of five on a path
    a1, a2, b = (rows[world.teams[k]] for k in ("team_a1", "team_a2", "team_b"))
    assert _rate(a1, "chronic.htn_standard_management") == (50.0, 1, 2)
    assert _rate(a2, "chronic.htn_standard_management") == (0.0, 0, 1)
    assert _rate(b, "chronic.htn_standard_management") == (0.0, 0, 2)
    assert _rate(a2, "chronic.path_entry") == (50.0, 1, 2)  # 赵女士 counts for the team serving her community
    assert _rate(b, "chronic.dm_standard_management") == (100.0, 1, 1)
    assert _rate(a1, "chronic.glucose_control") == (None, 0, 0)
    towns = _values(app_client, world, "bureau", "town")
    assert _rate(towns[world.divisions["town_a"]], "chronic.lost_to_followup") == (33.3, 1, 3)
    centres = _values(app_client, world, "bureau", "centre")
    assert _rate(centres[world.institutions["chc_b"]], "chronic.bp_control") == (50.0, 1, 2)


def test_execution_matches_the_patient_path_per_patient(
    app_client: TestClient, session: Session, world: World, programme: dict[str, Any]
) -> None:
    """The set-based done dates give what ``pathdata`` (one patient at a time) gives, so the district's
    execution rate is the sum of the patients' ``path.execution`` over the month."""
    where = indicator_data.directory(session)
    principal = _principal(session, world, "bureau")
    month = indicator_data.load_month(
        session, principal=principal, teams=None, first=date(2025, 12, 1), as_of=AS_OF, where=where
    )
    clock = Clock.of(AS_OF, date(2025, 12, 1))
    due = done = 0
    for patient in path_patients(month.enrolments, AS_OF):
        theirs = pathdata.done_dates(session, patient.resident_id, patient.diseases, today=AS_OF)
        mine = month.done_dates.get(patient.resident_id, {})
        for item in path.items_for(patient.diseases):
            since = clock.first - timedelta(days=item.interval_days)
            assert sorted(set(mine.get(item.slug, []))) == sorted(
                {x for x in theirs[item.slug] if since <= x <= AS_OF}
            ), item.slug
        result = path.execution(
            patient.diseases,
            done_dates=theirs,
            enrolled_on=patient.enrolled_on,
            start=max(clock.first, patient.enrolled_on),
            end=AS_OF,
        )
        due, done = due + result.due, done + result.done_on_time
    assert due > 0 and done > 0
    rows = _values(app_client, world, "bureau")
    assert _rate(rows[None], "chronic.indicator_execution")[1:] == (done, due)


def _principal(session: Session, world: World, user: str) -> Any:
    from healthbrain.auth import service as auth_service

    principal = auth_service.principal_for_token(session, token=world.tokens[user])
    assert principal is not None
    return principal


def test_a_family_doctor_sees_their_team_and_a_centre_manager_the_centre(
    app_client: TestClient, world: World, programme: dict[str, Any]
) -> None:
    doctor = _values(app_client, world, "doctor_a1")
    assert set(doctor) == {None, world.teams["team_a1"]}
    assert _rate(doctor[None], "chronic.htn_standard_management") == (50.0, 1, 2)
    assert _rate(doctor[None], "chronic.path_entry") == (100.0, 2, 2)
    centre = _values(app_client, world, "centre_a")
    assert set(centre) == {None, world.teams["team_a1"], world.teams["team_a2"]}
    assert _rate(centre[None], "chronic.htn_standard_management") == (33.3, 1, 3)
    assert _rate(centre[None], "chronic.lost_to_followup") == (33.3, 1, 3)
    other = _values(app_client, world, "doctor_b")
    assert _rate(other[None], "chronic.dm_standard_management") == (100.0, 1, 1)
    assert _rate(other[None], "chronic.htn_standard_management") == (0.0, 0, 2)


@pytest.mark.parametrize(("user", "status"), [("cdc", 403), ("submitter", 403), ("device", 403)])
def test_roles_without_the_permission_are_refused(app_client: TestClient, world: World, user: str, status: int) -> None:
    assert app_client.get("/api/v1/chronic/indicators", headers=bearer(world, user)).status_code == status
    assert app_client.get("/chronic/indicators", headers=bearer(world, user)).status_code == status


def test_without_a_login(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/chronic/indicators").status_code == 401
    page = app_client.get("/chronic/indicators", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    ("query", "field"),
    [("month=2025-13", "month"), ("month=12-2025", "month"), ("month=2999-01", "month"), ("level=county", "level")],
)
def test_bad_month_or_level_is_a_422_naming_it(app_client: TestClient, world: World, query: str, field: str) -> None:
    answer = app_client.get(f"/api/v1/chronic/indicators?{query}", headers=bearer(world, "bureau"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][-1] == field


def test_the_page_shows_each_unit_with_numerator_and_denominator(
    app_client: TestClient, world: World, programme: dict[str, Any]
) -> None:
    page = app_client.get(f"/chronic/indicators?month={MONTH}&level=team", headers=bearer(world, "bureau"))
    assert page.status_code == 200, page.text
    html = page.text
    assert "两慢病管理指标" in html and "高血压患者规范管理率" in html and "入径率" in html
    row = re.search(rf'<tr data-unit="{world.teams["team_a1"]}">(.*?)</tr>', html, re.S)
    assert row is not None and "team_a1团队" in row.group(1)
    cell = re.search(r'data-indicator="chronic.htn_standard_management">(.*?)</td>', row.group(1), re.S)
    assert cell is not None and "50.0%" in cell.group(1) and "1/2" in cell.group(1)
    assert 'hx-get="/chronic/indicators/series?month=2025-12&amp;lang=zh-CN"' in html
    assert f'href="/chronic/indicators.xlsx?month={MONTH}&amp;level=team"' in html
    english = app_client.get(f"/chronic/indicators?month={MONTH}&lang=en", headers=bearer(world, "doctor_a1"))
    assert "Hypertension: managed to standard" in english.text and "All your teams" in english.text


def test_the_chart_fragment_draws_twelve_months_per_indicator(
    app_client: TestClient, world: World, programme: dict[str, Any]
) -> None:
    fragment = app_client.get(f"/chronic/indicators/series?month={MONTH}", headers=bearer(world, "bureau"))
    assert fragment.status_code == 200, fragment.text
    html = fragment.text
    assert "<html" not in html and html.count("<svg") >= 10
    caption = re.search(r'data-testid="series-chronic.bp_control">.*?<figcaption>(.*?)</figcaption>', html, re.S)
    assert caption is not None
    labels = re.findall(r">(\d\d) ", caption.group(1))
    assert labels == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
    assert "12 40.0%" in caption.group(1)


def test_the_excel_file_has_a_row_per_unit(app_client: TestClient, world: World, programme: dict[str, Any]) -> None:
    answer = app_client.get(f"/chronic/indicators.xlsx?month={MONTH}&level=centre", headers=bearer(world, "bureau"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None and sheet.title == MONTH
    rows = list(sheet.iter_rows(values_only=True))
    assert "2025-12" in str(rows[0][0]) and rows[1][0] == "社区卫生服务中心"
    assert rows[1][1] == "高血压患者规范管理率" and rows[2][1:4] == ("分子", "分母", "率（%）")
    names = [r[0] for r in rows[3:]]
    assert names[0] == "全区" and set(names[1:]) == {"东湖街道社区卫生服务中心", "西山镇社区卫生服务中心"}
    total = rows[3]
    assert total[1:4] == (1, 5, 20.0)
    width = 1 + 3 * 11
    assert all(len(r) == width for r in rows[1:])


def test_the_running_month_is_the_default(app_client: TestClient, world: World) -> None:
    answer = app_client.get("/api/v1/chronic/indicators", headers=bearer(world, "bureau"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["month"] == local_today().strftime("%Y-%m") and body["level"] == "town"
    assert app_client.get("/api/v1/chronic/indicators", headers=bearer(world, "doctor_a1")).json()["level"] == "team"


def test_warm_fills_the_cache_the_bureau_reads(session: Session, world: World, programme: dict[str, Any]) -> None:
    cache = indicator_service.MonthCache()
    today = date(2026, 1, 10)
    warmed = indicator_service.warm(session, cache=cache, months=2, today=today)
    assert [w.as_of for w in warmed] == [date(2026, 1, 10), AS_OF]
    bureau = _principal(session, world, "bureau")
    table = indicator_service.indicator_table(session, principal=bureau, month=MONTH, cache=cache, today=today)
    assert table.computed_at == warmed[1].computed_at  # read from the cache, not computed again
    assert table.rows[0].values["chronic.htn_standard_management"].denominator == 5
    doctor = _principal(session, world, "doctor_a1")
    mine = indicator_service.indicator_table(session, principal=doctor, month=MONTH, cache=cache, today=today)
    assert mine.computed_at != warmed[1].computed_at  # another audience: its own figures


def test_the_cache_keeps_the_running_month_briefly() -> None:
    now = [0.0]
    cache = indicator_service.MonthCache(now=lambda: now[0])
    value = indicator_service.Evaluated(counts={}, as_of=AS_OF, computed_at=NOW, seconds=0.0)
    cache.put(("k",), value, 600)
    now[0] = 599.0
    assert cache.get(("k",)) is value
    now[0] = 601.0
    assert cache.get(("k",)) is None
