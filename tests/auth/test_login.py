"""Login by password (bearer token and session cookie), lock-out, logout, CSRF."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AppUser, AuditEvent
from tests.conftest import bearer
from tests.factories import PASSWORD, World


def test_token_login_and_me(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", json={"username": "doctor_a1", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["role"] == "family_doctor"
    assert me.json()["team_ids"]
    assert "resident:reveal" in me.json()["permissions"]


def test_wrong_password_is_401_and_audited(client: TestClient, session: Session) -> None:
    response = client.post("/api/v1/auth/token", json={"username": "bureau", "password": "nope-nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "error.login_failed"
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None and event.outcome == "denied" and event.username == "bureau"


def test_five_failures_lock_the_account(client: TestClient, session: Session, world: World) -> None:
    for _ in range(5):
        assert (
            client.post("/api/v1/auth/token", json={"username": "cdc", "password": "wrong-password"}).status_code == 401
        )
    locked = client.post("/api/v1/auth/token", json={"username": "cdc", "password": PASSWORD})
    assert locked.status_code == 423
    user = session.get(AppUser, world.users["cdc"])
    assert user is not None and user.locked_until is not None


def test_unknown_user_and_bad_token(client: TestClient) -> None:
    assert client.post("/api/v1/auth/token", json={"username": "ghost", "password": "whatever1"}).status_code == 401
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/auth/me").status_code == 401


def test_logout_revokes_the_token(client: TestClient) -> None:
    token = client.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_cookie_session_needs_csrf_for_writes(client: TestClient, world: World) -> None:
    page = client.post(
        "/login", data={"username": "doctor_a1", "password": PASSWORD, "next": "/"}, follow_redirects=False
    )
    assert page.status_code == 303
    assert "hb_session" in page.cookies or client.cookies.get("hb_session")
    resident = world.residents["a1_elder"]
    # A cookie-authenticated write without the CSRF token is refused …
    refused = client.post(f"/api/v1/residents/{resident}/reveal")
    assert refused.status_code == 403
    assert refused.json()["code"] == "error.csrf"
    # … and accepted with it (the token is in every page the session renders).
    home = client.get("/")
    token = home.text.split('"X-CSRF-Token": "')[1].split('"')[0]
    ok = client.post(f"/api/v1/residents/{resident}/reveal", headers={"X-CSRF-Token": token})
    assert ok.status_code == 200
    assert ok.json()["id_number"] == world.id_numbers["a1_elder"]


def test_admin_creates_users_and_device_tokens(client: TestClient, world: World) -> None:
    headers = bearer(world, "admin")
    created = client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "username": "bp-meter-7",
            "display_name": "血压计7号",
            "password": "long-enough-1",
            "role": "device",
            "institution_id": world.institutions["chc_a"],
        },
    )
    assert created.status_code == 201, created.text
    token = client.post(f"/api/v1/users/{created.json()['id']}/tokens", headers=headers, json={"label": "BP-7"})
    assert token.status_code == 201
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["role"] == "device"
    duplicate = client.post(
        "/api/v1/users",
        headers=headers,
        json={"username": "bp-meter-7", "display_name": "x", "password": "long-enough-1", "role": "bureau"},
    )
    assert duplicate.status_code == 409
    unbound = client.post(
        "/api/v1/users",
        headers=headers,
        json={"username": "doc-x", "display_name": "x", "password": "long-enough-1", "role": "family_doctor"},
    )
    assert unbound.status_code == 422
    assert unbound.json()["detail"][0]["loc"] == ["body", "practitioner_id"]


def test_only_admin_manages_users(client: TestClient, world: World) -> None:
    for username in ("bureau", "cdc", "centre_a", "doctor_a1", "submitter", "device"):
        assert client.get("/api/v1/users", headers=bearer(world, username)).status_code == 403, username
