"""The chronic programme's indicator rules, written once over NumPy columns (``EnrolmentTable``: one
element per enrolment, its follow-up forms flat beside it; ``DiagnosisTable``), so a district's 450 000
enrolments are judged in a fraction of a second. ``standard_management(facts, clock)`` and its siblings
run the same code on one patient's plain dataclasses: that is how the hand-computed cases of
``tests/chronic/test_indicators.py`` check each rule. The definitions, exactly, are in
``chronic/indicators.py``. Pure: no session, no clock.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

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
from healthbrain.indicators.registry import Period

WINDOW_MONTHS: Final = 12  # yearly definitions look at the 12 months up to as_of
UNASSIGNED: Final = 0  # the unit key of patients without a team / centre / town

Days = NDArray[np.datetime64]  # datetime64[D]; NaT where there is no date
Bools = NDArray[np.bool_]
Floats = NDArray[np.float64]  # NaN where there is no value
Ints = NDArray[np.int64]
NAT: Final = np.datetime64("NaT", "D")


class Level(StrEnum):
    DISTRICT = "district"  # the caller's whole scope (the district for the bureau)
    TOWN = "town"  # 乡镇/街道 of the resident's community
    CENTRE = "centre"  # 社区卫生服务中心: the team's home institution
    TEAM = "team"  # 家庭医生团队 of the enrolment


class Hearts(StrEnum):
    CONTROLLED = "controlled"
    UNCONTROLLED = "uncontrolled"
    MISSED_VISIT = "missed_visit"


HEARTS_CODES: Final = (Hearts.CONTROLLED, Hearts.UNCONTROLLED, Hearts.MISSED_VISIT)  # Outcomes.hearts: index
NOT_IN_COHORT: Final = -1

# enrolment status as a small integer in the columns
STATUS_OTHER: Final = 0  # proposed, declined
STATUS_ENROLLED: Final = 1
STATUS_ENDED: Final = 2


_STATUS_CODES: Final = {EnrolmentStatus.ENROLLED.value: STATUS_ENROLLED, EnrolmentStatus.ENDED.value: STATUS_ENDED}


def status_code(status: str | None) -> int:
    return _STATUS_CODES.get(status or "", STATUS_OTHER)


# --- one patient, as plain dataclasses (tests, small inputs) --------------------------------------------------
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
    """A follow-up form of the enrolment (given by day, then in recording order)."""

    day: date
    method: str  # definitions.VisitMethod
    sbp: float | None = None
    dbp: float | None = None
    fasting_glucose: float | None = None


@dataclass(frozen=True, slots=True)
class BpReading:
    """A clinician-measured BP observation (HEARTS): the latest in the 12 months up to as_of."""

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
    onset: date | None  # the earliest onset; None when a condition has no onset date
    units: Units
    status: str | None = None  # the enrolment's, None without one
    enrolled_on: date | None = None
    ended_on: date | None = None


# --- many patients, as columns (what the loader reads) --------------------------------------------------------
def days(values: Sequence[date | str | None]) -> Days:
    """Dates (or ISO text) as datetime64[D], None as NaT."""
    return np.array(values, dtype="datetime64[D]")


def floats(values: Sequence[float | None]) -> Floats:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def unit_index(keys: Sequence[Units]) -> tuple[Ints, tuple[Units, ...]]:
    """Each row's units as an index into the distinct units."""
    seen: dict[Units, int] = {}
    index = np.fromiter((seen.setdefault(k, len(seen)) for k in keys), dtype=np.int64, count=len(keys))
    return index, tuple(seen)


