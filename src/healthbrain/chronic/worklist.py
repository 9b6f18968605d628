"""The family doctor's worklist: critical readings first, then follow-ups due and overdue, referrals
awaiting their follow-up, complication screenings due, silent devices and proposals to confirm.

Each section is an indexed range over the doctor's teams (the enrolment carries its schedule), so
the worklist answers in a few milliseconds on a district of 1.65 M residents. "Agreed to visit"
hides an item for 7 days and "remind later" for 30 (Simple's overdue list)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Role
from healthbrain.auth.scope import Principal
from healthbrain.chronic import repository
from healthbrain.chronic.definitions import (
    DEVICE_SILENT_DAYS,
    DUE_SOON_DAYS,
    SNOOZE_AGREED_TO_VISIT_DAYS,
    SNOOZE_REMIND_LATER_DAYS,
    Disease,
    EnrolmentStatus,
)
from healthbrain.chronic.models import (
    ChronicAlert,
    ChronicEnrolment,
    ChronicTask,
    HomeDevice,
    HomeReading,
    WorklistSnooze,
)
from healthbrain.chronic.schemas import AlertHandleIn, SnoozeIn, Worklist, WorklistItem, WorklistSection
from healthbrain.core.errors import Forbidden, InvalidInput, NotFound
from healthbrain.core.time import age_on, local_today, utcnow
from healthbrain.people import service as people
from healthbrain.people.models import Resident

SECTIONS = ("critical", "followup", "referral", "screening", "device", "proposal")
RISK_TIERS = ("low", "medium", "high", "very_high")


def teams_of(session: Session, principal: Principal, team_id: int | None = None) -> list[int]:
    """The teams whose patients the caller works: a doctor's own, a centre manager's centre's."""
    if principal.role == Role.CENTRE_MANAGER and principal.institution_id is not None:
        teams = repository.teams_of_institution(session, principal.institution_id)
    else:
        teams = list(principal.team_ids)
    if team_id is not None:
        if team_id not in teams:
            raise Forbidden("error.chronic.not_your_team", field="team_id")
        return [team_id]
    return teams


def _risk_clause(risk: str) -> Any:
    # An alias: the outer query may itself read chronic_enrolment, which must not be correlated.
    htn = aliased(ChronicEnrolment)
    return (
        select(htn.id)
        .where(htn.resident_id == Resident.id, htn.disease == Disease.HYPERTENSION.value, htn.risk_tier == risk)
        .correlate(Resident)
        .exists()
    )


def _section(session: Session, statement: Select[Any], *, risk: str | None, limit: int) -> tuple[int, list[Any]]:
    if risk is not None:
        statement = statement.where(_risk_clause(risk))
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = list(session.execute(statement.limit(limit)).all()) if total else []
    return total, rows


