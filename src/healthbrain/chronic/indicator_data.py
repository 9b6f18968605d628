"""The facts behind the chronic programme's indicators (``chronic.indicators``), read set-based.

A month is a fixed handful of statements whatever the number of patients, never one per patient:
1. the enrolments managed in the 12-month window, with the resident's birth and death dates and
   community (→ town), the team (→ centre);
2. their follow-up forms in the window, ordered by enrolment, day and recording order;
3. the latest clinician-measured BP per hypertensive patient of the HEARTS cohort, ranked in SQL;
4. per disease, the residents aged 35 or more with an active condition, grouped per resident (and
   that disease's enrolment);
5. the days each path item was done, per resident on a path: observations (distinct item and local day;
   each code from ``first − interval``, the earliest day a due date of the month looks back to), the
   follow-up form's fields, home readings (distinct kind and local day);
6. small directory maps: community → town, team → centre, community → serving team, unit names.
Rows become NumPy columns (``indicator_rules.EnrolmentTable``), not objects. Every statement over
resident data goes through ``auth.scope.scoped``; a centre manager's or family doctor's table is also
limited to their teams' enrolments.

Cost, measured on a simulated district (1.65 M residents, 459 k enrolments managed in the year, 1.86 M
follow-ups in it, 11.4 M observations; a shared 2-core VM, SQLite, warm cache): a family doctor's team
(1.2 k enrolments) loads in 0.9 s and evaluates in 0.2 s; a centre (30 k) in 6 s and 4 s; the whole
district in about 80 s and 60 s. Reading the rows is most of the loading (the follow-ups and the
path's done days, 6.3 M); ``path.execution`` per patient is most of the evaluation (50 s for 395 k
patients), while the rules of the other indicators take 0.3 s. PostgreSQL 15 with its default settings
was no faster on that machine. The service caches evaluated months and can warm the district's ahead
of time (``indicator_service.warm``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, TypeVar

import numpy as np
from sqlalchemy import Boolean, ColumnElement, Select, String, and_, case, func, or_, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from healthbrain.auth.roles import Scope
from healthbrain.auth.scope import Principal, scoped
from healthbrain.chronic import path
from healthbrain.chronic.definitions import (
    DISEASE_ICD10,
    ENROL_MIN_AGE,
    FACE_TO_FACE,
    Disease,
    EndReason,
    EnrolmentStatus,
    ReadingKind,
)
from healthbrain.chronic.indicator_rules import (
    Clock,
    Days,
    DiagnosisTable,
    EnrolmentTable,
    Ints,
    Level,
    Units,
    days,
    floats,
    status_code,
)
from healthbrain.chronic.indicators import MonthFacts
from healthbrain.chronic.models import ChronicEnrolment, ChronicFollowUp, HomeReading
from healthbrain.core.time import SHANGHAI, years_before
from healthbrain.geo.models import CareTeam, CareTeamCommunity, Division, DivisionLevel, Institution
from healthbrain.people.models import Resident, ResidentStatus
from healthbrain.records import codes
from healthbrain.records.models import Condition, Encounter, EncounterClass, Observation

_MANAGED: Final = (EnrolmentStatus.ENROLLED.value, EnrolmentStatus.ENDED.value)
# Observations that are not a clinician's measurement at a visit (HEARTS counts visits).
_NOT_A_VISIT: Final = (EncounterClass.PHONE.value, EncounterClass.DEVICE.value)
_GONE: Final = (ResidentStatus.MERGED.value, ResidentStatus.MOVED_OUT.value)


class local_day(FunctionElement[str]):
    """An instant's calendar day in Asia/Shanghai, as ISO text ('2026-11-25'). Shanghai keeps UTC+8 all
    year, so SQLite shifts by eight hours; PostgreSQL converts with the zone."""

    type = String()
    inherit_cache = True


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(local_day, "postgresql")
def _local_day_postgresql(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"


class _Days:
    """ISO text → date, parsed once per distinct day (a month's rows share a few hundred days)."""

    def __init__(self) -> None:
        self._seen: dict[Any, date] = {}

    def __call__(self, value: Any) -> date:
        day = self._seen.get(value)
        if day is None:
            day = self._seen[value] = value if isinstance(value, date) else date.fromisoformat(value)
        return day


def _start_of(day: date) -> datetime:
    """The instant a local day begins (to compare with stored instants)."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


# --- the directory ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Directory:
    town_of_community: dict[int, int | None]
    centre_of_team: dict[int, int]
    serving_team: dict[int, int]  # community → the first team serving it
    names: dict[Level, dict[int, str]]
    towns_served: dict[int, set[int]]  # team → the towns of the communities it serves

    def units(self, community: int | None, team: int | None, cache: dict[tuple[Any, Any], Units]) -> Units:
        key = (community, team)
        units = cache.get(key)
        if units is None:
            town = self.town_of_community.get(community) if community is not None else None
            centre = self.centre_of_team.get(team) if team is not None else None
            units = cache[key] = Units(town=town, centre=centre, team=team)
        return units


K = TypeVar("K")
V = TypeVar("V")


def _pairs(session: Session, statement: Select[K, V]) -> dict[K, V]:
    return {key: value for key, value in session.execute(statement)}


def directory(session: Session) -> Directory:
    town_of = _pairs(
        session, select(Division.id, Division.parent_id).where(Division.level == DivisionLevel.COMMUNITY.value)
    )
    centre_of = _pairs(session, select(CareTeam.id, CareTeam.home_institution_id))
    serving = _pairs(
        session,
        select(CareTeamCommunity.division_id, func.min(CareTeamCommunity.team_id)).group_by(
            CareTeamCommunity.division_id
        ),
    )
    towns_served: dict[int, set[int]] = defaultdict(set)
    for team, community in session.execute(select(CareTeamCommunity.team_id, CareTeamCommunity.division_id)):
        if (town := town_of.get(community)) is not None:
            towns_served[team].add(town)
    towns = _pairs(session, select(Division.id, Division.name).where(Division.level == DivisionLevel.TOWN.value))
    centres = _pairs(
        session,
        select(Institution.id, Institution.name).where(Institution.id.in_(select(CareTeam.home_institution_id))),
    )
    teams = _pairs(session, select(CareTeam.id, CareTeam.name))
    return Directory(
        town_of_community=town_of,
        centre_of_team=centre_of,
        serving_team=serving,
        names={Level.TOWN: towns, Level.CENTRE: centres, Level.TEAM: teams},
        towns_served=dict(towns_served),
    )


def teams_of_centre(session: Session, institution_id: int) -> tuple[int, ...]:
    return tuple(session.scalars(select(CareTeam.id).where(CareTeam.home_institution_id == institution_id)))


# --- the month's facts ----------------------------------------------------------------------------------------
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def _in_scope(statement: S, principal: Principal, teams: Sequence[int] | None) -> S:
    """The caller's organisation scope (over ``Resident``, which the statement joins) and teams."""
    if teams is not None:
        statement = statement.where(ChronicEnrolment.team_id.in_(teams))
    return scoped(statement, principal)


def _enrolment_ids(
    column: Any, principal: Principal, teams: Sequence[int] | None, where: Iterable[ColumnElement[bool]]
) -> Select[Any]:
    """A column of the enrolments that meet ``where`` in the caller's scope, for ``IN (…)``. The district's
    scope filters no resident (``scoped`` adds ``true``), so the join to ``resident`` is left out there: on
    PostgreSQL it turned a hash semi-join into two million index probes."""
    statement = select(column).where(*where)
    if teams is not None:
        statement = statement.where(ChronicEnrolment.team_id.in_(teams))
    if principal.scope != Scope.ALL:
        statement = statement.join(Resident, Resident.id == ChronicEnrolment.resident_id)
    return scoped(statement, principal)


def _managed_in_window(clock: Clock) -> tuple[ColumnElement[bool], ...]:
    """Enrolled on a day of the window (a superset: the pure rules decide exactly)."""
    return (
        ChronicEnrolment.status.in_(_MANAGED),
        ChronicEnrolment.enrolled_on <= clock.on,
        or_(ChronicEnrolment.ended_on.is_(None), ChronicEnrolment.ended_on >= clock.start),
    )


def _on_path(clock: Clock) -> tuple[ColumnElement[bool], ...]:
    """On a path on as_of (a superset: deaths are left to the pure rules)."""
    return (
        ChronicEnrolment.status.in_(_MANAGED),
        ChronicEnrolment.enrolled_on <= clock.on,
        or_(ChronicEnrolment.ended_on.is_(None), ChronicEnrolment.ended_on > clock.on),
    )


def _residents(principal: Principal, teams: Sequence[int] | None, where: Iterable[ColumnElement[bool]]) -> Select[Any]:
    return _enrolment_ids(ChronicEnrolment.resident_id, principal, teams, where)


def _rows(session: Session, statement: Select[*tuple[Any, ...]]) -> list[Any]:
    """A statement's rows through the Core connection: the ORM's per-row machinery is not needed for
    plain columns, and costs seconds on a district."""
    return list(session.connection().execute(statement).all())


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[tuple[Any, ...]]:
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


def _as_text(column: Any) -> Any:
    """A date column without SQLAlchemy's per-value conversion (SQLite gives ISO text, PostgreSQL dates;
    NumPy reads both)."""
    return type_coerce(column, String)


def _deceased(statuses: Sequence[str], deceased: Sequence[Any]) -> Days:
    """The day of death; a resident marked deceased without a date died before any month."""
    return days(
        [
            d if d is not None else (date.min if s == ResidentStatus.DECEASED else None)
            for s, d in zip(statuses, deceased, strict=True)
        ]
    )


def _unit_index(
    where: Directory, communities: Sequence[int | None], teams: Sequence[int | None]
) -> tuple[Ints, tuple[Units, ...]]:
    """Each row's units (from its community and team) as an index into the distinct units."""
    cache: dict[tuple[Any, Any], Units] = {}
    index_of: dict[Units, int] = {}
    index = np.fromiter(
        (index_of.setdefault(where.units(c, t, cache), len(index_of)) for c, t in zip(communities, teams, strict=True)),
        dtype=np.int64,
        count=len(teams),
    )
    return index, tuple(index_of)


def load_month(
    session: Session,
    *,
    principal: Principal,
    teams: Sequence[int] | None,
    first: date,
    as_of: date,
    where: Directory,
) -> MonthFacts:
    """The facts of one month for the caller's scope (``teams`` None: every team and no team)."""
    clock = Clock.of(as_of, first)
    enrolments = _enrolments(session, principal, teams, clock, where)
    diagnoses = _diagnoses(session, principal, teams, clock, where)
    done = _done_dates(session, principal, teams, clock)
    return MonthFacts(first=clock.first, as_of=clock.on, enrolments=enrolments, diagnoses=diagnoses, done_dates=done)


def _enrolments(
    session: Session, principal: Principal, teams: Sequence[int] | None, clock: Clock, where: Directory
) -> EnrolmentTable:
    """1–3: the enrolments managed in the window, their follow-ups in it, and the clinic BPs."""
    statement = (
        select(
            ChronicEnrolment.id,
            ChronicEnrolment.resident_id,
            ChronicEnrolment.disease == Disease.HYPERTENSION.value,
            ChronicEnrolment.status,
            _as_text(ChronicEnrolment.enrolled_on),
            _as_text(ChronicEnrolment.ended_on),
            ChronicEnrolment.end_reason == EndReason.LOST.value,
            ChronicEnrolment.team_id,
            _as_text(Resident.birth_date),
            _as_text(Resident.deceased_date),
            Resident.status,
            Resident.division_id,
        )
        .join(Resident, Resident.id == ChronicEnrolment.resident_id)
        .where(*_managed_in_window(clock))
        .order_by(ChronicEnrolment.id)
    )
    rows = _rows(session, _in_scope(statement, principal, teams))
    ids, resident, htn, status, enrolled, ended, lost, team, birth, deceased, resident_status, community = _columns(
        rows, 12
    )
    enrolment_ids = np.array(ids, dtype=np.int64)
    unit, units = _unit_index(where, community, team)

    # their follow-up forms in the window, by enrolment, day and the order they were recorded
    in_scope = _enrolment_ids(ChronicEnrolment.id, principal, teams, _managed_in_window(clock))
    forms = _rows(
        session,
        select(
            ChronicFollowUp.enrolment_id,
            _as_text(ChronicFollowUp.visit_date),
            ChronicFollowUp.method.in_([m.value for m in FACE_TO_FACE]),
            ChronicFollowUp.sbp,
            ChronicFollowUp.dbp,
            ChronicFollowUp.fasting_glucose,
        )
        .where(
            ChronicFollowUp.enrolment_id.in_(in_scope),
            ChronicFollowUp.visit_date >= clock.start,
            ChronicFollowUp.visit_date <= clock.on,
        )
        .order_by(ChronicFollowUp.enrolment_id, ChronicFollowUp.visit_date, ChronicFollowUp.id),
    )
    fu_enrolment, fu_day, fu_f2f, fu_sbp, fu_dbp, fu_glucose = _columns(forms, 6)

    # the latest clinician-measured BP of each hypertensive patient on a path (HEARTS)
    clinic = _latest_clinic_bp(session, principal, teams, clock)
    found = [clinic.get(r) if h else None for r, h in zip(resident, htn, strict=True)]
    return EnrolmentTable(
        resident=np.array(resident, dtype=np.int64),
        hypertension=np.array(htn, dtype=bool),
        status=np.array([status_code(s) for s in status], dtype=np.int8),
        enrolled=days(enrolled),
        ended=days(ended),
        ended_lost=np.array([bool(x) for x in lost], dtype=bool),
        birth=days(birth),
        deceased=_deceased(resident_status, deceased),
        unit=unit,
        units=units,
        clinic_day=days([c[0] if c else None for c in found]),
        clinic_sbp=floats([c[1] if c else None for c in found]),
        clinic_dbp=floats([c[2] if c else None for c in found]),
        fu_enrolment=np.searchsorted(enrolment_ids, np.array(fu_enrolment, dtype=np.int64)).astype(np.int64),
        fu_day=days(fu_day),
        fu_face_to_face=np.array([bool(x) for x in fu_f2f], dtype=bool),
        fu_sbp=floats(fu_sbp),
        fu_dbp=floats(fu_dbp),
        fu_glucose=floats(fu_glucose),
    )


def _latest_clinic_bp(
    session: Session, principal: Principal, teams: Sequence[int] | None, clock: Clock
) -> dict[int, tuple[str, float, float]]:
    """Per hypertensive patient on a path, the latest clinician-measured BP in the window: systolic and
    diastolic at the same instant, not from a device, not from a phone or device encounter."""
    systolic, diastolic = aliased(Observation), aliased(Observation)
    patients = _residents(
        principal,
        teams,
        (
            *_on_path(clock),
            ChronicEnrolment.disease == Disease.HYPERTENSION.value,
            ChronicEnrolment.enrolled_on <= clock.hearts_registered_by,  # the HEARTS cohort only
        ),
    )
    ranked = (
        select(
            systolic.resident_id.label("resident_id"),
            local_day(systolic.effective_at).label("day"),
            systolic.value_num.label("sbp"),
            diastolic.value_num.label("dbp"),
            func.row_number()
            .over(partition_by=systolic.resident_id, order_by=(systolic.effective_at.desc(), systolic.id.desc()))
            .label("rank"),
        )
        .join(
            diastolic,
            and_(
                diastolic.resident_id == systolic.resident_id,
                diastolic.code == codes.DIASTOLIC_BP,
                diastolic.effective_at == systolic.effective_at,
            ),
        )
        .outerjoin(Encounter, Encounter.id == systolic.encounter_id)
        .where(
            systolic.code == codes.SYSTOLIC_BP,
            systolic.resident_id.in_(patients),
            systolic.effective_at >= _start_of(clock.start),
            systolic.effective_at < _start_of(clock.on + timedelta(days=1)),
            systolic.device_id.is_(None),
            diastolic.device_id.is_(None),
            systolic.value_num.is_not(None),
            diastolic.value_num.is_not(None),
            or_(Encounter.id.is_(None), Encounter.encounter_class.not_in(_NOT_A_VISIT)),
        )
        .subquery()
    )
    rows = _rows(
        session, select(ranked.c.resident_id, ranked.c.day, ranked.c.sbp, ranked.c.dbp).where(ranked.c.rank == 1)
    )
    return {resident_id: (day, sbp, dbp) for resident_id, day, sbp, dbp in rows}


def _diagnoses(
    session: Session, principal: Principal, teams: Sequence[int] | None, clock: Clock, where: Directory
) -> DiagnosisTable:
    """4: residents with an active hypertension / diabetes condition (≥ 35, alive on as_of), per disease,
    with that disease's enrolment; its team, or the first team serving the community."""
    parts: list[list[Any]] = []
    wanted = None if teams is None else set(teams)
    for disease in Disease:
        # driven from the residents (the scope's communities use the resident index), grouped per resident
        # and enrolment (both primary keys: the other columns follow from them)
        statement = (
            select(
                func.count(Condition.id) == func.count(Condition.onset_date),
                _as_text(func.min(Condition.onset_date)),
                _as_text(Resident.birth_date),
                _as_text(Resident.deceased_date),
                Resident.status,
                Resident.division_id,
                ChronicEnrolment.status,
                _as_text(ChronicEnrolment.enrolled_on),
                _as_text(ChronicEnrolment.ended_on),
                ChronicEnrolment.team_id,
            )
            .join(
                Condition,
                and_(
                    Condition.resident_id == Resident.id,
                    Condition.clinical_status == "active",
                    or_(*(Condition.code.startswith(prefix) for prefix in DISEASE_ICD10[disease])),
                ),
            )
            .outerjoin(
                ChronicEnrolment,
                and_(ChronicEnrolment.resident_id == Resident.id, ChronicEnrolment.disease == disease.value),
            )
            .where(
                Resident.status.not_in(_GONE),
                Resident.birth_date <= years_before(clock.on, ENROL_MIN_AGE),
                or_(Resident.deceased_date.is_(None), Resident.deceased_date > clock.on),
            )
            .group_by(Resident.id, ChronicEnrolment.id)
        )
        parts.extend(list(row) for row in _rows(session, scoped(statement, principal)))
    for row in parts:  # the unit team: the enrolment's, else the first team serving the community
        if row[9] is None:
            row[9] = where.serving_team.get(row[5])
    if wanted is not None:
        parts = [row for row in parts if row[9] in wanted]
    all_dated, onset, birth, deceased, resident_status, community, status, enrolled, ended, team = _columns(parts, 10)
    unit, units = _unit_index(where, community, team)
    return DiagnosisTable(
        birth=days(birth),
        deceased=_deceased(resident_status, deceased),
        onset=days([o if dated else None for o, dated in zip(onset, all_dated, strict=True)]),
        status=np.array([status_code(s) for s in status], dtype=np.int8),
        enrolled=days(enrolled),
        ended=days(ended),
        unit=unit,
        units=units,
    )


def _path_sources() -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]], dict[str, int]]:
    """Path items by evidence — LOINC code, follow-up form field, home reading kind → slugs — and each
    code's, field's or kind's longest interval (how far back a month's due dates look)."""
    by_code: dict[str, list[str]] = defaultdict(list)
    by_field: dict[str, list[str]] = defaultdict(list)
    by_kind: dict[str, list[str]] = defaultdict(list)
    lookback: dict[str, int] = {}
    for item in path.PATH_ITEMS:
        target = {
            path.Evidence.OBSERVATION: by_code,
            path.Evidence.FOLLOWUP_FIELD: by_field,
            path.Evidence.HOME_READING: by_kind,
        }[item.evidence]
        for code in item.codes:
            target[code].append(item.slug)
            lookback[code] = max(lookback.get(code, 0), item.interval_days)
    return dict(by_code), dict(by_field), dict(by_kind), lookback


