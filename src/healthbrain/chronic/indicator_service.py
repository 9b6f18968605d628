"""The chronic programme's indicator table (rows: organisation units; columns: the registered indicators)
for a month, its 12-month series for the charts, and the Excel file of the table.

Whose patients: the bureau and the administrator see the district; a centre manager the centre's teams;
a family doctor their own teams (``CHRONIC_INDICATORS``, aggregates only). A month is loaded and
evaluated once (``indicator_data.load_month`` → ``indicators.evaluate``) and its counts per unit are kept
in a ``MonthCache`` — the running month for ``CACHE_SECONDS``, a past month for ``PAST_MONTH_CACHE_SECONDS``
— so the chart's 12 months, the Excel download and the JSON API reuse what the table computed.

Cost: a centre's month is a few seconds; the whole district's is minutes on a small machine (measured on a
simulated district of 1.65 M residents: see the work's report), most of it reading the rows and
``path.execution`` per patient. ``warm`` fills the cache for the district ahead of the bureau's visit (a
scheduled job: at start-up and nightly); storing each month's counts in a table is the production answer.
"""

from __future__ import annotations

import re
import time as clock_time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy.orm import Session

from healthbrain.auth.roles import Permission, Role, Scope
from healthbrain.auth.scope import Principal
from healthbrain.chronic import indicator_data
from healthbrain.chronic.indicator_rules import UNASSIGNED, Level, as_of
from healthbrain.chronic.indicators import ChronicFacts, Counts, evaluate, indicators
from healthbrain.core.errors import InvalidInput
from healthbrain.core.i18n import translate
from healthbrain.core.time import SHANGHAI, local_today
from healthbrain.indicators.cache import ExpiringCache
from healthbrain.indicators.excel import table_workbook
from healthbrain.indicators.registry import Indicator, Period, Value, month_periods

LEVELS: Final = (Level.TOWN, Level.CENTRE, Level.TEAM)
SERIES_MONTHS: Final = 12
CACHE_SECONDS: Final = 600  # the running month's figures are recomputed after 10 minutes
PAST_MONTH_CACHE_SECONDS: Final = 6 * 3600  # a finished month's after 6 hours (late entries are rare)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --- who and when ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Audience:
    """Whose patients a table covers: ``teams`` None means every patient of the district."""

    principal: Principal
    teams: tuple[int, ...] | None

    @property
    def key(self) -> tuple[Any, ...]:
        """What the figures depend on: the scope the SQL applies and the teams."""
        p = self.principal
        return (str(p.scope), p.institution_id if p.scope == Scope.CATCHMENT else None, p.team_ids, self.teams)


def audience(session: Session, principal: Principal) -> Audience:
    principal.require(Permission.CHRONIC_INDICATORS)
    if principal.scope == Scope.ALL:
        return Audience(principal, None)
    if principal.role == Role.CENTRE_MANAGER and principal.institution_id is not None:
        return Audience(principal, indicator_data.teams_of_centre(session, principal.institution_id))
    return Audience(principal, tuple(sorted(principal.team_ids)))


def parse_month(value: str | None, today: date) -> Period:
    """``YYYY-MM`` (default: the running month) as a registry period; not after the running month."""
    if not value:
        return month_periods(today, 1)[0]
    match = _MONTH.match(value)
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise InvalidInput("error.chronic_ind.bad_month", field="month", value=value[:20])
    first = date(int(match.group(1)), int(match.group(2)), 1)
    if first > today:
        raise InvalidInput("error.chronic_ind.future_month", field="month", value=value)
    return month_periods(first, 1)[0]


def parse_level(value: str | None, who: Audience) -> Level:
    if not value:
        return Level.TOWN if who.teams is None else Level.TEAM
    try:
        level = Level(value)
    except ValueError:
        level = Level.DISTRICT
    if level not in LEVELS:
        raise InvalidInput("error.chronic_ind.bad_level", field="level", allowed=", ".join(LEVELS))
    return level


# --- evaluated months, cached ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Evaluated:
    counts: dict[str, Counts]
    as_of: date
    computed_at: datetime
    seconds: float


class MonthCache(ExpiringCache[Evaluated]):
    """Evaluated months per audience; an entry lives as long as ``put`` says."""


def evaluate_month(
    session: Session,
    *,
    who: Audience,
    period: Period,
    today: date,
    where: indicator_data.Directory,
    cache: MonthCache | None = None,
    refresh: bool = False,
) -> Evaluated:
    """One month's counts per unit for an audience, from the cache unless missing, expired or ``refresh``."""
    on = as_of(period, today)
    key = (*who.key, period.label, on)
    if cache is not None and not refresh and (hit := cache.get(key)) is not None:
        return hit
    started = clock_time.perf_counter()
    month = indicator_data.load_month(
        session, principal=who.principal, teams=who.teams, first=period.first, as_of=on, where=where
    )
    evaluated = Evaluated(
        counts=evaluate(month),
        as_of=on,
        computed_at=datetime.now(SHANGHAI),
        seconds=round(clock_time.perf_counter() - started, 2),
    )
    if cache is not None:
        cache.put(key, evaluated, CACHE_SECONDS if on >= today else PAST_MONTH_CACHE_SECONDS)
    return evaluated


def warm(
    session: Session, *, cache: MonthCache, months: int = SERIES_MONTHS, today: date | None = None
) -> list[Evaluated]:
    """Compute the district's last ``months`` months into ``cache`` (what the bureau's table and chart
    read), newest first. For a scheduled job; it only reads. On SQLite give it a session whose transaction
    does not take the write lock, since a district's months take minutes."""
    principal = Principal(
        user_id=0, username="chronic-indicators", display_name="chronic-indicators", role=Role.BUREAU, auth_kind="job"
    )
    today = today or local_today()
    who = audience(session, principal)
    where = indicator_data.directory(session)
    return [
        evaluate_month(session, who=who, period=p, today=today, where=where, cache=cache, refresh=True)
        for p in reversed(month_periods(today, months))
    ]


