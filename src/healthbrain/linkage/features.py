"""Comparison features of a resident record for linkage without an ID (pure: no database, no I/O).

Chinese names have no spaces, about 1 % compound surnames and many polyphonic characters: the
surname is read with its surname reading (曾 zeng, 单 shan, 解 xie, 仇 qiu, 朴 piao, 区 ou, 查 zha),
which pypinyin (0.55) has no mode for, and the given name with pypinyin's phrase context. A
romanised name (``Zhang Xiaoming``, ``XIAOMING ZHANG``) gets the same tone-less pinyin, so it meets
its Chinese form. Phones, ID numbers, birth dates and addresses are normalised the same way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Any

from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

from healthbrain.people.resident_id import WEIGHTS, check_character

# Compound surnames (复姓), the commonest first; matched before a one-character surname.
COMPOUND_SURNAMES: dict[str, str] = {
    "欧阳": "ouyang",
    "司马": "sima",
    "诸葛": "zhuge",
    "上官": "shangguan",
    "东方": "dongfang",
    "皇甫": "huangfu",
    "尉迟": "yuchi",
    "公孙": "gongsun",
    "慕容": "murong",
    "令狐": "linghu",
    "司徒": "situ",
    "夏侯": "xiahou",
    "端木": "duanmu",
    "申屠": "shentu",
    "长孙": "zhangsun",
    "宇文": "yuwen",
    "轩辕": "xuanyuan",
    "澹台": "tantai",
    "单于": "chanyu",
    "万俟": "moqi",
    "西门": "ximen",
    "南宫": "nangong",
    "独孤": "dugu",
    "百里": "baili",
    "呼延": "huyan",
    "钟离": "zhongli",
    "闻人": "wenren",
    "赫连": "helian",
    "淳于": "chunyu",
    "濮阳": "puyang",
    "太史": "taishi",
    "司空": "sikong",
    "东郭": "dongguo",
    "拓跋": "tuoba",
}

# Surname readings that differ from a character's common reading (python-pinyin issue #297 lists
# them; pypinyin reads 曾国藩 "ceng guo fan").
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "乐": "yue",
    "覃": "qin",
    "盖": "ge",
    "缪": "miao",
    "瞿": "qu",
    "翟": "zhai",
    "都": "du",
    "秘": "bi",
    "冼": "xian",
    "华": "hua",
    "过": "guo",
    "纪": "ji",
    "燕": "yan",
    "种": "chong",
    "繁": "po",
    "重": "chong",
    "尉": "wei",
    "折": "she",
    "那": "na",
    "粘": "nian",
    "藏": "zang",
    "薄": "bo",
    "贾": "jia",
    "居": "ju",
    "盛": "sheng",
    "柏": "bai",
    "牟": "mou",
    "宿": "su",
    "卜": "bu",
    "员": "yun",
    "长": "chang",
    "万": "wan",
    "沈": "shen",
    "石": "shi",
    "六": "lu",
    "葛": "ge",
    "阚": "kan",
    "任": "ren",
}

# Traditional → simplified for characters common in names (the whole of OpenCC is not needed to
# meet a record typed on a traditional-character system).
_TRADITIONAL = (
    "陳陈 張张 劉刘 黃黄 趙赵 吳吴 孫孙 馬马 鄭郑 謝谢 羅罗 許许 韓韩 馮冯 鄧邓 蔣蒋 蘇苏 葉叶 鍾钟 "
    "湯汤 楊杨 歐欧 龍龙 盧卢 閆闫 賈贾 夏夏 錢钱 顧顾 龔龚 嚴严 戴戴 陸陆 鄒邹 萬万 單单 華华 "
    "國国 軍军 偉伟 強强 東东 陽阳 麗丽 紅红 蘭兰 鳳凤 雲云 靜静 飛飞 鵬鹏 輝辉 傑杰 濤涛 "
    "華华 興兴 貴贵 發发 慶庆 寶宝 榮荣 順顺 義义 禮礼 誠诚 滿满 曉晓 嬌娇 鶯莺 潔洁 瑤瑶 "
    "蓮莲 鳴鸣 劍剑 勝胜 嶺岭 義义 紀纪 樂乐 廣广 進进 連连 長长 門门 號号 樓楼 區区 縣县 鎮镇 "
    "鄉乡 村村 街街 路路 裡里 園园 灣湾 橋桥 莊庄 號号"
)
TRADITIONAL_TO_SIMPLIFIED: dict[str, str] = {pair[0]: pair[1] for pair in _TRADITIONAL.split() if pair[0] != pair[1]}

_SEPARATORS = re.compile(r"[\s·•・.\-_'’,，、]+")
_LATIN = re.compile(r"^[a-zA-ZüÜvV\s·•・.\-_'’,]+$")
_HAN = re.compile(r"[\u3400-\u9fff]")


def _nfkc(raw: str) -> str:
    """Full-width letters, digits and spaces become half-width (ＡＢＣ１２３ → ABC123)."""
    return unicodedata.normalize("NFKC", raw)


def normalise_name(raw: str | None) -> str | None:
    """A name as compared: half-width, no spaces or dots, simplified, Latin lower-case."""
    if raw is None:
        return None
    text = _nfkc(raw).strip()
    if _HAN.search(text):
        text = _SEPARATORS.sub("", text)
        text = "".join(TRADITIONAL_TO_SIMPLIFIED.get(c, c) for c in text)
    else:
        text = " ".join(_SEPARATORS.sub(" ", text).lower().split())
    return text or None


def split_name(name: str) -> tuple[str, str]:
    """(surname, given name) of a normalised Chinese name; compound surnames first."""
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def _toneless(syllable: str) -> str:
    stripped = "".join(c for c in unicodedata.normalize("NFD", syllable) if unicodedata.category(c) != "Mn")
    return stripped.replace("ü", "v")


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every tone-less pinyin syllable pypinyin knows (to segment a romanised name)."""
    found: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            found.add(_toneless(reading))
    found.update({"lv", "nv", "lue", "nue"})
    return frozenset(s for s in found if s.isalpha())


