"""Chronic-disease management of the synthetic district (两慢病管理), generated as arrays.

Managed patients (hypertension or type-2 diabetes, aged 35 and over) are on a path per disease
(入径): most enrolled before the history starts, a few still proposed, a few ended. Every
follow-up visit of the history gets its BPHS form per disease, with the visit's own measurements,
lifestyle answers that stay with the patient, and the classification, referral and next date the
rules of :mod:`healthbrain.chronic.classify` give (over arrays, :mod:`healthbrain.sim.chronic_rules`). A referral opens a task that the next visit closes. The enrolment
carries the schedule its last form set, a complication screening date and (hypertension) the
CHG 2018 risk tier as :mod:`healthbrain.chronic.facts` would compute it from the record.

Choices: the simulated visits keep the history's quarterly rhythm, so a visit classed uncontrolled
is not followed up within 14 days as its next date asks (the worklist shows it overdue); a
patient whose path ended keeps an active resident record, even when the reason is death.

Home devices, their readings and the alerts they raise are in :mod:`healthbrain.sim.home_monitoring`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np

from healthbrain.chronic.definitions import (
    DISEASE_ICD10,
    ENROL_MIN_AGE,
    URGENT_SYMPTOMS,
    Adherence,
    Disease,
    EndReason,
    EnrolmentStatus,
    Symptom,
)
from healthbrain.chronic.facts import (
    CKD,
    CLINICAL_CVD,
    DM_COMPLICATIONS,
    DYSLIPIDAEMIA,
    IMPAIRED_FASTING_GLUCOSE,
    TOTAL_CHOLESTEROL_HIGH,
)
from healthbrain.records import codes
from healthbrain.sim import home_monitoring
from healthbrain.sim.chronic_rules import UNCONTROLLED, VISIT_CLASSES, age_on, classify_arrays, reason_list, risk_tiers
from healthbrain.sim.history import LOCAL_OFFSET_S, Columns, History
from healthbrain.sim.institutions import Directory

# --- shares (house choices for a plausible district; none is a clinical rule) ----------------------
PROPOSED_SHARE: Final = 0.03  # found in the record, not yet confirmed by the family doctor
ENDED_SHARE: Final = 0.02
END_REASONS: Final = (
    (EndReason.DIED, 0.30),
    (EndReason.MOVED, 0.25),
    (EndReason.LOST, 0.30),
    (EndReason.REFUSED, 0.15),
)
SCREENING_OVERDUE_SHARE: Final = 0.20  # the complication screening is past due for these
HOME_VISIT_SHARE_75: Final = 0.15  # follow-ups at home, patients aged 75 and over
ADVERSE_REACTION_SHARE: Final = 0.02  # per form, patients on a drug
UNCONTROLLABLE_SHARE: Final = 0.15  # of adverse reactions
COMPLICATION_SHARE: Final = 0.01  # new or worse complication, per form
EDUCATION_SHARE: Final = 0.85
# One symptom at most per visit (shared by the patient's two forms): (symptom, share of visits).
SYMPTOMS: Final = (
    (Symptom.NUMBNESS, 0.04),
    (Symptom.OEDEMA, 0.025),
    (Symptom.POLYURIA_POLYDIPSIA, 0.03),  # diabetes patients only; others report none
    (Symptom.BLURRED_VISION, 0.004),
    (Symptom.HEADACHE_DIZZINESS, 0.006),
    (Symptom.PALPITATIONS, 0.003),
    (Symptom.CHEST_TIGHTNESS, 0.003),
    (Symptom.NAUSEA_VOMITING, 0.001),
    (Symptom.ORTHOPNOEA, 0.0005),
    (Symptom.ALTERED_CONSCIOUSNESS, 0.0002),
    (Symptom.KETOTIC_BREATH, 0.0002),
    (Symptom.DEEP_BREATHING, 0.0002),
    (Symptom.SUDDEN_VISION_LOSS, 0.0003),
)
ADVERSE_TEXTS: Final = {
    Disease.HYPERTENSION: ("踝部水肿", "头晕乏力", "面部潮红", "干咳"),
    Disease.DIABETES: ("胃肠道不适", "腹胀", "低血糖反应", "皮疹"),
}
COMPLICATION_TEXTS: Final = {
    Disease.HYPERTENSION: ("新发冠心病", "脑卒中", "肾功能下降", "左心室肥厚"),
    Disease.DIABETES: ("糖尿病视网膜病变", "周围神经病变加重", "糖尿病肾病", "糖尿病足"),
}

# Form answers (schemas.FollowUpIn's literals), drawn as codes into these.
SMOKING: Final = ("never", "former", "current")
DRINKING: Final = ("never", "occasional", "often", "daily")
EXERCISE: Final = ("daily", "weekly", "occasional", "never")
SALT: Final = ("light", "moderate", "heavy")
PEDIS: Final = ("palpable", "weak", "absent")
ADHERENCE: Final = (Adherence.REGULAR.value, Adherence.INTERMITTENT.value, Adherence.NONE.value)
HYPOGLYCAEMIA: Final = ("none", "occasional", "frequent")

ENROLLED, PROPOSED, ENDED = 0, 1, 2
STATUS_NAMES: Final = np.array(
    [EnrolmentStatus.ENROLLED.value, EnrolmentStatus.PROPOSED.value, EnrolmentStatus.ENDED.value], dtype=object
)
_LOCAL = np.timedelta64(LOCAL_OFFSET_S, "s")
_NAT = np.datetime64("NaT", "D")


@dataclass
class Management:
    """The chronic-management tables of a district, as columns; indexes (residents, encounters,
    devices, readings …) are 0-based positions, the loader adds 1 where the table uses ids."""

    enrolments: Columns
    followups: Columns
    tasks: Columns
    devices: Columns
    readings: Columns
    alerts: Columns
    device_tokens: list[home_monitoring.DeviceToken]  # the first devices, for the demo to print


# --- helpers ---------------------------------------------------------------------------------------
def _latest(resident: np.ndarray, at: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    """Per resident, the value of the latest row (NaN for none)."""
    out = np.full(n, np.nan)
    if len(resident):
        order = np.lexsort((at, resident))
        r = resident[order]
        last = np.r_[r[1:] != r[:-1], True]
        out[r[last]] = value[order][last]
    return out


def _instants(days: np.ndarray, local_seconds: np.ndarray) -> np.ndarray:
    """UTC instants (datetime64[s]) at local seconds of local days."""
    instants: np.ndarray = days.astype("datetime64[D]").astype("datetime64[s]") + (
        np.asarray(local_seconds, dtype=np.int64) - LOCAL_OFFSET_S
    ).astype("timedelta64[s]")
    return instants


def _choice(rng: np.random.Generator, values: tuple[Any, ...], p: list[float], size: int) -> np.ndarray:
    return _labels(values)[rng.choice(len(values), size=size, p=p)]


def _labels(values: tuple[Any, ...]) -> np.ndarray:
    return np.array(values, dtype=object)


def _or_none(condition: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``condition`` holds, None elsewhere (an object column)."""
    out = np.full(len(condition), None, dtype=object)
    out[condition] = values[condition]
    return out


