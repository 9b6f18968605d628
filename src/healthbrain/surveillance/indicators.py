"""Indicators of the early-warning system, registered in the indicator registry.

The arithmetic is pure (over :class:`AlertFacts`), tested table-driven; one query loads the alerts
of the whole table. Targets: data → warning < 30 min and warning → first response < 6 h
(PRODUCT.md); CIDARS reported a median response of 1.1 h and 1.65 signals per county per week
(surveillance.md).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from healthbrain.core.time import SHANGHAI
from healthbrain.indicators.registry import Indicator, Period, Value, month_periods, of_domain, register
from healthbrain.surveillance import repository

DOMAIN = "surveillance"


@dataclass(frozen=True, slots=True)
class AlertFacts:
    created_at: datetime
    data_received_at: datetime
    response_due_at: datetime
    first_response_at: datetime | None
    report_due_at: datetime | None
    reported_at: datetime | None
    status: str
    outcome: str | None
    town_id: int | None


def _in(facts: Sequence[AlertFacts], period: Period, town: int | None) -> list[AlertFacts]:
    return [
        f
        for f in facts
        if period.first <= f.created_at.astimezone(SHANGHAI).date() <= period.last
        and (town is None or f.town_id == town)
    ]


def data_to_alert_minutes(facts: Sequence[AlertFacts], period: Period, town: int | None, ctx: dict[str, Any]) -> Value:
    """Median minutes from the arrival of the row that triggered an alert to the alert."""
    spans = [(f.created_at - f.data_received_at).total_seconds() / 60 for f in _in(facts, period, town)]
    return Value(round(statistics.median(spans), 2) if spans else None, n=len(spans))


def alert_to_response_hours(
    facts: Sequence[AlertFacts], period: Period, town: int | None, ctx: dict[str, Any]
) -> Value:
    """Median hours from an alert to its first response (alerts responded to)."""
    spans = [
        (f.first_response_at - f.created_at).total_seconds() / 3600
        for f in _in(facts, period, town)
        if f.first_response_at is not None
    ]
    return Value(round(statistics.median(spans), 2) if spans else None, n=len(spans))


def response_within_deadline(
    facts: Sequence[AlertFacts], period: Period, town: int | None, ctx: dict[str, Any]
) -> Value:
    """Share of alerts answered by their deadline, among those answered or already past it."""
    now: datetime = ctx["now"]
    judged = [f for f in _in(facts, period, town) if f.first_response_at is not None or f.response_due_at < now]
    met = [f for f in judged if f.first_response_at is not None and f.first_response_at <= f.response_due_at]
    return _share(len(met), len(judged))


def signals_per_area_week(facts: Sequence[AlertFacts], period: Period, town: int | None, ctx: dict[str, Any]) -> Value:
    """Alerts per town and week (CIDARS: 1.65 signals per county per week)."""
    areas = 1 if town is not None else max(int(ctx.get("towns", 1)), 1)
    weeks = period.days / 7
    n = len(_in(facts, period, town))
    return Value(round(n / (areas * weeks), 3), numerator=n, denominator=round(areas * weeks, 2), n=n)


def confirmed_share(facts: Sequence[AlertFacts], period: Period, town: int | None, ctx: dict[str, Any]) -> Value:
    """Share of finished alerts (closed or dismissed) that were confirmed outbreaks."""
    done = [f for f in _in(facts, period, town) if f.status in ("closed", "dismissed")]
    confirmed = [f for f in done if f.outcome == "confirmed_outbreak"]
    return _share(len(confirmed), len(done))


def _share(numerator: int, denominator: int) -> Value:
    value = round(100 * numerator / denominator, 1) if denominator else None
    return Value(value, numerator=numerator, denominator=denominator, n=denominator)


_SOURCE = "Issue #3; PRODUCT.md targets; CIDARS (surveillance.md)"
for _indicator in (
    Indicator(
        "surv.data_to_alert",
        DOMAIN,
        "数据到预警时间（中位数）",
        "Data → alert (median)",
        "minutes",
        _SOURCE,
        data_to_alert_minutes,
        False,
    ),
    Indicator(
        "surv.alert_to_response",
        DOMAIN,
        "预警到首次响应时间（中位数）",
        "Alert → first response (median)",
        "hours",
        _SOURCE,
        alert_to_response_hours,
        False,
    ),
    Indicator(
        "surv.response_in_time",
        DOMAIN,
        "按时响应率",
        "Responded within deadline",
        "percent",
        _SOURCE,
        response_within_deadline,
        True,
    ),
    Indicator(
        "surv.signals_per_area_week",
        DOMAIN,
        "每街道/乡镇每周预警数",
        "Alerts per town-week",
        "per_area_week",
        _SOURCE,
        signals_per_area_week,
        None,
    ),
    Indicator(
        "surv.confirmed_share",
        DOMAIN,
        "预警核实为暴发的比例",
        "Alerts confirmed as outbreaks",
        "percent",
        _SOURCE,
        confirmed_share,
        None,
    ),
):
    register(_indicator)


def load_facts(session: Session, *, first: date, last: date) -> list[AlertFacts]:
    start = datetime(first.year, first.month, first.day, tzinfo=SHANGHAI)
    end = datetime.combine(date.fromordinal(last.toordinal() + 1), datetime.min.time(), tzinfo=SHANGHAI)
    return [
        AlertFacts(
            a.created_at,
            a.data_received_at,
            a.response_due_at,
            a.first_response_at,
            a.report_due_at,
            a.reported_at,
            a.status,
            a.outcome,
            a.town_id,
        )
        for a in repository.all_alerts(session, created_from=start, created_to=end)
    ]


@dataclass(frozen=True)
class Table:
    indicators: list[Indicator]
    periods: list[Period]
    rows: list[tuple[str, int | None, dict[tuple[str, str], Value]]]  # (area name, town id, {(slug, period): value})


def response_table(session: Session, *, until: date, months: int, now: datetime) -> Table:
    """Every surveillance indicator, per month, for the district and each town."""
    periods = month_periods(until, months)
    facts = load_facts(session, first=periods[0].first, last=periods[-1].last)
    towns = repository.towns(session)
    ctx = {"now": now, "towns": len(towns)}
    registered = of_domain(DOMAIN)
    areas: list[tuple[str, int | None]] = [("", None), *((t.name, t.id) for t in towns)]
    rows = [
        (name, town, {(i.slug, p.label): i.compute(facts, p, town, ctx) for i in registered for p in periods})
        for name, town in areas
    ]
    return Table(registered, periods, rows)
