"""The record indicators' table (rows: organisation units; columns: the registered indicators) for a
month, its 12-month series, the Excel file, the JSON shapes, and the refresh that stores the months.

Whose residents (``RECORD_INDICATORS``, aggregates only): the bureau and the administrator the district;
a centre manager the communities of the centre's catchment; a family doctor those of their teams.

A month is counted once and stored (``refresh``: ``healthbrain records indicators refresh``, nightly for
the running and the previous month, and after ``healthbrain simulate`` for 12 months): the district's counts
per community in one query, rolled up to every unit, kept in ``record_indicator_month``. The pages read the
stored community rows of the caller's scope and roll them up (milliseconds at any size). A month never
refreshed is counted now (``indicator_data.counts``, all missing months in one query) and kept in a
``DayCache`` — the running month for ``CACHE_SECONDS``, a past month for ``PAST_MONTH_CACHE_SECONDS``.
"""

from __future__ import annotations

import time as clock_time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy.orm import Session

from healthbrain.auth.roles import Permission, Role, Scope
from healthbrain.auth.scope import Principal
from healthbrain.chronic.indicator_service import parse_month
from healthbrain.core.errors import InvalidInput
from healthbrain.core.i18n import translate
from healthbrain.core.time import SHANGHAI, local_today
from healthbrain.indicators.cache import ExpiringCache
from healthbrain.indicators.excel import table_workbook
from healthbrain.indicators.registry import Indicator, Period, Value, month_periods
from healthbrain.records import indicator_data
from healthbrain.records.indicators import (
    DEFINITIONS,
    INDEX,
    LEVELS,
    CommunityCounts,
    Geography,
    Level,
    RecordFacts,
    indicators,
    rollup,
)

SERIES_MONTHS: Final = 12
NIGHTLY_MONTHS: Final = 2  # the running month and the previous one (made final on the 1st)
MAX_REFRESH_MONTHS: Final = 120
CACHE_SECONDS: Final = 600
PAST_MONTH_CACHE_SECONDS: Final = 6 * 3600


# --- who --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Audience:
    """Whose residents: ``communities`` None means the whole district; ``teams`` / ``centres`` None mean
    every unit of that level that the communities belong to."""

    communities: tuple[int, ...] | None
    teams: tuple[int, ...] | None = None
    centres: tuple[int, ...] | None = None

    @property
    def district(self) -> bool:
        return self.communities is None


def audience(session: Session, principal: Principal) -> Audience:
    principal.require(Permission.RECORD_INDICATORS)
    if principal.scope == Scope.ALL:
        return Audience(None)
    if principal.role == Role.CENTRE_MANAGER and principal.institution_id is not None:
        communities = indicator_data.catchment_communities(session, principal.institution_id)
        centre_teams = indicator_data.teams_of_centre(session, principal.institution_id)
        return Audience(tuple(sorted(communities)), tuple(sorted(centre_teams)), (principal.institution_id,))
    teams = tuple(sorted(principal.team_ids))
    return Audience(tuple(indicator_data.team_communities(session, teams)), teams, None)


def parse_level(value: str | None, who: Audience) -> Level:
    if not value:
        return Level.TOWN if who.district else Level.TEAM
    try:
        level = Level(value)
    except ValueError:
        level = Level.DISTRICT
    if level not in LEVELS:
        raise InvalidInput("error.record_ind.bad_level", field="level", allowed=", ".join(LEVELS))
    return level


def as_of(period: Period, today: date) -> date:
    return min(period.last, today)


# --- counted months: stored, cached, or counted now ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MonthCounts:
    as_of: date
    counts: CommunityCounts
    computed_at: datetime
    stored: bool  # read from record_indicator_month; else counted now (or taken from the cache)


class DayCache(ExpiringCache[MonthCounts]):
    """Months counted live, by (audience, day); an entry lives as long as ``put`` says."""


@dataclass(frozen=True, slots=True)
class Counted:
    months: dict[str, MonthCounts]  # by period label
    seconds: float  # spent counting live (0 when every month was stored or cached)

    @property
    def live(self) -> list[str]:
        """The months that were not stored (counted now or cached)."""
        return sorted(label for label, m in self.months.items() if not m.stored)


def count_months(
    session: Session, *, who: Audience, periods: list[Period], today: date, cache: DayCache | None = None
) -> Counted:
    """Counts per community for each month: the stored month when a refresh stored it (past months final,
    the running month as of its last refresh), else from the cache, else the missing months counted now in
    one query (the live fallback: a month never refreshed, or a database no refresh has run on)."""
    stored = indicator_data.stored_months(session, months=[p.label for p in periods], communities=who.communities)
    found: dict[str, MonthCounts] = {}
    missing: list[Period] = []
    for period in periods:
        if (hit := stored.get(period.label)) is not None:
            found[period.label] = MonthCounts(hit.as_of, hit.counts, hit.computed_at.astimezone(SHANGHAI), True)
        elif cache is not None and (cached := cache.get((who.communities, as_of(period, today)))) is not None:
            found[period.label] = cached
        else:
            missing.append(period)
    started = clock_time.perf_counter()
    if missing:
        days = [as_of(p, today) for p in missing]
        fresh = indicator_data.counts(session, communities=who.communities, days=days)
        computed_at = datetime.now(SHANGHAI)
        for period, day in zip(missing, days, strict=True):
            month = MonthCounts(day, fresh[day], computed_at, False)
            found[period.label] = month
            if cache is not None:
                seconds = CACHE_SECONDS if day >= today else PAST_MONTH_CACHE_SECONDS
                cache.put((who.communities, day), month, seconds)
    return Counted(found, round(clock_time.perf_counter() - started, 2) if missing else 0.0)


