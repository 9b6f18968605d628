"""From moved counts to alerts: run the configured detectors on exactly the series and days that a
batch moved (or, in the periodic pass, on every series), and raise, extend or escalate alerts.

De-duplication: one open alert per signal and place; new evidence extends it (its days, its
count, its grade if more severe). Evidence up to the last day of a dismissed or closed alert has
been dealt with and does not raise a new one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from healthbrain.core.time import local_today
from healthbrain.surveillance import notify, repository
from healthbrain.surveillance.definitions import SIGNALS, PlaceKind, grade_rank
from healthbrain.surveillance.detectors.base import InsufficientHistory
from healthbrain.surveillance.detectors.registry import (
    METHODS,
    InvalidParams,
    PercentileParams,
    UnknownMethod,
    run_method,
    validate_params,
)
from healthbrain.surveillance.models import Alert, AlertEvent, AlertEvidence, AlertStatus, DetectorConfig
from healthbrain.surveillance.series import Cells, monday, school_days

log = logging.getLogger("healthbrain.surveillance")

# Points per "year" handed to the detectors that compare with earlier years (Farrington, the
# CIDARS percentile): 52 ISO weeks for weekly series, 364 days (52 whole weeks, so weekdays line
# up) for daily ones.
FREQ = {"week": 52, "day": 364}
COUNT_RULES = frozenset({"fixed", "window"})  # rules on the count itself, not on a baseline


@dataclass(frozen=True)
class Hit:
    """A detector's alarm at one place on one day (or week)."""

    detector: DetectorConfig
    place_id: int
    day: date
    observed: float
    threshold: float | None
    score: float | None
    detail: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.detector.signal, self.detector.place_kind, self.place_id)


def lookahead(detector: DetectorConfig) -> int:
    """How many later days a changed count can still move this detector's verdict for."""
    if detector.method == "window":
        return max(int(detector.params.get("days", 1)) - 1, 0)
    if detector.method == "ears-c3":
        return 2
    return 0


def period_axis(signal: str, *, weekly: bool, first: date, last: date, holidays: list[tuple[date, date]]) -> np.ndarray:
    """The periods a series of ``signal`` is counted on: the Mondays of ISO weeks (from the week of
    ``first``), school days for absence signals, every day otherwise."""
    if weekly:
        return np.arange(monday(np.array([first], dtype="datetime64[D]"))[0], np.datetime64(last, "D") + 1, 7)
    if SIGNALS[signal].school_days:
        return school_days(first, last, holidays)
    return np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)


