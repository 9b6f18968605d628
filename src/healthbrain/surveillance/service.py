"""Use cases of the early-warning console: list and read alerts (with their series, threshold and
line list), and keep the detector settings and notification channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import Conflict, InvalidInput, NotFound
from healthbrain.core.i18n import DEFAULT_LANGUAGE
from healthbrain.core.ingest import validation_messages
from healthbrain.core.masking import mask_id_number
from healthbrain.core.time import utcnow
from healthbrain.surveillance import engine, repository, tasks, workflow
from healthbrain.surveillance.definitions import DISEASES, GRADES, SIGNALS, SYMPTOMS, Feed, PlaceKind, absence_syndrome
from healthbrain.surveillance.detectors.base import InsufficientHistory
from healthbrain.surveillance.detectors.registry import METHODS, run_method
from healthbrain.surveillance.models import Alert, DetectorConfig, NotificationChannel
from healthbrain.surveillance.schemas import (
    AlertDetail,
    AlertEventOut,
    AlertOut,
    ChannelIn,
    DetectorConfigIn,
    EvidenceOut,
    LineListRow,
)


def place_names(session: Session, places: set[tuple[str, int]], language: str = "zh-CN") -> dict[tuple[str, int], str]:
    """A readable name for each (place kind, place id)."""
    out: dict[tuple[str, int], str] = {}
    class_ids = [p for k, p in places if k == PlaceKind.CLASS]
    school_of = repository.class_school(session, class_ids)
    classes = repository.class_names(session, class_ids)
    institution_ids = [p for k, p in places if k in (PlaceKind.SCHOOL, PlaceKind.INSTITUTION)] + list(
        school_of.values()
    )
    institutions = repository.institution_codes(session, institution_ids)
    divisions = repository.division_names(
        session, [p for k, p in places if k in (PlaceKind.COMMUNITY, PlaceKind.TOWN, PlaceKind.DISTRICT)]
    )
    for kind, place in places:
        if kind == PlaceKind.CLASS:
            school = institutions.get(school_of.get(place, -1))
            out[(kind, place)] = f"{school[1] if school else ''} {classes.get(place, ('?', 0))[0]}".strip()
        elif kind in (PlaceKind.SCHOOL, PlaceKind.INSTITUTION):
            out[(kind, place)] = institutions[place][1] if place in institutions else str(place)
        else:
            out[(kind, place)] = divisions[place].name if place in divisions else str(place)
    return out


def alert_out(alert: Alert, *, names: dict[tuple[str, int], str], language: str, now: datetime) -> AlertOut:
    out = AlertOut.model_validate(alert)
    signal = SIGNALS.get(alert.signal)
    out.signal_name = signal.name(language) if signal else alert.signal
    out.place_name = names.get((alert.place_kind, alert.place_id), "")
    out.overdue = workflow.overdue(alert, now)
    return out


@dataclass(frozen=True)
class AlertFilter:
    statuses: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    signal_prefix: str | None = None
    town_id: int | None = None
    overdue_only: bool = False
    since: date | None = None


def list_alerts(
    session: Session, *, principal: Principal, filters: AlertFilter, language: str, limit: int, offset: int
) -> tuple[list[AlertOut], int]:
    principal.require(Permission.SURVEILLANCE_READ)
    now = utcnow()
    statement = repository.alert_query(
        statuses=filters.statuses or None,
        grades=filters.grades or None,
        signal_prefix=filters.signal_prefix,
        town_id=filters.town_id,
        overdue_at=now if filters.overdue_only else None,
        since=filters.since,
    )
    rows = repository.alerts(session, statement, limit=limit, offset=offset)
    names = place_names(session, {(a.place_kind, a.place_id) for a in rows}, language)
    return [alert_out(a, names=names, language=language, now=now) for a in rows], repository.count(session, statement)


def get_alert(session: Session, *, principal: Principal, alert_id: int) -> Alert:
    principal.require(Permission.SURVEILLANCE_READ)
    alert = repository.alert(session, alert_id)
    if alert is None:
        raise NotFound("error.surveillance.alert_not_found", id=alert_id)
    return alert


def _window(alert: Alert) -> tuple[date, date]:
    """The days a line list covers: the week before the first evidence to a week after the last
    (weekly evidence is dated by its Monday)."""
    return alert.first_day - timedelta(days=6), alert.last_day + timedelta(days=6)


def _schools_of_place(session: Session, kind: str, place: int) -> tuple[int | None, int | None, list[int] | None]:
    """(school id, class id, or the school/institution ids of an area) behind a place."""
    if kind == PlaceKind.CLASS:
        return repository.class_school(session, [place]).get(place), place, None
    if kind in (PlaceKind.SCHOOL, PlaceKind.INSTITUTION):
        return place, None, None
    if kind == PlaceKind.TOWN:
        return (
            None,
            None,
            repository.institutions_in(session, division_ids=[place, *repository.communities_of_town(session, place)]),
        )
    if kind == PlaceKind.COMMUNITY:
        return None, None, repository.institutions_in(session, division_ids=[place])
    return None, None, None


def line_list(
    session: Session, *, principal: Principal, alert: Alert, reveal: bool = False, language: str = DEFAULT_LANGUAGE
) -> list[LineListRow]:
    """The rows behind an alert: which classes, which cases, which days."""
    signal = SIGNALS[alert.signal]
    first, last = _window(alert)
    rows: list[LineListRow] = []
    school, klass, area = _schools_of_place(session, alert.place_kind, alert.place_id)
    if signal.feed == Feed.SCHOOL_ABSENCE:
        found = repository.absences(session, school_id=school, class_id=klass, school_ids=area, first=first, last=last)
        found = [a for a in found if signal.key == "*" or absence_syndrome(a.cause) == signal.key]
        names = place_names(session, {(PlaceKind.CLASS, a.class_id) for a in found})
        for a in found:
            if a.cause in SYMPTOMS:
                cause = SYMPTOMS[a.cause][1 if language == "en" else 0]
            else:
                cause = DISEASES[a.cause].name_en if language == "en" else DISEASES[a.cause].name_zh
            rows.append(
                LineListRow(
                    day=a.day,
                    place=names[(PlaceKind.CLASS, a.class_id)],
                    what=cause,
                    count=a.absent,
                    detail={"enrolled": a.enrolled, "cause": a.cause, "revision": a.revision},
                )
            )
    elif signal.feed == Feed.CASE:
        communities: list[int] | None = None
        if alert.place_kind == PlaceKind.COMMUNITY:
            communities = [alert.place_id, *(alert_cluster_areas(session, alert))]
        elif alert.place_kind == PlaceKind.TOWN:
            communities = repository.communities_of_town(session, alert.place_id)
        found_cases = repository.cases(
            session,
            disease=signal.key,
            first=first,
            last=last,
            community_ids=communities,
            school_id=school if alert.place_kind in (PlaceKind.SCHOOL, PlaceKind.CLASS) else None,
            class_id=klass,
        )
        divisions = repository.division_names(session, {c.community_id for c in found_cases})
        for c in found_cases:
            rows.append(
                LineListRow(
                    day=c.onset_date,
                    place=divisions[c.community_id].name if c.community_id in divisions else "",
                    what=DISEASES[c.disease].name_en if language == "en" else DISEASES[c.disease].name_zh,
                    count=1,
                    detail={
                        "card_no": c.card_no,
                        "patient": c.patient_name if reveal else c.patient_name[:1] + "*" * (len(c.patient_name) - 1),
                        "id_number": (c.id_number if reveal else mask_id_number(c.id_number)) if c.id_number else None,
                        "sex": c.sex,
                        "age": c.age_years,
                        "classification": c.classification,
                        "diagnosis_date": c.diagnosis_date.isoformat(),
                        "hospitalised": c.hospitalised,
                        "died": c.died,
                        "resident_id": c.resident_id,
                    },
                )
            )
        if found_cases:
            audit.record(
                session,
                principal,
                "surveillance.line_list",
                object_type="surv_alert",
                object_id=alert.id,
                detail={"cases": len(found_cases), "revealed": reveal},
            )
    else:
        model = repository.FEED_MODELS[signal.feed]
        column = {"fever_clinic": "category", "pharmacy": "category", "lab": "pathogen"}[signal.feed]
        institutions = [alert.place_id] if alert.place_kind == PlaceKind.INSTITUTION else area
        found_rows = repository.facility_rows(
            session, model, key_column=column, key=signal.key, institution_ids=institutions, first=first, last=last
        )
        names = place_names(session, {(PlaceKind.INSTITUTION, r.institution_id) for r in found_rows})
        for r in found_rows:
            value = getattr(r, {"fever_clinic": "visits", "pharmacy": "quantity", "lab": "positive"}[signal.feed])
            detail = {"tested": r.tested} if signal.feed == Feed.LAB else {}
            rows.append(
                LineListRow(
                    day=r.day,
                    place=names[(PlaceKind.INSTITUTION, r.institution_id)],
                    what=signal.name(language),
                    count=value,
                    detail=detail,
                )
            )
    return rows


def alert_cluster_areas(session: Session, alert: Alert) -> list[int]:
    """The other communities of a space–time cluster alert (from its evidence)."""
    areas: set[int] = set()
    for e in repository.evidence_of(session, [alert.id]):
        if e.detail and isinstance(e.detail.get("areas"), list):
            areas |= {int(a) for a in e.detail["areas"]}
    areas.discard(alert.place_id)
    return sorted(areas)


@dataclass(frozen=True)
class SeriesPoint:
    day: date
    observed: float
    threshold: float | None
    alarm: bool


def alert_series(
    session: Session, alert: Alert, *, points: int = 60
) -> tuple[DetectorConfig | None, list[SeriesPoint]]:
    """The alert's series around its days, with the threshold of its main detector on each point."""
    detectors = [d for d in repository.detectors(session) if d.code in alert.methods and d.method in METHODS]
    main = min(detectors, key=lambda d: (d.grade != alert.grade, d.id)) if detectors else None
    weekly = main is not None and main.interval == "week"
    holidays = repository.holidays(session)
    last = alert.last_day
    display_first = last - (timedelta(weeks=points) if weekly else timedelta(days=points))
    axis = (
        engine.history_span(main, display_first, last, holidays)
        if main is not None
        else engine.period_axis(alert.signal, weekly=False, first=display_first, last=last, holidays=holidays)
    )
    rows = repository.counts(
        session,
        signal=alert.signal,
        place_kind=alert.place_kind,
        place_ids=[alert.place_id],
        first=axis[0].item(),
        last=axis[-1].item(),
        weekly=weekly,
    )
    position = {d.item(): i for i, d in enumerate(axis)}
    values = np.zeros(len(axis))
    for _p, period, value in rows:
        if (i := position.get(period)) is not None:
            values[i] = value
    shown = [i for i, d in enumerate(axis) if d.item() >= display_first]
    # What the detector compared with its threshold (a window rule's sum over its days), so the
    # line and the threshold on the chart are the same quantity.
    judged: dict[int, tuple[float, float | None, bool]] = {}
    if main is not None and shown:
        try:
            result = run_method(main.method, values, dict(main.params), freq=engine.FREQ[main.interval], start=None)
            for k, i in enumerate(result.index):
                t = float(result.threshold[k])
                judged[int(i)] = (float(result.observed[k]), None if np.isnan(t) else t, bool(result.alarm[k]))
        except InsufficientHistory:
            pass
    return main, [SeriesPoint(axis[i].item(), *judged.get(i, (float(values[i]), None, False))) for i in shown]


