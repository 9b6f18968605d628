"""12-digit statistical division codes: table-driven."""

from __future__ import annotations

import pytest

from healthbrain.geo.codes import DivisionCodeError, parse_division_code


@pytest.mark.parametrize(
    ("code", "level", "kind", "parent"),
    [
        ("330199000000", "district", "district", None),
        ("330199001000", "town", "street", "330199000000"),
        ("330199100000", "town", "town", "330199000000"),
        ("330199200000", "town", "township", "330199000000"),
        ("330199001001", "community", "community", "330199001000"),
        ("653126100039", "community", "community", "653126100000"),  # the example in records.md
        ("330199100201", "community", "village", "330199100000"),
    ],
)
def test_codes_decode(code: str, level: str, kind: str, parent: str | None) -> None:
    parsed = parse_division_code(code)
    assert (parsed.level, parsed.kind, parsed.parent_code, parsed.gb2260) == (level, kind, parent, code[:6])


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("33019900100", "format"),
        ("3301990010a1", "format"),
        ("990199001000", "province"),
        ("330100000000", "not_county"),
        ("330199000001", "village_without_township"),
        ("330199400000", "township_range"),
        ("330199001400", "village_range"),
    ],
)
def test_bad_codes(code: str, reason: str) -> None:
    with pytest.raises(DivisionCodeError) as err:
        parse_division_code(code)
    assert err.value.reason == reason
