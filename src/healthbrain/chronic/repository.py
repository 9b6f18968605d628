"""Every query of the chronic-disease domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from healthbrain.chronic.definitions import EnrolmentStatus
from healthbrain.chronic.models import (
    ChronicAlert,
    ChronicEnrolment,
    ChronicFollowUp,
    ChronicTask,
    HealthPrescription,
    HealthReport,
    HomeDevice,
    HomeReading,
    WorklistSnooze,
)
from healthbrain.core.bulk import bulk_insert, db_datetime
from healthbrain.geo.models import CareTeam, CareTeamCommunity
from healthbrain.records.repository import batch_by_key, rejections_of

__all__ = ["batch_by_key", "rejections_of"]

_CHUNK = 900  # bound parameters per IN (SQLite's limit is 32766; stay well below)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# --- devices and readings ------------------------------------------------------------------------
def bound_devices(session: Session, serials: set[str]) -> dict[str, tuple[int, int, str]]:
    """Bound devices by serial: (device id, resident id, kind) — plain rows, for the bulk path."""
    out: dict[str, tuple[int, int, str]] = {}
    for chunk in _chunks(sorted(serials)):
        rows = session.execute(
            select(HomeDevice.device_id, HomeDevice.id, HomeDevice.resident_id, HomeDevice.kind).where(
                HomeDevice.device_id.in_(chunk), HomeDevice.resident_id.is_not(None), HomeDevice.unbound_at.is_(None)
            )
        )
        for serial, pk, resident_id, kind in rows:
            out[serial] = (pk, resident_id or 0, kind)  # not None: the query asks for bound devices
    return out


def device_by_serial(session: Session, serial: str) -> HomeDevice | None:
    return session.scalar(select(HomeDevice).where(HomeDevice.device_id == serial))


def devices_of(session: Session, resident_id: int) -> Sequence[HomeDevice]:
    return session.scalars(
        select(HomeDevice).where(HomeDevice.resident_id == resident_id).order_by(HomeDevice.bound_at)
    ).all()


READING_COLUMNS = (
    "reading_key",
    "device_pk",
    "resident_id",
    "kind",
    "measured_at",
    "sbp",
    "dbp",
    "heart_rate",
    "glucose",
    "critical",
    "batch_id",
)


def insert_readings(session: Session, rows: Sequence[Sequence[Any]]) -> int:
    if not rows:
        return 0
    return bulk_insert(session, HomeReading.__table__, READING_COLUMNS, rows, skip_conflicts=True)  # type: ignore[arg-type]


def insert_reading_returning(session: Session, row: Sequence[Any]) -> int | None:
    """Insert one reading (READING_COLUMNS order); its id, or None when it was already stored."""
    dialect = session.get_bind().dialect.name
    values = dict(zip(READING_COLUMNS, row, strict=True))
    values["measured_at"] = datetime.fromisoformat(str(values["measured_at"])).replace(tzinfo=UTC)
    statement: Any
    if dialect == "postgresql":
        statement = pg_insert(HomeReading).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite_insert(HomeReading).values(**values).on_conflict_do_nothing()
    reading_id: int | None = session.scalar(statement.returning(HomeReading.id))
    return reading_id


def managing_teams(session: Session, residents: set[int]) -> dict[int, int | None]:
    """Each resident's managing team now: an enrolled path's team, else the device's team."""
    if not residents:
        return {}
    out: dict[int, int | None] = {}
    for resident_id, team_id in session.execute(
        select(HomeDevice.resident_id, HomeDevice.team_id).where(
            HomeDevice.resident_id.in_(sorted(residents)), HomeDevice.unbound_at.is_(None)
        )
    ):
        if resident_id is not None:
            out[resident_id] = team_id
    for resident_id, team_id in session.execute(
        select(ChronicEnrolment.resident_id, ChronicEnrolment.team_id).where(
            ChronicEnrolment.resident_id.in_(sorted(residents)),
            ChronicEnrolment.status == EnrolmentStatus.ENROLLED,
            ChronicEnrolment.team_id.is_not(None),
        )
    ):
        out[resident_id] = team_id
    return out


