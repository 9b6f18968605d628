"""Key populations (重点人群), derived from data — never typed in by hand.

Definitions (National Basic Public Health Service Standard, 3rd ed., 2017):
- elderly: aged 65 or over (老年人健康管理服务对象: 辖区内65岁及以上常住居民);
- children 0–6: under 7 completed years (0～6岁儿童健康管理);
- pregnant: an active pregnancy condition whose onset lies within the last 300 days;
- disabled: a disability recorded on the personal information form (残疾情况);
- chronic patient: an active hypertension or type-2 diabetes condition (慢性病患者健康管理).

Two forms of the same rule: :func:`key_populations` for one resident (pure, table-tested), and
:func:`key_population_clause` as a SQL filter; a test checks they agree row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, false, or_, select

from healthbrain.core.time import age_on, years_before
from healthbrain.people.models import Resident
from healthbrain.records import codes
from healthbrain.records.models import Condition

ELDERLY_MIN_AGE: Final = 65
CHILD_MAX_AGE: Final = 6
PREGNANCY_MAX_DAYS: Final = 300  # 42 weeks of gestation plus a margin for late records


class KeyPopulation(StrEnum):
    ELDERLY = "elderly"
    CHILD = "child"
    PREGNANT = "pregnant"
    DISABLED = "disabled"
    CHRONIC = "chronic"


@dataclass(frozen=True, slots=True)
class ConditionFact:
    code: str
    clinical_status: str = "active"
    onset_date: date | None = None
    abatement_date: date | None = None


def _has_prefix(code: str, prefixes: Sequence[str]) -> bool:
    return any(code.startswith(p) for p in prefixes)


def _active_on(fact: ConditionFact, on: date) -> bool:
    if fact.clinical_status != "active":
        return False
    if fact.onset_date is not None and fact.onset_date > on:
        return False
    return fact.abatement_date is None or fact.abatement_date > on


def key_populations(
    *, birth_date: date, sex: str, disability: str | None, conditions: Iterable[ConditionFact], on: date
) -> frozenset[KeyPopulation]:
    found: set[KeyPopulation] = set()
    age = age_on(birth_date, on)
    if age >= ELDERLY_MIN_AGE:
        found.add(KeyPopulation.ELDERLY)
    if 0 <= age <= CHILD_MAX_AGE:
        found.add(KeyPopulation.CHILD)
    if disability:
        found.add(KeyPopulation.DISABLED)
    pregnancy_from = on - timedelta(days=PREGNANCY_MAX_DAYS)
    for fact in conditions:
        if not _active_on(fact, on):
            continue
        if _has_prefix(fact.code, codes.CHRONIC_KEY_POPULATION):
            found.add(KeyPopulation.CHRONIC)
        if (
            sex == "F"
            and _has_prefix(fact.code, codes.PREGNANCY)
            and fact.onset_date is not None
            and fact.onset_date >= pregnancy_from
        ):
            found.add(KeyPopulation.PREGNANT)
    return frozenset(found)


def code_prefix_clause(column: SQLColumnExpression[str], prefixes: Sequence[str]) -> ColumnElement[bool]:
    """``column`` starts with one of ``prefixes``, written as ranges so a B-tree index serves it."""
    return or_(*(and_(column >= p, column < p[:-1] + chr(ord(p[-1]) + 1)) for p in prefixes))


def _active_condition(prefixes: Sequence[str], on: date) -> ColumnElement[bool]:
    return and_(
        code_prefix_clause(Condition.code, prefixes),
        Condition.clinical_status == "active",
        or_(Condition.onset_date.is_(None), Condition.onset_date <= on),
        or_(Condition.abatement_date.is_(None), Condition.abatement_date > on),
    )


def _has_condition(condition: ColumnElement[bool], *, many: bool) -> ColumnElement[bool]:
    """Whether the resident has a matching condition. Over most of the district, build the set of
    patients once (IN); over a team's or a centre's residents, probe per resident (EXISTS). On
    SQLite at 1.65 M residents: 0.46 s vs 1.7 s district-wide, 0.06 s vs 0.7 s for one team."""
    if many:
        return Resident.id.in_(select(Condition.resident_id).where(condition))
    return exists(select(Condition.id).where(Condition.resident_id == Resident.id, condition))


def key_population_clause(population: KeyPopulation, on: date, *, many: bool = False) -> ColumnElement[bool]:
    """A filter over ``Resident`` selecting the members of a key population on a date; ``many``
    says the filter runs over most of the district (see :func:`_has_condition`)."""
    match population:
        case KeyPopulation.ELDERLY:
            return Resident.birth_date <= years_before(on, ELDERLY_MIN_AGE)
        case KeyPopulation.CHILD:
            return and_(Resident.birth_date > years_before(on, CHILD_MAX_AGE + 1), Resident.birth_date <= on)
        case KeyPopulation.DISABLED:
            return Resident.disability.is_not(None)
        case KeyPopulation.CHRONIC:
            return _has_condition(_active_condition(codes.CHRONIC_KEY_POPULATION, on), many=many)
        case KeyPopulation.PREGNANT:
            recent = and_(
                _active_condition(codes.PREGNANCY, on), Condition.onset_date >= on - timedelta(days=PREGNANCY_MAX_DAYS)
            )
            return and_(Resident.sex == "F", _has_condition(recent, many=many))
    return false()