def segment_pinyin(text: str) -> list[str] | None:
    """Split run-together pinyin into syllables (``xiaoming`` → xiao ming), preferring long
    syllables but backtracking; None when the text is not pinyin."""
    syllables = _syllables()

    @cache
    def from_(i: int) -> tuple[str, ...] | None:
        if i == len(text):
            return ()
        for j in range(min(len(text), i + 6), i, -1):
            if text[i:j] in syllables and (rest := from_(j)) is not None:
                return (text[i:j], *rest)
        return None

    found = from_(0)
    return list(found) if found is not None else None


@dataclass(frozen=True, slots=True)
class NamePinyin:
    surname: str  # tone-less pinyin of the surname: "zeng", "ouyang"
    given: str  # tone-less pinyin of the given name: "guofan"
    initials: str  # first letters of each syllable: "zgf"
    toned: str  # with tone numbers, for display and a finer comparison: "zeng1 guo2 fan1"

    @property
    def full(self) -> str:
        return self.surname + self.given


def _han_pinyin(name: str) -> NamePinyin:
    surname, given = split_name(name)
    if surname in COMPOUND_SURNAMES:
        surname_syllables = segment_pinyin(COMPOUND_SURNAMES[surname]) or [COMPOUND_SURNAMES[surname]]
    elif surname in SURNAME_READINGS:
        surname_syllables = [SURNAME_READINGS[surname]]
    else:
        surname_syllables = lazy_pinyin(surname, errors="ignore")
    # The given name on its own, so its phrase context is its own (张行 → xing, 银行 → hang).
    given_syllables = lazy_pinyin(given, errors="ignore", v_to_u=False) if given else []
    given_toned = lazy_pinyin(given, style=Style.TONE3, errors="ignore", neutral_tone_with_five=True) if given else []
    syllables = [*surname_syllables, *given_syllables]
    return NamePinyin(
        surname="".join(surname_syllables),
        given="".join(given_syllables),
        initials="".join(s[0] for s in syllables if s),
        toned=" ".join([*surname_syllables, *given_toned]),
    )


