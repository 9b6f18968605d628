"""Use cases of the auth domain: log in and out, resolve a token, manage users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from healthbrain.auth import audit, repository
from healthbrain.auth.models import AppUser, AuditEvent, AuthSession
from healthbrain.auth.roles import NEEDS_INSTITUTION, NEEDS_PRACTITIONER, Permission, Role
from healthbrain.auth.schemas import UserCreate
from healthbrain.auth.scope import Principal
from healthbrain.auth.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)
from healthbrain.config import get_settings
from healthbrain.core.errors import Conflict, InvalidInput, Locked, NotAuthenticated, NotFound
from healthbrain.core.time import utcnow
from healthbrain.db import on_rollback
from healthbrain.geo import repository as geo_repository
from healthbrain.geo.models import Institution, Practitioner


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    principal: Principal


def principal_of(session: Session, user: AppUser, auth_session: AuthSession | None = None) -> Principal:
    teams = repository.team_ids_of_practitioner(session, user.practitioner_id) if user.practitioner_id else ()
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        institution_id=user.institution_id,
        practitioner_id=user.practitioner_id,
        team_ids=teams,
        session_id=auth_session.id if auth_session else None,
        csrf_token=auth_session.csrf_token if auth_session else None,
        auth_kind=auth_session.kind if auth_session else "web",
    )


def login(
    session: Session, *, username: str, password: str, kind: str, ip: str | None, label: str | None = None
) -> IssuedToken:
    """Check a password and open a browser session (``web``) or issue a bearer token (``api``).

    Failures are audited and count towards a temporary lock-out (MLPS 2.0 level 3).
    """
    settings = get_settings()
    now = utcnow()
    user = repository.user_by_username(session, username)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        audit.record_refused(session, None, "auth.login", username=username, detail={"why": "locked"})
        raise Locked("error.login_locked", minutes=settings.login_lockout_minutes)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= settings.login_max_failures:
                user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
                user.failed_logins = 0
            audit.record_refused(session, None, "auth.login", username=username, detail={"why": "password"})
            counters = {"failed_logins": user.failed_logins, "locked_until": user.locked_until}
            user_id = user.id

            # the failure counter must survive the refused request too
            def keep_counter(s: Session) -> None:
                s.execute(update(AppUser).where(AppUser.id == user_id).values(**counters))

            on_rollback(session, keep_counter)
        else:
            audit.record_refused(session, None, "auth.login", username=username, detail={"why": "unknown_user"})
        raise NotAuthenticated("error.login_failed")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    lifetime = timedelta(hours=settings.session_hours) if kind == "web" else timedelta(days=settings.api_token_days)
    issued = _open_session(session, user=user, kind=kind, ip=ip, label=label, lifetime=lifetime)
    audit.record(session, issued.principal, "auth.login", detail={"kind": kind})
    return issued


def _open_session(
    session: Session, *, user: AppUser, kind: str, ip: str | None, label: str | None, lifetime: timedelta
) -> IssuedToken:
    token = new_token()
    now = utcnow()
    row = AuthSession(
        token_hash=token_digest(token),
        user_id=user.id,
        kind=kind,
        label=label,
        csrf_token=new_token() if kind == "web" else None,
        ip=ip,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return IssuedToken(token=token, expires_at=row.expires_at, principal=principal_of(session, user, row))


def issue_token(session: Session, *, actor: Principal | None, user: AppUser, label: str, days: int) -> IssuedToken:
    """A long-lived bearer token for a device or an interface engine (no password exchange)."""
    issued = _open_session(session, user=user, kind="api", ip=None, label=label, lifetime=timedelta(days=days))
    audit.record(session, actor, "user.token", object_type="app_user", object_id=user.id, detail={"label": label})
    return issued


def principal_for_token(session: Session, *, token: str) -> Principal | None:
    found = repository.live_session(session, token_digest(token), utcnow())
    if found is None:
        return None
    auth_session, user = found
    return principal_of(session, user, auth_session)


def logout(session: Session, *, principal: Principal) -> None:
    if principal.session_id is None:
        return
    row = session.get(AuthSession, principal.session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    audit.record(session, principal, "auth.logout")


def create_user(session: Session, *, actor: Principal | None, data: UserCreate) -> AppUser:
    """A new user, bound to an institution or a practitioner where the role needs it."""
    username, password, role = data.username, data.password, data.role
    institution_id, practitioner_id = data.institution_id, data.practitioner_id
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("error.password_too_short", field="password", min=MIN_PASSWORD_LENGTH)
    if repository.user_by_username(session, username) is not None:
        raise Conflict("error.username_taken", field="username", username=username)
    if practitioner_id is not None:
        practitioner = session.get(Practitioner, practitioner_id)
        if practitioner is None:
            raise InvalidInput("error.unknown_practitioner", field="practitioner_id", id=practitioner_id)
        institution_id = institution_id or practitioner.institution_id
    elif role in NEEDS_PRACTITIONER:
        raise InvalidInput("error.role_needs_practitioner", field="practitioner_id", role=str(role))
    if institution_id is not None and session.get(Institution, institution_id) is None:
        raise InvalidInput("error.unknown_institution", field="institution_id", id=institution_id)
    if role in NEEDS_INSTITUTION and institution_id is None:
        raise InvalidInput("error.role_needs_institution", field="institution_id", role=str(role))
    user = AppUser(
        username=username,
        display_name=data.display_name,
        password_hash=hash_password(password),
        role=str(role),
        institution_id=institution_id,
        practitioner_id=practitioner_id,
        active=True,
        failed_logins=0,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        object_type="app_user",
        object_id=user.id,
        username="system",
        detail={"role": str(role)},
    )
    return user


def audit_trail(
    session: Session,
    *,
    principal: Principal,
    resident_id: int | None,
    user_id: int | None,
    action: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[AuditEvent]:
    """The audit trail, newest first; outside the whole-district roles, only entries about the
    residents the principal serves."""
    principal.require(Permission.AUDIT_READ)
    return repository.audit_events(
        session,
        principal=principal,
        resident_id=resident_id,
        user_id=user_id,
        action=action,
        before_id=before_id,
        limit=limit,
    )


def bindings_by_code(
    session: Session, *, institution_code: str | None, practitioner_code: str | None
) -> tuple[int | None, int | None]:
    """Institution and practitioner ids for the codes a person types (page, command line)."""
    institution_id = practitioner_id = None
    if institution_code:
        institution = geo_repository.institution_by_code(session, institution_code)
        if institution is None:
            raise InvalidInput("error.unknown_institution_code", field="institution_code", code=institution_code)
        institution_id = institution.id
    if practitioner_code:
        practitioner = geo_repository.practitioner_by_code(session, practitioner_code)
        if practitioner is None:
            raise InvalidInput("error.unknown_practitioner_code", field="practitioner_code", code=practitioner_code)
        practitioner_id = practitioner.id
    return institution_id, practitioner_id


def get_user(session: Session, user_id: int) -> AppUser:
    user = repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound("error.user_not_found", id=user_id)
    return user