@dataclass(frozen=True, eq=False)
class EnrolmentTable:
    """One element per enrolment; its follow-up forms flat beside it, ordered by (enrolment, day,
    recording order)."""

    resident: Ints
    hypertension: Bools  # else type-2 diabetes
    status: NDArray[np.int8]  # STATUS_*
    enrolled: Days
    ended: Days
    ended_lost: Bools  # end reason "lost"
    birth: Days
    deceased: Days
    unit: Ints  # index into ``units``
    units: tuple[Units, ...]
    clinic_day: Days  # the latest clinician-measured BP observation in the window (HEARTS)
    clinic_sbp: Floats
    clinic_dbp: Floats
    fu_enrolment: Ints  # index of the follow-up's enrolment
    fu_day: Days
    fu_face_to_face: Bools
    fu_sbp: Floats
    fu_dbp: Floats
    fu_glucose: Floats

    def __len__(self) -> int:
        return len(self.resident)

    @classmethod
    def of(cls, enrolments: Sequence[EnrolmentFacts]) -> EnrolmentTable:
        forms = [(i, f) for i, e in enumerate(enrolments) for f in e.followups]
        forms.sort(key=lambda x: (x[0], x[1].day))  # stable: the recording order within a day stays
        unit, units = unit_index([e.units for e in enrolments])
        clinic = [e.clinic_bp for e in enrolments]
        return cls(
            resident=np.array([e.resident_id for e in enrolments], dtype=np.int64),
            hypertension=np.array([e.disease == Disease.HYPERTENSION for e in enrolments], dtype=bool),
            status=np.array([status_code(e.status) for e in enrolments], dtype=np.int8),
            enrolled=days([e.enrolled_on for e in enrolments]),
            ended=days([e.ended_on for e in enrolments]),
            ended_lost=np.array([e.end_reason == EndReason.LOST for e in enrolments], dtype=bool),
            birth=days([e.birth_date for e in enrolments]),
            deceased=days([e.deceased_on for e in enrolments]),
            unit=unit,
            units=units,
            clinic_day=days([c.day if c else None for c in clinic]),
            clinic_sbp=floats([c.sbp if c else None for c in clinic]),
            clinic_dbp=floats([c.dbp if c else None for c in clinic]),
            fu_enrolment=np.array([i for i, _ in forms], dtype=np.int64),
            fu_day=days([f.day for _, f in forms]),
            fu_face_to_face=np.array([f.method in FACE_TO_FACE for _, f in forms], dtype=bool),
            fu_sbp=floats([f.sbp for _, f in forms]),
            fu_dbp=floats([f.dbp for _, f in forms]),
            fu_glucose=floats([f.fasting_glucose for _, f in forms]),
        )


@dataclass(frozen=True, eq=False)
class DiagnosisTable:
    """One element per (resident, disease) with an active condition."""

    birth: Days
    deceased: Days
    onset: Days  # NaT: unknown (counts as known before any month)
    status: NDArray[np.int8]  # the disease's enrolment, STATUS_OTHER without one
    enrolled: Days
    ended: Days
    unit: Ints
    units: tuple[Units, ...]

    def __len__(self) -> int:
        return len(self.birth)

    @classmethod
    def of(cls, diagnoses: Sequence[DiagnosisFacts]) -> DiagnosisTable:
        unit, units = unit_index([d.units for d in diagnoses])
        return cls(
            birth=days([d.birth_date for d in diagnoses]),
            deceased=days([d.deceased_on for d in diagnoses]),
            onset=days([d.onset for d in diagnoses]),
            status=np.array([status_code(d.status) for d in diagnoses], dtype=np.int8),
            enrolled=days([d.enrolled_on for d in diagnoses]),
            ended=days([d.ended_on for d in diagnoses]),
            unit=unit,
            units=units,
        )


# --- time ------------------------------------------------------------------------------------------------------
def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, the month's last day where it is shorter."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def as_of(period: Period, today: date | None = None) -> date:
    """The day a month's indicators are computed as of: its last day, or today for the running month."""
    return period.last if today is None else min(period.last, today)


@dataclass(frozen=True, slots=True)
class Clock:
    """The days a month's rules compare with, worked out once per month."""

    on: date  # as of
    first: date  # the month's first day (the execution rate's period)
    start: date  # the 12-month window's first day: months_before(on, 12) + 1 day
    window_days: int
    hearts_registered_by: date  # enrolled on or before this day: in the HEARTS cohort
    hearts_lost_before: date  # no visit BP after this day: lost (not in the cohort)
    hearts_visit_after: date  # a visit BP after this day is "in the past 3 months"

    @classmethod
    def of(cls, on: date, first: date | None = None) -> Clock:
        start = months_before(on, WINDOW_MONTHS) + timedelta(days=1)
        return cls(
            on=on,
            first=first or on.replace(day=1),
            start=start,
            window_days=(on - start).days + 1,
            hearts_registered_by=months_before(on, HEARTS_REGISTERED_MONTHS),
            hearts_lost_before=months_before(on, HEARTS_LOST_MONTHS),
            hearts_visit_after=months_before(on, HEARTS_VISIT_MONTHS),
        )


