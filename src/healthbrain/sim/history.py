"""A year (by default) of care for the synthetic district: conditions, medications, encounters,
observations and physical examinations, generated as arrays.

Chronic patients are followed up four times a year by their family-doctor team (BPHS), with blood
pressure and glucose drawn around a per-patient level that is controlled or not; elderly and
chronic patients come to the annual physical examination; everybody visits outpatient clinics at
an age-dependent rate. Times are local working hours, stored in UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from healthbrain.records import codes
from healthbrain.sim import epi
from healthbrain.sim.institutions import Directory

LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai is UTC+8 all year


@dataclass
class Columns:
    """A table as named columns of equal length."""

    data: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0


@dataclass
class History:
    conditions: Columns
    medications: Columns
    encounters: Columns
    observations: Columns
    exams: Columns
    identifiers: Columns  # (institution, resident): hospital medical record numbers
    hypertension: np.ndarray
    diabetes: np.ndarray
    team: np.ndarray  # per resident: index into Directory.teams of the family-doctor team


def _banded(ages: np.ndarray, bands: tuple[tuple[int, float], ...]) -> np.ndarray:
    lows = np.array([b[0] for b in bands])
    values = np.array([b[1] for b in bands])
    idx = np.searchsorted(lows, ages, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], 0.0)


def _calibrated(ages: np.ndarray, bands: tuple[tuple[int, float], ...], target: float) -> np.ndarray:
    """Age-band prevalences scaled so the adults' mean is ``target``."""
    base = _banded(ages, bands)
    adults = ages >= 18
    scale = 1.0
    for _ in range(20):
        p = np.clip(base * scale, 0, 0.95)
        mean = p[adults].mean()
        if abs(mean - target) < 1e-5:
            break
        scale *= target / mean
    return np.clip(base * scale, 0, 0.95)


class _Encounters:
    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("resident", "institution", "practitioner", "klass", "at", "reason_code", "reason_text")
        }
        self.obs: dict[str, list[np.ndarray]] = {
            k: [] for k in ("encounter", "resident", "code", "value", "unit", "at", "institution")
        }
        self.count = 0

    def add(
        self,
        resident: np.ndarray,
        at: np.ndarray,
        institution: np.ndarray,
        practitioner: np.ndarray,
        klass: str,
        reason_code: np.ndarray | None = None,
        reason_text: np.ndarray | None = None,
    ) -> np.ndarray:
        n = len(resident)
        self.parts["resident"].append(resident)
        self.parts["institution"].append(institution)
        self.parts["practitioner"].append(practitioner)
        self.parts["klass"].append(np.full(n, klass, dtype=object))
        self.parts["at"].append(at)
        self.parts["reason_code"].append(reason_code if reason_code is not None else np.full(n, None, dtype=object))
        self.parts["reason_text"].append(reason_text if reason_text is not None else np.full(n, None, dtype=object))
        index = np.arange(self.count, self.count + n)
        self.count += n
        return index

    def observe(
        self,
        encounter: np.ndarray,
        resident: np.ndarray,
        at: np.ndarray,
        institution: np.ndarray,
        code: str,
        value: np.ndarray,
        decimals: int,
    ) -> None:
        unit = codes.LOINC_NAMES[code][2]
        n = len(encounter)
        self.obs["encounter"].append(encounter)
        self.obs["resident"].append(resident)
        self.obs["code"].append(np.full(n, code, dtype=object))
        self.obs["value"].append(np.round(value, decimals))
        self.obs["unit"].append(np.full(n, unit, dtype=object))
        self.obs["at"].append(at)
        self.obs["institution"].append(institution)

    def columns(self) -> tuple[Columns, Columns]:
        enc = Columns({k: np.concatenate(v) if v else np.array([]) for k, v in self.parts.items()})
        obs = Columns({k: np.concatenate(v) if v else np.array([]) for k, v in self.obs.items()})
        return enc, obs


def _times(rng: np.random.Generator, as_of: date, days_back: np.ndarray) -> np.ndarray:
    """UTC instants (datetime64[s]) on given local days, during working hours 08:00–16:30."""
    day = np.datetime64(as_of, "D") - days_back.astype("timedelta64[D]")
    local_seconds = rng.integers(8 * 3600, 16 * 3600 + 1800, len(days_back))
    instants: np.ndarray = day.astype("datetime64[s]") + (local_seconds - LOCAL_OFFSET_S).astype("timedelta64[s]")
    return instants


