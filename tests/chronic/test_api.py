"""Chronic-disease management through the HTTP API, against a real database: path entry, BPHS
follow-ups, devices and readings, the worklist, the path, prescriptions and reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.chronic import service
from healthbrain.chronic.models import ChronicAlert, ChronicEnrolment, HomeDevice, HomeReading
from healthbrain.core.time import local_today
from healthbrain.records.models import IngestRejection
from tests.chronic.test_report_pdf import text_of
from tests.conftest import bearer
from tests.factories import World


def _enrolled(client: TestClient, session: Session, world: World, who: str = "a1_elder") -> int:
    service.propose_enrolments(session)
    session.commit()
    resident = world.residents[who]
    rows = client.get(f"/api/v1/chronic/residents/{resident}/enrolments", headers=bearer(world, "doctor_a1")).json()
    htn = next(e for e in rows if e["disease"] == "htn")
    answer = client.post(f"/api/v1/chronic/enrolments/{htn['id']}/enrol", json={}, headers=bearer(world, "doctor_a1"))
    assert answer.status_code == 200, answer.text
    return int(htn["id"])


def _followup(client: TestClient, world: World, **fields: Any) -> Any:
    body = {"disease": "htn", "visit_date": local_today().isoformat(), **fields}
    return client.post(
        f"/api/v1/chronic/residents/{world.residents['a1_elder']}/followups",
        json=body,
        headers=bearer(world, "doctor_a1"),
    )


def test_proposals_come_from_the_problem_list_and_only_for_35_and_over(
    client: TestClient, session: Session, world: World
) -> None:
    counts = service.propose_enrolments(session)
    assert counts["htn.condition"] >= 1
    rows = session.scalars(select(ChronicEnrolment).where(ChronicEnrolment.resident_id == world.residents["a1_elder"]))
    (htn,) = [r for r in rows if r.disease == "htn"]
    assert htn.status == "proposed" and htn.team_id == world.teams["team_a1"]
    again = service.propose_enrolments(session)
    assert again["htn.condition"] == 0  # already proposed: nothing twice


def test_enrol_then_worklist_shows_the_first_visit_due(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    answer = client.get("/api/v1/chronic/worklist", headers=bearer(world, "doctor_a1"))
    assert answer.status_code == 200, answer.text
    sections = {s["kind"]: s for s in answer.json()["sections"]}
    assert any(i["resident_id"] == world.residents["a1_elder"] for i in sections["followup"]["items"])
    # Another team's doctor does not see it.
    other = client.get("/api/v1/chronic/worklist", headers=bearer(world, "doctor_b")).json()
    assert all(i["resident_id"] != world.residents["a1_elder"] for s in other["sections"] for i in s["items"])


def test_followup_classification_next_date_and_referral_task(
    client: TestClient, session: Session, world: World
) -> None:
    _enrolled(client, session, world)
    today = local_today()
    controlled = _followup(client, world, sbp=128, dbp=80, visit_date=(today - timedelta(days=20)).isoformat())
    assert controlled.status_code == 201, controlled.text
    assert controlled.json()["visit_class"] == "controlled"
    assert controlled.json()["next_date"] == (today - timedelta(days=20) + timedelta(days=90)).isoformat()
    first = _followup(client, world, sbp=152, dbp=94, visit_date=(today - timedelta(days=14)).isoformat())
    assert first.json()["visit_class"] == "uncontrolled" and not first.json()["refer"]
    second = _followup(client, world, sbp=156, dbp=96)
    body = second.json()
    assert body["visit_class"] == "uncontrolled" and body["refer"] and "two_uncontrolled" in body["reasons"]
    assert body["next_date"] == (today + timedelta(days=14)).isoformat()
    assert body["referral_task_id"]
    worklist = client.get("/api/v1/chronic/worklist", headers=bearer(world, "doctor_a1")).json()
    referrals = next(s for s in worklist["sections"] if s["kind"] == "referral")
    assert any(i["ref_id"] == body["referral_task_id"] for i in referrals["items"])
    # The measurements joined the record as observations of the visit's encounter.
    record = client.get(f"/api/v1/residents/{world.residents['a1_elder']}/record", headers=bearer(world, "doctor_a1"))
    assert record.status_code == 200


def test_urgent_followup_and_bad_form(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    urgent = _followup(client, world, sbp=185, dbp=100, symptoms=["headache_dizziness"])
    assert urgent.json()["urgent"] and urgent.json()["refer"]
    bad = _followup(client, world, sbp=120)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["type"] == "chronic.form.bp_pair"
    not_enrolled = _followup(client, world, disease="t2dm", fasting_glucose=6.0)
    assert not_enrolled.status_code == 422 and not_enrolled.json()["detail"][0]["loc"] == ["body", "disease"]
    resend = _followup(client, world, sbp=130, dbp=80, source_key="clinic-1:visit-9")
    again = _followup(client, world, sbp=130, dbp=80, source_key="clinic-1:visit-9")
    assert resend.json()["id"] == again.json()["id"]


def _bind(client: TestClient, world: World, serial: str = "BP-TEST-1", kind: str = "bp") -> dict[str, Any]:
    answer = client.post(
        f"/api/v1/chronic/residents/{world.residents['a1_elder']}/devices",
        json={"device_id": serial, "kind": kind, "model": "欧姆龙 U30"},
        headers=bearer(world, "doctor_a1"),
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_device_readings_dedup_reject_and_critical_alert(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    device = _bind(client, world)
    at = datetime.now(UTC) - timedelta(hours=1)
    readings = [
        {"kind": "bp", "measured_at": at.isoformat(), "sbp": 132, "dbp": 84, "heart_rate": 70},
        {"kind": "bp", "measured_at": (at + timedelta(minutes=1)).isoformat(), "sbp": 400, "dbp": 84},
        {"kind": "bp", "measured_at": (at + timedelta(minutes=2)).isoformat(), "sbp": 186, "dbp": 112},
        {"kind": "bp", "measured_at": "yesterday", "sbp": 120, "dbp": 80},
    ]
    headers = {"Authorization": f"Bearer {device['token']}"}
    url = f"/api/v1/chronic/device-readings?device_id={device['device_id']}"
    answer = client.post(url, json={"readings": readings}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["inserted"], body["rejected"], body["critical"]) == (2, 2, 1)
    assert {e["row"] for e in body["errors"]} == {2, 4}
    assert any(e["field"] == "sbp" for e in body["errors"] if e["row"] == 2)
    assert len(body["alerts"]) == 1
    again = client.post(url, json={"readings": readings[:1]}, headers=headers).json()
    assert (again["inserted"], again["duplicates"]) == (0, 1)
    kept = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == body["batch_id"])).all()
    assert len(kept) == 2
    stored_device = session.scalars(select(HomeDevice).where(HomeDevice.device_id == device["device_id"])).one()
    session.refresh(stored_device)
    # The newest stored measurement (the implausible row 2 is not stored), and the upload time.
    assert stored_device.last_reading_at == (at + timedelta(minutes=2)).replace(microsecond=at.microsecond)
    assert stored_device.last_seen_at is not None
    worklist = client.get("/api/v1/chronic/worklist", headers=bearer(world, "doctor_a1")).json()
    critical = worklist["sections"][0]
    assert critical["kind"] == "critical" and critical["items"][0]["detail"]["sbp"] == 186
    # A second critical reading extends the same alert.
    more = [{"kind": "bp", "measured_at": (at + timedelta(minutes=30)).isoformat(), "sbp": 182, "dbp": 100}]
    client.post(url, json={"readings": more}, headers=headers)
    alerts = session.scalars(select(ChronicAlert).where(ChronicAlert.resident_id == world.residents["a1_elder"])).all()
    assert len(alerts) == 1 and alerts[0].readings == 2
    handled = client.post(
        f"/api/v1/chronic/alerts/{alerts[0].id}/handle",
        json={"action": "phoned", "note": "已电话随访"},
        headers=bearer(world, "doctor_a1"),
    )
    assert handled.status_code == 204
    worklist = client.get("/api/v1/chronic/worklist", headers=bearer(world, "doctor_a1")).json()
    assert worklist["sections"][0]["total"] == 0


def test_device_token_is_required_and_gateway_path(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    device = _bind(client, world, "GLU-TEST-1", "glucose")
    url = f"/api/v1/chronic/device-readings?device_id={device['device_id']}"
    row = {"kind": "glucose", "measured_at": datetime.now(UTC).isoformat(), "glucose": 6.2}
    assert client.post(url, json={"readings": [row]}).status_code == 401
    assert client.post(url, json={"readings": [row]}, headers={"Authorization": "Bearer nope"}).status_code == 401
    gateway = client.post(
        "/api/v1/chronic/readings",
        json={"readings": [{**row, "device_id": "GLU-TEST-1"}, {**row, "device_id": "UNKNOWN-9"}], "batch_key": "g1"},
        headers=bearer(world, "device"),
    ).json()
    assert (gateway["inserted"], gateway["rejected"]) == (1, 1)
    replay = client.post(
        "/api/v1/chronic/readings", json={"readings": [], "batch_key": "g1"}, headers=bearer(world, "device")
    ).json()
    assert replay["replayed"] and replay["inserted"] == 1
    stored = session.scalars(select(HomeReading).where(HomeReading.resident_id == world.residents["a1_elder"])).all()
    assert len(stored) == 1


def test_snooze_hides_followup_for_seven_days(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    answer = client.post(
        f"/api/v1/chronic/residents/{world.residents['a1_elder']}/snooze",
        json={"item": "followup", "reason": "agreed_to_visit"},
        headers=bearer(world, "doctor_a1"),
    )
    assert answer.status_code == 204
    worklist = client.get("/api/v1/chronic/worklist", headers=bearer(world, "doctor_a1")).json()
    followups = next(s for s in worklist["sections"] if s["kind"] == "followup")
    assert all(i["resident_id"] != world.residents["a1_elder"] for i in followups["items"])


def test_path_prescription_and_report(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    _followup(
        client,
        world,
        sbp=150,
        dbp=92,
        weight_kg=80,
        height_cm=168,
        smoking="current",
        salt="heavy",
        exercise="never",
        adherence="intermittent",
        education=True,
    )
    resident = world.residents["a1_elder"]
    headers = bearer(world, "doctor_a1")
    path = client.get(f"/api/v1/chronic/residents/{resident}/path", headers=headers).json()
    dimensions = {i["dimension"] for i in path["items"]}
    assert dimensions == {"vitals", "lab", "lifestyle", "adherence", "complications", "self_management"}
    bp_item = next(i for i in path["items"] if i["dimension"] == "vitals" and i["last_done"])
    assert bp_item["state"] == "done"
    draft = client.get(f"/api/v1/chronic/residents/{resident}/prescriptions/draft", headers=headers).json()
    sections = {i["section"]: i["text"] for i in draft["items"]}
    assert "28.3" in sections["weight"] and "5" in sections["salt"]
    draft["items"][0]["text"] += "（医生补充：少吃腌菜）"
    saved = client.post(
        f"/api/v1/chronic/residents/{resident}/prescriptions", json={"items": draft["items"]}, headers=headers
    )
    assert saved.status_code == 201, saved.text
    listed = client.get(f"/api/v1/chronic/residents/{resident}/prescriptions", headers=headers).json()
    assert "少吃腌菜" in listed[0]["items"][0]["text"]
    month = local_today().strftime("%Y-%m")
    report = client.post(f"/api/v1/chronic/residents/{resident}/reports?month={month}", headers=headers)
    assert report.status_code == 201, report.text
    pdf = client.get(report.json()["pdf_url"], headers=headers)
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(text_of(pdf.content).split())
    assert "王大爷" in text and "健康报告" in text
    future = (local_today().replace(day=1) + timedelta(days=62)).strftime("%Y-%m")
    assert (
        client.post(f"/api/v1/chronic/residents/{resident}/reports?month={future}", headers=headers).status_code == 422
    )


@pytest.mark.parametrize("who", ["bureau", "submitter"])
def test_roles_without_chronic_access_are_refused(client: TestClient, world: World, who: str) -> None:
    answer = client.get("/api/v1/chronic/worklist", headers=bearer(world, who))
    assert answer.status_code == 403


def test_risk_tier_is_computed_and_filters_the_worklist(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    # 76-year-old man (age is a risk factor), grade 1 hypertension → 1–2 risk factors × grade 1 = medium.
    # Seen 20 days ago, not controlled: the 14-day follow-up is overdue, so the patient is on the worklist.
    _followup(
        client, world, sbp=150, dbp=92, smoking="never", visit_date=(local_today() - timedelta(days=20)).isoformat()
    )
    rows = client.get(
        f"/api/v1/chronic/residents/{world.residents['a1_elder']}/enrolments", headers=bearer(world, "doctor_a1")
    ).json()
    assert next(e for e in rows if e["disease"] == "htn")["risk_tier"] == "medium"
    headers = bearer(world, "doctor_a1")
    medium = client.get("/api/v1/chronic/worklist?risk=medium", headers=headers).json()
    low = client.get("/api/v1/chronic/worklist?risk=low", headers=headers).json()

    def residents(body: dict[str, Any]) -> set[int]:
        return {i["resident_id"] for s in body["sections"] for i in s["items"]}

    assert world.residents["a1_elder"] in residents(medium)
    assert world.residents["a1_elder"] not in residents(low)
    assert client.get("/api/v1/chronic/worklist?risk=purple", headers=headers).status_code == 422


def test_a_days_old_critical_reading_is_kept_but_opens_no_alert(
    client: TestClient, session: Session, world: World
) -> None:
    _enrolled(client, session, world)
    device = _bind(client, world, "BP-OLD-1")
    old = (datetime.now(UTC) - timedelta(days=4)).isoformat()
    body = client.post(
        f"/api/v1/chronic/device-readings?device_id={device['device_id']}",
        json={"readings": [{"kind": "bp", "measured_at": old, "sbp": 188, "dbp": 100}]},
        headers={"Authorization": f"Bearer {device['token']}"},
    ).json()
    assert (body["inserted"], body["critical"], body["alerts"]) == (1, 1, [])
    stored = session.scalars(select(HomeReading).where(HomeReading.resident_id == world.residents["a1_elder"])).one()
    assert stored.critical


def test_cli_propose_and_team_reports(tmp_path: Any, scratch_url: str) -> None:
    """`healthbrain chronic propose` and `healthbrain chronic reports --month` on a database of their own."""
    from typer.testing import CliRunner

    from healthbrain.cli import app
    from healthbrain.db import Database
    from healthbrain.migrations.runner import upgrade
    from tests.factories import build_world

    database = Database(scratch_url)
    upgrade(database.engine)
    with database.unit_of_work() as s:
        world = build_world(s)
    runner = CliRunner()
    proposed = runner.invoke(app, ["chronic", "propose", "--database-url", scratch_url])
    assert proposed.exit_code == 0, proposed.output
    assert "htn.condition: 1 proposed" in proposed.output
    with database.unit_of_work() as s:
        enrolment = s.scalars(select(ChronicEnrolment)).one()
        enrolment.status, enrolment.enrolled_on = "enrolled", local_today()
    month = local_today().strftime("%Y-%m")
    out = tmp_path / "pdf"
    made = runner.invoke(
        app,
        [
            "chronic",
            "reports",
            "--month",
            month,
            "--team",
            str(world.teams["team_a1"]),
            "--out",
            str(out),
            "--database-url",
            scratch_url,
        ],
    )
    assert made.exit_code == 0, made.output
    assert f"1 reports for {month}" in made.output
    (pdf,) = out.iterdir()
    assert "王大爷" in "".join(text_of(pdf.read_bytes()).split())
    bad = runner.invoke(app, ["chronic", "reports", "--month", "2026-13", "--database-url", scratch_url])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    database.dispose()


def test_odd_values_are_row_errors_not_server_errors(client: TestClient, session: Session, world: World) -> None:
    _enrolled(client, session, world)
    device = _bind(client, world, "BP-ODD-1")
    now = datetime.now(UTC).isoformat()
    rows = [
        {"kind": "bp", "measured_at": "2026-13-45T08:00:00+08:00", "sbp": 130, "dbp": 80},
        {"kind": "bp", "measured_at": now, "sbp": 10**400, "dbp": 80},
        {"kind": "bp", "measured_at": now, "sbp": "130", "dbp": 80.5},
        {"kind": "bp", "measured_at": now, "sbp": True, "dbp": 80},
        {"kind": "ecg", "measured_at": now, "sbp": 130, "dbp": 80},
        {"kind": "bp", "measured_at": "2026-11-25T08:00:00", "sbp": 130, "dbp": 80},
        ["not", "an", "object"],
        {"kind": "glucose", "measured_at": now, "glucose": 6.1},
    ]
    answer = client.post(
        f"/api/v1/chronic/device-readings?device_id={device['device_id']}",
        json={"readings": rows},
        headers={"Authorization": f"Bearer {device['token']}"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rejected = {e["row"] for e in body["errors"]}
    # "130" as text is what the schema accepts (lax mode); a glucose reading on a BP monitor is not.
    assert rejected == {1, 2, 4, 5, 6, 7, 8}, body["errors"]
    assert body["inserted"] == 1
