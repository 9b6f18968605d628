"""A Chinese duplicate set with known truth, to measure record linkage (疑似重复档案).

Residents are drawn as the district's population is (households, names, ID numbers, phones shared
by children and their guardians); about 10 % of them get a second record as another institution
would have typed it: homophone or look-alike characters, romanised or traditional names, full-width
characters and stray spaces, swapped digits in the phone or ID number, missing ID numbers (newborns,
foreigners, old paper records), a legacy 15-digit ID, a moved or differently written address,
birth-date typos. A few get a third record. Seeded and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations

import numpy as np

from healthbrain.linkage.features import TRADITIONAL_TO_SIMPLIFIED, Person, name_pinyin, normalise_name
from healthbrain.sim.names import PLACE_FIRST, PLACE_SECOND, place_names
from healthbrain.sim.population import build

# Characters that are easily confused by eye (形近字) in names.
_LOOK_ALIKE_PAIRS = (
    "王玉 明朋 华毕 军车 平乎 伟传 玲铃 红虹 丽莉 春椿 英瑛 梅海 芳方 建健 国固 林材 杰洁 "
    "志忠 文丈 永水 金全 秀季 凤风 云去 新亲 祥样 俊浚 辉晖 婷停 静净 晨辰 浩皓 宇字"
)
LOOK_ALIKE = {**{p[0]: p[1] for p in _LOOK_ALIKE_PAIRS.split()}, **{p[1]: p[0] for p in _LOOK_ALIKE_PAIRS.split()}}
# Homophones (同音字) met in names, grouped by tone-less pinyin.
HOMOPHONES = [
    "伟玮炜维薇",
    "丽莉俐力立",
    "华桦骅",
    "明鸣铭",
    "玲铃琳林霖",
    "静婧靖晶菁",
    "军君均钧",
    "红虹宏洪鸿",
    "英瑛莹颖",
    "建健剑",
    "平萍苹",
    "芳方芬",
    "杰洁捷婕",
    "海海",
    "涛韬",
    "强蔷",
    "梅美玫",
    "燕艳雁妍",
    "敏闽",
    "霞侠",
    "辉晖慧惠",
    "俊骏峻",
    "宇雨语羽",
    "浩皓昊灏",
    "婷亭庭",
    "欣馨新心",
    "怡宜仪",
    "佳嘉家",
    "子梓紫",
    "涵晗寒",
    "轩萱宣",
    "晨辰琛",
    "一依伊怡",
]
_HOMOPHONE_OF = {c: [o for o in group if o != c] for group in HOMOPHONES for c in group if len(set(group)) > 1}
_SIMPLIFIED_TO_TRADITIONAL = {v: k for k, v in TRADITIONAL_TO_SIMPLIFIED.items()}

ROADS = tuple(
    [
        "人民",
        "解放",
        "建设",
        "中山",
        "和平",
        "文化",
        "胜利",
        "新华",
        "学院",
        "工业",
        "环城",
        "东风",
        "青年",
        "健康",
        "体育",
        "迎宾",
        "长安",
        "育才",
    ]
)


@dataclass(frozen=True)
class DuplicateSet:
    records: list[Person]
    clusters: list[list[int]]  # record ids of one person, for people with more than one record
    truth: set[tuple[int, int]]  # every pair (low id, high id) of records of one person
    corruptions: dict[int, list[str]]  # duplicate record id -> what was done to it


def _address(rng: np.random.Generator, town: str, community: str) -> str:
    road = ROADS[int(rng.integers(len(ROADS)))]
    return f"浙江省杭州市临江区{town}镇{community}社区{road}路{int(rng.integers(1, 200))}号"


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return "".join(digits[int(d)] for d in str(n))


def _swap_adjacent(rng: np.random.Generator, text: str, lo: int = 0, hi: int | None = None) -> str:
    hi = len(text) - 1 if hi is None else hi
    for _ in range(10):
        i = int(rng.integers(lo, hi))
        if text[i] != text[i + 1]:
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text


def _typo_digit(rng: np.random.Generator, text: str, lo: int = 0) -> str:
    i = int(rng.integers(lo, len(text)))
    digit = str((int(text[i]) + int(rng.integers(1, 10))) % 10) if text[i].isdigit() else text[i]
    return text[:i] + digit + text[i + 1 :]


def _romanised(rng: np.random.Generator, name: str) -> str:
    py = name_pinyin(name)
    surname, given = py.surname.capitalize(), py.given.capitalize()
    style = int(rng.integers(3))
    if style == 0:
        return f"{surname} {given}"
    if style == 1:
        return f"{given} {surname.upper()}"  # passport order
    return f"{surname.upper()} {given.upper()}"


def _name_typo(rng: np.random.Generator, name: str) -> tuple[str, str]:
    positions = list(range(1, len(name))) or [0]
    i = positions[int(rng.integers(len(positions)))]
    c = name[i]
    if c in _HOMOPHONE_OF and (rng.random() < 0.6 or c not in LOOK_ALIKE):
        options = _HOMOPHONE_OF[c]
        return name[:i] + options[int(rng.integers(len(options)))] + name[i + 1 :], "homophone"
    if c in LOOK_ALIKE:
        return name[:i] + LOOK_ALIKE[c] + name[i + 1 :], "look_alike"
    return name, ""


def _corrupt(rng: np.random.Generator, person: Person, moved_to: str) -> tuple[Person, list[str]]:
    name, sex, born, phone, ident, address = (
        person.name,
        person.sex,
        person.birth_date,
        person.phone,
        person.id_number,
        person.address,
    )
    done: list[str] = []
    # The name: usually one change, sometimes none.
    r = rng.random()
    if r < 0.35:
        name, what = _name_typo(rng, name)
        if what:
            done.append(what)
    elif r < 0.5:
        name = _romanised(rng, name)
        done.append("romanised")
    elif r < 0.57:
        name = "".join(_SIMPLIFIED_TO_TRADITIONAL.get(c, c) for c in name)
        done.append("traditional")
    elif r < 0.65:
        name = " ".join(name) if rng.random() < 0.5 else name[:1] + "\u3000" + name[1:]
        done.append("spaces")
    # The ID number: often missing on the second record.
    r = rng.random()
    if ident is not None:
        if r < 0.45:
            ident = None
            done.append("id_missing")
        elif r < 0.6:
            ident = _swap_adjacent(rng, ident, 0, 16)
            done.append("id_swapped_digits")
        elif r < 0.65 and ident[6:8] == "19":
            ident = ident[:6] + ident[8:17]
            done.append("id_15_digits")
    # The phone.
    r = rng.random()
    if phone is not None:
        if r < 0.15:
            phone = _swap_adjacent(rng, phone, 3)
            done.append("phone_swapped_digits")
        elif r < 0.25:
            phone = _typo_digit(rng, phone, 3)
            done.append("phone_typo")
        elif r < 0.4:
            phone = None
            done.append("phone_missing")
        elif r < 0.5:
            phone = f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"
            done.append("phone_formatted")
    # The birth date.
    r = rng.random()
    if born is not None:
        if r < 0.05 and born.day <= 12 and born.day != born.month:
            born = date(born.year, born.day, born.month)
            done.append("day_month_swapped")
        elif r < 0.1:
            born = born + timedelta(days=int(rng.choice([-1, 1])))
            done.append("date_off_by_one")
        elif r < 0.13:
            typed = _typo_digit(rng, born.strftime("%Y%m%d"), 2)
            try:
                born = date(int(typed[:4]), int(typed[4:6]), int(typed[6:]))
                done.append("date_typo")
            except ValueError:
                pass
    # The address.
    r = rng.random()
    if address is not None:
        if r < 0.2:
            address = moved_to
            done.append("moved")
        elif r < 0.35:
            address = address.replace("浙江省杭州市临江区", "")
            done.append("address_short")
        elif r < 0.45:
            number = address.rsplit("路", 1)[-1].removesuffix("号")
            if number.isdigit():
                address = address.removesuffix(f"{number}号") + f"{_chinese_number(int(number))}号"
                done.append("address_chinese_number")
        elif r < 0.55:
            address = None
            done.append("address_missing")
    if rng.random() < 0.01:
        sex = None
        done.append("sex_missing")
    return Person(id=0, name=name, sex=sex, birth_date=born, phone=phone, id_number=ident, address=address), done or [
        "copy"
    ]


def make_duplicate_set(residents: int = 20_000, *, share: float = 0.10, seed: int = 42) -> DuplicateSet:
    """``residents`` people, of whom ``share`` have a second record (and a few of those a third)."""
    rng = np.random.default_rng(seed)
    towns = place_names(rng, 8, set())
    communities = place_names(rng, 40, set(towns))
    population = build(rng, residents, np.ones(len(communities)), date(2025, 1, 1))
    n = population.size
    household_address = [
        _address(rng, towns[c % len(towns)], communities[c]) for c in population.household_community.tolist()
    ]
    births = population.birth.astype("datetime64[D]").astype(object).tolist()
    # Some residents have no ID number on their first record either (newborns, foreigners).
    no_id = rng.random(n) < 0.03
    originals = [
        Person(
            id=i + 1,
            name=population.name[i],
            sex="M" if bool(population.male[i]) else "F",
            birth_date=births[i],
            phone=population.phone[i],
            id_number=None if no_id[i] else population.id_number[i],
            address=household_address[int(population.household[i])],
        )
        for i in range(n)
    ]
    chosen = rng.choice(n, size=int(n * share), replace=False)
    records = list(originals)
    clusters: list[list[int]] = []
    corruptions: dict[int, list[str]] = {}
    next_id = n + 1
    for index in sorted(chosen.tolist()):
        original = originals[index]
        cluster = [original.id]
        for _ in range(2 if rng.random() < 0.08 else 1):
            moved_to = _address(
                rng,
                PLACE_FIRST[int(rng.integers(len(PLACE_FIRST)))],
                PLACE_SECOND[int(rng.integers(len(PLACE_SECOND)))],
            )
            copy, done = _corrupt(rng, original, moved_to)
            record = Person(
                id=next_id,
                name=copy.name,
                sex=copy.sex,
                birth_date=copy.birth_date,
                phone=copy.phone,
                id_number=copy.id_number,
                address=copy.address,
            )
            records.append(record)
            corruptions[next_id] = done
            cluster.append(next_id)
            next_id += 1
        clusters.append(cluster)
    # Shuffle so duplicates do not sit next to their originals (ids stay as they are).
    order = rng.permutation(len(records))
    records = [records[i] for i in order.tolist()]
    truth = {(a, b) for cluster in clusters for a, b in combinations(sorted(cluster), 2)}
    return DuplicateSet(records=records, clusters=clusters, truth=truth, corruptions=corruptions)


def names_compared(records: list[Person]) -> int:
    """How many distinct normalised names the set holds (a sanity figure for reports)."""
    return len({normalise_name(r.name) for r in records})