def touch_devices(session: Session, device_ids: set[int], latest: dict[int, str], now: datetime) -> None:
    """Record an upload from each device (and its newest measurement): one prepared statement run
    for every device on the driver's cursor (the ORM's per-row parameter processing cost as much
    as the readings' insert). Times in the storage text form (``core.bulk.db_datetime``)."""
    if not device_ids:
        return
    connection = session.connection()
    seen = db_datetime(now)
    ids = sorted(device_ids)
    # A device that sent only rejected readings has no newest measurement: with NULL the CASE keeps
    # what was there.
    texts = [iso[:10] + " " + iso[11:26] if (iso := latest.get(pk)) is not None else None for pk in ids]
    raw = connection.connection.driver_connection
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        if connection.dialect.name == "postgresql":
            # One statement for every device (a per-device executemany is a round trip each).
            cursor.execute(
                "UPDATE home_device AS d SET last_seen_at = %s::timestamptz, last_reading_at = CASE "
                "WHEN d.last_reading_at IS NULL OR d.last_reading_at < v.at THEN v.at ELSE d.last_reading_at END "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) WHERE d.id = v.id",
                (seen, ids, texts),
            )
        else:
            cursor.executemany(
                "UPDATE home_device SET last_seen_at = ?, last_reading_at = CASE WHEN last_reading_at IS NULL "
                "OR last_reading_at < ? THEN ? ELSE last_reading_at END WHERE id = ?",
                [(seen, text, text, pk) for pk, text in zip(ids, texts, strict=True)],
            )
    finally:
        cursor.close()


def readings_of(
    session: Session, resident_id: int, *, since: datetime, until: datetime | None = None
) -> Sequence[HomeReading]:
    statement = select(HomeReading).where(HomeReading.resident_id == resident_id, HomeReading.measured_at >= since)
    if until is not None:
        statement = statement.where(HomeReading.measured_at < until)
    return session.scalars(statement.order_by(HomeReading.measured_at)).all()


def reading(session: Session, reading_id: int) -> HomeReading | None:
    return session.get(HomeReading, reading_id)


# --- alerts ----------------------------------------------------------------------------------------
def open_alert(session: Session, resident_id: int, *, lock: bool = False) -> ChronicAlert | None:
    statement = select(ChronicAlert).where(ChronicAlert.resident_id == resident_id, ChronicAlert.status == "open")
    if lock:
        statement = statement.with_for_update()
    return session.scalar(statement)


