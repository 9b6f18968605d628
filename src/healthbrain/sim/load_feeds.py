"""Loading the simulated early-warning feeds: set-based inserts of the feed rows (with the same
natural keys the ingestion path gives them), the school calendar and the outbreaks' truth, then
one rebuild of the count series; and a backfill of the last weeks' detection passes with their
response, so that the demo opens on a console with live and worked warnings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from healthbrain.core.bulk import bulk_insert, db_datetime
from healthbrain.core.time import SHANGHAI, utcnow
from healthbrain.sim.feeds import Feeds, Truth
from healthbrain.surveillance import ingest, repository, service, tasks, workflow
from healthbrain.surveillance.definitions import Feed
from healthbrain.surveillance.models import OutbreakTruth, SchoolHoliday
from healthbrain.surveillance.schemas import AlertAction
from healthbrain.surveillance.series import contributions
from healthbrain.surveillance.truth import District, matches

Progress = Callable[[str, int, int], None]


def _merge_absence(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Background and outbreak absences of the same class, day and cause are one row."""
    merged: dict[tuple[Any, ...], list[Any]] = {}
    for school, klass, day, cause, absent, enrolled in zip(
        columns["school_id"],
        columns["class_id"],
        columns["day"],
        columns["cause"],
        columns["absent"],
        columns["enrolled"],
        strict=True,
    ):
        key = (school, klass, day, cause)
        if key in merged:
            merged[key][4] = min(merged[key][4] + absent, enrolled)
        else:
            merged[key] = [school, klass, day, cause, absent, enrolled]
    rows = list(merged.values())
    names = ("school_id", "class_id", "day", "cause", "absent", "enrolled")
    return {name: [r[i] for r in rows] for i, name in enumerate(names)}


def _evening(day: date) -> datetime:
    """When a day's counts arrive: that evening (a case card arrives when it was reported)."""
    return datetime.combine(day, time(18, 0), tzinfo=SHANGHAI).astimezone(UTC)


_KEY_FIELDS: dict[Feed, tuple[str, ...]] = {  # what ingest.natural_key reads of each feed
    Feed.SCHOOL_ABSENCE: ("school_id", "class_id", "day", "cause"),
    Feed.FEVER_CLINIC: ("institution_id", "day", "category"),
    Feed.PHARMACY: ("institution_id", "day", "category"),
    Feed.LAB: ("institution_id", "day", "pathogen"),
    Feed.CASE: ("institution_id", "card_no"),
}


