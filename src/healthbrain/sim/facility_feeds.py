"""Daily feeds of the district's fever clinics, pharmacies and laboratories for the simulator: a
row a day for each, following the season, the weekday and the influenza wave (``feeds.py`` makes
the school and case feeds and the outbreaks)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from healthbrain.sim.institutions import Institution
from healthbrain.surveillance.definitions import Feed

WEEKDAY_FACTOR = np.array([1.15, 1.0, 1.0, 1.0, 0.9, 0.6, 0.5])  # Monday … Sunday
PHARMACY_BASE = {"antipyretic": 6.0, "cough_cold": 10.0, "antidiarrhoeal": 2.5, "antiviral": 0.4}
PATHOGEN_POSITIVITY = {  # baseline share positive, and what raises it
    "influenza_a": (0.02, "flu"),
    "influenza_b": (0.01, "flu_b"),
    "sars_cov_2": (0.02, "none"),
    "rsv": (0.02, "winter"),
    "norovirus": (0.03, "winter"),
    "rotavirus": (0.03, "winter"),
    "enterovirus": (0.05, "hfmd"),
    "mycoplasma": (0.05, "none"),
}


def seasonal(days: np.ndarray, peak_month: int, amplitude: float) -> np.ndarray:
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
    peak = (peak_month - 1) * 30.4 + 15
    return np.asarray(1.0 + amplitude * np.cos(2 * math.pi * (doy - peak) / 365.25))


def facility_feeds(
    rng: np.random.Generator, *, days: np.ndarray, flu: np.ndarray, population: int, institutions: list[Institution]
) -> dict[Feed, dict[str, Any]]:
    """Fever clinics (hospitals and centres), pharmacies and laboratories: a row a day each."""
    n = len(days)
    winter = seasonal(days, 1, 0.5)
    summer = seasonal(days, 7, 0.5)
    hfmd_season = seasonal(days, 5, 0.6)
    weekday = WEEKDAY_FACTOR[((days.astype(np.int64) + 3) % 7)] ** 0.3
    hospitals = [i for i in institutions if i.kind == "hospital"]
    centres = [i for i in institutions if i.kind == "chc"]
    pharmacies = [i for i in institutions if i.kind == "pharmacy"]
    labs = hospitals + [i for i in institutions if i.kind == "cdc"]
    out: dict[Feed, dict[str, Any]] = {
        Feed.FEVER_CLINIC: {k: [] for k in ("institution_id", "day", "category", "visits")},
        Feed.PHARMACY: {k: [] for k in ("institution_id", "day", "category", "quantity")},
        Feed.LAB: {k: [] for k in ("institution_id", "day", "pathogen", "tested", "positive")},
    }
    day_list = days.tolist()
    clinics = hospitals + centres
    for inst in clinics:
        share = (0.6 / max(len(hospitals), 1)) if inst.kind == "hospital" else (0.4 / max(len(centres), 1))
        visits = rng.poisson(population * 0.0003 * share * winter * weekday * (1 + 1.5 * flu))
        ili = rng.binomial(visits, np.clip(0.25 + 0.08 * flu, 0, 0.9))
        sari = rng.binomial(ili, 0.03)
        for category, values in (("visits", visits), ("ili", ili), ("sari", sari)):
            out[Feed.FEVER_CLINIC]["institution_id"].extend([inst.id] * n)
            out[Feed.FEVER_CLINIC]["day"].extend(day_list)
            out[Feed.FEVER_CLINIC]["category"].extend([category] * n)
            out[Feed.FEVER_CLINIC]["visits"].extend(values.tolist())
    for inst in pharmacies:
        size = float(rng.gamma(4.0, 0.25))
        for category, base in PHARMACY_BASE.items():
            season = {
                "antipyretic": winter * (1 + 1.2 * flu),
                "cough_cold": winter * (1 + 0.8 * flu),
                "antidiarrhoeal": summer,
                "antiviral": 1 + 6 * flu,
            }[category]
            values = rng.poisson(base * size * season * weekday)
            out[Feed.PHARMACY]["institution_id"].extend([inst.id] * n)
            out[Feed.PHARMACY]["day"].extend(day_list)
            out[Feed.PHARMACY]["category"].extend([category] * n)
            out[Feed.PHARMACY]["quantity"].extend(values.tolist())
    for inst in labs:
        for pathogen, (base, driver) in PATHOGEN_POSITIVITY.items():
            tested = rng.poisson((8 if inst.kind == "hospital" else 15) * winter * weekday * (1 + 0.5 * flu))
            rate = {
                "flu": base + 0.06 * flu,
                "flu_b": base + 0.015 * flu,
                "winter": base * winter,
                "hfmd": base * hfmd_season,
                "none": np.full(n, base),
            }[driver]
            positive = rng.binomial(tested, np.clip(rate, 0, 0.95))
            keep = tested > 0
            out[Feed.LAB]["institution_id"].extend([inst.id] * int(keep.sum()))
            out[Feed.LAB]["day"].extend(days[keep].tolist())
            out[Feed.LAB]["pathogen"].extend([pathogen] * int(keep.sum()))
            out[Feed.LAB]["tested"].extend(tested[keep].tolist())
            out[Feed.LAB]["positive"].extend(positive[keep].tolist())
    return out