def _done_dates(
    session: Session, principal: Principal, teams: Sequence[int] | None, clock: Clock
) -> dict[int, dict[str, list[date]]]:
    """5: the days each path item was done, per resident on a path on as_of — observations by code, the
    follow-up form's fields (filled in: not None, not False, as ``pathdata`` reads them) and home
    readings, distinct per resident and local day. Each source is read from ``first − interval``, the
    earliest day a due date of the month looks back to (for the yearly items that is also before the
    12-month complication screening window)."""
    patients = _residents(principal, teams, _on_path(clock))
    end = _start_of(clock.on + timedelta(days=1))
    by_code, by_field, by_kind, lookback = _path_sources()
    parse = _Days()
    out: dict[int, dict[str, list[date]]] = defaultdict(lambda: defaultdict(list))

    def collect(rows: Iterable[Sequence[Any]], slugs: Mapping[str, list[str]]) -> None:
        for resident_id, source, text in rows:
            when = parse(text)
            mine = out[resident_id]
            for slug in slugs[source]:
                mine[slug].append(when)

    since_of = {code: clock.first - timedelta(days=days_back) for code, days_back in lookback.items()}
    groups: dict[date, list[str]] = defaultdict(list)
    for code in by_code:
        groups[since_of[code]].append(code)
    day = local_day(Observation.effective_at)
    # one row per item and day where each code evidences one item (a BP and its panel, a weight and a BMI
    # of the same day are one row); per code otherwise
    one_each = all(len(slugs) == 1 for slugs in by_code.values())
    source: Any = Observation.code
    observed_slugs = by_code
    if one_each:
        source = case({code: slugs[0] for code, slugs in by_code.items()}, value=Observation.code)
        observed_slugs = {slugs[0]: slugs for slugs in by_code.values()}
    observed = (
        select(Observation.resident_id, source, day)
        .where(
            Observation.resident_id.in_(patients),
            or_(
                *(
                    and_(Observation.code.in_(group), Observation.effective_at >= _start_of(since))
                    for since, group in groups.items()
                )
            ),
            Observation.effective_at < end,
        )
        .group_by(Observation.resident_id, source, day)
    )
    collect(_rows(session, observed), observed_slugs)

    if by_field:
        field_since = min(since_of[name] for name in by_field)
        flags = [
            (
                getattr(ChronicFollowUp, name).is_(True)
                if _is_boolean(name)
                else getattr(ChronicFollowUp, name).is_not(None)
            )
            for name in by_field
        ]
        forms = _rows(
            session,
            select(ChronicFollowUp.resident_id, _as_text(ChronicFollowUp.visit_date), *flags).where(
                ChronicFollowUp.resident_id.in_(patients),
                ChronicFollowUp.visit_date >= field_since,
                ChronicFollowUp.visit_date <= clock.on,
            ),
        )
        names = list(by_field)
        collect(
            (
                (resident_id, name, text)
                for resident_id, text, *filled in forms
                for name, yes in zip(names, filled, strict=True)
                if yes and parse(text) >= since_of[name]
            ),
            by_field,
        )

    if by_kind:
        reading_day = local_day(HomeReading.measured_at)
        readings = (
            select(HomeReading.resident_id, HomeReading.kind, reading_day)
            .where(
                HomeReading.resident_id.in_(patients),
                HomeReading.kind.in_([ReadingKind(kind).value for kind in by_kind]),
                HomeReading.measured_at >= _start_of(min(since_of[kind] for kind in by_kind)),
                HomeReading.measured_at < end,
            )
            .group_by(HomeReading.resident_id, HomeReading.kind, reading_day)
        )
        collect(
            (row for row in _rows(session, readings) if parse(row[2]) >= since_of[row[1]]),
            by_kind,
        )
    return out


def _is_boolean(name: str) -> bool:
    return isinstance(getattr(ChronicFollowUp, name).type, Boolean)