# --- the refresh ----------------------------------------------------------------------------------------------------
def refresh_periods(*, month: str | None, months: int | None, today: date) -> list[Period]:
    """``--month YYYY-MM`` (one month), else the last ``months`` months up to the running one (default 2: the
    running and the previous month, what the nightly job refreshes)."""
    if month:
        return [parse_month(month, today)]
    count = months if months is not None else NIGHTLY_MONTHS
    if not 1 <= count <= MAX_REFRESH_MONTHS:
        raise InvalidInput("error.record_ind.bad_months", field="months", maximum=MAX_REFRESH_MONTHS)
    return month_periods(today, count)


def stored_rows(
    *, periods: list[Period], by_day: dict[date, CommunityCounts], geo: Geography, today: date, now: datetime
) -> list[indicator_data.StoredRow]:
    """Pure: every (month, indicator, level, unit) row of the refreshed months, rolled up from the communities
    (the atom: every unit is a set of communities); the district row is ``unit_id`` 0."""
    rows: list[indicator_data.StoredRow] = []
    for period in periods:
        day = as_of(period, today)
        counts = by_day.get(day, {})
        for level in (Level.DISTRICT, *LEVELS):
            for unit, row in rollup(counts, geo, level).items():
                if (unit is None) != (level is Level.DISTRICT):
                    continue
                unit_id = indicator_data.DISTRICT_UNIT if unit is None else unit
                rows += [
                    (
                        period.label,
                        d.slug,
                        level.value,
                        unit_id,
                        row[INDEX[d.numerator]],
                        row[INDEX[d.denominator]],
                        day,
                        now,
                    )
                    for d in DEFINITIONS
                ]
    return rows


@dataclass(frozen=True, slots=True)
class CountedMonths:
    periods: list[Period]
    rows: list[indicator_data.StoredRow]
    seconds: float  # the counting query


def count_for_refresh(session: Session, *, periods: list[Period], today: date) -> CountedMonths:
    """Count the district's months in one query (one pass over each fact table for all of them) and roll
    them up to every unit. Only reads: on SQLite run it in a read-only unit of work, so that a long count
    does not hold the write lock."""
    started = clock_time.perf_counter()
    days = sorted({as_of(p, today) for p in periods})
    by_day = indicator_data.counts(session, communities=None, days=days)
    seconds = clock_time.perf_counter() - started
    geo = indicator_data.geography(session)
    rows = stored_rows(periods=periods, by_day=by_day, geo=geo, today=today, now=datetime.now(UTC))
    return CountedMonths(periods, rows, round(seconds, 2))


def store_months(session: Session, *, counted: CountedMonths) -> int:
    """Replace the stored rows of the counted months (all or nothing in the caller's transaction; the same
    months twice leave the same rows)."""
    written = indicator_data.replace_months(session, months=[p.label for p in counted.periods], rows=counted.rows)
    session.flush()
    return written


# --- the table ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Row:
    unit: int | None  # None: the caller's whole scope
    name: str
    values: dict[str, Value]


@dataclass(frozen=True)
class Table:
    period: Period
    as_of: date
    level: Level
    district: bool
    indicators: list[Indicator]
    rows: list[Row]
    computed_at: datetime  # when the month's counts were computed (stored: by the last refresh)
    seconds: float  # spent counting now (0: stored or cached)
    stored: bool  # read from the stored months; else counted now (``refresh_command`` stores it)

    @property
    def refresh_command(self) -> str:
        return f"healthbrain records indicators refresh --month {self.period.label}"


def _units(geo: Geography, who: Audience, level: Level, counts: CommunityCounts) -> list[int]:
    present = {u for community in counts for u in geo.units(community, level)}
    if who.district:
        return sorted(set(geo.names[level]) | present)
    if level is Level.TEAM and who.teams is not None:
        return list(who.teams)
    if level is Level.CENTRE and who.centres is not None:
        return list(who.centres)
    scoped = {u for community in who.communities or () for u in geo.units(community, level)}
    return sorted(scoped)