def _d(day: date) -> np.datetime64:
    return np.datetime64(day, "D")


def _ymd(values: Days) -> tuple[Ints, Ints, Ints]:
    months = values.astype("datetime64[M]")
    year = values.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (values - months).astype(np.int64) + 1
    return year, month, day


def ages(birth: Days, on: Days) -> Ints:
    """Completed years on each day (as ``core.time.age_on``)."""
    by, bm, bd = _ymd(birth)
    y, m, d = _ymd(on)
    before_birthday = (m < bm) | ((m == bm) & (d < bd))
    result: Ints = y - by - before_birthday.astype(np.int64)
    return result


# BPHS target per age, from definitions.bp_target (the one place the ≥ 65 rule lives)
_BP_TARGETS: Final = np.array([bp_target(age) for age in range(151)], dtype=np.float64)


# --- the rules, over columns -------------------------------------------------------------------------------------
def on_path_mask(status: NDArray[np.int8], enrolled: Days, ended: Days, deceased: Days, on: date) -> Bools:
    """Under management (在管) on that day: enrolled by then, not ended by then, alive."""
    day = _d(on)
    managed = (status == STATUS_ENROLLED) | (status == STATUS_ENDED)
    gone = (status == STATUS_ENDED) & (np.isnat(ended) | (ended <= day))
    alive = np.isnat(deceased) | (deceased > day)
    result: Bools = managed & ~np.isnat(enrolled) & (enrolled <= day) & ~gone & alive
    return result


def spans(t: EnrolmentTable, clock: Clock) -> tuple[Bools, Days, Days]:
    """Managed in the window, and the span: ``[max(window start, enrolled_on), min(as_of, ended_on,
    deceased)]``. An enrolment ended at an unknown date counts nowhere."""
    on, start = _d(clock.on), _d(clock.start)
    ended = t.status == STATUS_ENDED
    last = np.full(len(t), on)
    end = np.where(ended, t.ended, NAT)
    last = np.where(~np.isnat(end) & (end < last), end, last)
    last = np.where(~np.isnat(t.deceased) & (t.deceased < last), t.deceased, last)
    first = np.where(np.isnat(t.enrolled) | (t.enrolled > start), t.enrolled, start)
    managed = (
        ((t.status == STATUS_ENROLLED) | ended)
        & ~np.isnat(t.enrolled)
        & (t.enrolled <= on)
        & ~(ended & np.isnat(t.ended))
        & (first <= last)
    )
    return managed, first, last


def required_visits(span_days: Any, window_days: int) -> Any:
    """Face-to-face visits wanted over a span of days: 4 for a whole window, prorated (rounded up) for
    less, never fewer than 1."""
    return np.clip(-(-FOLLOWUPS_PER_YEAR * np.asarray(span_days) // window_days), 1, FOLLOWUPS_PER_YEAR)


def _latest(mask: Bools, group: Ints, n: int) -> Ints:
    """Per group, the last row (the latest, the form recorded last on a day) where ``mask`` holds; −1 if none."""
    out = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(mask)
    np.maximum.at(out, group[rows], rows)
    return out


def _take(values: NDArray[Any], index: Ints, fill: Any) -> NDArray[Any]:
    if len(values) == 0:
        return np.full(len(index), fill, dtype=values.dtype)
    taken: NDArray[Any] = np.where(index >= 0, values[np.maximum(index, 0)], fill)
    return taken


def _standard(t: EnrolmentTable, managed: Bools, first: Days, last: Days, clock: Clock) -> Bools:
    """1, 2: enough face-to-face visit days in the span, no gap over 90 days (span start → first visit,
    visit → visit, last visit → span end)."""
    n = len(t)
    g = t.fu_enrolment
    in_span = t.fu_face_to_face & managed[g] & (t.fu_day >= first[g]) & (t.fu_day <= last[g])
    g, day = g[in_span], t.fu_day[in_span]
    distinct = np.ones(len(g), dtype=bool)
    distinct[1:] = (g[1:] != g[:-1]) | (day[1:] != day[:-1])
    g, day = g[distinct], day[distinct]
    visits = np.bincount(g, minlength=n)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:] - 1, len(g) - 1] if len(g) else starts
    first_visit, last_visit = np.full(n, NAT), np.full(n, NAT)
    first_visit[g[starts]] = day[starts]
    last_visit[g[ends]] = day[ends]
    widest = np.zeros(n, dtype=np.int64)
    same = g[1:] == g[:-1]
    np.maximum.at(widest, g[1:][same], (day[1:] - day[:-1])[same].astype(np.int64))
    span_days = np.where(managed, (last - first).astype(np.int64) + 1, 1)
    ok: Bools = (
        managed
        & (visits >= required_visits(span_days, clock.window_days))
        & ((first_visit - first).astype(np.int64) <= FOLLOWUP_MAX_GAP_DAYS)
        & (widest <= FOLLOWUP_MAX_GAP_DAYS)
        & ((last - last_visit).astype(np.int64) <= FOLLOWUP_MAX_GAP_DAYS)
        & (visits > 0)
    )
    return ok


