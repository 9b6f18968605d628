"""Indicators as registered objects (DHIS2-style): a slug, a name in Chinese and English, a unit,
its source, and how it is computed for a period and an organisation unit.

A module registers its indicators at import; pages and reports iterate over :data:`REGISTRY`
(by ``domain``) instead of naming indicators one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Unit = Literal["percent", "minutes", "hours", "count", "per_area_week"]


@dataclass(frozen=True, slots=True)
class Value:
    """An indicator's value for one period and unit: ``value`` is None when there is nothing to
    compute it from (no denominator), which a page shows as '—', not as 0."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    n: int = 0  # how many records it stands on


@dataclass(frozen=True, slots=True)
class Period:
    first: date  # inclusive
    last: date  # inclusive
    label: str  # 2026-11

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class Indicator:
    slug: str
    domain: str
    name_zh: str
    name_en: str
    unit: Unit
    source: str
    # compute(records, period, org unit id or None for the district, context) -> Value; records
    # are whatever the domain loads once for the whole table (so a table is one query, not one
    # per cell).
    compute: Callable[[Any, Period, int | None, dict[str, Any]], Value]
    higher_is_better: bool | None = None

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


REGISTRY: dict[str, Indicator] = {}


def register(indicator: Indicator) -> Indicator:
    if indicator.slug in REGISTRY and REGISTRY[indicator.slug] is not indicator:
        raise ValueError(f"indicator {indicator.slug} is registered twice")
    REGISTRY[indicator.slug] = indicator
    return indicator


def of_domain(domain: str) -> list[Indicator]:
    return [i for i in REGISTRY.values() if i.domain == domain]


def month_periods(until: date, count: int) -> list[Period]:
    """The last ``count`` calendar months up to and including ``until``'s month, oldest first."""
    out: list[Period] = []
    year, month = until.year, until.month
    for _ in range(count):
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        out.append(Period(first, date.fromordinal(nxt.toordinal() - 1), f"{year}-{month:02d}"))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]