def _json_by_key(keys: np.ndarray, make: Any) -> np.ndarray:
    """JSON text per row, built once per distinct key."""
    unique, inverse = np.unique(keys, return_inverse=True)
    texts = np.array([json.dumps(make(int(k)), ensure_ascii=False) for k in unique], dtype=object)
    gathered: np.ndarray = texts[inverse.reshape(-1)]
    return gathered


@dataclass
class _Visits:
    """The follow-up encounters of the history with their measurements (NaN when not taken)."""

    encounter: np.ndarray
    resident: np.ndarray
    at: np.ndarray
    day: np.ndarray
    institution: np.ndarray
    practitioner: np.ndarray
    sbp: np.ndarray
    dbp: np.ndarray
    heart_rate: np.ndarray
    weight: np.ndarray
    glucose: np.ndarray


def _visits(history: History) -> _Visits:
    e = history.encounters.data
    fu = np.flatnonzero(np.asarray(e["klass"]) == "followup")
    where = np.full(len(history.encounters), -1, dtype=np.int64)
    where[fu] = np.arange(len(fu))
    o = history.observations.data
    o_encounter = np.asarray(o["encounter"], dtype=np.int64)
    keep = np.flatnonzero(where[o_encounter] >= 0)
    o_code = np.asarray(o["code"])[keep]
    o_value = np.asarray(o["value"], dtype=float)[keep]
    o_visit = where[o_encounter[keep]]
    values = {}
    for code in (codes.SYSTOLIC_BP, codes.DIASTOLIC_BP, codes.HEART_RATE, codes.BODY_WEIGHT, codes.GLUCOSE_FASTING):
        v = np.full(len(fu), np.nan)
        sel = o_code == code
        v[o_visit[sel]] = o_value[sel]
        values[code] = v
    at = np.asarray(e["at"])[fu].astype("datetime64[s]")
    return _Visits(
        encounter=fu,
        resident=np.asarray(e["resident"], dtype=np.int64)[fu],
        at=at,
        day=(at + _LOCAL).astype("datetime64[D]"),
        institution=np.asarray(e["institution"], dtype=np.int64)[fu],
        practitioner=np.asarray(e["practitioner"])[fu].astype(np.int64),
        sbp=values[codes.SYSTOLIC_BP],
        dbp=values[codes.DIASTOLIC_BP],
        heart_rate=values[codes.HEART_RATE],
        weight=values[codes.BODY_WEIGHT],
        glucose=values[codes.GLUCOSE_FASTING],
    )