def alert_detail(
    session: Session, *, principal: Principal, alert_id: int, language: str, reveal: bool = False
) -> AlertDetail:
    alert = get_alert(session, principal=principal, alert_id=alert_id)
    reveal = reveal and principal.can(Permission.RESIDENT_REVEAL)
    names = place_names(session, {(alert.place_kind, alert.place_id)}, language)
    base = alert_out(alert, names=names, language=language, now=utcnow())
    _main, points = alert_series(session, alert)
    return AlertDetail(
        **base.model_dump(),
        evidence=[EvidenceOut.model_validate(e) for e in repository.evidence_of(session, [alert.id])],
        events=[AlertEventOut.model_validate(e) for e in repository.events_of(session, alert.id)],
        line_list=line_list(session, principal=principal, alert=alert, reveal=reveal, language=language),
        series=[(p.day, int(p.observed)) for p in points],
    )


# --- detector settings ---------------------------------------------------------------------


def check_detector(data: DetectorConfigIn, *, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """Validate a setting against the signal list and the method's parameters; returns the
    parameters with their defaults filled in."""
    if data.signal not in SIGNALS:
        raise InvalidInput("error.surveillance.unknown_signal", field="signal", signal=data.signal)
    if data.place_kind not in SIGNALS[data.signal].places:
        raise InvalidInput(
            "error.surveillance.place_kind", field="place_kind", kind=data.place_kind, signal=data.signal
        )
    if data.method not in METHODS and data.method != tasks.SCAN:
        raise InvalidInput("error.surveillance.unknown_method", field="method", method=data.method)
    if data.method == tasks.SCAN and (data.place_kind != PlaceKind.COMMUNITY or data.interval != "day"):
        raise InvalidInput("error.surveillance.scan_place", field="place_kind")
    model = tasks.ScanParams if data.method == tasks.SCAN else METHODS[data.method].params
    try:
        params = model.model_validate(data.params)
    except ValidationError as exc:
        where, message = validation_messages(exc, language)[0]
        raise InvalidInput(
            "error.surveillance.bad_params", field=f"params.{where}", reason=f"{where}: {message}"
        ) from None
    return params.model_dump(mode="json")


def save_detector(
    session: Session,
    *,
    principal: Principal,
    data: DetectorConfigIn,
    detector_id: int | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> DetectorConfig:
    principal.require(Permission.SURVEILLANCE_CONFIGURE)
    params = check_detector(data, language=language)
    if detector_id is None:
        if repository.detector_by_code(session, data.code) is not None:
            raise Conflict("error.surveillance.detector_exists", field="code", code=data.code)
        row = DetectorConfig(code=data.code)
        session.add(row)
    else:
        found = repository.detector(session, detector_id)
        if found is None:
            raise NotFound("error.surveillance.detector_not_found", id=detector_id)
        row = found
        other = repository.detector_by_code(session, data.code)
        if other is not None and other.id != row.id:
            raise Conflict("error.surveillance.detector_exists", field="code", code=data.code)
        row.code = data.code
    before = {"method": row.method, "params": row.params, "enabled": row.enabled} if detector_id else None
    row.name_zh, row.name_en = data.name_zh, data.name_en
    row.signal, row.place_kind, row.place_id = data.signal, data.place_kind, data.place_id
    row.method, row.params, row.interval = data.method, params, data.interval
    row.grade, row.response_hours, row.report_hours = data.grade, data.response_hours, data.report_hours
    row.source, row.enabled = data.source, data.enabled
    row.updated_at, row.updated_by_id = utcnow(), principal.user_id or None
    session.flush()
    audit.record(
        session,
        principal,
        "surveillance.detector.save",
        object_type="surv_detector",
        object_id=row.id,
        detail={"before": before, "after": {"method": row.method, "params": row.params, "enabled": row.enabled}},
    )
    return row


def list_detectors(session: Session, *, principal: Principal) -> list[DetectorConfig]:
    principal.require(Permission.SURVEILLANCE_READ)
    return list(repository.detectors(session))


def get_detector(session: Session, *, principal: Principal, detector_id: int) -> DetectorConfig:
    principal.require(Permission.SURVEILLANCE_READ)
    row = repository.detector(session, detector_id)
    if row is None:
        raise NotFound("error.surveillance.detector_not_found", id=detector_id)
    return row


# --- channels ------------------------------------------------------------------------------


def save_channel(session: Session, *, principal: Principal, data: ChannelIn) -> NotificationChannel:
    principal.require(Permission.SURVEILLANCE_CONFIGURE)
    row = repository.channel_by_name(session, data.name)
    if row is None:
        row = NotificationChannel(name=data.name)
        session.add(row)
    row.kind, row.url, row.min_grade, row.enabled = data.kind, data.url, data.min_grade, data.enabled
    if data.secret is not None:
        row.secret = data.secret
    session.flush()
    audit.record(session, principal, "surveillance.channel.save", object_type="surv_channel", object_id=row.id)
    return row


def list_channels(session: Session, *, principal: Principal) -> list[NotificationChannel]:
    principal.require(Permission.SURVEILLANCE_CONFIGURE)
    return list(repository.channels(session))


def usernames(session: Session, user_ids: set[int]) -> dict[int, str]:
    return repository.display_names(session, user_ids)


OPEN_STATUSES = ("new", "verifying", "monitoring", "risk_assessment", "responding")


@dataclass(frozen=True)
class Summary:
    """What the CDC's and the bureau's home pages and the console's tiles show."""

    open_by_grade: dict[str, int]
    overdue: int
    latest: list[AlertOut]


def summary(session: Session, *, principal: Principal, language: str, latest: int = 8) -> Summary:
    principal.require(Permission.SURVEILLANCE_READ)
    counts = repository.open_by_grade(session, statuses=OPEN_STATUSES)
    by_grade = {grade: counts.get(grade, 0) for grade in GRADES}
    late = repository.count(
        session,
        repository.alert_query(
            statuses=OPEN_STATUSES, grades=None, signal_prefix=None, town_id=None, overdue_at=utcnow(), since=None
        ),
    )
    rows, _total = list_alerts(
        session,
        principal=principal,
        filters=AlertFilter(statuses=OPEN_STATUSES),
        language=language,
        limit=latest,
        offset=0,
    )
    return Summary(by_grade, late, rows)


def effective_params(detector: DetectorConfig) -> dict[str, Any]:
    """The parameters a detector runs with: its own, with the method's defaults filled in."""
    model = (
        tasks.ScanParams
        if detector.method == tasks.SCAN
        else METHODS[detector.method].params
        if detector.method in METHODS
        else None
    )
    if model is None:
        return dict(detector.params)
    try:
        return model.model_validate(detector.params).model_dump(mode="json")
    except ValidationError:
        return dict(detector.params)
