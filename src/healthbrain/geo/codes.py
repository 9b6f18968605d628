"""Division codes: GB/T 2260 six digits and the 12-digit statistical division codes.

Statistical code = province 2 + prefecture 2 + county 2 (GB/T 2260) + township 3 + village 3.
Township part: 001–099 streets (街道), 100–199 towns (镇), 200–399 townships (乡).
Village part: 001–199 residents' committees (社区居委会), 200–399 villagers' committees (村委会).
(National Bureau of Statistics, 统计用区划代码和城乡划分代码编制规则, 2009.) Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from healthbrain.people.resident_id import PROVINCE_CODES

_TWELVE = re.compile(r"^\d{12}$")


class DivisionCodeError(ValueError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class DivisionCode:
    code: str
    gb2260: str
    level: str  # district / town / community
    kind: str  # district / street / town / township / community / village
    parent_code: str | None


def parse_division_code(code: str) -> DivisionCode:
    if not _TWELVE.match(code):
        raise DivisionCodeError("format")
    if code[:2] not in PROVINCE_CODES:
        raise DivisionCodeError("province")
    county, township, village = code[:6], int(code[6:9]), int(code[9:12])
    if county[4:6] == "00":
        raise DivisionCodeError("not_county")
    if township == 0 and village == 0:
        return DivisionCode(code, county, "district", "district", None)
    if township == 0:
        raise DivisionCodeError("village_without_township")
    if village == 0:
        if township < 100:
            kind = "street"
        elif township < 200:
            kind = "town"
        elif township < 400:
            kind = "township"
        else:
            raise DivisionCodeError("township_range")
        return DivisionCode(code, county, "town", kind, county + "000000")
    if village < 200:
        kind = "community"
    elif village < 400:
        kind = "village"
    else:
        raise DivisionCodeError("village_range")
    return DivisionCode(code, county, "community", kind, code[:9] + "000")
