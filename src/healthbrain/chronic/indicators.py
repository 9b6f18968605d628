"""Indicators of the chronic-disease programme (两慢病管理指标), registered in the indicator registry.

Pure: functions over plain dataclasses (what ``indicator_data`` reads from the database), no session,
no clock. Each rule below is a function tested table-driven in ``tests/chronic/test_indicators.py``.

Time. An indicator is computed for a month "as of" its last day (``as_of``; for the running month, as
of today). Yearly definitions look at the 12 months that end on that day: the window
``[months_before(as_of, 12) + 1 day, as_of]``, both ends inclusive (2026-05-31 → 2025-06-01 … 2026-05-31).

Populations (per disease, one enrolment = one patient on one disease's path):
- managed in the window (年内已管理, BPHS): an enrolment that was enrolled (status enrolled, or ended
  with an end date) on some day of the window. Its own span is ``[max(window start, enrolled_on),
  min(as_of, ended_on, deceased_date)]``. Denominator of the BPHS indicators (1–4) and of 9.
- on the path on ``as_of`` (在管): enrolled on or before ``as_of``, not ended on or before it, alive.
  Numerator of 5, population of 6, 7 and the HEARTS cohort.

Indicators (numerator ÷ denominator, as a percentage):
1. ``chronic.htn_standard_management`` 高血压患者规范管理率 — hypertension enrolments managed in the window
   whose face-to-face follow-ups (clinic or home, not phone: ``FACE_TO_FACE``) inside their span are
   (a) at least ``ceil(4 × span days ÷ window days)`` distinct days (4 over a whole window, fewer for a
   patient enrolled or ended within it, never fewer than 1), and (b) never more than 90 days apart,
   counting from the span's first day to the first visit, between consecutive visits and from the last
   visit to the span's last day ÷ hypertension enrolments managed in the window.
2. ``chronic.dm_standard_management`` 2型糖尿病患者规范管理率 — the same for type-2 diabetes.
3. ``chronic.bp_control`` 管理人群血压控制率 — the latest follow-up (any method: a phone follow-up records
   the BP the patient measured) with both SBP and DBP inside the span met ``bp_target`` for the patient's
   age on that visit's day (strictly below both values) ÷ hypertension enrolments managed in the window.
   Nobody followed up with a BP in the span counts as not controlled. Same-day ties: the form recorded last.
4. ``chronic.glucose_control`` 管理人群血糖控制率 — the latest follow-up with a fasting glucose inside the
   span has it below 7.0 mmol/L ÷ diabetes enrolments managed in the window (follow-up forms only).
5. ``chronic.path_entry`` 入径率 — per (resident, disease): residents aged ≥ 35 on ``as_of``, alive, with an
   active condition of the disease (``DISEASE_ICD10``) whose onset is unknown or on/before ``as_of``, who
   are on that disease's path on ``as_of`` ÷ those residents. A patient with both diseases counts twice.
6. ``chronic.indicator_execution`` 指标执行率 — per patient on the path on ``as_of`` (diseases = their
   enrolments on the path, enrolled_on = the earliest), ``path.execution`` over
   ``[max(window start, enrolled_on), as_of]`` (the patient page's 12 months); the sums of items done on
   time ÷ the sums of items due (pooled over patients, not a mean of rates).
7. ``chronic.complication_screening`` 并发症筛查率 — patients on the path on ``as_of`` for whom
   ``path.complication_screening_done`` over the window ÷ patients on the path on ``as_of``.
8. HEARTS monthly cohort (``chronic.hearts_controlled`` / ``_uncontrolled`` / ``_missed_visit``) — the cohort
   is the hypertension enrolments on the path on ``as_of`` enrolled on or before
   ``months_before(as_of, 3)``, with at least one visit BP in the 12-month window (otherwise "lost").
   A visit BP is a face-to-face follow-up with SBP and DBP, or a clinician-measured BP observation
   (systolic and diastolic at the same instant, not from a device and not from a phone follow-up);
   home readings do not count. Controlled: the latest visit BP is after ``months_before(as_of, 3)`` and
   below 140/90 (``HEARTS_CONTROLLED``, for every age); uncontrolled: after that day and not below;
   missed visit: the latest visit BP is on or before that day. Each ÷ the cohort (the three add up).
9. ``chronic.lost_to_followup`` 失访率 — enrolments (both diseases) managed in the window that ended in it
   with reason "lost", or that are on the path on ``as_of``, were enrolled before the window began, and
   had no follow-up of any method in the window (a phone call reached the patient) ÷ enrolments managed
   in the window.

Organisation units: a patient counts for the team of the enrolment (``team_id``), the centre that team
belongs to (``care_team.home_institution_id``) and the town of the community the resident lives in. Per
patient indicators (6, 7) use the hypertension enrolment's team when there are two. A diagnosed resident
not on any path (5) counts for the team of a proposed/declined/ended enrolment if any, otherwise for the
first team that serves the community. A missing unit is ``UNASSIGNED`` (0).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final

from healthbrain.chronic import path
from healthbrain.chronic.definitions import (
    ENROL_MIN_AGE,
    FACE_TO_FACE,
    FASTING_GLUCOSE_TARGET,
    FOLLOWUP_MAX_GAP_DAYS,
    FOLLOWUPS_PER_YEAR,
    HEARTS_CONTROLLED,
    HEARTS_LOST_MONTHS,
    HEARTS_REGISTERED_MONTHS,
    HEARTS_VISIT_MONTHS,
    Disease,
    EndReason,
    EnrolmentStatus,
    bp_target,
)
from healthbrain.core.time import age_on
from healthbrain.indicators.registry import Indicator, Period, Value, of_domain, register

DOMAIN: Final = "chronic"
WINDOW_MONTHS: Final = 12  # yearly definitions look at the 12 months up to as_of
UNASSIGNED: Final = 0  # the unit key of patients without a team / centre / town


class Level(StrEnum):
    DISTRICT = "district"  # the caller's whole scope (the district for the bureau)
    TOWN = "town"  # 乡镇/街道 of the resident's community
    CENTRE = "centre"  # 社区卫生服务中心: the team's home institution
    TEAM = "team"  # 家庭医生团队 of the enrolment


class Hearts(StrEnum):
    CONTROLLED = "controlled"
    UNCONTROLLED = "uncontrolled"
    MISSED_VISIT = "missed_visit"


# --- facts (what the loader reads) ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Units:
    """Where a patient counts; None where the record has no such unit."""

    town: int | None = None
    centre: int | None = None
    team: int | None = None

    def key(self, level: Level) -> int:
        value = {Level.TOWN: self.town, Level.CENTRE: self.centre, Level.TEAM: self.team}.get(level)
        return UNASSIGNED if value is None else value


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A follow-up form of the enrolment (the loader gives them by day, then in recording order)."""

    day: date
    method: str  # definitions.VisitMethod
    sbp: float | None = None
    dbp: float | None = None
    fasting_glucose: float | None = None