def _bp_controlled(t: EnrolmentTable, managed: Bools, first: Days, last: Days) -> Bools:
    """3: the latest follow-up with SBP and DBP in the span (any method) is below ``bp_target`` for the
    age on that day; none counts as not controlled."""
    g = t.fu_enrolment
    has = ~np.isnan(t.fu_sbp) & ~np.isnan(t.fu_dbp) & (t.fu_day >= first[g]) & (t.fu_day <= last[g])
    latest = _latest(has, g, len(t))
    found = managed & (latest >= 0)
    day = _take(t.fu_day, latest, NAT)
    age = np.clip(np.where(found, ages(t.birth, np.where(found, day, t.birth)), 0), 0, len(_BP_TARGETS) - 1)
    target = _BP_TARGETS[age]
    sbp, dbp = _take(t.fu_sbp, latest, np.nan), _take(t.fu_dbp, latest, np.nan)
    ok: Bools = found & (sbp < target[:, 0]) & (dbp < target[:, 1])
    return ok


def _glucose_controlled(t: EnrolmentTable, managed: Bools, first: Days, last: Days) -> Bools:
    """4: the latest fasting glucose on a follow-up form in the span is below 7.0 mmol/L."""
    g = t.fu_enrolment
    has = ~np.isnan(t.fu_glucose) & (t.fu_day >= first[g]) & (t.fu_day <= last[g])
    value = _take(t.fu_glucose, _latest(has, g, len(t)), np.nan)
    ok: Bools = managed & (value < FASTING_GLUCOSE_TARGET)
    return ok


def _hearts(t: EnrolmentTable, on_path: Bools, clock: Clock) -> NDArray[np.int8]:
    """8: the HEARTS bucket (index into HEARTS_CODES), NOT_IN_COHORT outside the cohort."""
    on, lost_before = _d(clock.on), _d(clock.hearts_lost_before)
    visit = t.fu_face_to_face & ~np.isnan(t.fu_sbp) & ~np.isnan(t.fu_dbp) & (t.fu_day > lost_before) & (t.fu_day <= on)
    latest = _latest(visit, t.fu_enrolment, len(t))
    has_visit = latest >= 0
    visit_day = _take(t.fu_day, latest, NAT)
    has_clinic = ~np.isnat(t.clinic_day) & (t.clinic_day > lost_before) & (t.clinic_day <= on)
    clinic_later = has_clinic & (~has_visit | (t.clinic_day > visit_day))  # the same day: the form wins
    day = np.where(clinic_later, t.clinic_day, visit_day)
    sbp = np.where(clinic_later, t.clinic_sbp, _take(t.fu_sbp, latest, np.nan))
    dbp = np.where(clinic_later, t.clinic_dbp, _take(t.fu_dbp, latest, np.nan))
    registered = ~np.isnat(t.enrolled) & (t.enrolled <= _d(clock.hearts_registered_by))
    cohort = t.hypertension & on_path & registered & (has_visit | has_clinic)
    controlled = (sbp < HEARTS_CONTROLLED[0]) & (dbp < HEARTS_CONTROLLED[1])
    bucket = np.where(
        day <= _d(clock.hearts_visit_after),
        HEARTS_CODES.index(Hearts.MISSED_VISIT),
        np.where(controlled, HEARTS_CODES.index(Hearts.CONTROLLED), HEARTS_CODES.index(Hearts.UNCONTROLLED)),
    )
    result: NDArray[np.int8] = np.where(cohort, bucket, NOT_IN_COHORT).astype(np.int8)
    return result


