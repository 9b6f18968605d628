"""The response workflow of an alert (WHO EWARS; China's CIDARS practice):

new → verifying → dismissed | monitoring | risk assessment → responding → closed

Each step records who, when and what; the first step taken is the first response (its deadline,
6 h by default, is the alert's ``response_due_at``); reporting a school cluster or an emergency-level
event to the national system has its own deadline (``report_due_at``, 24 h / 2 h).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.core.time import utcnow
from healthbrain.surveillance import repository
from healthbrain.surveillance.models import Alert, AlertEvent
from healthbrain.surveillance.models import AlertStatus as S
from healthbrain.surveillance.schemas import AlertAction

OPEN: Final = frozenset({S.NEW, S.VERIFYING, S.MONITORING, S.RISK_ASSESSMENT, S.RESPONDING})


@dataclass(frozen=True)
class Step:
    sources: frozenset[str]
    target: str | None  # None: the status does not change
    needs_note: bool = False
    needs_outcome: bool = False
    is_response: bool = True  # counts as the first response


STEPS: Final[dict[str, Step]] = {
    "verify": Step(frozenset({S.NEW}), S.VERIFYING),
    "dismiss": Step(frozenset({S.NEW, S.VERIFYING, S.MONITORING}), S.DISMISSED, needs_note=True),
    "monitor": Step(frozenset({S.VERIFYING, S.RISK_ASSESSMENT}), S.MONITORING),
    "assess": Step(frozenset({S.VERIFYING, S.MONITORING}), S.RISK_ASSESSMENT),
    "respond": Step(frozenset({S.RISK_ASSESSMENT, S.MONITORING}), S.RESPONDING),
    "close": Step(frozenset({S.MONITORING, S.RISK_ASSESSMENT, S.RESPONDING}), S.CLOSED, needs_outcome=True),
    "report": Step(OPEN, None),
    "note": Step(OPEN | {S.DISMISSED, S.CLOSED}, None, needs_note=True, is_response=False),
}


def allowed_actions(alert: Alert) -> list[str]:
    """The actions the alert's status allows (the page shows these buttons)."""
    actions = [name for name, step in STEPS.items() if alert.status in step.sources]
    if alert.reported_at is not None:
        actions = [a for a in actions if a != "report"]
    return actions


def overdue(alert: Alert, now: datetime) -> list[str]:
    """Deadlines passed and not met: 'response' and/or 'report'."""
    if alert.status not in OPEN:
        return []
    late = []
    if alert.first_response_at is None and alert.response_due_at < now:
        late.append("response")
    if alert.reported_at is None and alert.report_due_at is not None and alert.report_due_at < now:
        late.append("report")
    return late


def act(
    session: Session, *, principal: Principal, alert_id: int, data: AlertAction, now: datetime | None = None
) -> Alert:
    """Take one workflow step on an alert."""
    principal.require(Permission.SURVEILLANCE_RESPOND)
    now = now or utcnow()
    alert = repository.alert(session, alert_id, for_update=True)
    if alert is None:
        raise NotFound("error.surveillance.alert_not_found", id=alert_id)
    if data.version is not None and data.version != alert.version:
        raise Conflict("error.surveillance.stale_alert", current=alert.version)
    step = STEPS[data.action]
    if alert.status not in step.sources or (data.action == "report" and alert.reported_at is not None):
        raise Conflict("error.surveillance.bad_step", field="action", action=data.action, status=alert.status)
    note = (data.note or "").strip() or None
    if step.needs_note and note is None:
        raise InvalidInput("error.surveillance.note_required", field="note")
    if step.needs_outcome and data.outcome is None:
        raise InvalidInput("error.surveillance.outcome_required", field="outcome")
    before = alert.status
    if step.target is not None:
        alert.status = step.target
    if step.is_response and alert.first_response_at is None:
        alert.first_response_at = now
    if data.action == "report":
        alert.reported_at = now
    if step.target in (S.CLOSED, S.DISMISSED):
        alert.closed_at = now
        alert.outcome = data.outcome if step.target == S.CLOSED else "dismissed"
    alert.updated_at = now
    alert.version += 1
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=now,
            user_id=principal.user_id or None,
            action=data.action,
            from_status=before,
            to_status=alert.status,
            note=note,
            detail={"outcome": data.outcome} if data.outcome else None,
        )
    )
    session.flush()
    audit.record(
        session,
        principal,
        f"surveillance.alert.{data.action}",
        object_type="surv_alert",
        object_id=alert.id,
        detail={"from": before, "to": alert.status},
    )
    return alert
