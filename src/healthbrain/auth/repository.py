"""Every query of the auth domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AppUser, AuditEvent, AuthSession
from healthbrain.auth.roles import Scope
from healthbrain.auth.scope import Principal, resident_scope_clause
from healthbrain.geo.models import CareTeam, CareTeamMember
from healthbrain.people.models import Resident


def user_by_username(session: Session, username: str) -> AppUser | None:
    return session.scalar(select(AppUser).where(AppUser.username == username))


def user_by_id(session: Session, user_id: int) -> AppUser | None:
    return session.get(AppUser, user_id)


def list_users(session: Session, *, limit: int = 200, offset: int = 0) -> Sequence[AppUser]:
    return session.scalars(select(AppUser).order_by(AppUser.role, AppUser.username).limit(limit).offset(offset)).all()


def team_ids_of_practitioner(session: Session, practitioner_id: int) -> tuple[int, ...]:
    rows = session.scalars(
        select(CareTeamMember.team_id)
        .join(CareTeam, CareTeam.id == CareTeamMember.team_id)
        .where(CareTeamMember.practitioner_id == practitioner_id, CareTeam.active.is_(True))
        .order_by(CareTeamMember.team_id)
    ).all()
    return tuple(rows)


def live_session(session: Session, digest: str, now: datetime) -> tuple[AuthSession, AppUser] | None:
    row = session.execute(
        select(AuthSession, AppUser)
        .join(AppUser, AppUser.id == AuthSession.user_id)
        .where(
            AuthSession.token_hash == digest,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            AppUser.active.is_(True),
        )
    ).first()
    return (row[0], row[1]) if row else None


def audit_events(
    session: Session,
    *,
    principal: Principal,
    resident_id: int | None = None,
    user_id: int | None = None,
    action: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> Sequence[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if principal.scope != Scope.ALL:
        stmt = stmt.join(Resident, Resident.id == AuditEvent.resident_id).where(resident_scope_clause(principal))
    if resident_id is not None:
        stmt = stmt.where(AuditEvent.resident_id == resident_id)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return session.scalars(stmt).all()


def users_by_role(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    return dict(session.execute(select(AppUser.role, func.count()).group_by(AppUser.role)).all())