def _lost(t: EnrolmentTable, managed: Bools, on_path: Bools, clock: Clock) -> Bools:
    """9: ended as lost by as_of, or on the path for over 12 months without any follow-up in them."""
    on, start = _d(clock.on), _d(clock.start)
    in_window = (t.fu_day >= start) & (t.fu_day <= on)
    followed = np.bincount(t.fu_enrolment[in_window], minlength=len(t)) > 0
    ended_lost = (t.status == STATUS_ENDED) & t.ended_lost & ~np.isnat(t.ended) & (t.ended <= on)
    silent = on_path & ~np.isnat(t.enrolled) & (t.enrolled < start) & ~followed
    result: Bools = managed & (ended_lost | silent)
    return result


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Each enrolment's standing in the month (the numerators; ``managed`` and ``on_path`` the populations)."""

    managed: Bools  # managed in the window: the denominator of 1–4 and 9
    first: Days  # the span
    last: Days
    on_path: Bools
    standard: Bools
    bp_controlled: Bools
    glucose_controlled: Bools
    hearts: NDArray[np.int8]
    lost: Bools


def outcomes(t: EnrolmentTable, clock: Clock) -> Outcomes:
    managed, first, last = spans(t, clock)
    on_path = on_path_mask(t.status, t.enrolled, t.ended, t.deceased, clock.on)
    return Outcomes(
        managed=managed,
        first=first,
        last=last,
        on_path=on_path,
        standard=_standard(t, managed, first, last, clock),
        bp_controlled=_bp_controlled(t, managed, first, last),
        glucose_controlled=_glucose_controlled(t, managed, first, last),
        hearts=_hearts(t, on_path, clock),
        lost=_lost(t, managed, on_path, clock),
    )


def entered(d: DiagnosisTable, clock: Clock) -> tuple[Bools, Bools]:
    """5: (denominator, numerator) — ≥ 35 on as_of, alive, the disease known by then; on its path."""
    on = _d(clock.on)
    alive = np.isnat(d.deceased) | (d.deceased > on)
    known = np.isnat(d.onset) | (d.onset <= on)
    old_enough = ages(d.birth, np.full(len(d), on)) >= ENROL_MIN_AGE
    diagnosed: Bools = alive & known & old_enough
    on_path: Bools = diagnosed & on_path_mask(d.status, d.enrolled, d.ended, d.deceased, clock.on)
    return diagnosed, on_path


# --- one patient's standing (the same code on a table of one) ---------------------------------------------------
Span = tuple[date, date]


def _one(e: EnrolmentFacts, clock: Clock) -> Outcomes:
    return outcomes(EnrolmentTable.of([e]), clock)


def management_span(e: EnrolmentFacts, clock: Clock) -> Span | None:
    """The days of the 12-month window the enrolment was managed (None: none)."""
    o = _one(e, clock)
    return (o.first[0].astype(date), o.last[0].astype(date)) if o.managed[0] else None


def on_path(e: EnrolmentFacts, on: date) -> bool:
    return bool(_one(e, Clock.of(on)).on_path[0])


def standard_management(e: EnrolmentFacts, clock: Clock) -> bool | None:
    """Indicators 1 and 2 for one enrolment (None: not in the denominator)."""
    o = _one(e, clock)
    return bool(o.standard[0]) if o.managed[0] else None


def bp_controlled(e: EnrolmentFacts, clock: Clock) -> bool | None:
    o = _one(e, clock)
    return bool(o.bp_controlled[0]) if o.managed[0] else None


def glucose_controlled(e: EnrolmentFacts, clock: Clock) -> bool | None:
    o = _one(e, clock)
    return bool(o.glucose_controlled[0]) if o.managed[0] else None


def hearts_bucket(e: EnrolmentFacts, clock: Clock) -> Hearts | None:
    code = int(_one(e, clock).hearts[0])
    return None if code == NOT_IN_COHORT else HEARTS_CODES[code]


def lost_to_followup(e: EnrolmentFacts, clock: Clock) -> bool | None:
    o = _one(e, clock)
    return bool(o.lost[0]) if o.managed[0] else None


def entered_path(d: DiagnosisFacts, on: date) -> bool | None:
    diagnosed, on_path = entered(DiagnosisTable.of([d]), Clock.of(on))
    return bool(on_path[0]) if diagnosed[0] else None
