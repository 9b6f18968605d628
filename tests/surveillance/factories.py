"""Helpers for the early-warning tests: school days, and rows of each feed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from healthbrain.core.time import local_today


def school_day(back: int = 0) -> date:
    """The ``back``-th most recent weekday up to today (the test district has no holidays)."""
    day = local_today()
    seen = -1
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == back:
                return day
        day -= timedelta(days=1)


def absence(day: date, cause: str, absent: int, *, class_name: str = "一年级1班", **extra: Any) -> dict[str, Any]:
    return {"class_name": class_name, "date": day.isoformat(), "cause": cause, "absent": absent, **extra}


def case(card: str, disease: str, onset: date, *, community: str, **extra: Any) -> dict[str, Any]:
    return {
        "card_no": card,
        "institution_code": extra.pop("institution_code", "H33019901"),
        "disease": disease,
        "onset_date": onset.isoformat(),
        "diagnosis_date": extra.pop("diagnosis_date", onset.isoformat()),
        "patient_name": extra.pop("patient_name", "王小明"),
        "sex": extra.pop("sex", "M"),
        "age_years": extra.pop("age_years", 6),
        "community_code": community,
        **extra,
    }
