"""Indicators of the resident health record and of family-doctor contracting (档案与签约指标), registered
in the indicator registry under the domain ``records``.

Pure: no session, no clock. ``indicator_data`` counts, in one set-based query per batch of days, a vector
of ``COLUMNS`` per community (社区/村); here those vectors are rolled up to a level's units and divided.
Every indicator is computed "as of" a day ``on`` — a month's last day, or today for the running month.

Definitions (numerator ÷ denominator, as a percentage; shared/reference/records.md):

- Residents (常住居民, the denominator of 建档率 and 签约率): resident records that are not merged
  duplicates and not moved out, born on or before ``on``, and alive on ``on`` (no death date, or a death
  date after ``on``; a person who died since still counts for earlier months). The unit is the community
  the resident lives in now (the record keeps no history of addresses).
- ``records.record_rate`` 电子健康档案建档率 — residents whose electronic record was created
  (``record_created_on``) on or before ``on`` ÷ residents. Target ≥ 90 %.
- ``records.record_use_rate`` 健康档案使用率 — residents with a record (as above) who had at least one
  service entry in the 12 months up to ``on`` (``[on − 12 months + 1 day, on]``): an encounter of any class
  (outpatient, inpatient, home visit, phone, device …, by its local start date), a chronic-disease
  follow-up or a physical examination ÷ residents with a record. Target ≥ 60 %.
- ``records.contract_rate`` 签约率 — residents with a family-doctor contract in force on ``on``
  (``contracts.definitions.in_force``: signed, started, not past its end date, not ended) ÷ residents.
- ``records.contract_rate_<population>`` 重点人群签约率 — the same within a key population on ``on``
  (``people.populations``: 65+, children 0–6, pregnant, disabled, hypertension / type-2 diabetes patients);
  one indicator per population, so the table and the Excel file show each as a column.

Organisation units (a resident counts for every unit their community belongs to):
- town 乡镇/街道: the community's parent division; community 社区/村: the community itself;
- centre 社区卫生服务中心: the centres (kind ``chc``) whose catchment (服务辖区) holds the community;
- team 家庭医生团队: the active teams that serve the community (``care_team_community``). A community
  served by two teams counts for both, so team rows do not add up to the district.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from healthbrain.indicators.registry import Indicator, Period, Value, of_domain, register
from healthbrain.people.populations import KeyPopulation

DOMAIN: Final = "records"


class Level(StrEnum):
    DISTRICT = "district"  # the caller's whole scope
    TOWN = "town"
    COMMUNITY = "community"
    CENTRE = "centre"
    TEAM = "team"


LEVELS: Final = (Level.TOWN, Level.COMMUNITY, Level.CENTRE, Level.TEAM)

# The counts kept per community, in this order.
RESIDENTS: Final = "residents"
RECORDS: Final = "records"
USED: Final = "used"
CONTRACTED: Final = "contracted"


def population_column(population: KeyPopulation) -> str:
    return f"pop_{population.value}"


def population_contracted_column(population: KeyPopulation) -> str:
    return f"pop_{population.value}_contracted"


COLUMNS: Final[tuple[str, ...]] = (
    RESIDENTS,
    RECORDS,
    USED,
    CONTRACTED,
    *(c for p in KeyPopulation for c in (population_column(p), population_contracted_column(p))),
)
INDEX: Final = {name: i for i, name in enumerate(COLUMNS)}

Counts = tuple[int, ...]  # one value per COLUMNS entry
CommunityCounts = Mapping[int, Counts]  # community id → counts


@dataclass(frozen=True, slots=True)
class Definition:
    slug: str
    name_zh: str
    name_en: str
    numerator: str
    denominator: str
    target: float | None = None  # percent


RECORD_RATE: Final = "records.record_rate"
USE_RATE: Final = "records.record_use_rate"
CONTRACT_RATE: Final = "records.contract_rate"
_POPULATION_NAMES: Final = {
    KeyPopulation.ELDERLY: ("65岁及以上老年人签约率", "Contract rate: aged 65+"),
    KeyPopulation.CHILD: ("0～6岁儿童签约率", "Contract rate: children 0–6"),
    KeyPopulation.CHRONIC: ("高血压/糖尿病患者签约率", "Contract rate: hypertension / diabetes"),
    KeyPopulation.PREGNANT: ("孕产妇签约率", "Contract rate: pregnant women"),
    KeyPopulation.DISABLED: ("残疾人签约率", "Contract rate: people with disabilities"),
}
DEFINITIONS: Final[tuple[Definition, ...]] = (
    Definition(RECORD_RATE, "电子健康档案建档率", "Electronic health record coverage", RECORDS, RESIDENTS, 90.0),
    Definition(USE_RATE, "健康档案使用率", "Health records in use (service in 12 months)", USED, RECORDS, 60.0),
    Definition(CONTRACT_RATE, "签约率", "Family-doctor contract rate", CONTRACTED, RESIDENTS),
    *(
        Definition(
            f"{CONTRACT_RATE}_{p.value}",
            _POPULATION_NAMES[p][0],
            _POPULATION_NAMES[p][1],
            population_contracted_column(p),
            population_column(p),
        )
        for p in (
            KeyPopulation.ELDERLY,
            KeyPopulation.CHILD,
            KeyPopulation.CHRONIC,
            KeyPopulation.PREGNANT,
            KeyPopulation.DISABLED,
        )
    ),
)
BY_SLUG: Final = {d.slug: d for d in DEFINITIONS}


@dataclass(frozen=True)
class Geography:
    """Which units each community belongs to, and the units' names (``indicator_data.geography``)."""

    town_of: Mapping[int, int]  # community → town
    centres_of: Mapping[int, Sequence[int]]  # community → centres whose catchment holds it
    teams_of: Mapping[int, Sequence[int]]  # community → active teams serving it
    names: Mapping[Level, Mapping[int, str]]

    def units(self, community: int, level: Level) -> Sequence[int]:
        match level:
            case Level.TOWN:
                town = self.town_of.get(community)
                return () if town is None else (town,)
            case Level.COMMUNITY:
                return (community,)
            case Level.CENTRE:
                return self.centres_of.get(community, ())
            case Level.TEAM:
                return self.teams_of.get(community, ())
        return ()


