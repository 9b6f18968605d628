"""The audit trail: every read or write of a resident's record, every reveal, every login.

Entries are written in the caller's unit of work; an entry for a refused access survives the
rollback of the failed request (``db.on_rollback``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from healthbrain.auth.scope import Principal
from healthbrain.core import context
from healthbrain.core.time import utcnow
from healthbrain.db import on_rollback


def _event(
    principal: Principal | None,
    action: str,
    *,
    outcome: str,
    resident_id: int | None,
    object_type: str | None,
    object_id: str | int | None,
    detail: dict[str, Any] | None,
    username: str | None,
) -> dict[str, Any]:
    return dict(
        at=utcnow(),
        user_id=principal.user_id if principal and principal.user_id else None,
        username=(principal.username if principal else username or "")[:64] or None,  # typed at login: any length
        role=str(principal.role) if principal else None,
        action=action,
        resident_id=resident_id,
        object_type=object_type,
        object_id=str(object_id)[:64] if object_id is not None else None,
        outcome=outcome,
        ip=context.client_ip.get(),
        request_id=context.request_id.get(),
        detail=detail,
    )


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    resident_id: int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
    username: str | None = None,
) -> None:
    """An access that succeeded; written with the unit of work."""
    fields = _event(
        principal,
        action,
        outcome="ok",
        resident_id=resident_id,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        username=username,
    )
    session.add(AuditEvent(**fields))


def record_refused(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    outcome: str = "denied",
    resident_id: int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
    username: str | None = None,
) -> None:
    """An access that was refused or failed; kept even though the unit of work rolls back."""
    fields = _event(
        principal,
        action,
        outcome=outcome,
        resident_id=resident_id,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        username=username,
    )
    session.add(AuditEvent(**fields))
    on_rollback(session, lambda s: s.add(AuditEvent(**fields)))
