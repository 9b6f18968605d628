"""Loading the simulated early-warning feeds: set-based inserts of the feed rows (with the same
natural keys the ingestion path gives them), the school calendar and the outbreaks' truth, then
one rebuild of the count series; and a backfill of the last weeks' detection passes with their
response, so that the demo opens on a console with live and worked warnings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from healthbrain.core.bulk import bulk_insert, db_datetime
from healthbrain.core.time import SHANGHAI
from healthbrain.sim.feeds import Feeds
from healthbrain.surveillance import ingest, repository, tasks, workflow
from healthbrain.surveillance.definitions import Feed
from healthbrain.surveillance.models import OutbreakTruth, SchoolHoliday
from healthbrain.surveillance.schemas import AlertAction

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


def _received(feed: Feed, values: dict[str, Any]) -> datetime:
    """When a row would have arrived: a case when it was reported, a daily count that evening."""
    if feed == Feed.CASE:
        stamp = values["reported_at"]
        if isinstance(stamp, np.datetime64):
            stamp = stamp.astype("datetime64[us]").item()
        assert isinstance(stamp, datetime)
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return datetime.combine(values["day"], time(18, 0), tzinfo=SHANGHAI).astimezone(UTC)


def load_feeds(session: Session, feeds: Feeds, *, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    for feed, raw in feeds.rows.items():
        columns = _merge_absence(raw) if feed == Feed.SCHOOL_ABSENCE else dict(raw)
        if feed == Feed.CASE:
            columns["deleted"] = [False] * len(columns["card_no"])
            columns["died"] = [False] * len(columns["card_no"])
        spec = ingest.SPECS[feed]
        names = [c for c in spec.columns if c in columns]
        n = len(columns[names[0]]) if names else 0
        progress(f"feed {feed}", 0, n)
        rows = []
        for i in range(n):
            values = {c: columns[c][i] for c in names}
            if feed == Feed.CASE:
                values["reported_at"] = _received(feed, values)
            received = db_datetime(_received(feed, values))
            row = [
                db_datetime(v) if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
                for v in values.values()
            ]
            rows.append((*row, ingest.natural_key(feed, values), 1, received, received))
        table = spec.model.__table__
        counts[table.name] = bulk_insert(
            session, table, [*names, "natural_key", "revision", "received_at", "updated_at"], rows
        )
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
    counts.update(ingest.rebuild_series(session))
    progress("series", 1, 1)
    return counts


def _plan(alert: Any, matched: bool, rng: np.random.Generator) -> list[tuple[datetime, str, str | None, str | None]]:
    """How the CDC desk answers an alert: verified within hours; a real cluster is assessed,
    responded to and closed after some days; noise is dismissed or watched and closed. One in ten
    alerts waits unanswered (the console's overdue marks)."""
    if rng.random() < 0.1:
        return []
    start = alert.created_at + timedelta(hours=float(rng.gamma(2.0, 1.2)))
    steps: list[tuple[datetime, str, str | None, str | None]] = [(start, "verify", None, None)]
    if matched:
        steps += [
            (start + timedelta(hours=3), "assess", "现场调查：病例有流行病学关联", None),
            (start + timedelta(hours=4), "report", None, None),
            (start + timedelta(hours=6), "respond", "启动响应：隔离病例，落实晨午检和消毒", None),
            (start + timedelta(days=5), "close", "疫情得到控制", "confirmed_outbreak"),
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
    answering the alerts as the days go by, so that the demo opens on a console with live and
    worked warnings and the response indicators have data."""
    first = as_of - timedelta(days=days - 1)
    truth = [(t.place_kind, t.place_id, t.first_day, t.last_day) for t in repository.truths(session)]
    plans: dict[int, list[tuple[datetime, str, str | None, str | None]]] = {}
    for k in range(days):
        day = first + timedelta(days=k)
        evening = datetime.combine(day, time(20, 0), tzinfo=SHANGHAI).astimezone(UTC)
        tasks.run_pass(session, day=day, now=evening, received_at=evening - timedelta(minutes=int(rng.integers(5, 90))))
        for alert in repository.all_alerts(session):
            if alert.id not in plans:
                matched = any(
                    kind == alert.place_kind
                    and place == alert.place_id
                    and a <= alert.last_day
                    and alert.first_day <= b + timedelta(days=7)
                    for kind, place, a, b in truth
                )
                plans[alert.id] = _plan(alert, matched, rng)
        until = evening + timedelta(hours=23, minutes=59) if k < days - 1 else evening
        for alert_id, steps in plans.items():
            while steps and steps[0][0] <= until:
                at, action, note, outcome = steps.pop(0)
                workflow.act(
                    session,
                    principal=tasks.SYSTEM_PRINCIPAL,
                    alert_id=alert_id,
                    data=AlertAction(action=action, note=note, outcome=outcome),
                    now=at,
                )
        progress("alerts", k + 1, days)
    return {"alerts": len(plans)}
