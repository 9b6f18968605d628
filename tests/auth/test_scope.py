"""Organisation scope, for every role: who sees which resident, through every resident endpoint."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from tests.conftest import bearer
from tests.factories import World

ALL = {"a1_elder", "a1_wife", "a1_child", "a2_adult", "b1_adult", "b2_villager"}
VISIBLE = {
    "admin": ALL,
    "bureau": ALL,
    "cdc": ALL,
    "centre_a": {"a1_elder", "a1_wife", "a1_child", "a2_adult"},
    "doctor_a1": {"a1_elder", "a1_wife", "a1_child"},
    "doctor_b": {"b1_adult", "b2_villager"},
    "submitter": set(),  # nobody in the world was registered at, or identified by, the hospital
    "device": set(),
}
MAY_REVEAL = {"cdc", "centre_a", "doctor_a1", "doctor_b"}


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_read_and_record_follow_the_scope(client: TestClient, world: World, username: str) -> None:
    headers = bearer(world, username)
    for key in sorted(ALL):
        rid = world.residents[key]
        read = client.get(f"/api/v1/residents/{rid}", headers=headers)
        record = client.get(f"/api/v1/residents/{rid}/record", headers=headers)
        if key in VISIBLE[username]:
            assert read.status_code == 200, (username, key)
            assert record.status_code == 200, (username, key)
        else:
            expected = 403 if username == "device" else 404
            assert read.status_code == expected, (username, key, read.status_code)
            assert record.status_code == expected, (username, key)
            assert world.id_numbers[key][-4:] not in read.text  # never the data


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_search_lists_only_the_scope(client: TestClient, world: World, username: str) -> None:
    response = client.get("/api/v1/residents", headers=bearer(world, username), params={"limit": 200})
    if username == "device":
        assert response.status_code == 403
        return
    found = {r["id"] for r in response.json()["items"]}
    expected = {world.residents[k] for k in VISIBLE[username]}
    assert found & {world.residents[k] for k in ALL} == expected


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_reveal_needs_permission_and_scope(client: TestClient, world: World, username: str, session: Session) -> None:
    headers = bearer(world, username)
    for key in sorted(ALL):
        rid = world.residents[key]
        response = client.post(f"/api/v1/residents/{rid}/reveal", headers=headers)
        if username not in MAY_REVEAL:
            assert response.status_code == 403, (username, key)
        elif key in VISIBLE[username]:
            assert response.status_code == 200
            assert response.json()["id_number"] == world.id_numbers[key]
        else:
            assert response.status_code == 404, (username, key)
    # Every attempt is in the audit trail, refused ones included.
    attempts = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "resident.reveal", AuditEvent.user_id == world.users[username])
    ).all()
    assert len(attempts) == len(ALL)
    assert {a.outcome for a in attempts} == (
        {"ok"}
        if VISIBLE[username] == ALL and username in MAY_REVEAL
        else {"ok", "denied"}
        if username in MAY_REVEAL
        else {"denied"}
    )


def test_reading_is_audited_with_who_when_where(client: TestClient, world: World, session: Session) -> None:
    rid = world.residents["a1_elder"]
    client.get(f"/api/v1/residents/{rid}/record", headers={**bearer(world, "doctor_a1"), "X-Request-ID": "req-42"})
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.resident_id == rid, AuditEvent.request_id == "req-42")
    ).one()
    assert (event.username, event.role, event.action, event.outcome) == (
        "doctor_a1",
        "family_doctor",
        "record.read",
        "ok",
    )
    assert event.ip and event.at is not None


def test_out_of_scope_read_is_audited_as_denied(client: TestClient, world: World, session: Session) -> None:
    rid = world.residents["b1_adult"]
    assert client.get(f"/api/v1/residents/{rid}", headers=bearer(world, "doctor_a1")).status_code == 404
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.resident_id == rid, AuditEvent.user_id == world.users["doctor_a1"])
    ).one()
    assert event.outcome == "denied"


def test_submitter_sees_what_its_institution_registered(client: TestClient, world: World) -> None:
    headers = bearer(world, "submitter")
    from tests.people.test_api_residents import new_resident

    created = client.post(
        "/api/v1/residents", headers=headers, json=new_resident(world, division_code=world.codes["b2"])
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert client.get(f"/api/v1/residents/{rid}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/residents/{rid}", headers=bearer(world, "doctor_a1")).status_code == 404
    assert client.get(f"/api/v1/residents/{rid}", headers=bearer(world, "doctor_b")).status_code == 200


def test_audit_trail_access(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/audit", headers=bearer(world, "admin")).status_code == 200
    # A centre manager sees the trail of its own residents only.
    client.get(f"/api/v1/residents/{world.residents['b1_adult']}", headers=bearer(world, "bureau"))
    client.get(f"/api/v1/residents/{world.residents['a1_elder']}", headers=bearer(world, "doctor_a1"))
    mine = client.get("/api/v1/audit", headers=bearer(world, "centre_a"), params={"limit": 1000}).json()
    own = {world.residents[k] for k in VISIBLE["centre_a"]}
    assert mine and all(e["resident_id"] in own for e in mine)
    assert world.residents["a1_elder"] in {e["resident_id"] for e in mine}
    for username in ("bureau", "cdc", "doctor_a1", "submitter", "device"):
        assert client.get("/api/v1/audit", headers=bearer(world, username)).status_code == 403, username


def test_an_overlong_request_id_is_capped(client: TestClient, world: World, session: Session) -> None:
    rid = world.residents["a1_elder"]
    response = client.get(f"/api/v1/residents/{rid}", headers={**bearer(world, "cdc"), "X-Request-ID": "x" * 500})
    assert response.status_code == 200 and response.headers["x-request-id"] == "x" * 36