def _condition_flags(history: History, n: int) -> dict[str, np.ndarray]:
    """Per resident, the problem-list groups that ``chronic.facts`` reads."""
    c = history.conditions.data
    resident = np.asarray(c["resident"], dtype=np.int64)
    unique, inverse = np.unique(np.asarray(c["code"]).astype(str), return_inverse=True)
    inverse = inverse.reshape(-1)
    groups = {
        "htn": DISEASE_ICD10[Disease.HYPERTENSION],
        "dm": DISEASE_ICD10[Disease.DIABETES],
        "cvd": CLINICAL_CVD,
        "lipids": DYSLIPIDAEMIA,
        "dm_complications": DM_COMPLICATIONS,
        "ckd": (CKD,),
    }
    flags: dict[str, np.ndarray] = {}
    for name, prefixes in groups.items():
        per_code = np.array([str(u).startswith(prefixes) for u in unique], dtype=bool)
        flag = np.zeros(n, dtype=bool)
        flag[resident[per_code[inverse]]] = True
        flags[name] = flag
    # facts.ckd_stage: the highest stage written (N18.x), 3 when only N18 is.
    digit = np.array([int(u[4]) if u.startswith(CKD) and len(u) >= 5 and u[4].isdigit() else 0 for u in unique])
    stage = np.zeros(n, dtype=np.int64)
    np.maximum.at(stage, resident, digit[inverse])
    flags["ckd_stage"] = np.where(stage > 0, stage, np.where(flags["ckd"], 3, 0))
    return flags


def _onsets(history: History, n: int) -> tuple[np.ndarray, np.ndarray]:
    c = history.conditions.data
    resident = np.asarray(c["resident"], dtype=np.int64)
    code = np.asarray(c["code"]).astype(str)
    onset = np.asarray(c["onset"]).astype("datetime64[D]").astype(np.int64)
    out = []
    for disease in (Disease.HYPERTENSION, Disease.DIABETES):
        sel = np.char.startswith(code, DISEASE_ICD10[disease][0])
        for prefix in DISEASE_ICD10[disease][1:]:
            sel |= np.char.startswith(code, prefix)
        first = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(first, resident[sel], onset[sel])
        out.append(np.where(first == np.iinfo(np.int64).max, np.iinfo(np.int64).min, first).astype("datetime64[D]"))
    return out[0], out[1]


