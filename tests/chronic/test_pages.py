"""Chronic-disease pages through the real app (the browser tests drive them in Chromium): the worklist,
the chart, the follow-up form with its classification, snoozes, prescriptions, reports, devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from healthbrain.auth.models import AppUser
from healthbrain.auth.scope import Principal
from healthbrain.auth.service import principal_of
from healthbrain.chronic import service
from healthbrain.core.time import local_today
from tests.conftest import bearer
from tests.factories import PASSWORD, World


def _login(client: TestClient, username: str) -> str:
    response = client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/")
    marker = 'name="csrf_token" value="'
    return page.text.split(marker, 1)[1].split('"', 1)[0]


def _proposed(session: Session) -> None:
    service.propose_enrolments(session)
    session.commit()


def test_worklist_proposal_enrol_followup_and_snooze(client: TestClient, session: Session, world: World) -> None:
    _proposed(session)
    csrf = _login(client, "doctor_a1")
    page = client.get("/chronic")
    assert page.status_code == 200 and "王大爷" in page.text and 'data-testid="section-proposal"' in page.text
    enrolment = service.enrolments(session, principal=_doctor(session, world), resident_id=world.residents["a1_elder"])[
        0
    ]
    done = client.post(
        f"/chronic/enrolments/{enrolment.id}/act", data={"csrf_token": csrf, "action": "enrol"}, follow_redirects=False
    )
    assert done.status_code == 303
    chart = client.get(f"/chronic/residents/{world.residents['a1_elder']}")
    assert chart.status_code == 200 and 'data-testid="followup-form"' in chart.text
    saved = client.post(
        f"/chronic/residents/{world.residents['a1_elder']}/followups",
        data={
            "csrf_token": csrf,
            "disease": "htn",
            "visit_date": local_today().isoformat(),
            "method": "clinic",
            "sbp": "186",
            "dbp": "104",
            "symptoms": ["headache_dizziness"],
            "education": "1",
        },
    )
    assert saved.status_code == 200  # followed the redirect to the chart
    assert "紧急转诊" in saved.text and "控制不满意" in saved.text
    bad = client.post(
        f"/chronic/residents/{world.residents['a1_elder']}/followups",
        data={"csrf_token": csrf, "disease": "htn", "visit_date": local_today().isoformat(), "sbp": "120"},
    )
    assert bad.status_code == 422 and "收缩压与舒张压须同时填写" in bad.text
    worklist = client.get("/chronic")
    assert 'data-testid="referral-row"' in worklist.text
    snoozed = client.post(
        f"/chronic/residents/{world.residents['a1_elder']}/snooze",
        data={"csrf_token": csrf, "item": "referral", "reason": "remind_later"},
    )
    assert snoozed.status_code == 200 and 'data-testid="referral-row"' not in snoozed.text


def _doctor(session: Session, world: World) -> Principal:
    user = session.get(AppUser, world.users["doctor_a1"])
    assert user is not None
    return principal_of(session, user)


def test_critical_reading_on_the_worklist_and_device_binding(
    client: TestClient, session: Session, world: World
) -> None:
    _proposed(session)
    csrf = _login(client, "doctor_a1")
    resident = world.residents["a1_elder"]
    enrolment = service.enrolments(session, principal=_doctor(session, world), resident_id=resident)[0]
    client.post(f"/chronic/enrolments/{enrolment.id}/act", data={"csrf_token": csrf, "action": "enrol"})
    bound = client.post(
        f"/chronic/residents/{resident}/devices", data={"csrf_token": csrf, "device_id": "BP-PAGE-1", "kind": "bp"}
    )
    assert bound.status_code == 200 and 'data-testid="device-token"' in bound.text
    token = bound.text.split('data-testid="device-token"', 1)[1].split("<code>", 1)[1].split("</code>", 1)[0]
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    sent = client.post(
        "/api/v1/chronic/device-readings?device_id=BP-PAGE-1",
        json={"readings": [{"kind": "bp", "measured_at": at, "sbp": 190, "dbp": 115}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.json()["critical"] == 1
    page = client.get("/chronic")
    assert 'data-testid="critical-row"' in page.text and "190/115" in page.text
    risk = client.get("/chronic?risk=very_high")
    assert risk.status_code == 200


def test_prescription_and_report_from_the_chart(client: TestClient, session: Session, world: World) -> None:
    _proposed(session)
    csrf = _login(client, "doctor_a1")
    resident = world.residents["a1_elder"]
    enrolment = service.enrolments(session, principal=_doctor(session, world), resident_id=resident)[0]
    client.post(f"/chronic/enrolments/{enrolment.id}/act", data={"csrf_token": csrf, "action": "enrol"})
    draft = client.get(f"/chronic/residents/{resident}?draft=1")
    assert 'data-testid="rx-form"' in draft.text and "5" in draft.text
    saved = client.post(
        f"/chronic/residents/{resident}/prescriptions",
        data={"csrf_token": csrf, "text_salt": "每日食盐不超过5克。", "text_exercise": "每周运动150分钟。"},
    )
    assert saved.status_code == 200 and 'data-testid="rx-saved"' in saved.text
    report = client.post(
        f"/chronic/residents/{resident}/reports", data={"csrf_token": csrf, "month": local_today().strftime("%Y-%m")}
    )
    assert report.status_code == 200 and 'data-testid="report-link"' in report.text
    link = report.text.split('data-testid="report-link"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    pdf = client.get(link)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_english_worklist_and_other_roles(client: TestClient, world: World) -> None:
    _login(client, "doctor_b")
    page = client.get("/chronic?lang=en")
    assert page.status_code == 200 and "Family doctor" in page.text
    client.cookies.clear()
    _login(client, "bureau")
    assert client.get("/chronic").status_code == 403
    assert client.get("/api/v1/chronic/worklist", headers=bearer(world, "bureau")).status_code == 403
