"""Every query of the early-warning system."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from healthbrain.auth.models import AppUser
from healthbrain.core.bulk import bulk_insert
from healthbrain.geo.models import Division, Institution, SchoolClass
from healthbrain.records.models import IngestBatch, IngestRejection
from healthbrain.surveillance.models import (
    Alert,
    AlertEvent,
    AlertEvidence,
    CaseReport,
    DailyCount,
    DetectorConfig,
    FeverClinicCount,
    LabResult,
    Notification,
    NotificationChannel,
    OutbreakTruth,
    PharmacySale,
    SchoolAbsence,
    SchoolHoliday,
    WeeklyCount,
)
from healthbrain.surveillance.series import Cells, PlaceIndex

CLOSED_STATUSES = ("dismissed", "closed")
_CHUNK = 500


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


# --- directory lookups ---------------------------------------------------------------------


def institutions_by_code(session: Session, codes: Iterable[str]) -> dict[str, tuple[int, str]]:
    """code → (id, kind) for the codes that exist."""
    wanted = sorted(set(codes))
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(wanted):
        for code, id_, kind in session.execute(
            select(Institution.code, Institution.id, Institution.kind).where(Institution.code.in_(chunk))
        ):
            found[code] = (id_, kind)
    return found


def institution_codes(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str, str]]:
    """id → (code, name, kind)."""
    wanted = sorted(set(ids))
    found: dict[int, tuple[str, str, str]] = {}
    for chunk in _chunks(wanted):
        for id_, code, name, kind in session.execute(
            select(Institution.id, Institution.code, Institution.name, Institution.kind).where(
                Institution.id.in_(chunk)
            )
        ):
            found[id_] = (code, name, kind)
    return found


def classes_of_schools(session: Session, school_ids: Iterable[int]) -> dict[tuple[int, str], int]:
    """(school id, class name) → class id."""
    wanted = sorted(set(school_ids))
    found: dict[tuple[int, str], int] = {}
    for chunk in _chunks(wanted):
        for id_, school_id, name in session.execute(
            select(SchoolClass.id, SchoolClass.school_id, SchoolClass.name).where(SchoolClass.school_id.in_(chunk))
        ):
            found[(school_id, name)] = id_
    return found


def add_class(session: Session, *, school_id: int, grade: int, name: str, enrolled: int) -> int:
    row = SchoolClass(school_id=school_id, grade=grade, name=name, enrolled=enrolled)
    session.add(row)
    session.flush()
    return row.id


def class_names(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """class id → (name, enrolled)."""
    wanted = sorted(set(ids))
    found: dict[int, tuple[str, int]] = {}
    for chunk in _chunks(wanted):
        for id_, name, enrolled in session.execute(
            select(SchoolClass.id, SchoolClass.name, SchoolClass.enrolled).where(SchoolClass.id.in_(chunk))
        ):
            found[id_] = (name, enrolled)
    return found


def divisions_by_code(session: Session, codes: Iterable[str]) -> dict[str, tuple[int, str]]:
    """code → (id, level)."""
    wanted = sorted(set(codes))
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(wanted):
        for code, id_, level in session.execute(
            select(Division.code, Division.id, Division.level).where(Division.code.in_(chunk))
        ):
            found[code] = (id_, level)
    return found


def place_index(session: Session) -> PlaceIndex:
    divisions = session.execute(select(Division.id, Division.parent_id, Division.level)).all()
    district = next((id_ for id_, _p, level in divisions if level == "district"), -1)
    town_of: dict[int, int] = {}
    for id_, parent, level in divisions:
        if level == "town":
            town_of[id_] = id_
        elif level == "community" and parent is not None:
            town_of[id_] = parent
    institutions = dict(session.execute(select(Institution.id, Institution.division_id)).all())
    return PlaceIndex(district_id=district, town_of_division=town_of, division_of_institution=institutions)


def division_names(session: Session, ids: Iterable[int]) -> dict[int, Division]:
    wanted = sorted(set(ids))
    found: dict[int, Division] = {}
    for chunk in _chunks(wanted):
        for row in session.scalars(select(Division).where(Division.id.in_(chunk))):
            found[row.id] = row
    return found


def towns(session: Session) -> Sequence[Division]:
    return session.scalars(select(Division).where(Division.level == "town").order_by(Division.code)).all()


def communities(session: Session) -> Sequence[tuple[int, float | None, float | None]]:
    return session.execute(
        select(Division.id, Division.centroid_lon, Division.centroid_lat)
        .where(Division.level == "community")
        .order_by(Division.id)
    ).all()


# --- feed rows -----------------------------------------------------------------------------

FEED_MODELS: dict[str, Any] = {
    "school_absence": SchoolAbsence,
    "fever_clinic": FeverClinicCount,
    "pharmacy": PharmacySale,
    "lab": LabResult,
    "case": CaseReport,
}


def rows_by_natural_key(session: Session, model: Any, keys: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(sorted(set(keys))):
        for row in session.scalars(select(model).where(model.natural_key.in_(chunk))):
            found[row.natural_key] = row
    return found


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), rows)


def feed_columns(session: Session, model: Any, columns: Sequence[str], *, chunk: int = 200_000) -> Iterable[list[Any]]:
    """All rows of a feed as column tuples, in chunks (the rebuild)."""
    statement = select(*[getattr(model, c) for c in columns]).order_by(model.id)
    result = session.execute(statement.execution_options(yield_per=chunk))
    for part in result.partitions(chunk):
        yield list(part)


def batch_by_key(session: Session, batch_key: str) -> IngestBatch | None:
    return session.scalar(select(IngestBatch).where(IngestBatch.batch_key == batch_key))


def rejections_of(session: Session, batch_id: int) -> Sequence[IngestRejection]:
    return session.scalars(
        select(IngestRejection).where(IngestRejection.batch_id == batch_id).order_by(IngestRejection.row_number)
    ).all()


def recent_batches(session: Session, *, user_id: int | None, limit: int = 20) -> Sequence[IngestBatch]:
    statement = select(IngestBatch).where(IngestBatch.channel.like("surveillance.%"))
    if user_id is not None:
        statement = statement.where(IngestBatch.user_id == user_id)
    return session.scalars(statement.order_by(IngestBatch.id.desc()).limit(limit)).all()


def batch(session: Session, batch_id: int) -> IngestBatch | None:
    return session.get(IngestBatch, batch_id)


# --- counts --------------------------------------------------------------------------------


def upsert_counts(session: Session, cells: Cells, *, weekly: bool) -> None:
    """Add each cell's value (and denominator) to the stored count, creating it when new."""
    if not len(cells):
        return
    model: Any = WeeklyCount if weekly else DailyCount
    period = "week" if weekly else "day"
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = make(model)
    statement = statement.on_conflict_do_update(
        index_elements=["signal", "place_kind", "place_id", period],
        set_={
            "value": model.value + statement.excluded.value,
            "denominator": func.coalesce(model.denominator, 0) + statement.excluded.denominator,
        },
    )
    rows = [
        {"signal": s, "place_kind": k, "place_id": p, period: d, "value": v, "denominator": den}
        for s, k, p, d, v, den in cells.rows()
    ]
    for chunk in _chunks(rows, 5_000):
        session.execute(statement, list(chunk))