@dataclass(frozen=True, slots=True)
class BpReading:
    """A clinician-measured BP observation (for HEARTS): the latest one up to as_of, within 12 months."""

    day: date
    sbp: float
    dbp: float


@dataclass(frozen=True, slots=True)
class EnrolmentFacts:
    resident_id: int
    disease: Disease
    status: str  # definitions.EnrolmentStatus
    enrolled_on: date | None
    ended_on: date | None
    end_reason: str | None
    birth_date: date
    deceased_on: date | None
    units: Units
    followups: tuple[FollowUp, ...] = ()
    clinic_bp: BpReading | None = None


@dataclass(frozen=True, slots=True)
class DiagnosisFacts:
    """A resident with an active condition of one disease, and that disease's enrolment if any."""

    resident_id: int
    disease: Disease
    birth_date: date
    deceased_on: date | None
    onset: date | None  # the earliest onset; None when one of the conditions has no onset date
    units: Units
    status: str | None = None  # the enrolment's, None without one
    enrolled_on: date | None = None
    ended_on: date | None = None


@dataclass(frozen=True, slots=True)
class MonthFacts:
    """Everything one month's indicators stand on, for the caller's scope."""

    as_of: date
    enrolments: Sequence[EnrolmentFacts]
    diagnoses: Sequence[DiagnosisFacts]
    # resident → path item slug → days it was done (``path.execution`` / screening input)
    done_dates: Mapping[int, Mapping[str, Sequence[date]]]