def indicator_table(
    session: Session,
    *,
    principal: Principal,
    month: str | None = None,
    level: str | None = None,
    language: str = "zh-CN",
    today: date | None = None,
    cache: DayCache | None = None,
) -> Table:
    """Every record indicator for one month, for the caller's scope and each unit of a level: from the stored
    month (rolled up from the scope's communities), else counted now."""
    who = audience(session, principal)
    today = today or local_today()
    period = parse_month(month, today)
    chosen = parse_level(level, who)
    counted = count_months(session, who=who, periods=[period], today=today, cache=cache)
    got = counted.months[period.label]
    geo = indicator_data.geography(session)
    facts = RecordFacts({period.label: got.counts}, geo)
    names = geo.names[chosen]
    units = sorted(_units(geo, who, chosen, got.counts), key=lambda u: (names.get(u, ""), u))
    registered = indicators()
    ctx = {"level": chosen.value}
    total = translate("record_ind.district" if who.district else "record_ind.total", language)
    rows = [Row(None, total, {i.slug: i.compute(facts, period, None, ctx) for i in registered})]
    rows += [
        Row(unit, names.get(unit, str(unit)), {i.slug: i.compute(facts, period, unit, ctx) for i in registered})
        for unit in units
    ]
    return Table(
        period=period,
        as_of=got.as_of,
        level=chosen,
        district=who.district,
        indicators=registered,
        rows=rows,
        computed_at=got.computed_at,
        seconds=counted.seconds,
        stored=got.stored,
    )


@dataclass(frozen=True)
class SeriesPoints:
    points: dict[str, list[tuple[Period, date, Value]]]  # slug → (period, as of, value), oldest first
    live: list[str]  # the months that were not stored


def series(
    session: Session,
    *,
    principal: Principal,
    month: str | None = None,
    today: date | None = None,
    cache: DayCache | None = None,
) -> SeriesPoints:
    """Each indicator for the caller's whole scope over the 12 months up to ``month``: the stored months, the
    others counted now in one query."""
    who = audience(session, principal)
    today = today or local_today()
    period = parse_month(month, today)
    periods = month_periods(period.last, SERIES_MONTHS)
    counted = count_months(session, who=who, periods=periods, today=today, cache=cache)
    geo = indicator_data.geography(session)
    facts = RecordFacts({p.label: counted.months[p.label].counts for p in periods}, geo)
    ctx = {"level": Level.DISTRICT.value}
    days = [counted.months[p.label].as_of for p in periods]
    return SeriesPoints(
        {
            i.slug: [(p, d, i.compute(facts, p, None, ctx)) for p, d in zip(periods, days, strict=True)]
            for i in indicators()
        },
        counted.live,
    )


# --- out: JSON and Excel ------------------------------------------------------------------------------------------
class IndicatorOut(BaseModel):
    slug: str
    name: str
    unit: str
    source: str


class ValueOut(BaseModel):
    value: float | None  # percent; None without a denominator
    numerator: int
    denominator: int


class RowOut(BaseModel):
    unit_id: int | None  # None: the caller's whole scope
    name: str
    values: dict[str, ValueOut]


class TableOut(BaseModel):
    month: str
    as_of: date
    level: str
    computed_at: datetime  # when the counts were computed (stored months: by the last refresh)
    stored: bool  # False: counted now, the month has not been refreshed
    indicators: list[IndicatorOut]
    rows: list[RowOut]


class PointOut(BaseModel):
    month: str
    as_of: date
    value: ValueOut
    stored: bool


class SeriesOut(BaseModel):
    slug: str
    name: str
    points: list[PointOut]


def _value_out(v: Value) -> ValueOut:
    return ValueOut(value=v.value, numerator=int(v.numerator or 0), denominator=int(v.denominator or 0))


def table_out(table: Table, language: str) -> TableOut:
    return TableOut(
        month=table.period.label,
        as_of=table.as_of,
        level=table.level.value,
        computed_at=table.computed_at,
        stored=table.stored,
        indicators=[
            IndicatorOut(slug=i.slug, name=i.name(language), unit=i.unit, source=i.source) for i in table.indicators
        ],
        rows=[
            RowOut(unit_id=row.unit, name=row.name, values={s: _value_out(v) for s, v in row.values.items()})
            for row in table.rows
        ],
    )


def series_out(series: SeriesPoints, language: str) -> list[SeriesOut]:
    return [
        SeriesOut(
            slug=i.slug,
            name=i.name(language),
            points=[
                PointOut(month=p.label, as_of=d, value=_value_out(v), stored=p.label not in series.live)
                for p, d, v in series.points[i.slug]
            ],
        )
        for i in indicators()
    ]


def table_xlsx(table: Table, language: str) -> bytes:
    """The table as a workbook, the scope's total first."""

    def t(key: str, **params: Any) -> str:
        return translate(key, language, **params)

    return table_workbook(
        sheet_title=table.period.label,
        title=t("record_ind.xlsx_title", month=table.period.label, as_of=table.as_of.isoformat()),
        unit_header=t(f"record_ind.level.{table.level.value}"),
        parts=(t("record_ind.numerator"), t("record_ind.denominator"), t("record_ind.rate")),
        indicators=table.indicators,
        rows=[(row.name, row.values) for row in table.rows],
        language=language,
    )