def insert_counts(session: Session, columns: Sequence[Sequence[Any]], *, weekly: bool) -> int:
    """Write cells, given as the columns (signal, place kind, place id, ISO date, value,
    denominator), into a count table that has none of them yet, set-based (the rebuild)."""
    model: Any = WeeklyCount if weekly else DailyCount
    names = ("signal", "place_kind", "place_id", "week" if weekly else "day", "value", "denominator")
    return bulk_insert(session, model.__table__, names, zip(*columns, strict=True))


def clear_counts(session: Session) -> None:
    session.execute(delete(DailyCount))
    session.execute(delete(WeeklyCount))


def counts(
    session: Session,
    *,
    signal: str,
    place_kind: str,
    place_ids: Sequence[int] | None,
    first: date,
    last: date,
    weekly: bool,
) -> list[tuple[int, date, int]]:
    """(place id, period, value) of a signal at places of a kind over a span (all places when
    ``place_ids`` is None)."""
    model: Any = WeeklyCount if weekly else DailyCount
    period = model.week if weekly else model.day
    statement = select(model.place_id, period, model.value).where(
        model.signal == signal, model.place_kind == place_kind, period >= first, period <= last
    )
    if place_ids is None:
        return [tuple(r) for r in session.execute(statement)]
    out: list[tuple[int, date, int]] = []
    for chunk in _chunks(sorted(set(place_ids))):
        out.extend(tuple(r) for r in session.execute(statement.where(model.place_id.in_(chunk))))
    return out


