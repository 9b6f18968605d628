"""The SQL of the record indicators: the directory of units, the counts per community for a batch of
days in ONE pass over the residents (set-based: GROUP BY community, one SUM(CASE …) per count and day;
the service entries, contracts and key-population conditions as one grouped row per resident, LEFT
JOINed: each fact table is read once per batch of days), and the stored months (``record_indicator_month``):
replaced whole by a refresh, read back per community."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from healthbrain.chronic.models import ChronicFollowUp
from healthbrain.contracts.definitions import in_force_clause
from healthbrain.contracts.models import Contract
from healthbrain.core.bulk import bulk_insert, db_datetime
from healthbrain.core.time import SHANGHAI, years_before
from healthbrain.geo.models import (
    CareTeam,
    CareTeamCommunity,
    Division,
    DivisionLevel,
    Institution,
    InstitutionCatchment,
    InstitutionKind,
)
from healthbrain.people.models import Resident, ResidentStatus
from healthbrain.people.populations import PREGNANCY_MAX_DAYS, KeyPopulation, code_prefix_clause, key_population_clause

# The one SQL form of "an active condition on a day" (people.populations), read per resident here.
from healthbrain.people.populations import _active_condition as active_condition
from healthbrain.records import codes
from healthbrain.records.indicators import BY_SLUG, COLUMNS, INDEX, ZERO, CommunityCounts, Geography, Level
from healthbrain.records.models import Condition, Encounter, PhysicalExam, RecordIndicatorMonth


def geography(session: Session) -> Geography:
    town_of = {
        c: t
        for c, t in session.execute(
            select(Division.id, Division.parent_id).where(Division.level == DivisionLevel.COMMUNITY.value)
        )
        if t is not None
    }
    centres: dict[int, list[int]] = defaultdict(list)
    for community, centre in session.execute(
        select(InstitutionCatchment.division_id, InstitutionCatchment.institution_id)
        .join(Institution, Institution.id == InstitutionCatchment.institution_id)
        .where(Institution.kind == InstitutionKind.CHC.value)
        .order_by(InstitutionCatchment.institution_id)
    ):
        centres[community].append(centre)
    teams: dict[int, list[int]] = defaultdict(list)
    for community, team in session.execute(
        select(CareTeamCommunity.division_id, CareTeamCommunity.team_id)
        .join(CareTeam, CareTeam.id == CareTeamCommunity.team_id)
        .where(CareTeam.active.is_(True))
        .order_by(CareTeamCommunity.team_id)
    ):
        teams[community].append(team)

    def names(statement: Any) -> dict[int, str]:
        return {i: n for i, n in session.execute(statement)}

    return Geography(
        town_of=town_of,
        centres_of=dict(centres),
        teams_of=dict(teams),
        names={
            Level.TOWN: names(select(Division.id, Division.name).where(Division.level == DivisionLevel.TOWN.value)),
            Level.COMMUNITY: names(
                select(Division.id, Division.name).where(Division.level == DivisionLevel.COMMUNITY.value)
            ),
            Level.CENTRE: names(
                select(Institution.id, Institution.name).where(Institution.kind == InstitutionKind.CHC.value)
            ),
            Level.TEAM: names(select(CareTeam.id, CareTeam.name).where(CareTeam.active.is_(True))),
        },
    )


def catchment_communities(session: Session, institution_id: int) -> list[int]:
    return list(
        session.scalars(
            select(InstitutionCatchment.division_id).where(InstitutionCatchment.institution_id == institution_id)
        )
    )


def team_communities(session: Session, team_ids: Sequence[int]) -> list[int]:
    if not team_ids:
        return []
    return sorted(
        set(session.scalars(select(CareTeamCommunity.division_id).where(CareTeamCommunity.team_id.in_(team_ids))))
    )


def teams_of_centre(session: Session, institution_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CareTeam.id).where(CareTeam.home_institution_id == institution_id, CareTeam.active.is_(True))
        )
    )


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def window_start(on: date) -> date:
    """The first day of the 12 months that end on ``on`` (2026-05-31 → 2025-06-01)."""
    return years_before(on, 1) + timedelta(days=1)


def _any(condition: ColumnElement[bool], name: str) -> Any:
    return func.max(case((condition, 1), else_=0)).label(name)


def _per_resident(days: Sequence[date]) -> list[Any]:
    """Grouped subqueries, one row per resident, one 0/1 column per day: a service entry in the day's
    12-month window (encounters, follow-ups, examinations), a contract in force, an active chronic or
    pregnancy condition. Each table is read once for every day of the batch, not once per day."""
    first, last = min(window_start(d) for d in days), max(days)
    encounters = (
        select(
            Encounter.resident_id,
            *(
                _any(
                    and_(
                        Encounter.start_at >= _local_midnight_utc(window_start(d)),
                        Encounter.start_at < _local_midnight_utc(d + timedelta(days=1)),
                    ),
                    f"d{i}",
                )
                for i, d in enumerate(days)
            ),
        )
        .where(
            Encounter.start_at >= _local_midnight_utc(first),
            Encounter.start_at < _local_midnight_utc(last + timedelta(days=1)),
        )
        .group_by(Encounter.resident_id)
        .subquery("enc")
    )
    followups = (
        select(
            ChronicFollowUp.resident_id,
            *(_any(ChronicFollowUp.visit_date.between(window_start(d), d), f"d{i}") for i, d in enumerate(days)),
        )
        .where(ChronicFollowUp.visit_date.between(first, last))
        .group_by(ChronicFollowUp.resident_id)
        .subquery("fu")
    )
    exams = (
        select(
            PhysicalExam.resident_id,
            *(_any(PhysicalExam.exam_date.between(window_start(d), d), f"d{i}") for i, d in enumerate(days)),
        )
        .where(PhysicalExam.exam_date.between(first, last))
        .group_by(PhysicalExam.resident_id)
        .subquery("ex")
    )
    contracts = (
        select(Contract.resident_id, *(_any(in_force_clause(d), f"d{i}") for i, d in enumerate(days)))
        .where(Contract.start_date <= last, Contract.end_date >= min(days))
        .group_by(Contract.resident_id)
        .subquery("con")
    )
    conditions = (
        select(
            Condition.resident_id,
            *(_any(active_condition(codes.CHRONIC_KEY_POPULATION, d), f"c{i}") for i, d in enumerate(days)),
            *(
                _any(
                    and_(
                        active_condition(codes.PREGNANCY, d),
                        Condition.onset_date >= d - timedelta(days=PREGNANCY_MAX_DAYS),
                    ),
                    f"p{i}",
                )
                for i, d in enumerate(days)
            ),
        )
        .where(code_prefix_clause(Condition.code, (*codes.CHRONIC_KEY_POPULATION, *codes.PREGNANCY)))
        .group_by(Condition.resident_id)
        .subquery("cond")
    )
    return [encounters, followups, exams, contracts, conditions]


def _bit(condition: ColumnElement[bool], name: str) -> Any:
    return case((condition, 1), else_=0).label(name)


def _is(column: Any) -> ColumnElement[bool]:
    return func.coalesce(column, 0) == 1


def counts(session: Session, *, communities: Sequence[int] | None, days: Sequence[date]) -> dict[date, CommunityCounts]:
    """The counts per community (``indicators.COLUMNS``) for each day, in one query. Inside, one row per
    resident who is not a merged duplicate nor moved out (a materialised CTE, so that each flag is evaluated
    once): per day a 0/1 flag for counted (born, alive), record, service entry in the 12 months, contract in
    force and each key population, from the LEFT JOINed grouped rows of the fact tables (``_per_resident``);
    outside, per community, sums of products of those flags."""
    if not days:
        return {}
    enc, fu, ex, con, cond = _per_resident(days)
    flags: list[Any] = []
    for i, on in enumerate(days):
        alive = or_(
            and_(Resident.deceased_date.is_(None), Resident.status == ResidentStatus.ACTIVE.value),
            Resident.deceased_date > on,
        )
        members = {
            KeyPopulation.ELDERLY: key_population_clause(KeyPopulation.ELDERLY, on),
            KeyPopulation.CHILD: key_population_clause(KeyPopulation.CHILD, on),
            KeyPopulation.DISABLED: key_population_clause(KeyPopulation.DISABLED, on),
            KeyPopulation.CHRONIC: _is(cond.c[f"c{i}"]),
            KeyPopulation.PREGNANT: and_(Resident.sex == "F", _is(cond.c[f"p{i}"])),
        }
        flags += [
            _bit(and_(Resident.birth_date <= on, alive), f"person{i}"),
            _bit(and_(Resident.record_created_on.is_not(None), Resident.record_created_on <= on), f"record{i}"),
            _bit(or_(_is(enc.c[f"d{i}"]), _is(fu.c[f"d{i}"]), _is(ex.c[f"d{i}"])), f"used{i}"),
            _bit(_is(con.c[f"d{i}"]), f"contracted{i}"),
            *(_bit(members[p], f"{p.value}{i}") for p in KeyPopulation),
        ]
    per_resident = (
        select(Resident.division_id.label("community"), *flags)
        .select_from(Resident)
        .outerjoin(enc, enc.c.resident_id == Resident.id)
        .outerjoin(fu, fu.c.resident_id == Resident.id)
        .outerjoin(ex, ex.c.resident_id == Resident.id)
        .outerjoin(con, con.c.resident_id == Resident.id)
        .outerjoin(cond, cond.c.resident_id == Resident.id)
        .where(Resident.status.in_((ResidentStatus.ACTIVE.value, ResidentStatus.DECEASED.value)))
    )
    if communities is not None:
        per_resident = per_resident.where(Resident.division_id.in_(communities))
    # MATERIALIZED: without it SQLite flattens the subquery and evaluates each flag once per sum it is in.
    r = per_resident.cte("per_resident").prefix_with("MATERIALIZED")
    columns: list[Any] = []
    for i in range(len(days)):
        person, record, contracted = r.c[f"person{i}"], r.c[f"record{i}"], r.c[f"contracted{i}"]
        day_columns = [
            func.sum(person),
            func.sum(person * record),
            func.sum(person * record * r.c[f"used{i}"]),
            func.sum(person * contracted),
        ]
        for population in KeyPopulation:
            member = r.c[f"{population.value}{i}"]
            day_columns += [func.sum(person * member), func.sum(person * member * contracted)]
        assert len(day_columns) == len(COLUMNS)
        columns += day_columns
    stmt = select(r.c.community, *columns).group_by(r.c.community)
    width = len(COLUMNS)
    out: dict[date, dict[int, tuple[int, ...]]] = {day: {} for day in days}
    for row in session.execute(stmt):
        community, values = row[0], [int(v or 0) for v in row[1:]]
        for i, day in enumerate(days):
            cell = tuple(values[i * width : (i + 1) * width])
            if cell[0]:
                out[day][community] = cell
    return dict(out)


# --- the stored months ----------------------------------------------------------------------------------------------
DISTRICT_UNIT = 0  # unit_id of the district row
STORED_COLUMNS = ("month", "slug", "level", "unit_id", "numerator", "denominator", "as_of", "computed_at")
StoredRow = tuple[str, str, str, int, int, int, date, datetime]


def replace_months(session: Session, *, months: Sequence[str], rows: Sequence[StoredRow]) -> int:
    """The stored rows of ``months`` replaced by ``rows`` (in ``STORED_COLUMNS`` order), in the caller's
    transaction: a refresh is all or nothing, and the same refresh twice leaves the same rows."""
    session.execute(delete(RecordIndicatorMonth).where(RecordIndicatorMonth.month.in_(list(months))))
    stored = ((*row[:6], row[6].isoformat(), db_datetime(row[7])) for row in rows)  # bulk_insert's storage forms
    return bulk_insert(session, RecordIndicatorMonth.__table__, STORED_COLUMNS, stored)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class StoredMonth:
    as_of: date
    computed_at: datetime
    counts: CommunityCounts


def stored_months(
    session: Session, *, months: Sequence[str], communities: Sequence[int] | None
) -> dict[str, StoredMonth]:
    """The stored community rows of each month that was refreshed (it has a district row), as counts per
    community (``indicators.COLUMNS``, rebuilt from each indicator's numerator and denominator), for
    ``communities`` (None: all)."""
    m = RecordIndicatorMonth
    community_rows = m.level == Level.COMMUNITY.value
    if communities is not None:
        community_rows = and_(community_rows, m.unit_id.in_(list(communities)))
    stmt = select(m.month, m.level, m.unit_id, m.slug, m.numerator, m.denominator, m.as_of, m.computed_at).where(
        m.month.in_(list(months)), or_(m.level == Level.DISTRICT.value, community_rows)
    )
    seen: dict[str, tuple[date, datetime]] = {}
    cells: dict[str, dict[int, list[int]]] = defaultdict(dict)
    for month, level, unit, slug, numerator, denominator, on, computed_at in session.execute(stmt):
        if level == Level.DISTRICT.value:
            seen[month] = (on, computed_at)
            continue
        definition = BY_SLUG.get(slug)
        if definition is None:  # an indicator since withdrawn
            continue
        row = cells[month].setdefault(unit, list(ZERO))
        row[INDEX[definition.numerator]] = int(numerator)
        row[INDEX[definition.denominator]] = int(denominator)
    return {
        month: StoredMonth(on, computed_at, {unit: tuple(row) for unit, row in cells.get(month, {}).items()})
        for month, (on, computed_at) in seen.items()
    }