def _stored_column(values: list[Any]) -> list[Any]:
    """A column in storage form: instants as UTC text, dates as ISO text (each distinct date
    formatted once), the rest as is."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, datetime):
        return [None if v is None else db_datetime(v) for v in values]
    if isinstance(sample, date):
        iso = {d: d.isoformat() for d in set(values) if d is not None}
        return [None if v is None else iso[v] for v in values]
    return values


def load_feeds(session: Session, feeds: Feeds, *, progress: Progress) -> dict[str, int]:
    """Insert the feeds with their natural keys, the calendar and the truth, then write the
    count series computed from the same columns (no read-back: the series come from
    ``series.contributions`` as on the ingestion path)."""
    counts: dict[str, int] = {}
    places = repository.place_index(session)
    parts = []
    for feed, raw in feeds.rows.items():
        columns = _merge_absence(raw) if feed == Feed.SCHOOL_ABSENCE else dict(raw)
        spec = ingest.SPECS[feed]
        n = len(next(iter(columns.values()))) if columns else 0
        if feed == Feed.CASE:
            columns["deleted"] = [False] * n
            columns["died"] = [False] * n
        names = [c for c in spec.columns if c in columns]
        progress(f"feed {feed}", 0, n)
        # Row by row for a million rows is what this costs: each date's forms are made once.
        if feed == Feed.CASE:
            received = [db_datetime(t) for t in columns["reported_at"]]
        else:
            evening = {d: db_datetime(_evening(d)) for d in set(columns["day"])}
            received = [evening[d] for d in columns["day"]]
        key_fields = _KEY_FIELDS[feed]
        keys = [
            ingest.natural_key(feed, dict(zip(key_fields, values, strict=True)))
            for values in zip(*(columns[c] for c in key_fields), strict=True)
        ]
        stored = [_stored_column(columns[c]) for c in names]
        rows = zip(*stored, keys, [1] * n, received, received, strict=True)
        table = spec.model.__table__
        counts[table.name] = bulk_insert(
            session, table, [*names, "natural_key", "revision", "received_at", "updated_at"], rows
        )
        parts.append(contributions(feed, ingest.column_arrays(feed, columns), places))
        progress(f"feed {feed}", n, n)
    session.add_all(SchoolHoliday(name=name, first_day=a, last_day=b) for name, a, b in feeds.holidays)
    session.add_all(
        OutbreakTruth(
            kind=t.kind,
            signal=t.signal,
            place_kind=t.place_kind,
            place_id=t.place_id,
            first_day=t.first_day,
            last_day=t.last_day,
            cases=t.cases,
            detail=t.detail,
        )
        for t in feeds.truth
    )
    session.flush()
    progress("series", 0, 1)
    counts.update(ingest.write_series(session, parts))
    progress("series", 1, 1)
    return counts


@dataclass(frozen=True)
class _AlertAt:
    signal: str
    place_kind: str
    place_id: int
    day: date
    areas: tuple[int, ...]


def _plan(
    alert: Any, outbreak_ends: date | None, rng: np.random.Generator
) -> list[tuple[datetime, str, str | None, str | None]]:
    """How the CDC desk answers an alert: verified within hours; a real cluster (one that ends on
    ``outbreak_ends``) is assessed, reported, responded to and closed a week after its last case;
    noise is dismissed or watched and closed. One in ten alerts waits unanswered (the console's
    overdue marks)."""
    if rng.random() < 0.1:
        return []
    start = alert.created_at + timedelta(hours=float(rng.gamma(2.0, 1.2)))
    steps: list[tuple[datetime, str, str | None, str | None]] = [(start, "verify", None, None)]
    if outbreak_ends is not None:
        closing = datetime.combine(outbreak_ends + timedelta(days=7), time(17, 0), tzinfo=SHANGHAI)
        steps += [
            (start + timedelta(hours=3), "assess", "现场调查：病例有流行病学关联", None),
            (start + timedelta(hours=4), "report", None, None),
            (start + timedelta(hours=6), "respond", "启动响应：隔离病例，落实晨午检和消毒", None),
            (
                max(closing, start + timedelta(days=1)),
                "close",
                "连续一周无新发病例，疫情得到控制",
                "confirmed_outbreak",
            ),
        ]
    elif rng.random() < 0.7:
        steps.append((start + timedelta(hours=2), "dismiss", "核实为散发病例，无流行病学关联", None))
    else:
        steps += [
            (start + timedelta(hours=2), "monitor", "继续观察三天", None),
            (start + timedelta(days=3), "close", "观察期内无新增病例", "not_outbreak"),
        ]
    return steps


def backfill_alerts(
    session: Session, *, as_of: date, days: int, rng: np.random.Generator, progress: Progress
) -> dict[str, int]:
    """Run the detection pass for each of the last ``days`` days as it would have run that evening,
    answering the alerts as the days go by (knowing the truth, as the field investigation would),
    so that the demo opens on a console with live and worked warnings and the response
    indicators have data."""
    first = as_of - timedelta(days=days - 1)
    truth = [
        Truth(t.kind, t.signal, t.place_kind, t.place_id, t.first_day, t.last_day, t.cases, t.detail or {})
        for t in repository.truths(session)
    ]
    district = District(
        places=repository.place_index(session),
        school_of_class=repository.class_school(session, None),
        communities=tuple((i, x or 0.0, y or 0.0) for i, x, y in repository.communities(session)),
    )
    plans: dict[int, list[tuple[datetime, str, str | None, str | None]]] = {}
    for k in range(days):
        day = first + timedelta(days=k)
        # The pass runs in the evening; a district built in the morning has not had today's yet.
        evening = min(datetime.combine(day, time(20, 0), tzinfo=SHANGHAI).astimezone(UTC), utcnow())
        tasks.run_pass(session, day=day, now=evening, received_at=evening - timedelta(minutes=int(rng.integers(5, 90))))
        for alert in repository.all_alerts(session):
            if alert.id not in plans:
                areas = tuple(service.alert_cluster_areas(session, alert))
                at = _AlertAt(alert.signal, alert.place_kind, alert.place_id, alert.first_day, areas)
                ends = [t.last_day for t in truth if matches(t, at, district)]
                plans[alert.id] = _plan(alert, max(ends) if ends else None, rng)
        until = evening + timedelta(hours=23, minutes=59) if k < days - 1 else evening
        for alert_id, steps in plans.items():
            while steps and steps[0][0] <= until:
                at_time, action, note, outcome = steps.pop(0)
                workflow.act(
                    session,
                    principal=tasks.SYSTEM_PRINCIPAL,
                    alert_id=alert_id,
                    data=AlertAction(action=action, note=note, outcome=outcome),
                    now=at_time,
                )
        progress("alerts", k + 1, days)
    return {"alerts": len(plans)}