def worklist(
    session: Session,
    *,
    principal: Principal,
    team_id: int | None = None,
    risk: str | None = None,
    limit: int = 50,
    today: date | None = None,
) -> Worklist:
    principal.require(Permission.CHRONIC_READ)
    if risk is not None and risk not in RISK_TIERS:
        raise InvalidInput("error.chronic.bad_risk", field="risk", allowed=", ".join(RISK_TIERS))
    teams = teams_of(session, principal, team_id)
    today = today or local_today()
    now = utcnow()
    person = (Resident.id, Resident.name, Resident.sex, Resident.birth_date)
    enrolled = (ChronicEnrolment.team_id.in_(teams), ChronicEnrolment.status == EnrolmentStatus.ENROLLED.value)

    critical = (
        select(
            *person,
            ChronicAlert.id,
            ChronicAlert.opened_at,
            ChronicAlert.readings,
            ChronicAlert.reasons,
            HomeReading.kind,
            HomeReading.sbp,
            HomeReading.dbp,
            HomeReading.glucose,
            HomeReading.measured_at,
        )
        .join(Resident, Resident.id == ChronicAlert.resident_id)
        .join(HomeReading, HomeReading.id == ChronicAlert.last_reading_id)
        .where(ChronicAlert.team_id.in_(teams), ChronicAlert.status == "open")
        .order_by(ChronicAlert.opened_at.desc())
    )
    followup = (
        select(
            *person,
            ChronicEnrolment.id,
            ChronicEnrolment.next_followup_date,
            ChronicEnrolment.disease,
            ChronicEnrolment.last_followup_date,
            ChronicEnrolment.last_visit_class,
        )
        .join(Resident, Resident.id == ChronicEnrolment.resident_id)
        .where(*enrolled, ChronicEnrolment.next_followup_date <= today + timedelta(days=DUE_SOON_DAYS))
        .where(~repository.snoozed_clause(Resident.id, "followup", today))
        .order_by(ChronicEnrolment.next_followup_date, ChronicEnrolment.id)
    )
    referral = (
        select(*person, ChronicTask.id, ChronicTask.due_date, ChronicTask.urgent, ChronicTask.followup_id)
        .join(Resident, Resident.id == ChronicTask.resident_id)
        .where(ChronicTask.team_id.in_(teams), ChronicTask.status == "open")
        .where(~repository.snoozed_clause(Resident.id, "referral", today))
        .order_by(ChronicTask.due_date, ChronicTask.id)
    )
    screening = (
        select(*person, ChronicEnrolment.id, ChronicEnrolment.next_screening_date, ChronicEnrolment.disease)
        .join(Resident, Resident.id == ChronicEnrolment.resident_id)
        .where(*enrolled, ChronicEnrolment.next_screening_date <= today)
        .where(~repository.snoozed_clause(Resident.id, "screening", today))
        .order_by(ChronicEnrolment.next_screening_date, ChronicEnrolment.id)
    )
    device = (
        select(
            *person, HomeDevice.id, HomeDevice.device_id, HomeDevice.kind, HomeDevice.last_seen_at, HomeDevice.bound_at
        )
        .join(Resident, Resident.id == HomeDevice.resident_id)
        .where(HomeDevice.team_id.in_(teams), repository.device_silence_clause(now, DEVICE_SILENT_DAYS))
        .where(~repository.snoozed_clause(Resident.id, "device", today))
        .order_by(func.coalesce(HomeDevice.last_seen_at, HomeDevice.bound_at), HomeDevice.id)
    )
    proposal = (
        select(
            *person,
            ChronicEnrolment.id,
            ChronicEnrolment.proposed_at,
            ChronicEnrolment.disease,
            ChronicEnrolment.proposed_reason,
        )
        .join(Resident, Resident.id == ChronicEnrolment.resident_id)
        .where(ChronicEnrolment.team_id.in_(teams), ChronicEnrolment.status == EnrolmentStatus.PROPOSED.value)
        .order_by(ChronicEnrolment.proposed_at, ChronicEnrolment.id)
    )
    raw: dict[str, tuple[int, list[Any]]] = {
        kind: _section(session, statement, risk=risk, limit=limit)
        for kind, statement in zip(SECTIONS, (critical, followup, referral, screening, device, proposal), strict=True)
    }
    residents = {row[0] for _total, rows in raw.values() for row in rows}
    diseases, tiers = _conditions_of(session, residents)

    def item(kind: str, row: Any, ref: int, due: date | None, detail: dict[str, Any]) -> WorklistItem:
        return WorklistItem(
            kind=kind,
            resident_id=row[0],
            name=row[1],
            sex=row[2],
            age=age_on(row[3], today),
            diseases=diseases.get(row[0], []),
            risk_tier=tiers.get(row[0]),
            due_date=due,
            days_overdue=(today - due).days if due is not None and due < today else None,
            detail=detail,
            ref_id=ref,
        )

    sections: list[WorklistSection] = []
    for kind in SECTIONS:
        total, rows = raw[kind]
        items: list[WorklistItem] = []
        for r in rows:
            if kind == "critical":
                items.append(
                    item(
                        kind,
                        r,
                        r[4],
                        None,
                        {
                            "opened_at": r[5],
                            "readings": r[6],
                            "reasons": r[7],
                            "reading_kind": r[8],
                            "sbp": r[9],
                            "dbp": r[10],
                            "glucose": r[11],
                            "measured_at": r[12],
                        },
                    )
                )
            elif kind == "followup":
                items.append(
                    item(
                        kind,
                        r,
                        r[4],
                        r[5],
                        {"disease": r[6], "last_followup_date": _iso(r[7]), "last_visit_class": r[8]},
                    )
                )
            elif kind == "referral":
                items.append(item(kind, r, r[4], r[5], {"urgent": r[6], "followup_id": r[7]}))
            elif kind == "screening":
                items.append(item(kind, r, r[4], r[5], {"disease": r[6]}))
            elif kind == "device":
                last = r[7]
                items.append(
                    item(
                        kind,
                        r,
                        r[4],
                        None,
                        {
                            "device_id": r[5],
                            "device_kind": r[6],
                            "last_seen_at": last,
                            "silent_days": (now - (last or r[8])).days,
                        },
                    )
                )
            else:
                items.append(item(kind, r, r[4], None, {"proposed_at": r[5], "disease": r[6], "reason": r[7]}))
        sections.append(WorklistSection(kind=kind, total=total, items=items))
    return Worklist(today=today, team_ids=teams, sections=sections)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _conditions_of(session: Session, residents: set[int]) -> tuple[dict[int, list[str]], dict[int, str]]:
    diseases: dict[int, list[str]] = defaultdict(list)
    tiers: dict[int, str] = {}
    if not residents:
        return diseases, tiers
    rows = session.execute(
        select(ChronicEnrolment.resident_id, ChronicEnrolment.disease, ChronicEnrolment.risk_tier).where(
            ChronicEnrolment.resident_id.in_(sorted(residents)),
            ChronicEnrolment.status.in_([EnrolmentStatus.ENROLLED.value, EnrolmentStatus.PROPOSED.value]),
        )
    )
    for resident_id, disease, tier in rows:
        diseases[resident_id].append(disease)
        if tier:
            tiers[resident_id] = tier
    for values in diseases.values():
        values.sort()
    return diseases, tiers


