"""Indicators of the chronic-disease programme (两慢病管理指标), registered in the indicator registry.

Pure: no session, no clock. The per-patient rules of 1–5, 8 and 9 live in ``chronic.indicator_rules``
(written once, over NumPy columns); 6 and 7 call ``chronic.path`` per patient, here. ``evaluate`` counts a
month per unit; ``ChronicFacts`` is what the registry's ``compute`` reads. Below, the definitions exactly.

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
5. ``chronic.path_entry`` 入径率 — per (resident, disease): residents aged ≥ 35 on ``as_of``, alive (and not
   merged or moved out), with an active condition of the disease (``DISEASE_ICD10``) whose onset is
   unknown or on/before ``as_of``, who are on that disease's path on ``as_of`` ÷ those residents. A
   patient with both diseases counts twice. (The problem list as it stands today: a condition resolved
   since is not counted for earlier months.)
6. ``chronic.indicator_execution`` 指标执行率 — per patient on the path on ``as_of`` (diseases = their
   enrolments on the path, enrolled_on = the earliest), ``path.execution`` over the month itself,
   ``[max(first day of the month, enrolled_on), as_of]``: the path items that fell due in the month and
   were done on time. Sums over patients (items done on time ÷ items due, pooled — not a mean of rates).
   Cost: ``path.execution`` walks each item's schedule from the day of enrolment, about 0.1 ms per
   patient (50 s for a district's 395 k patients on a small machine; ``indicator_data`` has the figures).
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
   (on or before ``as_of``) with reason "lost", or that are on the path on ``as_of``, were enrolled
   before the window began, and had no follow-up of any method in the window (a phone call reached the
   patient) ÷ enrolments managed in the window.

Organisation units: a patient counts for the team of the enrolment (``team_id``), the centre that team
belongs to (``care_team.home_institution_id``) and the town of the community the resident lives in. Per
patient indicators (6, 7) use the hypertension enrolment's team when there are two. A diagnosed resident
not on any path (5) counts for the team of a proposed/declined/ended enrolment if any, otherwise for the
first team that serves the community. A missing unit is ``UNASSIGNED`` (0).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import numpy as np

from healthbrain.chronic import path
from healthbrain.chronic.definitions import Disease
from healthbrain.chronic.indicator_rules import (
    HEARTS_CODES,
    NOT_IN_COHORT,
    Bools,
    Clock,
    DiagnosisTable,
    EnrolmentTable,
    Hearts,
    Ints,
    Level,
    Units,
    entered,
    on_path_mask,
    outcomes,
)
from healthbrain.indicators.registry import Indicator, Period, Value, of_domain, register

DOMAIN: Final = "chronic"


@dataclass(frozen=True, eq=False)
class MonthFacts:
    """Everything one month's indicators stand on, for the caller's scope."""

    first: date  # the month's first day
    as_of: date  # its last day, or today for the running month
    enrolments: EnrolmentTable  # enrolments managed in the 12-month window (a superset is fine)
    diagnoses: DiagnosisTable
    # resident → path item slug → days it was done (``path.execution`` / screening input)
    done_dates: Mapping[int, Mapping[str, Sequence[date]]]


# --- 6, 7: the path, per patient -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PathPatient:
    resident_id: int
    diseases: frozenset[Disease]
    enrolled_on: date
    units: Units


def path_patients(t: EnrolmentTable, on: date, on_path: Bools | None = None) -> list[PathPatient]:
    """One per resident on a path on that day: the diseases on the path, the earliest enrolment, and the
    units of the hypertension enrolment (else the diabetes one)."""
    mask = on_path_mask(t.status, t.enrolled, t.ended, t.deceased, on) if on_path is None else on_path
    rows = np.flatnonzero(mask)
    # hypertension first within a resident, so its units are the ones kept
    rows = rows[np.lexsort((~t.hypertension[rows], t.resident[rows]))]
    residents = t.resident[rows].tolist()
    enrolled = t.enrolled[rows].astype(date).tolist()
    htn = t.hypertension[rows].tolist()
    units = t.unit[rows].tolist()
    out: list[PathPatient] = []
    i = 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and residents[j + 1] == residents[i]:
            j += 1
        out.append(
            PathPatient(
                resident_id=residents[i],
                diseases=frozenset(Disease.HYPERTENSION if h else Disease.DIABETES for h in htn[i : j + 1]),
                enrolled_on=min(enrolled[i : j + 1]),
                units=t.units[units[i]],
            )
        )
        i = j + 1
    return out


def execution(p: PathPatient, done_dates: Mapping[str, Sequence[date]], clock: Clock) -> path.Execution:
    """Indicator 6 for one patient: ``path.execution`` over the month, from enrolment if that is later."""
    return path.execution(
        p.diseases,
        done_dates=done_dates,
        enrolled_on=p.enrolled_on,
        start=max(clock.first, p.enrolled_on),
        end=clock.on,
    )


def screening_done(p: PathPatient, done_dates: Mapping[str, Sequence[date]], clock: Clock) -> bool:
    """Indicator 7 for one patient: every complication screening of the path done in the 12 months."""
    return path.complication_screening_done(
        p.diseases, done_dates=done_dates, year_start=clock.start, year_end=clock.on
    )


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


def _count(unit: Ints, units: tuple[Units, ...], denominator: Bools, numerator: Bools) -> Counts:
    den = np.bincount(unit[denominator], minlength=len(units))
    num = np.bincount(unit[denominator & numerator], minlength=len(units))
    out: Counts = {}
    for i in np.flatnonzero(den):
        cell = out.setdefault(units[i], [0, 0])
        cell[0] += int(num[i])
        cell[1] += int(den[i])
    return out


def evaluate(month: MonthFacts) -> dict[str, Counts]:
    """Every indicator of the month, counted per (town, centre, team)."""
    clock = Clock.of(month.as_of, month.first)
    t = month.enrolments
    o = outcomes(t, clock)
    htn, dm = t.hypertension, ~t.hypertension
    out: dict[str, Counts] = {
        HTN_STANDARD: _count(t.unit, t.units, o.managed & htn, o.standard),
        DM_STANDARD: _count(t.unit, t.units, o.managed & dm, o.standard),
        BP_CONTROL: _count(t.unit, t.units, o.managed & htn, o.bp_controlled),
        GLUCOSE_CONTROL: _count(t.unit, t.units, o.managed & dm, o.glucose_controlled),
        LOST: _count(t.unit, t.units, o.managed, o.lost),
    }
    cohort = o.hearts != NOT_IN_COHORT
    for code, kind in enumerate(HEARTS_CODES):
        out[HEARTS_SLUGS[kind]] = _count(t.unit, t.units, cohort, o.hearts == code)
    diagnosed, on_path = entered(month.diagnoses, clock)
    out[PATH_ENTRY] = _count(month.diagnoses.unit, month.diagnoses.units, diagnosed, on_path)
    done_on_time: Counts = defaultdict(lambda: [0, 0])
    screened: Counts = defaultdict(lambda: [0, 0])
    for p in path_patients(t, clock.on, o.on_path):
        done = month.done_dates.get(p.resident_id, {})
        result = execution(p, done, clock)
        cell = done_on_time[p.units]
        cell[0] += result.done_on_time
        cell[1] += result.due
        cell = screened[p.units]
        cell[0] += screening_done(p, done, clock)
        cell[1] += 1
    out[EXECUTION] = {u: c for u, c in done_on_time.items() if c[1]}
    out[SCREENING] = dict(screened)
    return {slug: out[slug] for slug in SLUGS}


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
    """The records the registry's ``compute`` reads: each loaded month evaluated once (``evaluate``: the
    rules over every patient at once, counting per unit), then rolled up once per level and indicator. The
    month's facts themselves are not kept: a district's follow-ups are large, its counts a few thousand
    cells."""

    counts: dict[str, dict[str, Counts]]  # period label → slug → counts
    _rolled: dict[tuple[str, str, Level], dict[int | None, tuple[int, int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, months: Mapping[str, MonthFacts]) -> ChronicFacts:
        return cls({label: evaluate(month) for label, month in months.items()})

    def share(self, slug: str, period: Period, unit: int | None, level: Level) -> Value:
        key = (period.label, slug, level)
        if key not in self._rolled:
            self._rolled[key] = rollup(self.counts[period.label][slug], level)
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