# --- time ------------------------------------------------------------------------------------------------
def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, the month's last day where it is shorter."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def as_of(period: Period, today: date | None = None) -> date:
    """The day a month's indicators are computed as of: its last day, or today for the running month."""
    return period.last if today is None else min(period.last, today)


def window(on: date) -> tuple[date, date]:
    """The 12 months that end on ``on``, both ends inclusive."""
    return months_before(on, WINDOW_MONTHS) + timedelta(days=1), on


# --- populations -----------------------------------------------------------------------------------------
_MANAGED: Final = frozenset({EnrolmentStatus.ENROLLED.value, EnrolmentStatus.ENDED.value})


def _end_of(status: str | None, ended_on: date | None) -> date | None:
    """The last day of management as far as the enrolment says (None: not ended)."""
    return ended_on if status == EnrolmentStatus.ENDED else None


def management_span(e: EnrolmentFacts, on: date) -> tuple[date, date] | None:
    """The days of the 12-month window ending ``on`` the enrolment was managed (None: none)."""
    if e.status not in _MANAGED or e.enrolled_on is None or e.enrolled_on > on:
        return None
    if e.status == EnrolmentStatus.ENDED and e.ended_on is None:
        return None  # ended at an unknown date: not counted anywhere
    start, last = window(on)
    for end in (_end_of(e.status, e.ended_on), e.deceased_on):
        if end is not None:
            last = min(last, end)
    first = max(start, e.enrolled_on)
    return (first, last) if first <= last else None


def _on_path(
    status: str | None, enrolled_on: date | None, ended_on: date | None, deceased_on: date | None, on: date
) -> bool:
    if status not in _MANAGED or enrolled_on is None or enrolled_on > on:
        return False
    if status == EnrolmentStatus.ENDED and (ended_on is None or ended_on <= on):
        return False
    return deceased_on is None or deceased_on > on


def on_path(e: EnrolmentFacts, on: date) -> bool:
    """Under management (在管) on that day: enrolled by then, not ended by then, alive."""
    return _on_path(e.status, e.enrolled_on, e.ended_on, e.deceased_on, on)


