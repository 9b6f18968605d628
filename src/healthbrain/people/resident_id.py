"""Resident identity numbers (居民身份证号码), GB 11643-1999.

18 characters: 6-digit address code + YYYYMMDD + 3-digit sequence (odd = male, even = female) +
check character by ISO 7064 MOD 11-2 (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; the weighted sum
mod 11 indexes "10X98765432"). Legacy 15-digit numbers: 6 + YYMMDD + 3, no check character; they
are upgraded by inserting "19" before the year and computing the check character.

Pure functions: no database, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"

# First two digits of GB/T 2260 codes: provinces, autonomous regions, municipalities, HK/MO/TW.
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)

_PATTERN_18 = re.compile(r"^\d{17}[\dX]$")
_PATTERN_15 = re.compile(r"^\d{15}$")


class ResidentIdError(ValueError):
    """Why a resident ID is invalid; ``reason`` is a stable message key suffix."""

    def __init__(self, reason: str, **params: Any) -> None:
        self.reason = reason
        self.params = params
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str  # always the 18-character form, check character upper-case
    address_code: str
    birth_date: date
    sex: str  # "M" or "F"
    upgraded_from: str | None = None  # the 15-digit original, when upgraded


def check_character(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def upgrade_15(number: str) -> str:
    """A legacy 15-digit number in its 18-character form (born in the 1900s by definition)."""
    if not _PATTERN_15.match(number):
        raise ResidentIdError("format")
    first17 = number[:6] + "19" + number[6:]
    return first17 + check_character(first17)


def parse(raw: str, *, today: date | None = None) -> ResidentId:
    """Validate and decode a resident ID (18 characters, or 15 digits to be upgraded).

    Raises :class:`ResidentIdError` whose ``reason`` is one of: ``format``, ``province``,
    ``birth_date``, ``future_birth_date``, ``check_character``.
    """
    number = raw.strip().upper().replace(" ", "")
    upgraded_from: str | None = None
    if len(number) == 15:
        if not _PATTERN_15.match(number):
            raise ResidentIdError("format")
        upgraded_from = number
        number = upgrade_15(number)
    elif not _PATTERN_18.match(number):
        raise ResidentIdError("format")
    if number[:2] not in PROVINCE_CODES:
        raise ResidentIdError("province", code=number[:2])
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ResidentIdError("birth_date", value=number[6:14]) from None
    if born.year < 1880 or born > (today or date.today()):  # noqa: DTZ011 — a calendar date
        raise ResidentIdError("future_birth_date" if born.year >= 1880 else "birth_date", value=number[6:14])
    if upgraded_from is None:
        expected = check_character(number[:17])
        if number[17] != expected:
            raise ResidentIdError("check_character", expected=expected, got=number[17])
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, address_code=number[:6], birth_date=born, sex=sex, upgraded_from=upgraded_from)


def is_valid(raw: str) -> bool:
    try:
        parse(raw)
    except ResidentIdError:
        return False
    return True