# --- the table --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Row:
    unit: int | None  # None: the caller's whole scope; UNASSIGNED: patients without a unit at this level
    name: str
    values: dict[str, Value]


@dataclass(frozen=True)
class Table:
    period: Period
    as_of: date
    level: Level
    district: bool  # the whole district (not a centre's or doctor's teams)
    indicators: list[Indicator]
    rows: list[Row]
    computed_at: datetime
    seconds: float  # how long loading and evaluating the month took


def _units_in_scope(where: indicator_data.Directory, who: Audience, level: Level) -> set[int]:
    if who.teams is None:
        return set(where.names[level])
    if level is Level.TEAM:
        return set(who.teams)
    if level is Level.CENTRE:
        return {where.centre_of_team[t] for t in who.teams if t in where.centre_of_team}
    return {town for t in who.teams for town in where.towns_served.get(t, ())}


def _total_name(who: Audience, language: str) -> str:
    return translate("chronic_ind.district" if who.teams is None else "chronic_ind.total", language)


def indicator_table(
    session: Session,
    *,
    principal: Principal,
    month: str | None = None,
    level: str | None = None,
    language: str = "zh-CN",
    today: date | None = None,
    cache: MonthCache | None = None,
) -> Table:
    """Every chronic indicator for one month, for the caller's scope and each unit of a level."""
    who = audience(session, principal)
    today = today or local_today()
    period = parse_month(month, today)
    chosen = parse_level(level, who)
    where = indicator_data.directory(session)
    evaluated = evaluate_month(session, who=who, period=period, today=today, where=where, cache=cache)
    facts = ChronicFacts({period.label: evaluated.counts})
    present = {units.key(chosen) for counts in evaluated.counts.values() for units, (_, den) in counts.items() if den}
    names = where.names[chosen]
    unassigned = translate("chronic_ind.unassigned", language)
    units = sorted(
        _units_in_scope(where, who, chosen) | present,
        key=lambda u: (u == UNASSIGNED, names.get(u, unassigned), u),
    )
    registered = indicators()
    ctx = {"level": chosen.value}
    rows = [Row(None, _total_name(who, language), {i.slug: i.compute(facts, period, None, ctx) for i in registered})]
    rows += [
        Row(unit, names.get(unit, unassigned), {i.slug: i.compute(facts, period, unit, ctx) for i in registered})
        for unit in units
    ]
    return Table(
        period=period,
        as_of=evaluated.as_of,
        level=chosen,
        district=who.teams is None,
        indicators=registered,
        rows=rows,
        computed_at=evaluated.computed_at,
        seconds=evaluated.seconds,
    )


def district_series(
    session: Session,
    *,
    principal: Principal,
    month: str | None = None,
    today: date | None = None,
    cache: MonthCache | None = None,
) -> dict[str, list[tuple[Period, date, Value]]]:
    """Each indicator for the caller's whole scope over the 12 months up to ``month``: (period, as of,
    value). Twelve months are twelve loads and evaluations, unless the cache holds them."""
    who = audience(session, principal)
    today = today or local_today()
    period = parse_month(month, today)
    where = indicator_data.directory(session)
    periods = month_periods(period.last, SERIES_MONTHS)
    evaluated = {
        p.label: evaluate_month(session, who=who, period=p, today=today, where=where, cache=cache) for p in periods
    }
    facts = ChronicFacts({label: e.counts for label, e in evaluated.items()})
    ctx = {"level": Level.DISTRICT.value}
    return {
        i.slug: [(p, evaluated[p.label].as_of, i.compute(facts, p, None, ctx)) for p in periods] for i in indicators()
    }


# --- out: JSON and Excel ----------------------------------------------------------------------------------------
class IndicatorOut(BaseModel):
    slug: str
    name: str
    unit: str
    higher_is_better: bool | None
    source: str


class ValueOut(BaseModel):
    value: float | None  # percent; None without a denominator
    numerator: int
    denominator: int


class RowOut(BaseModel):
    unit_id: int | None  # None: the caller's whole scope; 0: patients without a unit at this level
    name: str
    values: dict[str, ValueOut]


class TableOut(BaseModel):
    month: str
    as_of: date
    level: str
    indicators: list[IndicatorOut]
    rows: list[RowOut]


def table_out(table: Table, language: str) -> TableOut:
    return TableOut(
        month=table.period.label,
        as_of=table.as_of,
        level=table.level.value,
        indicators=[
            IndicatorOut(
                slug=i.slug, name=i.name(language), unit=i.unit, higher_is_better=i.higher_is_better, source=i.source
            )
            for i in table.indicators
        ],
        rows=[
            RowOut(
                unit_id=row.unit,
                name=row.name,
                values={
                    slug: ValueOut(value=v.value, numerator=int(v.numerator or 0), denominator=int(v.denominator or 0))
                    for slug, v in row.values.items()
                },
            )
            for row in table.rows
        ],
    )


def table_xlsx(table: Table, language: str) -> bytes:
    """The table as a workbook, the scope's total first."""

    def t(key: str, **params: Any) -> str:
        return translate(key, language, **params)

    return table_workbook(
        sheet_title=table.period.label,
        title=t("chronic_ind.xlsx_title", month=table.period.label, as_of=table.as_of.isoformat()),
        unit_header=t(f"chronic_ind.level.{table.level.value}"),
        parts=(t("chronic_ind.numerator"), t("chronic_ind.denominator"), t("chronic_ind.rate")),
        indicators=table.indicators,
        rows=[(row.name, row.values) for row in table.rows],
        language=language,
    )