def snooze(session: Session, *, principal: Principal, resident_id: int, data: SnoozeIn) -> WorklistSnooze:
    """Hide a patient's worklist item: 'agreed to visit' 7 days, 'remind later' 30 days."""
    principal.require(Permission.CHRONIC_MANAGE)
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="chronic.snooze")
    days = SNOOZE_AGREED_TO_VISIT_DAYS if data.reason == "agreed_to_visit" else SNOOZE_REMIND_LATER_DAYS
    row = WorklistSnooze(
        resident_id=resident.id,
        item=data.item,
        reason=data.reason,
        until=local_today() + timedelta(days=days),
        created_by=principal.user_id or None,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def handle_alert(session: Session, *, principal: Principal, alert_id: int, data: AlertHandleIn) -> ChronicAlert:
    """The doctor has acted on a critical reading (phoned, visited, referred, or judged no action needed)."""
    principal.require(Permission.CHRONIC_MANAGE)
    alert = repository.alert(session, alert_id)
    if alert is None:
        raise NotFound("error.chronic.alert_not_found", id=alert_id)
    people.get_resident(session, principal=principal, resident_id=alert.resident_id, action="chronic.alert")
    if alert.status != "open":
        return alert
    alert.status = "handled"
    alert.action = data.action
    alert.note = data.note
    alert.handled_at = utcnow()
    alert.handled_by = principal.user_id or None
    session.flush()
    audit.record(session, principal, "chronic.alert.handle", resident_id=alert.resident_id, object_id=alert.id)
    return alert
