"""Residents and households, generated as arrays (NumPy) for speed and reproducibility.

Households are drawn by type (single, couple, couple with children, three generations …) with an
age rule per member; their mix is tuned so the district's age structure lands near Zhejiang's
2020 census (0–14: 13.5 %, 15–59: 67.9 %, 60+: 18.7 %, 65+: 13.3 %; mean household 2.35–2.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from healthbrain.people.resident_id import CHECK_CHARACTERS, WEIGHTS
from healthbrain.sim.geography import DISTRICT_CODE
from healthbrain.sim.names import make_names

# Where residents' IDs were issued: most locally, the rest across China (real county codes).
OTHER_ADDRESS_CODES = [
    "330102",
    "330105",
    "330106",
    "330108",
    "330110",
    "330122",
    "330226",
    "330302",
    "330402",
    "330502",
    "330602",
    "330702",
    "331002",
    "340104",
    "340203",
    "320102",
    "320583",
    "310104",
    "310115",
    "410102",
    "411302",
    "510104",
    "511302",
    "360102",
    "362202",
    "430102",
    "431102",
    "420102",
    "421302",
    "370102",
    "371302",
    "350102",
    "350582",
    "130102",
    "140105",
    "220102",
    "230102",
    "450102",
    "520102",
    "530102",
    "610102",
    "620102",
    "500101",
    "120101",
    "110105",
    "440103",
]
LOCAL_SHARE = 0.72

MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        155,
        156,
        157,
        158,
        159,
        177,
        180,
        181,
        182,
        183,
        186,
        187,
        188,
        189,
        199,
    ]
)

# Household types: share, members as (relation, age rule). Age rules refer to the head's age "h"
# or draw fresh: ("u", lo, hi) uniform; ("h", lo, hi) head age + uniform offset.
HOUSEHOLD_TYPES: list[tuple[float, list[tuple[str, tuple[str, int, int]]]]] = [
    (0.15, [("head", ("u", 19, 38))]),
    (0.05, [("head", ("u", 65, 96))]),
    (0.06, [("head", ("u", 36, 65))]),
    (0.13, [("head", ("u", 24, 60)), ("spouse", ("h", -4, 3))]),
    (0.08, [("head", ("u", 60, 88)), ("spouse", ("h", -4, 3))]),
    (0.23, [("head", ("u", 27, 56)), ("spouse", ("h", -4, 3)), ("child", ("h", -35, -22))]),
    (0.11, [("head", ("u", 29, 52)), ("spouse", ("h", -4, 3)), ("child", ("h", -33, -22)), ("child", ("h", -40, -25))]),
    (
        0.08,
        [
            ("head", ("u", 30, 50)),
            ("spouse", ("h", -4, 3)),
            ("child", ("h", -33, -22)),
            ("parent", ("h", 24, 33)),
            ("parent", ("h", 22, 31)),
        ],
    ),
    (0.04, [("head", ("u", 28, 55)), ("child", ("h", -34, -22))]),
    (0.04, [("head", ("u", 55, 80)), ("spouse", ("h", -4, 3)), ("child", ("h", -34, -24))]),
    (
        0.03,
        [
            ("head", ("u", 52, 72)),
            ("spouse", ("h", -4, 3)),
            ("child", ("h", -32, -24)),
            ("other", ("h", -32, -22)),
            ("grandchild", ("h", -58, -46)),
        ],
    ),
]


@dataclass
class Population:
    """Residents as parallel arrays (index = resident number, 0-based)."""

    household: np.ndarray  # household index
    relation: np.ndarray  # object: head / spouse / child / parent / grandchild / other
    male: np.ndarray  # bool
    birth: np.ndarray  # datetime64[D]
    community: np.ndarray  # community index
    id_number: list[str]
    name: list[str]
    phone: list[str | None]
    disability: np.ndarray  # object, None for none
    household_community: np.ndarray  # community of each household

    @property
    def size(self) -> int:
        return len(self.male)


def _members(rng: np.random.Generator, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(household index, relation, age, male) for about ``target`` residents."""
    shares = np.array([t[0] for t in HOUSEHOLD_TYPES])
    shares = shares / shares.sum()
    mean_size = float(sum(s * len(t[1]) for s, t in zip(shares, HOUSEHOLD_TYPES, strict=True)))
    n_households = int(target / mean_size * 1.03) + 10
    kinds = rng.choice(len(HOUSEHOLD_TYPES), size=n_households, p=shares)
    hh_parts, rel_parts, age_parts, male_parts = [], [], [], []
    for k, (_share, members) in enumerate(HOUSEHOLD_TYPES):
        hh = np.flatnonzero(kinds == k)
        if not len(hh):
            continue
        head_age = np.zeros(len(hh))
        head_male = rng.random(len(hh)) < (0.5 if len(members) == 1 else 0.78)
        for relation, (rule, lo, hi) in members:
            offset = rng.uniform(lo, hi, len(hh))
            age = offset if rule == "u" else head_age + offset
            if relation == "head":
                head_age = age
                male = head_male
            elif relation == "spouse":
                male = ~head_male
            else:
                male = rng.random(len(hh)) < 0.52  # sex ratio at birth ~1.1
            hh_parts.append(hh)
            rel_parts.append(np.full(len(hh), relation, dtype=object))
            age_parts.append(np.clip(age, 0, 104))
            male_parts.append(male)
    hh_all = np.concatenate(hh_parts)
    order = np.argsort(hh_all, kind="stable")
    hh_all = hh_all[order]
    relations: np.ndarray = np.concatenate(rel_parts)[order]
    ages: np.ndarray = np.concatenate(age_parts)[order]
    males: np.ndarray = np.concatenate(male_parts)[order]
    return hh_all[:target], relations[:target], ages[:target], males[:target]


