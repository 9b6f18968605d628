"""GB 11643 resident IDs: table-driven, no database."""

from __future__ import annotations

from datetime import date

import pytest

from healthbrain.people.resident_id import ResidentIdError, check_character, is_valid, parse, upgrade_15

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("raw", "number", "sex", "birth"),
    [
        ("11010519491231002X", "11010519491231002X", "F", date(1949, 12, 31)),  # the standard's example
        ("11010519491231002x", "11010519491231002X", "F", date(1949, 12, 31)),  # lower-case x accepted
        (" 110105194912310029 ".replace("0029", "002X"), "11010519491231002X", "F", date(1949, 12, 31)),
        ("440524188001010014", "440524188001010014", "M", date(1880, 1, 1)),
        ("330199200002290014", "330199200002290014", "M", date(2000, 2, 29)),  # leap day
        ("110105491231002", "11010519491231002X", "F", date(1949, 12, 31)),  # legacy 15-digit upgraded
    ],
)
def test_valid_numbers_decode(raw: str, number: str, sex: str, birth: date) -> None:
    decoded = parse(raw, today=TODAY)
    assert (decoded.number, decoded.sex, decoded.birth_date) == (number, sex, birth)
    assert decoded.address_code == number[:6]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110105194912310021", "check_character"),
        ("11010519491231002", "format"),
        ("1101051949123100211", "format"),
        ("11010519491231002Y", "format"),
        ("X10105194912310021", "format"),
        ("990105194912310021", "province"),
        ("110105194913310021", "birth_date"),  # month 13
        ("110105190002290021", "birth_date"),  # 1900 is not a leap year
        ("110105203001010021", "future_birth_date"),
        ("11010549123100", "format"),
        ("11010549133100A", "format"),
        ("110105491331002", "birth_date"),  # 15-digit with month 13
    ],
)
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(ResidentIdError) as err:
        parse(raw, today=TODAY)
    assert err.value.reason == reason


def test_check_character_names_the_expected_one() -> None:
    with pytest.raises(ResidentIdError) as err:
        parse("110105194912310021", today=TODAY)
    assert err.value.params == {"expected": "X", "got": "1"}


@pytest.mark.parametrize(
    ("first17", "expected"), [("11010519491231002", "X"), ("44052418800101001", "4"), ("33019920000229001", "4")]
)
def test_check_character(first17: str, expected: str) -> None:
    assert check_character(first17) == expected


def test_upgrade_inserts_century_and_check() -> None:
    assert upgrade_15("110105491231002") == "11010519491231002X"
    assert is_valid(upgrade_15("330106800101001"))