def _latin_pinyin(name: str) -> NamePinyin:
    """A romanised name: ``zhang xiaoming`` (surname first, the Chinese order) or ``xiaoming zhang``
    when the last word is a known surname and the first is not (passport order)."""
    words = [w.replace("ü", "v") for w in name.split()]
    surnames = set(SURNAME_PINYIN)
    if len(words) >= 2 and words[-1] in surnames and words[0] not in surnames:
        words = [words[-1], *words[:-1]]
    surname = words[0] if words else ""
    given = "".join(words[1:])
    syllables: list[str] = []
    for word in words:
        syllables.extend(segment_pinyin(word) or [word])
    return NamePinyin(surname=surname, given=given, initials="".join(s[0] for s in syllables if s), toned="")


def name_pinyin(normalised: str) -> NamePinyin:
    """The pinyin of a normalised name (Chinese characters or already romanised)."""
    if _HAN.search(normalised):
        return _han_pinyin(normalised)
    return _latin_pinyin(normalised)


# Tone-less pinyin of the common surnames, to recognise passport order in romanised names.
SURNAME_PINYIN: frozenset[str] = frozenset(
    {
        *COMPOUND_SURNAMES.values(),
        *(v for k, v in SURNAME_READINGS.items() if len(k) == 1),
        *[
            "wang",
            "li",
            "zhang",
            "liu",
            "chen",
            "yang",
            "huang",
            "zhao",
            "wu",
            "zhou",
            "xu",
            "sun",
            "ma",
            "zhu",
            "hu",
            "guo",
            "he",
            "lin",
            "gao",
            "luo",
            "zheng",
            "liang",
            "xie",
            "song",
            "tang",
            "han",
            "feng",
            "deng",
            "cao",
            "peng",
            "xiao",
            "tian",
            "dong",
            "yuan",
            "pan",
            "yu",
            "jiang",
            "cai",
            "du",
            "ye",
            "cheng",
            "su",
            "wei",
            "lv",
            "ding",
            "shen",
            "yao",
            "lu",
            "cui",
            "zhong",
            "tan",
            "wang",
            "fan",
            "jin",
            "liao",
            "xia",
            "fu",
            "fang",
            "bai",
            "zou",
            "meng",
            "xiong",
            "qin",
            "qiu",
            "yin",
            "xue",
            "yan",
            "duan",
            "lei",
            "hou",
            "long",
            "shi",
            "tao",
            "li",
            "he",
            "gu",
            "mao",
            "hao",
            "gong",
            "shao",
            "qian",
            "dai",
            "mo",
            "kong",
            "xiang",
            "tang",
            "weng",
            "ying",
            "lou",
            "tong",
            "yu",
        ],
    }
)


def phone_digits(raw: str | None) -> str | None:
    """Digits of a phone number; a mainland mobile loses its +86 / 0086 prefix; too short → None."""
    if raw is None:
        return None
    digits = re.sub(r"\D", "", _nfkc(raw))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11 and digits[len(prefix)] == "1":
            digits = digits[len(prefix) :]
    return digits if len(digits) >= 7 else None


@dataclass(frozen=True, slots=True)
class IdParts:
    number: str  # 18 characters, upper-case X (a 15-digit number upgraded)
    address_code: str
    birth_date: date | None  # None when the birth part is not a date (a typo)
    sex: str | None  # M / F from the sequence number's parity
    check_ok: bool  # the check character agrees (a swapped digit usually breaks it)


def id_parts(raw: str | None) -> IdParts | None:
    """The parts of a resident ID number as typed, even when it does not validate (linkage meets
    typos); None when it is not an ID number at all."""
    if raw is None:
        return None
    text = _nfkc(raw).strip().upper().replace(" ", "")
    if len(text) == 15 and text.isdigit():
        first17 = text[:6] + "19" + text[6:]
        text = first17 + check_character(first17)
    if len(text) != 18 or not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        return None
    try:
        born: date | None = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        born = None
    if born is not None and not 1880 <= born.year <= 2100:
        born = None  # a digit swapped into the year
    return IdParts(
        number=text,
        address_code=text[:6],
        birth_date=born,
        sex="M" if int(text[16]) % 2 else "F",
        check_ok=check_character(text[:17]) == text[17],
    )