def add(a: Counts, b: Counts) -> Counts:
    return tuple(x + y for x, y in zip(a, b, strict=True))


ZERO: Final[Counts] = (0,) * len(COLUMNS)


def rollup(counts: CommunityCounts, geography: Geography, level: Level) -> dict[int | None, Counts]:
    """Counts per unit of ``level`` (every unit a community belongs to), and under ``None`` for all the
    communities counted (each once)."""
    out: dict[int | None, Counts] = {None: ZERO}
    for community, row in counts.items():
        out[None] = add(out[None], row)
        if level is Level.DISTRICT:
            continue
        for unit in geography.units(community, level):
            out[unit] = add(out.get(unit, ZERO), row)
    return out


def share(numerator: int, denominator: int) -> Value:
    value = round(100 * numerator / denominator, 1) if denominator else None
    return Value(value, numerator=numerator, denominator=denominator, n=denominator)


def value_of(definition: Definition, row: Counts) -> Value:
    return share(row[INDEX[definition.numerator]], row[INDEX[definition.denominator]])


@dataclass
class RecordFacts:
    """What the registry's ``compute`` reads: each day's counts per community (by period label), rolled up
    once per level."""

    counts: Mapping[str, CommunityCounts]
    geography: Geography
    _rolled: dict[tuple[str, Level], dict[int | None, Counts]] = field(default_factory=dict)

    def row(self, period: Period, unit: int | None, level: Level) -> Counts:
        key = (period.label, level)
        if key not in self._rolled:
            self._rolled[key] = rollup(self.counts.get(period.label, {}), self.geography, level)
        return self._rolled[key].get(unit, ZERO)


def _compute(definition: Definition) -> Callable[[Any, Period, int | None, dict[str, Any]], Value]:
    def compute(records: Any, period: Period, unit: int | None, ctx: dict[str, Any]) -> Value:
        """ctx["level"]: the level ``unit`` is a key of (default: the whole scope)."""
        assert isinstance(records, RecordFacts)
        return value_of(definition, records.row(period, unit, Level(ctx.get("level", Level.DISTRICT))))

    compute.__name__ = definition.slug.split(".")[1]
    return compute


_SOURCE: Final = "国家基本公共卫生服务规范（第三版）; 国医改办发〔2016〕1号; shared/reference/records.md"
for _definition in DEFINITIONS:
    register(
        Indicator(
            _definition.slug,
            DOMAIN,
            _definition.name_zh,
            _definition.name_en,
            "percent",
            _SOURCE,
            _compute(_definition),
            True,
        )
    )


def indicators() -> list[Indicator]:
    """The record indicators in registry order (pages iterate over these)."""
    return of_domain(DOMAIN)