def history_span(
    detector: DetectorConfig, eval_first: date, eval_last: date, holidays: list[tuple[date, date]]
) -> np.ndarray:
    """The period axis from far enough back for the method's history to the last evaluated day."""
    method = METHODS[detector.method]
    params = validate_params(detector.method, detector.params)
    needed = method.min_history(params, FREQ[detector.interval]) + 1
    if isinstance(params, PercentileParams):
        # The percentile can start with one earlier year, but compares with all b it is given.
        period, w, window = params.resolved(FREQ[detector.interval])
        needed = max(needed, params.b * period + w + window)
    if detector.interval == "week":
        back = timedelta(weeks=needed + 1)
    elif SIGNALS[detector.signal].school_days:
        back = timedelta(days=needed * 7 // 5 + 7)
        while True:  # widen until enough school days (holidays eat into the span)
            axis = school_days(eval_first - back, eval_last, holidays)
            if int((axis < np.datetime64(eval_first, "D")).sum()) >= needed or back.days > 3660:
                return axis
            back += timedelta(days=30)
    else:
        back = timedelta(days=needed)
    return period_axis(
        detector.signal, weekly=detector.interval == "week", first=eval_first - back, last=eval_last, holidays=holidays
    )


def evaluate(
    session: Session,
    detector: DetectorConfig,
    targets: dict[int, set[date]],
    *,
    holidays: list[tuple[date, date]],
) -> list[Hit]:
    """Run one detector for some places on some days; returns the alarms."""
    if not targets:
        return []
    weekly = detector.interval == "week"
    eval_days = sorted(
        {monday(np.array([d], dtype="datetime64[D]"))[0].item() if weekly else d for ds in targets.values() for d in ds}
    )
    try:
        axis = history_span(detector, eval_days[0], eval_days[-1], holidays)
    except (InvalidParams, UnknownMethod) as exc:  # a setting saved before a method changed
        log.warning("detector misconfigured", extra={"detector": detector.code, "reason": str(exc)})
        return []
    if len(axis) == 0:
        return []
    first, last = axis[0].item(), axis[-1].item()
    rows = repository.counts(
        session,
        signal=detector.signal,
        place_kind=detector.place_kind,
        place_ids=list(targets),
        first=first,
        last=last,
        weekly=weekly,
    )
    position = {d.item(): i for i, d in enumerate(axis)}
    series: dict[int, np.ndarray] = {p: np.zeros(len(axis)) for p in targets}
    for place, period, value in rows:
        if (i := position.get(period)) is not None:
            series[place][i] = value
    hits: list[Hit] = []
    params = dict(detector.params)
    freq = FREQ[detector.interval]
    school_series = SIGNALS[detector.signal].school_days
    for place, days in targets.items():
        wanted = sorted(
            i
            for d in days
            if (i := position.get(monday(np.array([d], dtype="datetime64[D]"))[0].item() if weekly else d)) is not None
        )
        if not wanted:
            continue
        observed = series[place][: wanted[-1] + 1]
        if school_series and detector.method not in COUNT_RULES and not observed[: wanted[0]].any():
            # Schools send rows for absent pupils only: an empty baseline means "did not report",
            # not "nobody was ill", and a statistical method would alarm on the first report.
            continue
        try:
            result = run_method(detector.method, observed, params, freq=freq, start=wanted[0])
        except InsufficientHistory as exc:
            log.debug("detector skipped", extra={"detector": detector.code, "place": place, "reason": str(exc)})
            continue
        except (InvalidParams, UnknownMethod) as exc:  # a setting saved before a method changed
            log.warning("detector misconfigured", extra={"detector": detector.code, "reason": str(exc)})
            return hits
        at = {int(i): k for k, i in enumerate(result.index)}
        for i in set(wanted):
            k = at.get(i)
            if k is None or not bool(result.alarm[k]):
                continue
            threshold = float(result.threshold[k])
            score = float(result.score[k])
            hits.append(
                Hit(
                    detector,
                    place,
                    axis[i].item(),
                    float(result.observed[k]),
                    None if np.isnan(threshold) else threshold,
                    None if np.isnan(score) else score,
                )
            )
    return hits


def detect_moved(session: Session, moved: Cells, *, received_at: datetime, now: datetime) -> list[int]:
    """Detection for the cells a batch moved (daily cells; weekly detectors look at their weeks)."""
    touched: dict[tuple[str, str], dict[int, set[date]]] = defaultdict(lambda: defaultdict(set))
    for signal, kind, place, day, value, _den in moved.rows():
        if value != 0:
            touched[(signal, kind)][place].add(day)
    if not touched:
        return []
    today = local_today()
    holidays = repository.holidays(session)
    hits: list[Hit] = []
    for detector in repository.detectors_for(session, signals={s for s, _k in touched}):
        if detector.method not in METHODS:
            continue
        places = touched.get((detector.signal, detector.place_kind))
        if not places:
            continue
        ahead = lookahead(detector)
        targets = {
            p: {d + timedelta(days=k) for d in days for k in range(ahead + 1) if d + timedelta(days=k) <= today}
            for p, days in places.items()
            if detector.place_id is None or detector.place_id == p
        }
        hits.extend(evaluate(session, detector, targets, holidays=holidays))
    return raise_alerts(session, hits, received_at=received_at, now=now)


def town_of_place(session: Session, place_kind: str, place_id: int) -> int | None:
    index = repository.place_index(session)
    match place_kind:
        case PlaceKind.CLASS:
            names = repository.class_school(session, [place_id])
            school = names.get(place_id)
            return index.town_of_institution(school) if school is not None else None
        case PlaceKind.SCHOOL | PlaceKind.INSTITUTION:
            return index.town_of_institution(place_id)
        case PlaceKind.COMMUNITY | PlaceKind.TOWN:
            return index.town_of_division.get(place_id)
    return None


def _most_severe(hits: Iterable[Hit]) -> Hit:
    return min(hits, key=lambda h: (grade_rank(h.detector.grade), -h.observed))


def raise_alerts(session: Session, hits: Sequence[Hit], *, received_at: datetime, now: datetime) -> list[int]:
    """Create, extend or escalate one alert per signal and place from detector alarms."""
    if not hits:
        return []
    by_key: dict[tuple[str, str, int], list[Hit]] = defaultdict(list)
    for h in hits:
        by_key[h.key].append(h)
    open_alerts = repository.open_alerts_for(session, by_key)
    worked = repository.worked_until(session, by_key)
    touched: list[int] = []
    for key in sorted(by_key):
        fresh = [h for h in by_key[key] if key not in worked or h.day > worked[key]]
        if not fresh:
            continue
        alert = open_alerts.get(key)
        if alert is None:
            try:
                with session.begin_nested():
                    alert = _create(session, key, fresh, received_at=received_at, now=now)
            except IntegrityError:
                # Another batch opened it since we looked (PostgreSQL; SQLite writes one at a time).
                alert = repository.open_alerts_for(session, [key])[key]
                _extend(session, alert, fresh, now=now)
        else:
            _extend(session, alert, fresh, now=now)
        _evidence(session, alert, fresh, now=now)
        touched.append(alert.id)
    return touched


def _deadline(now: datetime, hours: Iterable[float | None]) -> datetime | None:
    known = [h for h in hours if h is not None]
    return now + timedelta(hours=min(known)) if known else None


def _create(
    session: Session, key: tuple[str, str, int], hits: list[Hit], *, received_at: datetime, now: datetime
) -> Alert:
    signal, kind, place = key
    top = _most_severe(hits)
    peak = max(hits, key=lambda h: h.observed)
    alert = Alert(
        signal=signal,
        place_kind=kind,
        place_id=place,
        town_id=town_of_place(session, kind, place),
        grade=top.detector.grade,
        status=AlertStatus.NEW,
        first_day=min(h.day for h in hits),
        last_day=max(h.day for h in hits),
        observed=peak.observed,
        threshold=peak.threshold,
        methods=sorted({h.detector.code for h in hits}),
        data_received_at=received_at,
        created_at=now,
        updated_at=now,
        response_due_at=_deadline(now, [h.detector.response_hours for h in hits]),
        report_due_at=_deadline(now, [h.detector.report_hours for h in hits]),
        version=1,
    )
    session.add(alert)
    session.flush()
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=now,
            action="created",
            to_status=AlertStatus.NEW,
            detail={"methods": alert.methods, "days": sorted({h.day.isoformat() for h in hits})},
        )
    )
    notify.enqueue(session, alert, event="created", now=now)
    log.info(
        "alert raised",
        extra={"alert": alert.id, "signal": signal, "place_kind": kind, "place": place, "grade": alert.grade},
    )
    return alert