def _medications(history: History, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per resident, the medication list (JSON) of each disease's form: hypertension drugs (ATC C)
    and diabetes drugs (ATC A10)."""
    m = history.medications.data
    atc = np.asarray(m["code"]).astype(str)
    out = []
    for prefix in ("C", "A10"):
        sel = np.char.startswith(atc, prefix)
        resident = np.asarray(m["resident"], dtype=np.int64)[sel]
        fields = [np.asarray(m[k])[sel].astype(str) for k in ("name", "dose", "frequency")]
        drugs, drug = np.unique(
            np.char.add(np.char.add(np.char.add(fields[0], "\x1f"), fields[1]), np.char.add("\x1f", fields[2])),
            return_inverse=True,
        )
        drug = drug.reshape(-1)
        items = [dict(zip(("name", "dose", "frequency"), str(d).split("\x1f"), strict=True)) for d in drugs]
        texts = np.full(n, "[]", dtype=object)
        # Most patients take one drug for a disease: its list is made once per drug.
        single = np.bincount(resident, minlength=n)[resident] == 1
        one = np.array([json.dumps([item], ensure_ascii=False) for item in items], dtype=object)
        texts[resident[single]] = one[drug[single]]
        several: dict[int, list[dict[str, str]]] = {}
        for r, d in zip(resident[~single].tolist(), drug[~single].tolist(), strict=True):
            several.setdefault(r, []).append(items[d])
        for r, listed in several.items():
            texts[r] = json.dumps(listed, ensure_ascii=False)
        out.append(texts)
    return out[0], out[1]


# --- the district's management ----------------------------------------------------------------------
def generate(
    rng: np.random.Generator,
    *,
    history: History,
    ages: np.ndarray,
    birth: np.ndarray,
    male: np.ndarray,
    directory: Directory,
    as_of: date,
    history_days: int,
    reading_days: int,
    seed: int,
) -> Management:
    n = len(ages)
    today = np.datetime64(as_of, "D")
    team_ids = np.array([t.id for t in directory.teams], dtype=np.int64)
    team = team_ids[np.asarray(history.team, dtype=np.int64)]

    # --- enrolments: one per disease, in order of resident ------------------------------------------
    eligible = ages >= ENROL_MIN_AGE
    htn_residents = np.flatnonzero(history.hypertension & eligible)
    dm_residents = np.flatnonzero(history.diabetes & eligible)
    residents = np.concatenate([htn_residents, dm_residents])
    is_htn = np.r_[np.ones(len(htn_residents), dtype=bool), np.zeros(len(dm_residents), dtype=bool)]
    order = np.lexsort((~is_htn, residents))
    residents, is_htn = residents[order], is_htn[order]
    m = len(residents)
    u = rng.random(m)
    status = np.where(u < PROPOSED_SHARE, PROPOSED, np.where(u < PROPOSED_SHARE + ENDED_SHARE, ENDED, ENROLLED))
    enrolment_of = {True: np.full(n, -1, dtype=np.int64), False: np.full(n, -1, dtype=np.int64)}
    enrolment_of[True][residents[is_htn]] = np.flatnonzero(is_htn)
    enrolment_of[False][residents[~is_htn]] = np.flatnonzero(~is_htn)

    # --- forms: each follow-up visit of an enrolled (or since ended) patient, per disease ------------
    visits = _visits(history)
    parts_visit, parts_enrolment = [], []
    for disease_is_htn in (True, False):
        k = enrolment_of[disease_is_htn][visits.resident]
        ok = k >= 0
        ok[ok] = status[k[ok]] != PROPOSED
        parts_visit.append(np.flatnonzero(ok))
        parts_enrolment.append(k[ok])
    f_visit = np.concatenate(parts_visit)
    f_enrolment = np.concatenate(parts_enrolment)
    # Ids run by enrolment, then date: the load's foreign-key checks then walk the resident and
    # encounter tables in order instead of jumping around them (several times faster on SQLite).
    order = np.lexsort((visits.at[f_visit].astype(np.int64), f_enrolment))
    f_visit, f_enrolment = f_visit[order], f_enrolment[order]
    nf = len(f_visit)
    f_htn = is_htn[f_enrolment]
    f_resident = residents[f_enrolment]
    f_day = visits.day[f_visit]
    # The previous and next form of the same enrolment.
    same = np.r_[False, f_enrolment[1:] == f_enrolment[:-1]]
    previous = np.where(same, np.arange(nf) - 1, -1)
    following = np.where(np.r_[same[1:], False], np.arange(nf) + 1, -1)

    # --- the patient's answers: stable across visits (codes into the answer tuples) --------------------
    r = rng.random(n)
    smoke_current = np.where(male, 0.38, 0.02)
    smoking = np.where(r < smoke_current, 2, np.where(r < smoke_current + np.where(male, 0.12, 0.01), 1, 0))
    cigarettes = rng.choice(np.array([5, 10, 15, 20, 30, 40]), n, p=[0.15, 0.3, 0.15, 0.3, 0.07, 0.03])
    drinking = np.where(
        male, rng.choice(4, n, p=[0.45, 0.3, 0.15, 0.1]), rng.choice(4, n, p=[0.85, 0.13, 0.015, 0.005])
    )
    alcohol = np.round(
        np.select(
            [drinking == 1, drinking == 2, drinking == 3],
            [rng.uniform(2, 10, n), rng.uniform(10, 30, n), rng.uniform(25, 80, n)],
            np.nan,
        )
    )
    exercise = rng.choice(4, n, p=[0.3, 0.3, 0.25, 0.15])
    exercise_minutes = np.select(
        [exercise == 0, exercise == 1, exercise == 2],
        [rng.integers(150, 421, n) // 10 * 10, rng.integers(60, 181, n) // 10 * 10, rng.integers(20, 61, n) // 10 * 10],
        0,
    )
    salt = rng.choice(3, n, p=[0.35, 0.5, 0.15])
    staple = rng.choice(np.array([200, 250, 300, 350, 400]), n, p=[0.15, 0.3, 0.3, 0.15, 0.1])
    pedis = rng.choice(3, n, p=[0.88, 0.10, 0.02])
    med_htn, med_dm = _medications(history, n)
    on_drug = {True: med_htn != "[]", False: med_dm != "[]"}
    adherence_draw = rng.choice(3, m, p=[0.75, 0.22, 0.03])
    adherence = np.where(np.where(is_htn, on_drug[True][residents], on_drug[False][residents]), adherence_draw, 2)

    # --- what happened at each visit ---------------------------------------------------------------------
    nv = len(visits.resident)
    symptom_values = np.array([Symptom.NONE.value] + [s.value for s, _ in SYMPTOMS], dtype=object)
    shares = np.array([s for _, s in SYMPTOMS])
    visit_symptom = rng.choice(len(symptom_values), nv, p=np.r_[1 - shares.sum(), shares])
    polyuria = int(np.flatnonzero(symptom_values == Symptom.POLYURIA_POLYDIPSIA.value)[0])
    visit_symptom[(visit_symptom == polyuria) & ~history.diabetes[visits.resident]] = 0
    visit_home = (ages[visits.resident] >= 75) & (rng.random(nv) < HOME_VISIT_SHARE_75)
    f_symptom = visit_symptom[f_visit]
    urgent_htn = np.array(
        [s != Symptom.NONE.value and Symptom(s) in URGENT_SYMPTOMS[Disease.HYPERTENSION] for s in symptom_values]
    )
    urgent_dm = np.array(
        [s != Symptom.NONE.value and Symptom(s) in URGENT_SYMPTOMS[Disease.DIABETES] for s in symptom_values]
    )
    f_on_drug = np.where(f_htn, on_drug[True][f_resident], on_drug[False][f_resident])
    adverse = f_on_drug & (rng.random(nf) < ADVERSE_REACTION_SHARE)
    uncontrollable = adverse & (rng.random(nf) < UNCONTROLLABLE_SHARE)
    complication = rng.random(nf) < COMPLICATION_SHARE
    text_pick = rng.integers(0, 4, nf)
    hypoglycaemia = _labels(HYPOGLYCAEMIA)[rng.choice(3, nf, p=[0.88, 0.10, 0.02])]
    education = rng.random(nf) < EDUCATION_SHARE
    written_after = rng.integers(300, 3600, nf)  # the form is saved after the visit

    f_age = age_on(birth[f_resident], f_day)
    f_glucose = np.where(f_htn, np.nan, visits.glucose[f_visit])
    common = {
        "hypertension": f_htn,
        "visit_date": f_day,
        "age": f_age,
        "sbp": visits.sbp[f_visit],
        "dbp": visits.dbp[f_visit],
        "heart_rate": visits.heart_rate[f_visit],
        "glucose": f_glucose,
        "urgent_symptom": np.where(f_htn, urgent_htn[f_symptom], urgent_dm[f_symptom]),
        "adverse": adverse,
        "uncontrollable": uncontrollable,
        "complication": complication,
        "pregnant": np.zeros(nf, dtype=bool),
    }
    # Whether the previous form was uncontrolled does not change a form's class, only its referral.
    first_pass = classify_arrays(**common, previous_uncontrolled=np.zeros(nf, dtype=bool))
    previous_uncontrolled = (previous >= 0) & (first_pass.visit_class[np.maximum(previous, 0)] == UNCONTROLLED)
    verdict = classify_arrays(**common, previous_uncontrolled=previous_uncontrolled)
    class_names = np.array([c.value for c in VISIT_CLASSES], dtype=object)
    reason_key = (verdict.reasons << 5 | f_symptom) << 1 | f_htn.astype(np.int64)
    reasons = _json_by_key(reason_key, lambda k: reason_list(k >> 6, str(symptom_values[k >> 1 & 31]), bool(k & 1)))
    symptoms = _json_by_key(f_symptom, lambda k: [] if k == 0 else [str(symptom_values[k])])
    created = visits.at[f_visit] + written_after.astype("timedelta64[s]")
    hospitals = [i.name for i in directory.institutions if i.kind == "hospital"]
    referral_to = _or_none(verdict.refer, np.array(hospitals, dtype=object)[rng.integers(0, len(hospitals), nf)])
    htn_texts = np.array(ADVERSE_TEXTS[Disease.HYPERTENSION], dtype=object)
    dm_texts = np.array(ADVERSE_TEXTS[Disease.DIABETES], dtype=object)
    htn_complications = np.array(COMPLICATION_TEXTS[Disease.HYPERTENSION], dtype=object)
    dm_complications = np.array(COMPLICATION_TEXTS[Disease.DIABETES], dtype=object)
    followups = Columns(
        {
            "enrolment": f_enrolment,
            "resident": f_resident,
            "encounter": visits.encounter[f_visit],
            "disease": np.where(f_htn, Disease.HYPERTENSION.value, Disease.DIABETES.value).astype(object),
            "visit_date": f_day,
            "method": np.where(visit_home[f_visit], "home", "clinic").astype(object),
            "practitioner": visits.practitioner[f_visit],
            "institution": visits.institution[f_visit],
            "symptoms": symptoms,
            "sbp": visits.sbp[f_visit],
            "dbp": visits.dbp[f_visit],
            "heart_rate": visits.heart_rate[f_visit],
            "weight_kg": visits.weight[f_visit],
            "fasting_glucose": f_glucose,
            "dorsalis_pedis": _or_none(~f_htn, _labels(PEDIS)[pedis[f_resident]]),
            "smoking": _labels(SMOKING)[smoking[f_resident]],
            "cigarettes_per_day": np.where(smoking[f_resident] == 2, cigarettes[f_resident], -1),
            "drinking": _labels(DRINKING)[drinking[f_resident]],
            "alcohol_g_per_day": alcohol[f_resident],
            "exercise": _labels(EXERCISE)[exercise[f_resident]],
            "exercise_minutes_per_week": exercise_minutes[f_resident],
            "salt": _labels(SALT)[salt[f_resident]],
            "staple_food_g": np.where(f_htn, -1, staple[f_resident]),
            "adherence": _labels(ADHERENCE)[adherence[f_enrolment]],
            "adverse_reaction": adverse,
            "adverse_reaction_uncontrollable": uncontrollable,
            "adverse_reaction_text": _or_none(adverse, np.where(f_htn, htn_texts[text_pick], dm_texts[text_pick])),
            "hypoglycaemia": _or_none(~f_htn, hypoglycaemia),
            "new_or_worse_complication": complication,
            "complication_text": _or_none(
                complication, np.where(f_htn, htn_complications[text_pick], dm_complications[text_pick])
            ),
            "pregnant_or_lactating": np.zeros(nf, dtype=bool),
            "education": education,
            "medications": np.where(f_htn, med_htn[f_resident], med_dm[f_resident]),
            "visit_class": class_names[verdict.visit_class],
            "refer": verdict.refer,
            "urgent": verdict.urgent,
            "reasons": reasons,
            "referral_to": referral_to,
            "next_date": verdict.next_date,
            "created_at": created,
        }
    )

    # --- enrolments' dates and schedule ---------------------------------------------------------------
    last_form = np.full(m, -1, dtype=np.int64)
    ends = np.flatnonzero(following < 0)
    last_form[f_enrolment[ends]] = ends
    has_form = last_form >= 0
    last_day = np.full(m, _NAT)
    last_day[has_form] = f_day[last_form[has_form]]
    onset_htn, onset_dm = _onsets(history, n)
    onset = np.where(is_htn, onset_htn[residents], onset_dm[residents])
    turned_35 = birth[residents].astype("datetime64[D]") + np.timedelta64(int(ENROL_MIN_AGE * 365.25) + 1, "D")
    start = today - np.timedelta64(history_days, "D")
    enrolled_on = np.minimum(
        np.maximum(onset + rng.integers(0, 90, m).astype("timedelta64[D]"), turned_35),
        start - rng.integers(1, 60, m).astype("timedelta64[D]"),
    )
    end_reason = _choice(rng, tuple(e.value for e, _ in END_REASONS), [p for _, p in END_REASONS], m)
    gap = np.where(end_reason == EndReason.LOST.value, rng.integers(100, 200, m), rng.integers(1, 60, m))
    base = np.where(
        has_form,
        last_day,
        np.maximum(today - rng.integers(60, 300, m).astype("timedelta64[D]"), enrolled_on + np.timedelta64(1, "D")),
    )
    ended_on = np.maximum(np.minimum(base + gap.astype("timedelta64[D]"), today - np.timedelta64(1, "D")), base)
    proposed_day = np.where(
        status == PROPOSED,
        today - rng.integers(1, 60, m).astype("timedelta64[D]"),
        enrolled_on - rng.integers(0, 21, m).astype("timedelta64[D]"),
    )
    proposed_at = _instants(proposed_day, rng.integers(2 * 3600, 3 * 3600, m))  # the nightly proposal run
    overdue = rng.random(m) < SCREENING_OVERDUE_SHARE
    screening = np.where(
        overdue,
        today - rng.integers(1, 120, m).astype("timedelta64[D]"),
        today + rng.integers(0, 300, m).astype("timedelta64[D]"),
    )
    enrolled = status == ENROLLED
    ended = status == ENDED
    on_path = status != PROPOSED
    last_class = np.full(m, None, dtype=object)
    last_class[has_form] = class_names[verdict.visit_class[last_form[has_form]]]
    next_followup = np.where(enrolled, enrolled_on, _NAT)  # no form yet: the enrolment visit is due
    next_followup[enrolled & has_form] = verdict.next_date[last_form[enrolled & has_form]]
    tiers = _risk(history, form_residents=f_resident, smoking=smoking, male=male, birth=birth, today=today, n=n)
    enrolments = Columns(
        {
            "resident": residents,
            "disease": np.where(is_htn, Disease.HYPERTENSION.value, Disease.DIABETES.value).astype(object),
            "status": STATUS_NAMES[status],
            "team": team[residents],
            "proposed_at": proposed_at,
            "proposed_reason": np.full(m, "condition", dtype=object),
            "enrolled_on": np.where(on_path, enrolled_on, _NAT),
            "ended_on": np.where(ended, ended_on, _NAT),
            "end_reason": _or_none(ended, end_reason),
            "last_followup_date": last_day,
            "last_visit_class": last_class,
            "next_followup_date": next_followup,
            "next_screening_date": np.where(enrolled, screening, _NAT),
            "risk_tier": _or_none(is_htn & on_path, tiers[residents]),
        }
    )

    # --- referral tasks: the next face-to-face visit closes them; ending the path cancels them -----------
    referred = np.flatnonzero(verdict.refer)
    nxt = following[referred]
    task_status = np.where(nxt >= 0, "done", np.where(ended[f_enrolment[referred]], "cancelled", "open")).astype(object)
    tasks = Columns(
        {
            "resident": f_resident[referred],
            "enrolment": f_enrolment[referred],
            "team": team[f_resident[referred]],
            "due_date": verdict.next_date[referred],
            "status": task_status,
            "followup": referred,
            "urgent": verdict.urgent[referred],
            "done_followup": nxt,
            "done_at": np.where(nxt >= 0, created[np.maximum(nxt, 0)], np.datetime64("NaT", "s")),
        }
    )

    home = home_monitoring.generate(
        rng,
        residents=residents,
        is_htn=is_htn,
        enrolled=enrolled,
        enrolled_on=enrolled_on,
        team=team,
        visit_resident=visits.resident,
        visit_sbp=visits.sbp,
        visit_dbp=visits.dbp,
        visit_heart_rate=visits.heart_rate,
        visit_glucose=visits.glucose,
        n=n,
        as_of=as_of,
        history_days=history_days,
        reading_days=reading_days,
        seed=seed,
    )
    return Management(enrolments, followups, tasks, home.devices, home.readings, home.alerts, home.tokens)


def _risk(
    history: History,
    *,
    form_residents: np.ndarray,
    smoking: np.ndarray,
    male: np.ndarray,
    birth: np.ndarray,
    today: np.datetime64,
    n: int,
) -> np.ndarray:
    """The CHG 2018 tier of every resident as ``chronic.facts.tier_of`` computes it on ``today``
    from the record: latest measurements, the problem list, the last form's smoking answer."""
    o = history.observations.data
    o_resident = np.asarray(o["resident"], dtype=np.int64)
    keep = np.flatnonzero(history.hypertension[o_resident])
    o_resident = o_resident[keep]
    o_code = np.asarray(o["code"])[keep]
    o_value = np.asarray(o["value"], dtype=float)[keep]
    o_at = np.asarray(o["at"])[keep].astype("datetime64[s]").astype(np.int64)
    latest = {}
    for code in (
        codes.SYSTOLIC_BP,
        codes.DIASTOLIC_BP,
        codes.GLUCOSE_FASTING,
        codes.TOTAL_CHOLESTEROL,
        codes.BMI,
        codes.WAIST,
    ):
        sel = o_code == code
        latest[code] = _latest(o_resident[sel], o_at[sel], o_value[sel], n)
    flags = _condition_flags(history, n)
    has_form = np.zeros(n, dtype=bool)
    has_form[form_residents] = True
    glucose = latest[codes.GLUCOSE_FASTING]
    with np.errstate(invalid="ignore"):
        impaired = (glucose >= IMPAIRED_FASTING_GLUCOSE[0]) & (glucose < IMPAIRED_FASTING_GLUCOSE[1])
        dyslipidaemia = flags["lipids"] | (latest[codes.TOTAL_CHOLESTEROL] >= TOTAL_CHOLESTEROL_HIGH)
        # The weight/height fallback of facts.PatientRecord.bmi needs a height, which the simulated
        # record only has from the examination that also records the BMI.
        obese = (latest[codes.BMI] >= 28) | (latest[codes.WAIST] >= np.where(male, 90, 85))
    tiers: np.ndarray = risk_tiers(
        sbp=latest[codes.SYSTOLIC_BP],
        dbp=latest[codes.DIASTOLIC_BP],
        age=age_on(birth, np.full(n, today)),
        male=male,
        smoking=has_form & (smoking == 2),
        impaired_glucose=impaired,
        dyslipidaemia=dyslipidaemia,
        abdominal_obesity=obese,
        ckd_stage=flags["ckd_stage"],
        diabetes=flags["dm"],
        diabetes_with_complications=flags["dm_complications"],
        clinical_cvd=flags["cvd"],
    )
    return tiers