def places_with_counts(session: Session, *, signal: str, place_kind: str, first: date, last: date) -> list[int]:
    return list(
        session.scalars(
            select(DailyCount.place_id)
            .where(
                DailyCount.signal == signal,
                DailyCount.place_kind == place_kind,
                DailyCount.day >= first,
                DailyCount.day <= last,
                DailyCount.value > 0,
            )
            .distinct()
        )
    )


def holidays(session: Session) -> list[tuple[date, date]]:
    return [
        (a, b)
        for a, b in session.execute(
            select(SchoolHoliday.first_day, SchoolHoliday.last_day).order_by(SchoolHoliday.first_day)
        )
    ]


# --- detectors -----------------------------------------------------------------------------


def detectors(session: Session, *, enabled_only: bool = False) -> Sequence[DetectorConfig]:
    statement = select(DetectorConfig).order_by(DetectorConfig.signal, DetectorConfig.place_kind, DetectorConfig.code)
    if enabled_only:
        statement = statement.where(DetectorConfig.enabled.is_(True))
    return session.scalars(statement).all()


def detector(session: Session, detector_id: int) -> DetectorConfig | None:
    return session.get(DetectorConfig, detector_id)


def detector_by_code(session: Session, code: str) -> DetectorConfig | None:
    return session.scalar(select(DetectorConfig).where(DetectorConfig.code == code))


def detectors_for(session: Session, *, signals: Iterable[str]) -> Sequence[DetectorConfig]:
    wanted = sorted(set(signals))
    if not wanted:
        return []
    return session.scalars(
        select(DetectorConfig).where(DetectorConfig.enabled.is_(True), DetectorConfig.signal.in_(wanted))
    ).all()


# --- alerts --------------------------------------------------------------------------------


def open_alerts_for(session: Session, keys: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], Alert]:
    wanted = sorted(set(keys))
    found: dict[tuple[str, str, int], Alert] = {}
    for chunk in _chunks(wanted, 200):
        conditions = [(Alert.signal == s) & (Alert.place_kind == k) & (Alert.place_id == p) for s, k, p in chunk]
        for alert in session.scalars(
            select(Alert).where(Alert.status.not_in(CLOSED_STATUSES), or_(*conditions)).with_for_update()
        ):
            found[(alert.signal, alert.place_kind, alert.place_id)] = alert
    return found