def _extend(session: Session, alert: Alert, hits: list[Hit], *, now: datetime) -> None:
    top = _most_severe(hits)
    peak = max(hits, key=lambda h: h.observed)
    escalated = grade_rank(top.detector.grade) < grade_rank(alert.grade)
    before = alert.grade
    alert.first_day = min(alert.first_day, *(h.day for h in hits))
    alert.last_day = max(alert.last_day, *(h.day for h in hits))
    if peak.observed > alert.observed:
        alert.observed, alert.threshold = peak.observed, peak.threshold
    alert.methods = sorted(set(alert.methods) | {h.detector.code for h in hits})
    if alert.report_due_at is None and (due := _deadline(now, [h.detector.report_hours for h in hits])) is not None:
        alert.report_due_at = due
    if escalated:
        alert.grade = top.detector.grade
    alert.updated_at = now
    alert.version += 1
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=now,
            action="escalated" if escalated else "extended",
            detail={"days": sorted({h.day.isoformat() for h in hits}), "from_grade": before, "to_grade": alert.grade},
        )
    )
    if escalated:
        notify.enqueue(session, alert, event="escalated", now=now)


def _evidence(session: Session, alert: Alert, hits: list[Hit], *, now: datetime) -> None:
    known = repository.evidence_keys(session, [alert.id])
    for h in hits:
        row = known.get((alert.id, h.detector.id, h.day))
        if row is None:
            row = AlertEvidence(
                alert_id=alert.id,
                detector_id=h.detector.id,
                method=h.detector.method,
                day=h.day,
                grade=h.detector.grade,
                detected_at=now,
            )
            session.add(row)
            known[(alert.id, h.detector.id, h.day)] = row
        row.observed, row.threshold, row.score, row.detail = h.observed, h.threshold, h.score, h.detail
    session.flush()
