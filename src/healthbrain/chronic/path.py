"""The management path (管理路径): the dynamic indicators a patient with hypertension and/or type-2
diabetes is followed on, in six dimensions, and when each one falls due.

Entering the path (入径) puts an enrolled patient on these indicators (路径指标). Each ``PathItem`` is one
indicator with an interval; from the date each was last done, ``item_status`` says what the worklist
shows today, and over a period ``execution`` gives the indicator execution rate (指标执行率) and
``complication_screening_done`` the numerator of the complication screening rate (并发症筛查率).
Pure functions: no database, no clock (``today`` is an argument).

Sources (``shared/reference/chronic.md``; abbreviations as in ``chronic/definitions.py``):
- BPHS 2017: a follow-up at least every 90 days records BP, weight/BMI, heart rate (HTN), fasting glucose
  (DM; 4 free tests a year), smoking, alcohol, exercise, salt, adherence and gives health guidance.
- CDS 2020: HbA1c every 3–6 months; yearly lipids, fundus examination, urine albumin/creatinine ratio
  and eGFR, foot examination, ECG.
- CHG 2018: target-organ work-up for hypertension (ECG, UACR, creatinine/eGFR, lipids); home BP monitoring.
- LOINC 2.77 (loinc.org) for observation codes; long names in the comments.

Timing rules (house choices, documented here once; a family doctor should find each sensible):
- Due date: the day the item was last done plus its interval. An item never done is due
  ``min(interval, BASELINE_DAYS)`` days after enrolment: the baseline work-up (lipids, renal function, ECG,
  fundus …) is wanted in the first month on the path, not a year later. A result from before enrolment
  counts as "last done".
- States on a given day: DONE (nothing to do yet) until ``due_soon_days`` before the due date; DUE_SOON in
  that window (7 days; a quarter of the interval for short ones, so 1 day for the weekly home reading);
  DUE from the due date through ``grace_days`` after it (30 days for items of 90 days or more, 0 for the
  weekly home reading); OVERDUE after that. An item never done is never shown as DONE: before its baseline
  window it is DUE_SOON.
- Execution rate: see ``execution``. The schedule there is a fixed grid from enrolment (an audit view),
  while ``item_status`` rolls from the last time the item was done (the worklist view).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from healthbrain.chronic.definitions import DUE_SOON_DAYS, FOLLOWUP_MAX_GAP_DAYS, Disease, ReadingKind
from healthbrain.records import codes


class Dimension(StrEnum):
    VITALS = "vitals"
    LAB = "lab"
    LIFESTYLE = "lifestyle"
    ADHERENCE = "adherence"
    COMPLICATIONS = "complications"
    SELF_MANAGEMENT = "self_management"


DIMENSION_NAMES: Final[dict[Dimension, tuple[str, str]]] = {
    Dimension.VITALS: ("生命体征", "Vital signs"),
    Dimension.LAB: ("实验室检查", "Laboratory tests"),
    Dimension.LIFESTYLE: ("生活方式", "Lifestyle"),
    Dimension.ADHERENCE: ("用药依从性", "Medication adherence"),
    Dimension.COMPLICATIONS: ("并发症筛查", "Complication screening"),
    Dimension.SELF_MANAGEMENT: ("自我管理与健康教育", "Self-management and health education"),
}


class Evidence(StrEnum):
    """What counts as the item being done."""

    OBSERVATION = "observation"  # an observation with one of the LOINC codes
    FOLLOWUP_FIELD = "followup_field"  # a follow-up form with one of these fields filled in
    HOME_READING = "home_reading"  # an accepted home-device reading of one of these ReadingKinds


# --- LOINC codes not in records.codes (LOINC 2.77 long names) -----------------------------------------
GLUCOSE_FASTING_MASS: Final = "1558-6"  # Fasting glucose [Mass/volume] in Serum or Plasma
GLUCOSE_FASTING_CAPILLARY: Final = "14770-2"  # Fasting glucose [Moles/volume] in Capillary blood by Glucometer
HBA1C_HPLC: Final = "17856-6"  # Hemoglobin A1c/Hemoglobin.total in Blood by HPLC
TOTAL_CHOLESTEROL_MASS: Final = "2093-3"  # Cholesterol [Mass/volume] in Serum or Plasma
LDL_MOLES: Final = "22748-8"  # Cholesterol in LDL [Moles/volume] in Serum or Plasma
LDL_MOLES_CALC: Final = "39469-2"  # Cholesterol in LDL [Moles/volume] in Serum or Plasma by calculation
LDL_CALC: Final = "13457-7"  # Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation
LDL_DIRECT: Final = "18262-6"  # Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay
HDL_MOLES: Final = "14646-4"  # Cholesterol in HDL [Moles/volume] in Serum or Plasma
HDL_MASS: Final = "2085-9"  # Cholesterol in HDL [Mass/volume] in Serum or Plasma
TRIGLYCERIDE_MOLES: Final = "14927-8"  # Triglyceride [Moles/volume] in Serum or Plasma
TRIGLYCERIDE_MASS: Final = "2571-8"  # Triglyceride [Mass/volume] in Serum or Plasma
CREATININE_MASS: Final = "2160-0"  # Creatinine [Mass/volume] in Serum or Plasma
# eGFR: "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by
# Creatinine-based formula (…)" — the formula differs:
EGFR_MDRD: Final = "33914-3"  # (MDRD); this older term reads "in Serum or Plasma"
EGFR_CKD_EPI: Final = "62238-1"  # (CKD-EPI)
EGFR_CKD_EPI_2021: Final = "98979-8"  # (CKD-EPI 2021)
UACR_MASS: Final = "9318-7"  # Albumin/Creatinine [Mass Ratio] in Urine
UACR_MICRO_MASS: Final = "14959-1"  # Microalbumin/Creatinine [Mass Ratio] in Urine
UACR_MOLAR: Final = "14585-4"  # Albumin/Creatinine [Molar ratio] in Urine (mg/mmol, as many Chinese labs report)
ECG_STUDY: Final = "11524-6"  # EKG study
ECG_12_LEAD: Final = "34534-8"  # 12 lead EKG panel
# Fundus: LOINC has no single "diabetic fundus examination" term. 32451-7 is the term the US diabetic
# retinopathy quality measures use for the retinal (macular) examination, "Physical findings of Macula
# Narrative" — not fully certain of the long name; the generic eye exam 10197-2 "Physical findings of Eye
# Narrative" is deliberately not used, since it would count any eye inspection as a fundus examination.
FUNDUS_EXAM: Final = "32451-7"
FOOT_EXAM: Final = "11397-7"  # Physical findings of Foot Narrative

# Follow-up form fields (BPHS forms) that count as the lifestyle / adherence / education items.
FIELD_SMOKING: Final = "smoking"
FIELD_DRINKING: Final = "drinking"
FIELD_EXERCISE: Final = "exercise"
FIELD_SALT: Final = "salt"
FIELD_STAPLE_FOOD: Final = "staple_food_g"  # the DM form records staple food (主食) where the HTN form has salt
FIELD_ADHERENCE: Final = "adherence"
FIELD_EDUCATION: Final = "education"

# --- timing (house choices; see the module docstring) -----------------------------------------------
YEARLY_DAYS: Final = 365
HBA1C_INTERVAL_DAYS: Final = 180  # CDS 2020: every 3–6 months; the path takes the 6-month end
HOME_READING_DAYS: Final = 7  # at least one home reading a week
BASELINE_DAYS: Final = 30  # a never-done item is due at the latest a month after enrolment
OVERDUE_GRACE_DAYS: Final = 30  # quarterly and longer items stay "due" a month before "overdue"
GRACE_MIN_INTERVAL_DAYS: Final = FOLLOWUP_MAX_GAP_DAYS  # shorter items (the weekly reading) have no grace

HTN: Final = frozenset({Disease.HYPERTENSION})
DM: Final = frozenset({Disease.DIABETES})
BOTH: Final = frozenset({Disease.HYPERTENSION, Disease.DIABETES})


@dataclass(frozen=True, slots=True)
class PathItem:
    slug: str
    dimension: Dimension
    diseases: frozenset[Disease]  # the item applies to a patient with any of these
    interval_days: int  # how often it is due
    name_zh: str
    name_en: str
    source: str
    evidence: Evidence
    # LOINC codes (OBSERVATION), follow-up form field names (FOLLOWUP_FIELD) or ReadingKind values
    # (HOME_READING) that count as done.
    codes: tuple[str, ...] = ()
    complication_screening: bool = False


def _item(
    slug: str,
    dimension: Dimension,
    diseases: frozenset[Disease],
    interval_days: int,
    name_zh: str,
    name_en: str,
    source: str,
    evidence: Evidence,
    *item_codes: str,
) -> PathItem:
    return PathItem(
        slug=slug,
        dimension=dimension,
        diseases=diseases,
        interval_days=interval_days,
        name_zh=name_zh,
        name_en=name_en,
        source=source,
        evidence=evidence,
        codes=item_codes,
        complication_screening=dimension is Dimension.COMPLICATIONS,
    )


_Q: Final = FOLLOWUP_MAX_GAP_DAYS  # quarterly, the BPHS follow-up rhythm
_OBS, _FIELD, _HOME = Evidence.OBSERVATION, Evidence.FOLLOWUP_FIELD, Evidence.HOME_READING
_V, _L, _S = Dimension.VITALS, Dimension.LAB, Dimension.LIFESTYLE
_A, _C, _M = Dimension.ADHERENCE, Dimension.COMPLICATIONS, Dimension.SELF_MANAGEMENT

PATH_ITEMS: Final[tuple[PathItem, ...]] = (
    # vital signs: measured at every BPHS follow-up
    _item("bp", _V, BOTH, _Q, "血压", "Blood pressure", "BPHS 2017", _OBS, codes.SYSTOLIC_BP, codes.BP_PANEL),
    _item("weight", _V, BOTH, _Q, "体重/体质指数", "Weight / BMI", "BPHS 2017", _OBS, codes.BODY_WEIGHT, codes.BMI),
    _item("heart_rate", _V, HTN, _Q, "心率", "Heart rate", "BPHS 2017", _OBS, codes.HEART_RATE),
    # waist yearly: a house choice (both guidelines set waist targets; BPHS forms do not record it)
    _item("waist", _V, BOTH, YEARLY_DAYS, "腰围", "Waist circumference", "house choice", _OBS, codes.WAIST),
    # laboratory
    _item(
        "fasting_glucose",
        _L,
        DM,
        _Q,
        "空腹血糖",
        "Fasting glucose",
        "BPHS 2017",  # 4 free fasting glucose tests a year
        _OBS,
        codes.GLUCOSE_FASTING,
        GLUCOSE_FASTING_MASS,
        GLUCOSE_FASTING_CAPILLARY,
    ),
    _item("hba1c", _L, DM, HBA1C_INTERVAL_DAYS, "糖化血红蛋白", "HbA1c", "CDS 2020", _OBS, codes.HBA1C, HBA1C_HPLC),
    _item(
        "lipids",
        _L,
        BOTH,
        YEARLY_DAYS,
        "血脂",
        "Lipids",
        "CDS 2020; CHG 2018",
        _OBS,  # any component of a lipid profile counts: labs report them together
        codes.TOTAL_CHOLESTEROL,
        TOTAL_CHOLESTEROL_MASS,
        LDL_MOLES,
        LDL_MOLES_CALC,
        LDL_CALC,
        LDL_DIRECT,
        HDL_MOLES,
        HDL_MASS,
        TRIGLYCERIDE_MOLES,
        TRIGLYCERIDE_MASS,
    ),
    _item(
        "renal",
        _L,
        BOTH,
        YEARLY_DAYS,
        "血肌酐/估算肾小球滤过率",
        "Creatinine / eGFR",
        "CDS 2020; CHG 2018",
        _OBS,
        codes.CREATININE,
        CREATININE_MASS,
        EGFR_MDRD,
        EGFR_CKD_EPI,
        EGFR_CKD_EPI_2021,
    ),
    # lifestyle: assessed on every BPHS follow-up form
    _item("smoking", _S, BOTH, _Q, "吸烟评估", "Smoking assessed", "BPHS 2017", _FIELD, FIELD_SMOKING),
    _item("drinking", _S, BOTH, _Q, "饮酒评估", "Alcohol assessed", "BPHS 2017", _FIELD, FIELD_DRINKING),
    _item("exercise", _S, BOTH, _Q, "运动评估", "Exercise assessed", "BPHS 2017", _FIELD, FIELD_EXERCISE),
    _item(
        "salt",
        _S,
        BOTH,
        _Q,
        "摄盐/饮食评估",
        "Salt / diet assessed",
        "BPHS 2017",
        _FIELD,
        FIELD_SALT,
        FIELD_STAPLE_FOOD,
    ),
    # adherence
    _item("adherence", _A, BOTH, _Q, "服药依从性评估", "Adherence assessed", "BPHS 2017", _FIELD, FIELD_ADHERENCE),
    # complication screening, yearly (eGFR counts under the lab item "renal")
    _item("fundus", _C, DM, YEARLY_DAYS, "眼底检查", "Fundus examination", "CDS 2020", _OBS, FUNDUS_EXAM),
    _item(
        "uacr",
        _C,
        BOTH,  # DM: CDS 2020 yearly screening; HTN: CHG 2018 target-organ work-up
        YEARLY_DAYS,
        "尿白蛋白/肌酐比值",
        "Urine albumin/creatinine ratio",
        "CDS 2020; CHG 2018",
        _OBS,
        UACR_MASS,
        UACR_MICRO_MASS,
        UACR_MOLAR,
    ),
    _item("foot", _C, DM, YEARLY_DAYS, "足部检查", "Foot examination", "CDS 2020", _OBS, FOOT_EXAM),
    _item("ecg", _C, BOTH, YEARLY_DAYS, "心电图", "ECG", "CDS 2020; CHG 2018", _OBS, ECG_STUDY, ECG_12_LEAD),
    # self-management and health education
    _item(
        "home_bp",
        _M,
        HTN,
        HOME_READING_DAYS,
        "家庭血压监测",
        "Home blood pressure monitoring",
        "CHG 2018",
        _HOME,
        ReadingKind.BP.value,
    ),
    _item(
        "home_glucose",
        _M,
        DM,
        HOME_READING_DAYS,
        "家庭血糖监测",
        "Home glucose monitoring",
        "CDS 2020",
        _HOME,
        ReadingKind.GLUCOSE.value,
    ),
    _item("education", _M, BOTH, _Q, "健康教育", "Health education", "BPHS 2017", _FIELD, FIELD_EDUCATION),
)

PATH_ITEMS_BY_SLUG: Final[dict[str, PathItem]] = {item.slug: item for item in PATH_ITEMS}


def items_for(diseases: Iterable[Disease]) -> tuple[PathItem, ...]:
    """The path items that apply to a patient with these diseases, in PATH_ITEMS order."""
    wanted = frozenset(diseases)
    return tuple(item for item in PATH_ITEMS if item.diseases & wanted)


# --- timing -------------------------------------------------------------------------------------------
def first_due_days(item: PathItem) -> int:
    """Days after enrolment at which a never-done item is due (the baseline)."""
    return min(item.interval_days, BASELINE_DAYS)


def due_soon_days(item: PathItem) -> int:
    """Length of the DUE_SOON window before the due date."""
    return min(DUE_SOON_DAYS, item.interval_days // 4)


def grace_days(item: PathItem) -> int:
    """Days after the due date during which the item is DUE rather than OVERDUE."""
    return OVERDUE_GRACE_DAYS if item.interval_days >= GRACE_MIN_INTERVAL_DAYS else 0


class ItemState(StrEnum):
    DONE = "done"  # done and not due yet
    DUE_SOON = "due_soon"  # due within the DUE_SOON window (or never done, baseline not due yet)
    DUE = "due"  # on or after the due date, within the grace
    OVERDUE = "overdue"  # past the due date and the grace


@dataclass(frozen=True, slots=True)
class ItemStatus:
    item: PathItem
    last_done: date | None
    due_date: date
    state: ItemState


def item_status(item: PathItem, *, last_done: date | None, enrolled_on: date, today: date) -> ItemStatus:
    """Where one item stands today (the worklist view, rolling from the last time it was done)."""
    if last_done is None:
        due_date = enrolled_on + timedelta(days=first_due_days(item))
    else:
        due_date = last_done + timedelta(days=item.interval_days)
    if today > due_date + timedelta(days=grace_days(item)):
        state = ItemState.OVERDUE
    elif today >= due_date:
        state = ItemState.DUE
    elif today >= due_date - timedelta(days=due_soon_days(item)) or last_done is None:
        state = ItemState.DUE_SOON
    else:
        state = ItemState.DONE
    return ItemStatus(item=item, last_done=last_done, due_date=due_date, state=state)


def path_status(
    diseases: Iterable[Disease], *, last_done: Mapping[str, date | None], enrolled_on: date, today: date
) -> list[ItemStatus]:
    """Status of every applicable item; ``last_done`` maps item slug → the latest date it was done."""
    return [
        item_status(item, last_done=last_done.get(item.slug), enrolled_on=enrolled_on, today=today)
        for item in items_for(diseases)
    ]


_DUE_ORDER: Final = {ItemState.OVERDUE: 0, ItemState.DUE: 1, ItemState.DUE_SOON: 2}


def due_list(statuses: Iterable[ItemStatus]) -> list[ItemStatus]:
    """What needs doing: overdue first, then due, then due soon; within each, the earliest due date first.
    DONE items are left out."""
    pending = [s for s in statuses if s.state in _DUE_ORDER]
    return sorted(pending, key=lambda s: (_DUE_ORDER[s.state], s.due_date, s.item.slug))


# --- indicator execution rate (指标执行率) ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Execution:
    due: int
    done_on_time: int
    rate: float | None  # done_on_time / due; None when nothing was due


def schedule(item: PathItem, *, enrolled_on: date, until: date) -> list[date]:
    """The item's due dates on the fixed grid from enrolment, up to ``until`` inclusive: the first at
    ``first_due_days`` after enrolment, then every ``interval_days``."""
    step = timedelta(days=item.interval_days)
    due = enrolled_on + timedelta(days=first_due_days(item))
    dates: list[date] = []
    while due <= until:
        dates.append(due)
        due += step
    return dates


def _done_within(done: Sequence[date], low: date, high: date) -> bool:
    """Whether sorted ``done`` has a date in [low, high]."""
    return bisect_right(done, high) > bisect_left(done, low)


def execution(
    diseases: Iterable[Disease],
    *,
    done_dates: Mapping[str, Sequence[date]],
    enrolled_on: date,
    start: date,
    end: date,
) -> Execution:
    """指标执行率 = path indicators done on time ÷ path indicators due, over [start, end].

    Exactly: for each applicable item, walk its fixed schedule from enrolment (``schedule``). Each due
    date d with start ≤ d ≤ end counts 1 due. It counts 1 done on time when the item was done (a date in
    ``done_dates[slug]``) on a day in [d − interval, d], both ends inclusive, with no grace: one result
    keeps the item covered for exactly one interval, as ``item_status`` counts it. Dates before enrolment
    count for the first due date (a recent result serves as the baseline). ``done_dates`` need not be
    sorted; items missing from it were never done.
    """
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    due = done_on_time = 0
    for item in items_for(diseases):
        done = sorted(done_dates.get(item.slug, ()))
        window = timedelta(days=item.interval_days)
        for due_date in schedule(item, enrolled_on=enrolled_on, until=end):
            if due_date < start:
                continue
            due += 1
            if _done_within(done, due_date - window, due_date):
                done_on_time += 1
    return Execution(due=due, done_on_time=done_on_time, rate=done_on_time / due if due else None)


def complication_screening_done(
    diseases: Iterable[Disease], *, done_dates: Mapping[str, Sequence[date]], year_start: date, year_end: date
) -> bool:
    """Whether every applicable complication screening item was done within [year_start, year_end]: the
    numerator of 并发症筛查率. A patient with no applicable item (no managed disease) is not counted."""
    screening = [item for item in items_for(diseases) if item.complication_screening]
    return bool(screening) and all(
        any(year_start <= d <= year_end for d in done_dates.get(item.slug, ())) for item in screening
    )