def worked_until(session: Session, keys: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], date]:
    """For each key, the last evidence day of its latest dismissed or closed alert: evidence up to
    that day has been dealt with and does not raise a new alert."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, str, int], date] = {}
    for chunk in _chunks(wanted, 200):
        conditions = [(Alert.signal == s) & (Alert.place_kind == k) & (Alert.place_id == p) for s, k, p in chunk]
        for s, k, p, last in session.execute(
            select(Alert.signal, Alert.place_kind, Alert.place_id, func.max(Alert.last_day))
            .where(Alert.status.in_(CLOSED_STATUSES), or_(*conditions))
            .group_by(Alert.signal, Alert.place_kind, Alert.place_id)
        ):
            found[(s, k, p)] = last
    return found


def evidence_of(session: Session, alert_ids: Sequence[int]) -> Sequence[AlertEvidence]:
    if not alert_ids:
        return []
    return session.scalars(
        select(AlertEvidence).where(AlertEvidence.alert_id.in_(alert_ids)).order_by(AlertEvidence.day, AlertEvidence.id)
    ).all()


def evidence_keys(session: Session, alert_ids: Sequence[int]) -> dict[tuple[int, int | None, date], AlertEvidence]:
    return {(e.alert_id, e.detector_id, e.day): e for e in evidence_of(session, alert_ids)}


def events_of(session: Session, alert_id: int) -> Sequence[AlertEvent]:
    return session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)).all()


def alert(session: Session, alert_id: int, *, for_update: bool = False) -> Alert | None:
    statement = select(Alert).where(Alert.id == alert_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


def alert_query(
    *,
    statuses: Sequence[str] | None,
    grades: Sequence[str] | None,
    signal_prefix: str | None,
    town_id: int | None,
    overdue_at: datetime | None,
    since: date | None,
) -> Select[Alert]:
    statement = select(Alert)
    if statuses:
        statement = statement.where(Alert.status.in_(statuses))
    if grades:
        statement = statement.where(Alert.grade.in_(grades))
    if signal_prefix:
        statement = statement.where(Alert.signal.startswith(signal_prefix, autoescape=True))
    if town_id is not None:
        statement = statement.where(Alert.town_id == town_id)
    if since is not None:
        statement = statement.where(Alert.last_day >= since)
    if overdue_at is not None:
        statement = statement.where(
            Alert.status.not_in(CLOSED_STATUSES),
            or_(
                (Alert.first_response_at.is_(None)) & (Alert.response_due_at < overdue_at),
                (Alert.reported_at.is_(None)) & (Alert.report_due_at.is_not(None)) & (Alert.report_due_at < overdue_at),
            ),
        )
    return statement


def alerts(session: Session, statement: Select[Alert], *, limit: int, offset: int) -> Sequence[Alert]:
    return session.scalars(
        statement.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
    ).all()


def count(session: Session, statement: Select[Alert]) -> int:
    return session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def open_by_grade(session: Session, *, statuses: Sequence[str]) -> dict[str, int]:
    """Alerts in these statuses, counted by grade (one query)."""
    rows = session.execute(select(Alert.grade, func.count()).where(Alert.status.in_(statuses)).group_by(Alert.grade))
    return {grade: n for grade, n in rows}


def all_alerts(
    session: Session, *, created_from: datetime | None = None, created_to: datetime | None = None
) -> Sequence[Alert]:
    statement = select(Alert)
    if created_from is not None:
        statement = statement.where(Alert.created_at >= created_from)
    if created_to is not None:
        statement = statement.where(Alert.created_at < created_to)
    return session.scalars(statement.order_by(Alert.id)).all()


# --- line lists ----------------------------------------------------------------------------


def absences(
    session: Session,
    *,
    school_id: int | None,
    class_id: int | None,
    school_ids: Sequence[int] | None,
    first: date,
    last: date,
) -> Sequence[SchoolAbsence]:
    statement = select(SchoolAbsence).where(
        SchoolAbsence.day >= first, SchoolAbsence.day <= last, SchoolAbsence.absent > 0
    )
    if class_id is not None:
        statement = statement.where(SchoolAbsence.class_id == class_id)
    if school_id is not None:
        statement = statement.where(SchoolAbsence.school_id == school_id)
    if school_ids is not None:
        statement = statement.where(SchoolAbsence.school_id.in_(school_ids))
    return session.scalars(statement.order_by(SchoolAbsence.day, SchoolAbsence.class_id).limit(5000)).all()


def cases(
    session: Session,
    *,
    disease: str,
    first: date,
    last: date,
    community_ids: Sequence[int] | None = None,
    school_id: int | None = None,
    class_id: int | None = None,
) -> Sequence[CaseReport]:
    statement = select(CaseReport).where(
        CaseReport.disease == disease,
        CaseReport.onset_date >= first,
        CaseReport.onset_date <= last,
        CaseReport.deleted.is_(False),
    )
    if community_ids is not None:
        statement = statement.where(CaseReport.community_id.in_(community_ids))
    if school_id is not None:
        statement = statement.where(CaseReport.school_id == school_id)
    if class_id is not None:
        statement = statement.where(CaseReport.class_id == class_id)
    return session.scalars(statement.order_by(CaseReport.onset_date, CaseReport.id).limit(5000)).all()


def facility_rows(
    session: Session,
    model: Any,
    *,
    key_column: str,
    key: str,
    institution_ids: Sequence[int] | None,
    first: date,
    last: date,
) -> Sequence[Any]:
    statement = select(model).where(getattr(model, key_column) == key, model.day >= first, model.day <= last)
    if institution_ids is not None:
        statement = statement.where(model.institution_id.in_(institution_ids))
    return session.scalars(statement.order_by(model.day, model.institution_id).limit(5000)).all()


def institutions_in(session: Session, *, division_ids: Sequence[int], kinds: Sequence[str] | None = None) -> list[int]:
    statement = select(Institution.id).where(Institution.division_id.in_(division_ids))
    if kinds:
        statement = statement.where(Institution.kind.in_(kinds))
    return list(session.scalars(statement))


def communities_of_town(session: Session, town_id: int) -> list[int]:
    return list(session.scalars(select(Division.id).where(Division.parent_id == town_id)))


# --- notifications -------------------------------------------------------------------------


def channels(session: Session, *, enabled_only: bool = False) -> Sequence[NotificationChannel]:
    statement = select(NotificationChannel).order_by(NotificationChannel.id)
    if enabled_only:
        statement = statement.where(NotificationChannel.enabled.is_(True))
    return session.scalars(statement).all()


def channel(session: Session, channel_id: int) -> NotificationChannel | None:
    return session.get(NotificationChannel, channel_id)


def channel_by_name(session: Session, name: str) -> NotificationChannel | None:
    return session.scalar(select(NotificationChannel).where(NotificationChannel.name == name))


def due_notifications(session: Session, *, now: datetime, limit: int = 50) -> Sequence[Notification]:
    return session.scalars(
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.id)
        .limit(limit)
    ).all()


def notifications_of(session: Session, alert_id: int) -> Sequence[Notification]:
    return session.scalars(
        select(Notification).where(Notification.alert_id == alert_id).order_by(Notification.id)
    ).all()


def mark_notification(session: Session, notification_id: int, **values: Any) -> None:
    session.execute(update(Notification).where(Notification.id == notification_id).values(**values))


def class_school(session: Session, class_ids: Iterable[int] | None) -> dict[int, int]:
    """class id → school id (of every class when ``class_ids`` is None)."""
    if class_ids is None:
        return dict(session.execute(select(SchoolClass.id, SchoolClass.school_id)).all())
    wanted = sorted(set(class_ids))
    found: dict[int, int] = {}
    for chunk in _chunks(wanted):
        found.update(
            session.execute(select(SchoolClass.id, SchoolClass.school_id).where(SchoolClass.id.in_(chunk))).all()
        )
    return found


def display_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    return dict(session.execute(select(AppUser.id, AppUser.display_name).where(AppUser.id.in_(wanted))).all())


def truths(session: Session) -> Sequence[OutbreakTruth]:
    return session.scalars(select(OutbreakTruth).order_by(OutbreakTruth.first_day, OutbreakTruth.id)).all()