def open_alert_created(
    session: Session, *, resident_id: int, team_id: int | None, reading_id: int, reasons: list[str], now: datetime
) -> ChronicAlert:
    """A new open alert; if a concurrent batch opened one first (the partial unique index), that one."""
    alert = ChronicAlert(
        resident_id=resident_id,
        team_id=team_id,
        status="open",
        opened_at=now,
        first_reading_id=reading_id,
        last_reading_id=reading_id,
        readings=1,
        reasons=sorted(reasons),
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        other = open_alert(session, resident_id, lock=True)
        if other is None:
            raise
        other.last_reading_id = reading_id
        other.readings += 1
        return other
    return alert


def alert(session: Session, alert_id: int) -> ChronicAlert | None:
    return session.get(ChronicAlert, alert_id)


def alerts_of(session: Session, resident_id: int, *, limit: int = 20) -> Sequence[ChronicAlert]:
    return session.scalars(
        select(ChronicAlert)
        .where(ChronicAlert.resident_id == resident_id)
        .order_by(ChronicAlert.opened_at.desc())
        .limit(limit)
    ).all()


# --- enrolments ----------------------------------------------------------------------------------------
def enrolment(session: Session, enrolment_id: int) -> ChronicEnrolment | None:
    return session.get(ChronicEnrolment, enrolment_id)


def enrolments_of(session: Session, resident_id: int) -> Sequence[ChronicEnrolment]:
    return session.scalars(
        select(ChronicEnrolment).where(ChronicEnrolment.resident_id == resident_id).order_by(ChronicEnrolment.disease)
    ).all()


def enrolment_for(session: Session, resident_id: int, disease: str) -> ChronicEnrolment | None:
    return session.scalar(
        select(ChronicEnrolment).where(ChronicEnrolment.resident_id == resident_id, ChronicEnrolment.disease == disease)
    )


def team_serving(session: Session, division_id: int) -> int | None:
    """The family-doctor team that serves a community (the lowest id when several do)."""
    return session.scalar(
        select(func.min(CareTeamCommunity.team_id)).where(CareTeamCommunity.division_id == division_id)
    )


def teams_of_institution(session: Session, institution_id: int) -> list[int]:
    return list(session.scalars(select(CareTeam.id).where(CareTeam.home_institution_id == institution_id)))


def team_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    return dict(session.execute(select(CareTeam.id, CareTeam.name).where(CareTeam.id.in_(ids))).all())


# --- follow-ups and tasks ----------------------------------------------------------------------------
def followups_of(session: Session, resident_id: int, *, limit: int = 50) -> Sequence[ChronicFollowUp]:
    return session.scalars(
        select(ChronicFollowUp)
        .where(ChronicFollowUp.resident_id == resident_id)
        .order_by(ChronicFollowUp.visit_date.desc(), ChronicFollowUp.id.desc())
        .limit(limit)
    ).all()


def last_followup(session: Session, enrolment_id: int, before: date | None = None) -> ChronicFollowUp | None:
    statement = select(ChronicFollowUp).where(ChronicFollowUp.enrolment_id == enrolment_id)
    if before is not None:
        statement = statement.where(ChronicFollowUp.visit_date <= before)
    return session.scalar(statement.order_by(ChronicFollowUp.visit_date.desc(), ChronicFollowUp.id.desc()).limit(1))


def followup_by_source_key(session: Session, source_key: str) -> ChronicFollowUp | None:
    return session.scalar(select(ChronicFollowUp).where(ChronicFollowUp.source_key == source_key))


def open_tasks(session: Session, enrolment_id: int) -> Sequence[ChronicTask]:
    return session.scalars(
        select(ChronicTask).where(ChronicTask.enrolment_id == enrolment_id, ChronicTask.status == "open")
    ).all()


def tasks_of(session: Session, resident_id: int) -> Sequence[ChronicTask]:
    return session.scalars(
        select(ChronicTask).where(ChronicTask.resident_id == resident_id).order_by(ChronicTask.due_date.desc())
    ).all()


# --- snoozes -------------------------------------------------------------------------------------------
def snoozed_clause(resident_column: Any, item: str, today: Any) -> Any:
    return exists().where(
        WorklistSnooze.resident_id == resident_column,
        WorklistSnooze.item == item,
        WorklistSnooze.until > today,
    )


# --- prescriptions and reports ---------------------------------------------------------------------------
def prescriptions_of(session: Session, resident_id: int, *, limit: int = 10) -> Sequence[HealthPrescription]:
    return session.scalars(
        select(HealthPrescription)
        .where(HealthPrescription.resident_id == resident_id)
        .order_by(HealthPrescription.created_at.desc(), HealthPrescription.id.desc())
        .limit(limit)
    ).all()


def reports_of(session: Session, resident_id: int, *, limit: int = 24) -> Sequence[HealthReport]:
    return session.scalars(
        select(HealthReport)
        .where(HealthReport.resident_id == resident_id)
        .order_by(HealthReport.month.desc())
        .limit(limit)
    ).all()


def report_for(session: Session, resident_id: int, month: date) -> HealthReport | None:
    return session.scalar(
        select(HealthReport).where(HealthReport.resident_id == resident_id, HealthReport.month == month)
    )


def enrolled_residents_of_teams(session: Session, team_ids: Sequence[int]) -> list[int]:
    return list(
        session.scalars(
            select(ChronicEnrolment.resident_id)
            .where(ChronicEnrolment.team_id.in_(team_ids), ChronicEnrolment.status == EnrolmentStatus.ENROLLED)
            .distinct()
            .order_by(ChronicEnrolment.resident_id)
        )
    )


def silent_before(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