def _id_numbers(rng: np.random.Generator, birth: np.ndarray, male: np.ndarray) -> list[str]:
    n = len(birth)
    codes = np.array([DISTRICT_CODE, *OTHER_ADDRESS_CODES])
    local = rng.random(n) < LOCAL_SHARE
    addr_idx = np.where(local, 0, rng.integers(1, len(codes), n))
    day = birth.astype("datetime64[D]").astype(np.int64)
    # Sequence numbers: unique within (address, birth date, sex), odd for men, even for women.
    key_order = np.lexsort((male, day, addr_idx))
    a, d, m = addr_idx[key_order], day[key_order], male[key_order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (a[1:] != a[:-1]) | (d[1:] != d[:-1]) | (m[1:] != m[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    rank = np.arange(n) - group_start
    base = rng.integers(0, 200, n)[group_start]  # a random starting point per group
    seq_sorted = 2 * (base + rank) + np.where(m, 1, 2)
    seq = np.empty(n, dtype=np.int64)
    seq[key_order] = seq_sorted
    if seq.max() > 999:
        raise RuntimeError("too many residents share an address code and birth date")
    ymd = np.datetime_as_string(birth.astype("datetime64[D]")).astype("U10")
    first17 = np.char.add(
        np.char.add(codes[addr_idx], np.char.replace(ymd, "-", "")), np.char.zfill(seq.astype("U3"), 3)
    )
    digits = first17.view("U1").reshape(n, 17).astype(np.int64)
    check = (digits @ np.array(WEIGHTS)) % 11
    return np.char.add(first17, np.array(list(CHECK_CHARACTERS))[check]).tolist()  # type: ignore[no-any-return]


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)]
    return prefix * 10**8 + rng.integers(0, 10**8, n)


DISABILITY_TYPES = np.array(
    ["physical", "visual", "hearing", "speech", "intellectual", "mental", "multiple"], dtype=object
)
DISABILITY_SHARES = np.array([0.48, 0.14, 0.16, 0.01, 0.06, 0.07, 0.08])


def build(rng: np.random.Generator, residents: int, community_weights: np.ndarray, as_of: date) -> Population:
    hh, relation, age, male = _members(rng, residents)
    n_households = int(hh.max()) + 1
    hh_community = rng.choice(len(community_weights), size=n_households, p=community_weights / community_weights.sum())
    today = np.datetime64(as_of, "D")
    birth = (
        today
        - np.floor(age * 365.25).astype("timedelta64[D]")
        - rng.integers(0, 365, len(age)).astype("timedelta64[D]")
    )
    birth = np.minimum(birth, today)
    birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
    names = make_names(rng, male, birth_year)
    # Children carry the head's phone (the guardian's), as real records do.
    phone_num = _phones(rng, len(age))
    years = (today - birth).astype(int) / 365.25
    has_phone = np.where(years < 16, True, rng.random(len(age)) < np.where(years >= 80, 0.6, 0.93))
    head_index = np.maximum.accumulate(np.where(np.r_[True, hh[1:] != hh[:-1]], np.arange(len(hh)), 0))
    phone_num = np.where(years < 16, phone_num[head_index], phone_num)
    phone = [str(p) if ok else None for p, ok in zip(phone_num.tolist(), has_phone.tolist(), strict=True)]
    disabled_p = np.where(years < 18, 0.006, np.where(years < 60, 0.018, 0.06))
    disabled = rng.random(len(age)) < disabled_p
    disability = np.full(len(age), None, dtype=object)
    disability[disabled] = rng.choice(DISABILITY_TYPES, size=int(disabled.sum()), p=DISABILITY_SHARES)
    return Population(
        household=hh,
        relation=relation,
        male=male,
        birth=birth,
        community=hh_community[hh],
        id_number=_id_numbers(rng, birth, male),
        name=names,
        phone=phone,
        disability=disability,
        household_community=hh_community,
    )