def build(
    rng: np.random.Generator,
    *,
    ages: np.ndarray,
    male: np.ndarray,
    birth: np.ndarray,
    community: np.ndarray,
    directory: Directory,
    community_division_ids: list[int],
    as_of: date,
    history_days: int,
) -> History:
    n = len(ages)
    today = np.datetime64(as_of, "D")
    # --- who is ill -------------------------------------------------------------------------
    hypertension = rng.random(n) < _calibrated(ages, epi.HYPERTENSION_BY_AGE, epi.HYPERTENSION_TARGET)
    diabetes = rng.random(n) < _calibrated(ages, epi.DIABETES_BY_AGE, epi.DIABETES_TARGET)
    bp_controlled = rng.random(n) < epi.BP_CONTROLLED_SHARE
    glucose_controlled = rng.random(n) < epi.GLUCOSE_CONTROLLED_SHARE
    height = np.where(male, rng.normal(169, 6, n), rng.normal(158, 5.5, n))
    height = np.where(ages < 18, height * np.clip(0.45 + ages / 18 * 0.55, 0.3, 1.0), height)
    bmi = np.where(ages < 18, rng.normal(17, 2.2, n), rng.normal(23.8, 3.3, n)) + np.where(diabetes, 1.5, 0)
    weight = bmi * (height / 100) ** 2
    sbp_level = np.where(
        hypertension,
        np.where(bp_controlled, rng.normal(128, 7, n), rng.normal(151, 11, n)),
        rng.normal(118 + ages * 0.15, 9, n),
    )
    glucose_level = np.where(
        diabetes,
        np.where(glucose_controlled, rng.normal(6.3, 0.6, n), rng.normal(8.9, 1.6, n)),
        rng.normal(5.1, 0.45, n),
    )

    # --- problem list -------------------------------------------------------------------------
    cond: dict[str, list[np.ndarray]] = {k: [] for k in ("resident", "code", "display", "onset")}

    def add_conditions(who: np.ndarray, code: str, display: str, onset: np.ndarray) -> None:
        cond["resident"].append(who)
        cond["code"].append(np.full(len(who), code, dtype=object))
        cond["display"].append(np.full(len(who), display, dtype=object))
        cond["onset"].append(onset)

    def onset_years_ago(who: np.ndarray, max_years: float) -> np.ndarray:
        years = np.minimum(rng.uniform(0.2, max_years, len(who)), np.maximum(ages[who] - 18, 0.3))
        onsets: np.ndarray = today - (years * 365.25).astype("timedelta64[D]")
        return onsets

    htn_idx = np.flatnonzero(hypertension)
    dm_idx = np.flatnonzero(diabetes)
    add_conditions(htn_idx, "I10", "原发性高血压", onset_years_ago(htn_idx, 15))
    add_conditions(dm_idx, "E11.9", "2型糖尿病", onset_years_ago(dm_idx, 12))
    taken_other = np.zeros(n, dtype=bool)
    for code, display, min_age, share in epi.OTHER_CONDITIONS:
        who = np.flatnonzero((ages >= min_age) & ~taken_other & (rng.random(n) < share))
        taken_other[who] = True
        add_conditions(who, code, display, onset_years_ago(who, 10))
    pregnant = np.flatnonzero(~male & (ages >= 20) & (ages < 45) & (rng.random(n) < epi.PREGNANT_SHARE_WOMEN_20_44))
    add_conditions(
        pregnant, "Z34.9", "妊娠状态（孕期保健）", today - rng.integers(14, 280, len(pregnant)).astype("timedelta64[D]")
    )
    cond_resident = np.concatenate(cond["resident"])
    conditions = Columns(
        {
            "resident": cond_resident,
            "code": np.concatenate(cond["code"]),
            "display": np.concatenate(cond["display"]),
            "onset": np.maximum(np.concatenate(cond["onset"]), birth[cond_resident]),
            "institution": np.array(directory.registrar)[community[cond_resident]],
        }
    )

    # --- medications ---------------------------------------------------------------------------
    med: dict[str, list[np.ndarray]] = {k: [] for k in ("resident", "code", "name", "dose", "frequency", "start")}
    onset_of_htn = conditions.data["onset"][: len(htn_idx)]
    onset_of_dm = conditions.data["onset"][len(htn_idx) : len(htn_idx) + len(dm_idx)]
    for patients, onsets, drugs, treated in (
        (htn_idx, onset_of_htn, epi.HYPERTENSION_DRUGS, 0.85),
        (dm_idx, onset_of_dm, epi.DIABETES_DRUGS, 0.80),
    ):
        on_drug = rng.random(len(patients)) < treated
        who, onset = patients[on_drug], np.asarray(onsets)[on_drug]
        choice = rng.choice(len(drugs), size=len(who), p=[d[4] for d in drugs])
        start = np.minimum(onset + rng.integers(0, 180, len(who)).astype("timedelta64[D]"), today)
        for k, (atc, name, dose, freq, _share) in enumerate(drugs):
            sel = choice == k
            m = int(sel.sum())
            med["resident"].append(who[sel])
            med["code"].append(np.full(m, atc, dtype=object))
            med["name"].append(np.full(m, name, dtype=object))
            med["dose"].append(np.full(m, dose, dtype=object))
            med["frequency"].append(np.full(m, freq, dtype=object))
            med["start"].append(start[sel])
    med_resident = np.concatenate(med["resident"])
    medications = Columns(
        {
            "resident": med_resident,
            "code": np.concatenate(med["code"]),
            "name": np.concatenate(med["name"]),
            "dose": np.concatenate(med["dose"]),
            "frequency": np.concatenate(med["frequency"]),
            "start": np.concatenate(med["start"]),
            "institution": np.array(directory.registrar)[community[med_resident]],
        }
    )

    # --- who serves whom ------------------------------------------------------------------------
    index_of_division = {d: i for i, d in enumerate(community_division_ids)}
    team_choices: list[list[int]] = [[] for _ in community_division_ids]
    for t_index, team in enumerate(directory.teams):
        for d in team.communities:
            team_choices[index_of_division[d]].append(t_index)
    # Every community is served by at least one team (institutions._partition guarantees it).
    pick = rng.random(n)
    team_of = np.array(
        [team_choices[c][int(p * len(team_choices[c]))] for c, p in zip(community.tolist(), pick.tolist(), strict=True)]
    )
    team_lead = np.array([t.members[0][0] for t in directory.teams])[team_of]
    team_centre = np.array([t.home_institution_id for t in directory.teams])[team_of]
    registrar = np.array(directory.registrar)[community]

    enc = _Encounters()
    # --- chronic follow-ups (4 a year, quarterly) --------------------------------------------------
    managed = np.flatnonzero((hypertension | diabetes) & (ages >= 35))
    phase = rng.integers(0, 91, len(managed))
    periods = max(1, history_days // 91)
    for k in range(periods):
        done = rng.random(len(managed)) < np.where(
            bp_controlled[managed], epi.FOLLOWUP_DONE + 0.05, epi.FOLLOWUP_DONE - 0.05
        )
        who = managed[done]
        days_back = phase[done] + 91 * k
        at = _times(rng, as_of, days_back)
        # Half the visits at the centre, half at the station or clinic near home.
        place = np.where(rng.random(len(who)) < 0.5, team_centre[who], registrar[who])
        reason = np.where(hypertension[who], "I10", "E11.9").astype(object)
        reason_text = np.where(hypertension[who], "高血压患者随访", "2型糖尿病患者随访").astype(object)
        e = enc.add(who, at, place, team_lead[who], "followup", reason, reason_text)
        sbp = np.clip(sbp_level[who] + rng.normal(0, 8, len(who)), 85, 230)
        dbp = np.clip(0.5 * sbp + rng.normal(12, 5, len(who)), 45, 135)
        enc.observe(e, who, at, place, codes.SYSTOLIC_BP, sbp, 0)
        enc.observe(e, who, at, place, codes.DIASTOLIC_BP, dbp, 0)
        enc.observe(e, who, at, place, codes.HEART_RATE, np.clip(rng.normal(76, 9, len(who)), 45, 130), 0)
        weighed = rng.random(len(who)) < 0.7
        enc.observe(
            e[weighed],
            who[weighed],
            at[weighed],
            place[weighed],
            codes.BODY_WEIGHT,
            weight[who[weighed]] + rng.normal(0, 0.8, int(weighed.sum())),
            1,
        )
        diab = diabetes[who]
        enc.observe(
            e[diab],
            who[diab],
            at[diab],
            place[diab],
            codes.GLUCOSE_FASTING,  # the BPHS form records fasting glucose (chronic.service does the same)
            np.clip(glucose_level[who[diab]] + rng.normal(0, 0.8, int(diab.sum())), 2.5, 30),
            1,
        )
    # HbA1c once a year for most diabetes patients, at a hospital laboratory.
    hospitals = np.array([i.id for i in directory.institutions if i.kind == "hospital"])
    physicians = _staff_by_institution(directory, ("physician", "gp"))
    tested = dm_idx[rng.random(len(dm_idx)) < 0.6]
    at = _times(rng, as_of, rng.integers(0, history_days, len(tested)))
    lab = hospitals[rng.integers(0, len(hospitals), len(tested))]
    e = enc.add(
        tested,
        at,
        lab,
        _pick_staff(rng, physicians, lab),
        "outpatient",
        np.full(len(tested), "E11.9", dtype=object),
        np.full(len(tested), "2型糖尿病复查", dtype=object),
    )
    hba1c = np.clip(
        np.where(glucose_controlled[tested], rng.normal(6.6, 0.4, len(tested)), rng.normal(8.4, 1.0, len(tested))),
        4.5,
        15,
    )
    enc.observe(e, tested, at, lab, codes.HBA1C, hba1c, 1)

    # --- annual physical examinations --------------------------------------------------------------
    uptake = np.where(
        ages >= 65,
        epi.EXAM_UPTAKE_ELDERLY,
        np.where(
            (hypertension | diabetes) & (ages >= 35),
            epi.EXAM_UPTAKE_CHRONIC,
            np.where(ages >= 18, epi.EXAM_UPTAKE_OTHER_ADULTS, 0.0),
        ),
    )
    examined = np.flatnonzero(rng.random(n) < uptake)
    at = _times(rng, as_of, rng.integers(0, history_days, len(examined)))
    place = team_centre[examined]
    e = enc.add(
        examined,
        at,
        place,
        team_lead[examined],
        "physical_exam",
        np.full(len(examined), "Z00.0", dtype=object),
        np.full(len(examined), "健康体检", dtype=object),
    )
    m = len(examined)
    ex_height = height[examined] + rng.normal(0, 0.5, m)
    ex_weight = weight[examined] + rng.normal(0, 0.8, m)
    ex_bmi = ex_weight / (ex_height / 100) ** 2
    ex_sbp = np.clip(sbp_level[examined] + rng.normal(0, 8, m), 85, 230)
    ex_dbp = np.clip(0.5 * ex_sbp + rng.normal(12, 5, m), 45, 135)
    ex_glucose = np.clip(glucose_level[examined] + rng.normal(0, 0.5, m), 2.8, 30)
    for code, values, decimals in (
        (codes.BODY_HEIGHT, ex_height, 1),
        (codes.BODY_WEIGHT, ex_weight, 1),
        (codes.BMI, ex_bmi, 1),
        (codes.WAIST, ex_bmi * 3.4 + rng.normal(0, 4, m), 0),
        (codes.SYSTOLIC_BP, ex_sbp, 0),
        (codes.DIASTOLIC_BP, ex_dbp, 0),
        (codes.HEART_RATE, np.clip(rng.normal(75, 9, m), 45, 130), 0),
        (codes.GLUCOSE_FASTING, ex_glucose, 2),
    ):
        enc.observe(e, examined, at, place, code, values, decimals)
    elderly = ages[examined] >= 65
    enc.observe(
        e[elderly],
        examined[elderly],
        at[elderly],
        place[elderly],
        codes.TOTAL_CHOLESTEROL,
        np.clip(rng.normal(4.9, 0.9, int(elderly.sum())), 2.5, 10),
        2,
    )
    smoker_p = np.where(male[examined], 0.45, 0.02)
    r = rng.random(m)
    smoking = np.where(r < smoker_p, "current", np.where(r < smoker_p + 0.08, "former", "never")).astype(object)
    drinking = rng.choice(
        np.array(["never", "occasional", "often", "daily"], dtype=object), m, p=[0.55, 0.3, 0.1, 0.05]
    )
    exercise = rng.choice(
        np.array(["daily", "weekly", "occasional", "never"], dtype=object), m, p=[0.3, 0.25, 0.25, 0.2]
    )
    diet = rng.choice(
        np.array(["balanced", "salty", "oily", "sweet", "vegetarian"], dtype=object), m, p=[0.55, 0.2, 0.12, 0.08, 0.05]
    )
    high_bp, high_glucose, obese = ex_sbp >= 140, ex_glucose >= 7.0, ex_bmi >= 28
    abnormal = high_bp | high_glucose | obese
    abnormalities = [
        json.dumps([t for t, flag in (("血压偏高", b), ("空腹血糖偏高", g), ("肥胖", o)) if flag], ensure_ascii=False)
        for b, g, o in zip(high_bp.tolist(), high_glucose.tolist(), obese.tolist(), strict=True)
    ]
    guidance_text = {
        (True, False): '["低盐饮食", "定期复查血压"]',
        (False, True): '["控制饮食", "定期复查血糖"]',
        (True, True): '["低盐低糖饮食", "规律服药", "定期随访"]',
        (False, False): '["保持健康生活方式"]',
    }
    guidance = [guidance_text[(b, g)] for b, g in zip(high_bp.tolist(), high_glucose.tolist(), strict=True)]
    exams = Columns(
        {
            "encounter": e,
            "resident": examined,
            "at": at,
            "institution": place,
            "practitioner": team_lead[examined],
            "smoking": smoking,
            "drinking": drinking,
            "exercise": exercise,
            "diet": diet,
            "conclusion": np.where(abnormal, "abnormal", "normal").astype(object),
            "abnormalities": abnormalities,
            "guidance": guidance,
        }
    )

    # --- outpatient visits ---------------------------------------------------------------------------
    rate = _banded(ages, epi.OUTPATIENT_VISITS_BY_AGE) * history_days / 365
    visits = rng.poisson(rate)
    who = np.repeat(np.arange(n), visits)
    v = len(who)
    at = _times(rng, as_of, rng.integers(0, history_days, v))
    at_hospital = rng.random(v) < 0.55
    place = np.where(
        at_hospital,
        hospitals[rng.integers(0, len(hospitals), v)],
        np.where(rng.random(v) < 0.5, registrar[who], team_centre[who]),
    )
    group = np.where(ages[who] < 18, 0, np.where(ages[who] < 65, 1, 2))
    reason_codes = np.array([r[0] for r in epi.OUTPATIENT_REASONS], dtype=object)
    reason_names = np.array([r[1] for r in epi.OUTPATIENT_REASONS], dtype=object)
    choice = np.empty(v, dtype=int)
    for g in (0, 1, 2):
        sel = group == g
        w = np.array([r[2 + g] for r in epi.OUTPATIENT_REASONS])
        choice[sel] = rng.choice(len(w), int(sel.sum()), p=w / w.sum())
    reason = reason_codes[choice]
    text = reason_names[choice]
    # A hypertensive or diabetic patient's visit is often about that condition.
    about_htn = hypertension[who] & (rng.random(v) < 0.3)
    reason[about_htn], text[about_htn] = "I10", "原发性高血压"
    about_dm = diabetes[who] & ~about_htn & (rng.random(v) < 0.2)
    reason[about_dm], text[about_dm] = "E11.9", "2型糖尿病"
    e = enc.add(who, at, place, _pick_staff(rng, physicians, place), "outpatient", reason, text)
    fever = np.isin(reason, list(epi.FEVER_REASONS))
    enc.observe(
        e[fever],
        who[fever],
        at[fever],
        place[fever],
        codes.BODY_TEMPERATURE,
        np.clip(rng.normal(37.7, 0.7, int(fever.sum())), 35.8, 41),
        1,
    )
    bp_taken = (ages[who] >= 45) & (rng.random(v) < 0.4)
    sbp = np.clip(sbp_level[who[bp_taken]] + rng.normal(0, 9, int(bp_taken.sum())), 85, 230)
    enc.observe(e[bp_taken], who[bp_taken], at[bp_taken], place[bp_taken], codes.SYSTOLIC_BP, sbp, 0)
    enc.observe(
        e[bp_taken],
        who[bp_taken],
        at[bp_taken],
        place[bp_taken],
        codes.DIASTOLIC_BP,
        np.clip(0.5 * sbp + rng.normal(12, 5, len(sbp)), 45, 135),
        0,
    )

    encounters, observations = enc.columns()
    # A hospital gives every patient it has seen a medical record number (病历号).
    at_hospital = np.isin(encounters.data["institution"], hospitals)
    pairs = np.unique(
        np.stack([encounters.data["institution"][at_hospital], encounters.data["resident"][at_hospital]]).astype(
            np.int64
        ),
        axis=1,
    )
    identifiers = Columns({"institution": pairs[0], "resident": pairs[1]})
    return History(
        conditions, medications, encounters, observations, exams, identifiers, hypertension, diabetes, team_of
    )


def _staff_by_institution(directory: Directory, professions: tuple[str, ...]) -> dict[int, np.ndarray]:
    staff: dict[int, list[int]] = {}
    for p in directory.practitioners:
        if p.profession in professions:
            staff.setdefault(p.institution_id, []).append(p.id)
    return {k: np.array(v) for k, v in staff.items()}


def _pick_staff(rng: np.random.Generator, staff: dict[int, np.ndarray], institutions: np.ndarray) -> np.ndarray:
    """A practitioner of each row's institution (None where the institution has no clinician)."""
    out = np.full(len(institutions), None, dtype=object)
    for inst in np.unique(institutions):
        sel = institutions == inst
        pool = staff.get(int(inst))
        if pool is not None and len(pool):
            out[sel] = pool[rng.integers(0, len(pool), int(sel.sum()))]
    return out