def one_transposition(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with two adjacent characters swapped (13812345678 / 13821345678)."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def day_month_swapped(a: date, b: date) -> bool:
    """Whether two dates differ by day and month being swapped (1980-03-07 / 1980-07-03)."""
    return a != b and a.year == b.year and a.month == b.day and a.day == b.month


_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十]+(?=[号弄幢栋楼室单元组])")
_ADMIN_PREFIX = re.compile(r"^(.{2,8}?(省|自治区))?(.{2,8}?市)?(.{1,6}?(?<!社)(区|县))?")  # not 社区
_BUILDING_WORDS = (("栋", "幢"), ("号楼", "幢"), ("单元", "单元"), ("號", "号"))


def _chinese_number(text: str) -> str:
    """十二 → 12, 三十 → 30, 一〇五 → 105 (house numbers are rarely above 999)."""
    if "十" not in text:
        return "".join(str(_CN_DIGITS[c]) for c in text)
    tens, _, ones = text.partition("十")
    value = (_CN_DIGITS[tens[-1]] if tens else 1) * 10 + (_CN_DIGITS[ones[0]] if ones else 0)
    return str(value)


def normalise_address(raw: str | None) -> str | None:
    """An address as compared: half-width, simplified, no spaces or punctuation, no province /
    city / district prefix (records of one district often omit it), Arabic house numbers."""
    if raw is None:
        return None
    text = _SEPARATORS.sub("", _nfkc(raw))
    text = "".join(TRADITIONAL_TO_SIMPLIFIED.get(c, c) for c in text)
    text = re.sub(r"[()（）#]", "", text)
    text = _ADMIN_PREFIX.sub("", text, count=1)
    text = _CN_NUMBER.sub(lambda m: _chinese_number(m.group(0)), text)
    for old, new in _BUILDING_WORDS:
        text = text.replace(old, new)
    return text or None


@dataclass(frozen=True, slots=True)
class Person:
    """A record to link, as the platform or a test set holds it (raw, not normalised)."""

    id: int
    name: str
    sex: str | None
    birth_date: date | None
    phone: str | None = None
    id_number: str | None = None
    address: str | None = None


# The columns of a feature row, in the order of the DuckDB table.
FEATURE_COLUMNS: tuple[str, ...] = (
    "unique_id",
    "name",
    "name_py",
    "name_py_rev",
    "surname_py",
    "initials",
    "sex",
    "birth_date",
    "birth_year",
    "phone",
    "id_number",
    "id_head",
    "address",
)


def features(person: Person) -> dict[str, Any]:
    """One row of comparison features. An ID number, when present and readable, also supplies the
    sex and birth date a record lacks."""
    name = normalise_name(person.name)
    py = name_pinyin(name) if name else None
    ident = id_parts(person.id_number)
    born = person.birth_date or (ident.birth_date if ident else None)
    sex = person.sex or (ident.sex if ident else None)
    return {
        "unique_id": person.id,
        "name": name,
        "name_py": py.full or None if py else None,
        "name_py_rev": (py.given + py.surname) or None if py else None,
        "surname_py": py.surname or None if py else None,
        "initials": py.initials or None if py else None,
        "sex": sex,
        "birth_date": born.strftime("%Y%m%d") if born else None,
        "birth_year": born.year if born else None,
        "phone": phone_digits(person.phone),
        "id_number": ident.number if ident else None,
        "id_head": ident.number[:14] if ident else None,
        "address": normalise_address(person.address),
    }


__all__ = [
    "COMPOUND_SURNAMES",
    "FEATURE_COLUMNS",
    "SURNAME_READINGS",
    "WEIGHTS",
    "IdParts",
    "NamePinyin",
    "Person",
    "day_month_swapped",
    "features",
    "id_parts",
    "name_pinyin",
    "normalise_address",
    "normalise_name",
    "one_transposition",
    "phone_digits",
    "segment_pinyin",
    "split_name",
]
