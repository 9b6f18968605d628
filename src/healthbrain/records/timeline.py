"""The pure core of the resident's longitudinal record page (居民健康档案): the timeline of
encounters grouped by year and month with what was recorded in each, the periods and chart ranges,
the BMI series derived from weights and heights, the thinning of long series for a chart, and the
family-doctor contract status. No session, no ORM objects: plain dataclasses in, dataclasses out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from healthbrain.core.time import SHANGHAI, to_local, years_before
from healthbrain.records import codes
from healthbrain.records.models import EncounterClass

KINDS: Final = tuple(k.value for k in EncounterClass)
PERIODS: Final = ("1y", "3y", "all")  # timeline periods and chart ranges
DEFAULT_PERIOD: Final = "all"
DEFAULT_RANGE: Final = "1y"
PAGE_SIZE: Final = 50  # encounters per page of the timeline
CHART_MAX_POINTS: Final = 400  # per series: more points than pixels only slows the page down
CONTRACT_EXPIRING_DAYS: Final = 30  # a contract ending within a month is shown as "expiring"


# --- filters ---------------------------------------------------------------------------------------
def parse_kinds(values: Iterable[str]) -> tuple[str, ...]:
    """The encounter classes asked for, in the canonical order; unknown values are dropped."""
    wanted = {v.strip() for v in values}
    return tuple(k for k in KINDS if k in wanted)


def parse_period(value: str | None, default: str = DEFAULT_PERIOD) -> str:
    return value if value in PERIODS else default


def period_start(period: str, today: date) -> date | None:
    """The first local day of a period ending today (None: the whole history)."""
    if period == "1y":
        return years_before(today, 1)
    if period == "3y":
        return years_before(today, 3)
    return None


# --- the timeline ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EncounterFact:
    id: int
    kind: str
    start_at: datetime
    end_at: datetime | None = None
    institution: str | None = None
    practitioner: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None


@dataclass(frozen=True, slots=True)
class ObservationFact:
    encounter_id: int
    code: str
    value_num: float | None
    value_text: str | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ConditionFact:
    encounter_id: int
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Measurement:
    """One value shown in an entry: ``code`` is a LOINC code (the BP panel for a paired BP)."""

    code: str
    value: str
    unit: str | None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    encounter: EncounterFact
    local_start: datetime
    measurements: tuple[Measurement, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()


@dataclass(slots=True)
class MonthGroup:
    year: int
    month: int
    entries: list[TimelineEntry] = field(default_factory=list)


@dataclass(slots=True)
class YearGroup:
    year: int
    months: list[MonthGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(m.entries) for m in self.months)


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"


def measurements_of(observations: Sequence[ObservationFact]) -> tuple[Measurement, ...]:
    """An encounter's observations as shown: systolic and diastolic paired as one BP value, the rest
    in the record's display order (vital signs first), one value per code (the first given)."""
    by_code: dict[str, ObservationFact] = {}
    for o in observations:
        by_code.setdefault(o.code, o)
    shown: list[Measurement] = []
    sbp, dbp = by_code.get(codes.SYSTOLIC_BP), by_code.get(codes.DIASTOLIC_BP)
    if sbp and dbp and sbp.value_num is not None and dbp.value_num is not None:
        shown.append(Measurement(codes.BP_PANEL, f"{_number(sbp.value_num)}/{_number(dbp.value_num)}", "mm[Hg]"))
        del by_code[codes.SYSTOLIC_BP], by_code[codes.DIASTOLIC_BP]
    for code in sorted(by_code, key=lambda c: (codes.display_order(c), c)):
        o = by_code[code]
        if o.value_num is not None:
            shown.append(Measurement(code, _number(o.value_num), o.unit))
        elif o.value_text:
            shown.append(Measurement(code, o.value_text, o.unit))
    return tuple(shown)


def build_timeline(
    encounters: Sequence[EncounterFact],
    observations: Iterable[ObservationFact] = (),
    conditions: Iterable[ConditionFact] = (),
) -> list[YearGroup]:
    """Encounters newest first, grouped by local (Asia/Shanghai) year and month, each with the
    observations and conditions recorded in it."""
    obs_by: dict[int, list[ObservationFact]] = {}
    for o in observations:
        obs_by.setdefault(o.encounter_id, []).append(o)
    cond_by: dict[int, list[ConditionFact]] = {}
    for c in conditions:
        cond_by.setdefault(c.encounter_id, []).append(c)
    years: list[YearGroup] = []
    for e in sorted(encounters, key=lambda e: (e.start_at, e.id), reverse=True):
        local = to_local(e.start_at)
        if not years or years[-1].year != local.year:
            years.append(YearGroup(local.year))
        months = years[-1].months
        if not months or months[-1].month != local.month:
            months.append(MonthGroup(local.year, local.month))
        months[-1].entries.append(
            TimelineEntry(
                encounter=e,
                local_start=local,
                measurements=measurements_of(obs_by.get(e.id, [])),
                conditions=tuple(sorted(cond_by.get(e.id, []), key=lambda c: c.code)),
            )
        )
    return years


# --- charts ----------------------------------------------------------------------------------------
Point = tuple[datetime, float]


def thin(points: Sequence[Point], max_points: int = CHART_MAX_POINTS) -> list[Point]:
    """At most ``max_points`` points of a time-ordered series, evenly spaced, first and last kept."""
    if max_points < 2 or len(points) <= max_points:
        return list(points)
    step = (len(points) - 1) / (max_points - 1)
    return [points[round(i * step)] for i in range(max_points)]


def bmi_series(weights: Sequence[Point], heights: Sequence[Point]) -> list[Point]:
    """BMI (kg/m²) at each weight, with the height measured last before it (or, for weights before
    any height, the first height measured: an adult's height barely changes). Heights outside
    50–250 cm are ignored as entry errors."""
    usable = sorted((t, h) for t, h in heights if 50 <= h <= 250)
    if not usable:
        return []
    out: list[Point] = []
    i = 0
    for t, w in sorted(weights):
        while i + 1 < len(usable) and usable[i + 1][0] <= t:
            i += 1
        height = usable[i][1]
        if w > 0:
            out.append((t, round(w / (height / 100) ** 2, 1)))
    return out


# --- contract status -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ContractFact:
    id: int
    status: str  # EpisodeOfCare.status: active / finished / cancelled / entered-in-error
    start_date: date
    end_date: date
    team: str | None = None


@dataclass(frozen=True, slots=True)
class ContractStatus:
    state: str  # contracted / expiring / expired / none
    contract: ContractFact | None = None
    days_left: int | None = None


def contract_status(contracts: Iterable[ContractFact], today: date) -> ContractStatus:
    """The resident's family-doctor contract status today: a contract in force (ending within
    ``CONTRACT_EXPIRING_DAYS``: expiring), else the latest that ended (expired), else none."""
    valid = [c for c in contracts if c.status != "entered-in-error"]
    current = [c for c in valid if c.status == "active" and c.start_date <= today <= c.end_date]
    if current:
        best = max(current, key=lambda c: (c.end_date, c.id))
        left = (best.end_date - today).days
        state = "expiring" if left <= CONTRACT_EXPIRING_DAYS else "contracted"
        return ContractStatus(state, best, left)
    past = [c for c in valid if c.start_date <= today]
    if past:
        return ContractStatus("expired", max(past, key=lambda c: (c.end_date, c.id)))
    return ContractStatus("none")


def since_instant(day: date | None) -> datetime | None:
    """The UTC-aware instant at which a local day starts (for a query on ``effective_at``)."""
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
