"""The response workflow, deadlines, who may do what, detector settings and the webhook channel
(a real HTTP server receives the alert)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.db import Database
from healthbrain.surveillance import notify
from healthbrain.surveillance.models import Alert, Notification
from tests.conftest import bearer
from tests.factories import World
from tests.surveillance.factories import absence, case, school_day

FEEDS = "/api/v1/surveillance/feeds"
ALERTS = "/api/v1/surveillance/alerts"


def _class_alert(client: TestClient, world: World) -> int:
    day = school_day()
    rows = [absence(day, "vomiting", 2), absence(day, "diarrhoea", 1)]
    result = client.post(f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": rows}).json()
    assert len(result["alerts"]) == 1, result
    return int(result["alerts"][0])


def _act(client: TestClient, world: World, alert_id: int, user: str = "cdc", **body: Any) -> Any:
    return client.post(f"{ALERTS}/{alert_id}/actions", headers=bearer(world, user), json=body)


def test_an_alert_is_worked_from_verification_to_closure(client: TestClient, world: World) -> None:
    alert_id = _class_alert(client, world)
    verified = _act(client, world, alert_id, action="verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verifying" and verified.json()["first_response_at"] is not None
    assert (
        _act(client, world, alert_id, action="assess", note="同班 3 例呕吐腹泻，同一午餐").json()["status"]
        == "risk_assessment"
    )
    reported = _act(client, world, alert_id, action="report").json()
    assert reported["reported_at"] is not None and reported["status"] == "risk_assessment"
    assert _act(client, world, alert_id, action="report").status_code == 409  # reported once
    assert _act(client, world, alert_id, action="respond").json()["status"] == "responding"
    missing = _act(client, world, alert_id, action="close")
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "outcome"]
    closed = _act(
        client, world, alert_id, action="close", outcome="confirmed_outbreak", note="诺如病毒暴发，已控制"
    ).json()
    assert closed["status"] == "closed" and closed["outcome"] == "confirmed_outbreak" and closed["closed_at"]
    assert _act(client, world, alert_id, action="verify").status_code == 409
    detail = client.get(f"{ALERTS}/{alert_id}", headers=bearer(world, "cdc")).json()
    assert [e["action"] for e in detail["events"]] == ["created", "verify", "assess", "report", "respond", "close"]
    assert detail["events"][2]["note"] == "同班 3 例呕吐腹泻，同一午餐"
    assert all(e["user_id"] == world.users["cdc"] for e in detail["events"][1:])


def test_a_closed_cluster_does_not_come_back_for_the_same_days(client: TestClient, world: World) -> None:
    alert_id = _class_alert(client, world)
    _act(client, world, alert_id, action="dismiss", note="同一家庭三兄妹")
    day = school_day()
    again = client.post(
        f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": [absence(day, "vomiting", 3)]}
    ).json()
    assert again["corrected"] == 1 and again["alerts"] == []  # same day, already dealt with


def test_dismissing_needs_a_note_and_a_stale_version_is_refused(client: TestClient, world: World) -> None:
    alert_id = _class_alert(client, world)
    no_note = _act(client, world, alert_id, action="dismiss")
    assert no_note.status_code == 422 and no_note.json()["field"] == "note"
    assert _act(client, world, alert_id, action="verify", version=1).status_code == 200
    stale = _act(client, world, alert_id, action="dismiss", note="x", version=1)
    assert stale.status_code == 409
    assert _act(client, world, alert_id, action="fly").status_code == 422


def test_who_may_read_and_work_alerts(client: TestClient, world: World) -> None:
    alert_id = _class_alert(client, world)
    assert client.get(ALERTS, headers=bearer(world, "bureau")).status_code == 200
    assert _act(client, world, alert_id, user="bureau", action="verify").status_code == 403
    assert client.get(ALERTS, headers=bearer(world, "school")).status_code == 403
    assert client.get(f"{ALERTS}/{alert_id}", headers=bearer(world, "doctor_a1")).status_code == 403
    assert client.get(f"{ALERTS}/999999", headers=bearer(world, "cdc")).status_code == 404
    assert client.get(ALERTS).status_code == 401


def test_overdue_alerts_are_flagged_and_filtered(client: TestClient, world: World, session: Session) -> None:
    alert_id = _class_alert(client, world)
    alert = session.get(Alert, alert_id)
    assert alert is not None
    alert.response_due_at = alert.created_at - timedelta(minutes=1)
    session.commit()
    late = client.get(ALERTS, headers=bearer(world, "cdc"), params={"overdue": "true"}).json()
    assert [a["id"] for a in late] == [alert_id] and late[0]["overdue"] == ["response"]
    _act(client, world, alert_id, action="verify")
    assert client.get(ALERTS, headers=bearer(world, "cdc"), params={"overdue": "true"}).json() == []
    by_grade = client.get(ALERTS, headers=bearer(world, "cdc"), params={"grade": "red"}).json()
    assert by_grade == []


def test_detector_settings_are_validated_and_applied(client: TestClient, world: World) -> None:
    headers = bearer(world, "cdc")
    setting = {
        "code": "test.class.fever.1d2",
        "name_zh": "班级1天2例发热",
        "name_en": "Class: 2 fevers in a day",
        "signal": "absence.fever",
        "place_kind": "class",
        "method": "window",
        "params": {"days": 1, "min_count": 2},
        "grade": "orange",
    }
    bad = client.post("/api/v1/surveillance/detectors", headers=headers, json={**setting, "params": {"days": 0}})
    assert bad.status_code == 422 and bad.json()["field"].startswith("params")
    wrong_level = client.post(
        "/api/v1/surveillance/detectors", headers=headers, json={**setting, "place_kind": "community"}
    )
    assert wrong_level.status_code == 422 and wrong_level.json()["field"] == "place_kind"
    assert (
        client.post("/api/v1/surveillance/detectors", headers=bearer(world, "bureau"), json=setting).status_code == 403
    )
    created = client.post("/api/v1/surveillance/detectors", headers=headers, json=setting)
    assert created.status_code == 201, created.text
    assert created.json()["params"]["min_count"] == 2
    assert client.post("/api/v1/surveillance/detectors", headers=headers, json=setting).status_code == 409
    result = client.post(
        f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": [absence(school_day(), "fever", 2)]}
    ).json()
    assert len(result["alerts"]) == 1
    alert = client.get(f"{ALERTS}/{result['alerts'][0]}", headers=headers).json()
    assert alert["grade"] == "orange" and alert["methods"] == ["test.class.fever.1d2"]
    # Switched off, the rule raises nothing more.
    updated = client.put(
        f"/api/v1/surveillance/detectors/{created.json()['id']}", headers=headers, json={**setting, "enabled": False}
    )
    assert updated.status_code == 200 and updated.json()["enabled"] is False


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[str]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()


def test_alerts_reach_a_real_webhook_signed(
    client: TestClient, world: World, db: Database, session: Session, webhook: str
) -> None:
    saved = client.put(
        "/api/v1/surveillance/channels",
        headers=bearer(world, "cdc"),
        json={"name": "cdc-duty", "kind": "webhook", "url": webhook, "secret": "s3cret", "min_grade": "yellow"},
    )
    assert saved.status_code == 200, saved.text
    alert_id = _class_alert(client, world)
    onset = school_day()
    client.post(
        f"{FEEDS}/case",
        headers=bearer(world, "cdc"),
        json={"rows": [case("W-1", "plague", onset, community=world.codes["a2"])]},
    )
    assert notify.dispatch_pending(db) >= 3  # the log channel and the webhook for the yellow alert, …
    posted = [json.loads(body) for _h, body in _Receiver.received]
    assert {p["alert_id"] for p in posted} >= {alert_id}
    assert {p["grade"] for p in posted} == {"yellow", "red"}
    headers, body = _Receiver.received[0]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Healthbrain-Signature"] == f"sha256={expected}"
    statuses = {n.status for n in session.scalars(select(Notification))}
    assert statuses == {"sent"}
    assert notify.dispatch_pending(db) == 0  # nothing is sent twice


def test_a_failing_webhook_is_retried_later_and_says_why(
    client: TestClient, world: World, db: Database, session: Session
) -> None:
    client.put(
        "/api/v1/surveillance/channels",
        headers=bearer(world, "cdc"),
        json={"name": "down", "kind": "webhook", "url": "http://127.0.0.1:9/nowhere"},
    )
    _class_alert(client, world)
    notify.dispatch_pending(db)
    failed = session.scalars(select(Notification).where(Notification.status == "pending")).all()
    assert len(failed) == 1 and failed[0].attempts == 1 and failed[0].last_error
    assert failed[0].next_attempt_at > failed[0].created_at


def test_the_database_keeps_one_open_alert_per_signal_and_place(
    client: TestClient, world: World, session: Session
) -> None:
    from sqlalchemy.exc import IntegrityError

    alert = session.get(Alert, _class_alert(client, world))
    assert alert is not None
    columns = {c.key: getattr(alert, c.key) for c in Alert.__table__.columns if c.key != "id"}
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Alert(**columns))  # a second open alert for the same class and signal
        session.flush()
    with session.begin_nested():
        session.add(Alert(**{**columns, "status": "closed"}))  # closed ones may pile up
        session.flush()


def test_a_broken_setting_does_not_stop_the_others(client: TestClient, world: World, session: Session) -> None:
    from healthbrain.surveillance.models import DetectorConfig

    broken = session.scalar(select(DetectorConfig).where(DetectorConfig.code == "school.class.respiratory.3d5"))
    assert broken is not None
    broken.params = {"days": 0, "min_count": 5}  # saved before a method changed its rules, say
    session.commit()
    result = client.post(
        f"{FEEDS}/school_absence", headers=bearer(world, "school"), json={"rows": [absence(school_day(), "fever", 3)]}
    )
    assert result.status_code == 200
    assert len(result.json()["alerts"]) == 1  # the 1-day rule still raises its alert