# --- 1, 2: standard management (规范管理) ---------------------------------------------------------------------
def required_visits(first: date, last: date, window_days: int) -> int:
    """Face-to-face visits wanted over a span: 4 for a whole window, prorated (rounded up) for less."""
    span = (last - first).days + 1
    return max(1, min(FOLLOWUPS_PER_YEAR, -(-FOLLOWUPS_PER_YEAR * span // window_days)))


def managed_to_standard(visit_days: Iterable[date], first: date, last: date, window_days: int) -> bool:
    """Enough face-to-face visit days in [first, last], none of the gaps longer than 90 days (the span's
    first day → first visit, visit → visit, last visit → the span's last day)."""
    days = sorted({d for d in visit_days if first <= d <= last})
    if len(days) < required_visits(first, last, window_days):
        return False
    points = [first, *days, last]
    return all((b - a).days <= FOLLOWUP_MAX_GAP_DAYS for a, b in zip(points, points[1:], strict=False))


def standard_management(e: EnrolmentFacts, on: date) -> bool | None:
    """None: not in the denominator (not managed in the window)."""
    span = management_span(e, on)
    if span is None:
        return None
    start, end = window(on)
    face_to_face = (f.day for f in e.followups if f.method in FACE_TO_FACE)
    return managed_to_standard(face_to_face, span[0], span[1], (end - start).days + 1)


# --- 3, 4: control at the latest follow-up --------------------------------------------------------------------
def _latest(followups: Iterable[FollowUp], first: date, last: date, has: Callable[[FollowUp], bool]) -> FollowUp | None:
    best: FollowUp | None = None
    for f in followups:
        if first <= f.day <= last and has(f) and (best is None or f.day >= best.day):
            best = f  # on the same day the later form wins
    return best


def bp_controlled(e: EnrolmentFacts, on: date) -> bool | None:
    span = management_span(e, on)
    if span is None:
        return None
    latest = _latest(e.followups, *span, has=lambda f: f.sbp is not None and f.dbp is not None)
    if latest is None or latest.sbp is None or latest.dbp is None:
        return False
    target_sbp, target_dbp = bp_target(age_on(e.birth_date, latest.day))
    return latest.sbp < target_sbp and latest.dbp < target_dbp


def glucose_controlled(e: EnrolmentFacts, on: date) -> bool | None:
    span = management_span(e, on)
    if span is None:
        return None
    latest = _latest(e.followups, *span, has=lambda f: f.fasting_glucose is not None)
    return latest is not None and latest.fasting_glucose is not None and latest.fasting_glucose < FASTING_GLUCOSE_TARGET


# --- 5: path entry --------------------------------------------------------------------------------------------
def diagnosed(d: DiagnosisFacts, on: date) -> bool:
    """In the denominator: ≥ 35 on that day, alive, the disease known by then."""
    alive = d.deceased_on is None or d.deceased_on > on
    return alive and age_on(d.birth_date, on) >= ENROL_MIN_AGE and (d.onset is None or d.onset <= on)


def entered_path(d: DiagnosisFacts, on: date) -> bool | None:
    if not diagnosed(d, on):
        return None
    return _on_path(d.status, d.enrolled_on, d.ended_on, d.deceased_on, on)


# --- 6, 7: the path, per patient ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PathPatient:
    resident_id: int
    diseases: frozenset[Disease]
    enrolled_on: date
    units: Units


def path_patients(enrolments: Iterable[EnrolmentFacts], on: date) -> list[PathPatient]:
    """One per resident on a path on that day: the diseases on the path, the earliest enrolment, and the
    units of the hypertension enrolment (else the diabetes one)."""
    by_resident: dict[int, list[EnrolmentFacts]] = defaultdict(list)
    for e in enrolments:
        if on_path(e, on):
            by_resident[e.resident_id].append(e)
    out = []
    for resident_id, mine in by_resident.items():
        mine.sort(key=lambda e: e.disease != Disease.HYPERTENSION)
        out.append(
            PathPatient(
                resident_id=resident_id,
                diseases=frozenset(e.disease for e in mine),
                enrolled_on=min(e.enrolled_on for e in mine if e.enrolled_on is not None),
                units=mine[0].units,
            )
        )
    return out


def execution(p: PathPatient, done_dates: Mapping[str, Sequence[date]], on: date) -> path.Execution:
    start, _ = window(on)
    return path.execution(
        p.diseases, done_dates=done_dates, enrolled_on=p.enrolled_on, start=max(start, p.enrolled_on), end=on
    )


def screening_done(p: PathPatient, done_dates: Mapping[str, Sequence[date]], on: date) -> bool:
    start, _ = window(on)
    return path.complication_screening_done(p.diseases, done_dates=done_dates, year_start=start, year_end=on)


# --- 8: HEARTS ------------------------------------------------------------------------------------------------
def visit_bps(e: EnrolmentFacts) -> list[tuple[date, int, float, float]]:
    """(day, priority, sbp, dbp) of the visit BPs: face-to-face follow-ups (priority 1, preferred on the
    same day) and the clinician-measured observation (priority 0)."""
    out = [
        (f.day, 1, f.sbp, f.dbp)
        for f in e.followups
        if f.method in FACE_TO_FACE and f.sbp is not None and f.dbp is not None
    ]
    if e.clinic_bp is not None:
        out.append((e.clinic_bp.day, 0, e.clinic_bp.sbp, e.clinic_bp.dbp))
    return out


def hearts_bucket(e: EnrolmentFacts, on: date) -> Hearts | None:
    """Where a hypertension patient stands in the HEARTS monthly cohort (None: not in the cohort)."""
    if e.disease != Disease.HYPERTENSION or not on_path(e, on) or e.enrolled_on is None:
        return None
    if e.enrolled_on > months_before(on, HEARTS_REGISTERED_MONTHS):
        return None  # registered in the last 3 months
    lost_before = months_before(on, HEARTS_LOST_MONTHS)
    readings = [r for r in visit_bps(e) if lost_before < r[0] <= on]
    if not readings:
        return None  # lost to follow-up: no BP in 12 months
    day, _, sbp, dbp = max(readings, key=lambda r: (r[0], r[1]))
    if day <= months_before(on, HEARTS_VISIT_MONTHS):
        return Hearts.MISSED_VISIT
    return Hearts.CONTROLLED if sbp < HEARTS_CONTROLLED[0] and dbp < HEARTS_CONTROLLED[1] else Hearts.UNCONTROLLED


# --- 9: lost to follow-up -------------------------------------------------------------------------------------
def lost_to_followup(e: EnrolmentFacts, on: date) -> bool | None:
    span = management_span(e, on)
    if span is None:
        return None
    if e.status == EnrolmentStatus.ENDED and e.end_reason == EndReason.LOST and e.ended_on is not None:
        return e.ended_on <= on
    start, _ = window(on)
    if not on_path(e, on) or e.enrolled_on is None or e.enrolled_on >= start:
        return False  # ended for another reason, or not yet 12 months on the path
    return not any(start <= f.day <= on for f in e.followups)


# --- one month, every indicator, per unit ---------------------------------------------------------------------
Counts = dict[Units, list[int]]  # units → [numerator, denominator]; the finest grain, rolled up on demand

HTN_STANDARD: Final = "chronic.htn_standard_management"
DM_STANDARD: Final = "chronic.dm_standard_management"
BP_CONTROL: Final = "chronic.bp_control"
GLUCOSE_CONTROL: Final = "chronic.glucose_control"
PATH_ENTRY: Final = "chronic.path_entry"
EXECUTION: Final = "chronic.indicator_execution"
SCREENING: Final = "chronic.complication_screening"
HEARTS_SLUGS: Final[dict[Hearts, str]] = {
    Hearts.CONTROLLED: "chronic.hearts_controlled",
    Hearts.UNCONTROLLED: "chronic.hearts_uncontrolled",
    Hearts.MISSED_VISIT: "chronic.hearts_missed_visit",
}
LOST: Final = "chronic.lost_to_followup"


def _add(counts: Counts, units: Units, hit: bool | None, weight: tuple[int, int] | None = None) -> None:
    if hit is None and weight is None:
        return
    cell = counts.get(units)
    if cell is None:
        cell = counts[units] = [0, 0]
    if weight is not None:
        cell[0] += weight[0]
        cell[1] += weight[1]
    else:
        cell[0] += bool(hit)
        cell[1] += 1


def evaluate(month: MonthFacts) -> dict[str, Counts]:
    """Every indicator of the month, counted per (town, centre, team) — one pass per population."""
    on = month.as_of
    out: dict[str, Counts] = {slug: {} for slug in SLUGS}
    for e in month.enrolments:
        if e.disease == Disease.HYPERTENSION:
            _add(out[HTN_STANDARD], e.units, standard_management(e, on))
            _add(out[BP_CONTROL], e.units, bp_controlled(e, on))
            bucket = hearts_bucket(e, on)
            if bucket is not None:
                for kind, slug in HEARTS_SLUGS.items():
                    _add(out[slug], e.units, bucket is kind)
        else:
            _add(out[DM_STANDARD], e.units, standard_management(e, on))
            _add(out[GLUCOSE_CONTROL], e.units, glucose_controlled(e, on))
        _add(out[LOST], e.units, lost_to_followup(e, on))
    for d in month.diagnoses:
        _add(out[PATH_ENTRY], d.units, entered_path(d, on))
    for p in path_patients(month.enrolments, on):
        done = month.done_dates.get(p.resident_id, {})
        result = execution(p, done, on)
        _add(out[EXECUTION], p.units, None, (result.done_on_time, result.due))
        _add(out[SCREENING], p.units, screening_done(p, done, on))
    return out


def rollup(counts: Counts, level: Level) -> dict[int | None, tuple[int, int]]:
    """Numerator and denominator per unit of a level (``UNASSIGNED`` for patients without one) and for the
    whole scope under ``None``."""
    out: dict[int | None, list[int]] = {None: [0, 0]}
    for units, (num, den) in counts.items():
        total = out[None]
        total[0] += num
        total[1] += den
        if level is not Level.DISTRICT:
            cell = out.setdefault(units.key(level), [0, 0])
            cell[0] += num
            cell[1] += den
    return {unit: (num, den) for unit, (num, den) in out.items()}


@dataclass
class ChronicFacts:
    """The records the registry's ``compute`` reads: the months loaded for one table or chart, each
    evaluated once (on first use) and rolled up once per level."""

    months: dict[str, MonthFacts]
    _counts: dict[str, dict[str, Counts]] = field(default_factory=dict)
    _rolled: dict[tuple[str, str, Level], dict[int | None, tuple[int, int]]] = field(default_factory=dict)

    def counts(self, label: str) -> dict[str, Counts]:
        if label not in self._counts:
            self._counts[label] = evaluate(self.months[label])
        return self._counts[label]

    def share(self, slug: str, period: Period, unit: int | None, level: Level) -> Value:
        key = (period.label, slug, level)
        if key not in self._rolled:
            self._rolled[key] = rollup(self.counts(period.label)[slug], level)
        num, den = self._rolled[key].get(unit, (0, 0))
        return share(num, den)


def share(numerator: int, denominator: int) -> Value:
    value = round(100 * numerator / denominator, 1) if denominator else None
    return Value(value, numerator=numerator, denominator=denominator, n=denominator)


def _compute(slug: str) -> Callable[[Any, Period, int | None, dict[str, Any]], Value]:
    def compute(records: Any, period: Period, unit: int | None, ctx: dict[str, Any]) -> Value:
        """ctx["level"]: the level ``unit`` is a key of (None: the whole scope)."""
        assert isinstance(records, ChronicFacts)
        return records.share(slug, period, unit, Level(ctx.get("level", Level.DISTRICT)))

    compute.__name__ = slug.split(".")[1]
    return compute


_BPHS: Final = "BPHS 2017 (高血压/2型糖尿病患者健康管理服务规范); shared/reference/chronic.md"
_PATH: Final = "chronic/path.py (CDS 2020, CHG 2018, BPHS 2017)"
_HEARTS: Final = "WHO HEARTS / Simple monthly cohort; shared/reference/chronic.md"
_DEFINITIONS: Final[tuple[tuple[str, str, str, str, bool], ...]] = (
    # slug, name (zh), name (en), source, higher is better
    (HTN_STANDARD, "高血压患者规范管理率", "Hypertension: managed to standard", _BPHS, True),
    (DM_STANDARD, "2型糖尿病患者规范管理率", "Type 2 diabetes: managed to standard", _BPHS, True),
    (BP_CONTROL, "管理人群血压控制率", "BP control (managed patients)", _BPHS, True),
    (GLUCOSE_CONTROL, "管理人群血糖控制率", "Glucose control (managed patients)", _BPHS, True),
    (PATH_ENTRY, "入径率", "Path entry rate", _BPHS, True),
    (EXECUTION, "指标执行率", "Path indicators done on time", _PATH, True),
    (SCREENING, "并发症筛查率", "Complication screening rate", _PATH, True),
    (HEARTS_SLUGS[Hearts.CONTROLLED], "血压控制（HEARTS）", "BP controlled (HEARTS)", _HEARTS, True),
    (HEARTS_SLUGS[Hearts.UNCONTROLLED], "血压未控制（HEARTS）", "BP not controlled (HEARTS)", _HEARTS, False),
    (HEARTS_SLUGS[Hearts.MISSED_VISIT], "3个月未就诊（HEARTS）", "Missed visits (HEARTS)", _HEARTS, False),
    (LOST, "失访率", "Lost to follow-up", _BPHS, False),
)
SLUGS: Final[tuple[str, ...]] = tuple(d[0] for d in _DEFINITIONS)

for _slug, _zh, _en, _source, _better in _DEFINITIONS:
    register(Indicator(_slug, DOMAIN, _zh, _en, "percent", _source, _compute(_slug), _better))


def indicators() -> list[Indicator]:
    """The programme's indicators in registry order (pages iterate over these)."""
    return of_domain(DOMAIN)
