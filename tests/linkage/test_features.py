"""The pure core of linkage: names, pinyin, phones, ID numbers, dates, addresses (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from healthbrain.linkage.features import (
    Person,
    day_month_swapped,
    features,
    id_parts,
    name_pinyin,
    normalise_address,
    normalise_name,
    one_transposition,
    phone_digits,
    segment_pinyin,
    split_name,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        ("张 三", "张三"),
        ("张\u3000三", "张三"),  # an ideographic (full-width) space
        (" 欧阳·修 ", "欧阳修"),
        ("陳小明", "陈小明"),  # traditional → simplified
        ("ＺＨＡＮＧ　Ｗｅｉ", "zhang wei"),  # full-width Latin
        ("Zhang  Xiao-Ming", "zhang xiao ming"),
        ("", None),
        (None, None),
    ],
)
def test_normalise_name(raw: str | None, expected: str | None) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("name", "surname", "given"),
    [
        ("张三", "张", "三"),
        ("欧阳修", "欧阳", "修"),
        ("诸葛亮", "诸葛", "亮"),
        ("司马光", "司马", "光"),
        ("欧阳", "欧", "阳"),
    ],
)
def test_split_name_knows_compound_surnames(name: str, surname: str, given: str) -> None:
    assert split_name(name) == (surname, given)


@pytest.mark.parametrize(
    ("name", "full", "initials"),
    [
        # Surnames read as surnames, not as pypinyin's common reading.
        ("曾国藩", "zengguofan", "zgf"),
        ("单田芳", "shantianfang", "stf"),
        ("解缙", "xiejin", "xj"),
        ("仇英", "qiuying", "qy"),
        ("朴树", "piaoshu", "ps"),
        ("区志明", "ouzhiming", "ozm"),
        ("查良镛", "zhaliangyong", "zly"),
        ("覃丽", "qinli", "ql"),
        ("欧阳修", "ouyangxiu", "oyx"),
        ("长孙无忌", "zhangsunwuji", "zswj"),
        # The given name in its own context: 行 in a name alone reads xing.
        ("张行", "zhangxing", "zx"),
        ("王伟", "wangwei", "ww"),
        # Romanised names meet their Chinese form, in either order.
        ("zhang xiaoming", "zhangxiaoming", "zxm"),
        ("xiaoming zhang", "zhangxiaoming", "zxm"),
        ("ouyang xiu", "ouyangxiu", "oyx"),
    ],
)
def test_name_pinyin(name: str, full: str, initials: str) -> None:
    py = name_pinyin(name)
    assert (py.full, py.initials) == (full, initials)


def test_homophones_share_their_pinyin_but_not_their_characters() -> None:
    assert name_pinyin("李伟").full == name_pinyin("李玮").full
    assert name_pinyin("李伟").toned.split()[-1] == "wei3"
    assert name_pinyin("李玮").toned.split()[-1] == "wei3"
    assert name_pinyin("李维").toned.split()[-1] == "wei2"


@pytest.mark.parametrize(
    ("text", "syllables"),
    [("xiaoming", ["xiao", "ming"]), ("ouyangxiu", ["ou", "yang", "xiu"]), ("xian", ["xian"]), ("qwrty", None)],
)
def test_segment_pinyin(text: str, syllables: list[str] | None) -> None:
    assert segment_pinyin(text) == syllables


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("0571-8888 1234", "057188881234"),
        ("12345", None),
        (None, None),
    ],
)
def test_phone_digits(raw: str | None, expected: str | None) -> None:
    assert phone_digits(raw) == expected


@pytest.mark.parametrize(
    ("raw", "number", "born", "sex", "check_ok"),
    [
        ("11010519491231002X", "11010519491231002X", date(1949, 12, 31), "F", True),
        ("11010519491231002x", "11010519491231002X", date(1949, 12, 31), "F", True),
        ("110105491231002", "11010519491231002X", date(1949, 12, 31), "F", True),  # legacy 15 digits
        ("11010519491321002X", "11010519491321002X", None, "F", False),  # swapped digits: no such date
        ("11010591491231002X", "11010591491231002X", None, "F", False),
        ("110105194912310031", "110105194912310031", date(1949, 12, 31), "M", False),
    ],
)
def test_id_parts(raw: str, number: str, born: date | None, sex: str, check_ok: bool) -> None:
    parts = id_parts(raw)
    assert parts is not None
    assert (parts.number, parts.birth_date, parts.sex, parts.check_ok) == (number, born, sex, check_ok)


@pytest.mark.parametrize("raw", [None, "", "abc", "1101051949123100", "11010519491231002Y"])
def test_id_parts_of_what_is_not_an_id(raw: str | None) -> None:
    assert id_parts(raw) is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("13812345678", "13821345678", True),
        ("13812345678", "13812345687", True),
        ("13812345678", "13812345678", False),
        ("13812345678", "13812345679", False),  # a typo, not a swap
        ("13812345678", "13821345687", False),  # two swaps
        ("123", "1234", False),
    ],
)
def test_one_transposition(a: str, b: str, expected: bool) -> None:
    assert one_transposition(a, b) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (date(1980, 3, 7), date(1980, 7, 3), True),
        (date(1980, 3, 7), date(1980, 3, 7), False),
        (date(1980, 3, 7), date(1981, 7, 3), False),
        (date(1980, 3, 7), date(1980, 3, 8), False),
    ],
)
def test_day_month_swapped(a: date, b: date, expected: bool) -> None:
    assert day_month_swapped(a, b) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("浙江省杭州市临江区新洲镇康桥社区和平路137号", "新洲镇康桥社区和平路137号"),
        ("新洲镇康桥社区和平路一三七号", "新洲镇康桥社区和平路137号"),
        ("文三路十二号3栋", "文三路12号3幢"),
        ("文三路 12 號 3 幢", "文三路12号3幢"),
        ("杭州市西湖区文三路二十号", "文三路20号"),
        (None, None),
    ],
)
def test_normalise_address(raw: str | None, expected: str | None) -> None:
    assert normalise_address(raw) == expected


def test_features_take_sex_and_birth_date_from_the_id_number_when_missing() -> None:
    row = features(Person(7, "曾 国藩", None, None, "+86 138 1234 5678", "110105491231002", "某路一号"))
    assert row["unique_id"] == 7
    assert row["name"] == "曾国藩"
    assert row["name_py"] == "zengguofan"
    assert row["name_py_rev"] == "guofanzeng"
    assert row["sex"] == "F"
    assert row["birth_date"] == "19491231"
    assert row["birth_year"] == 1949
    assert row["phone"] == "13812345678"
    assert row["id_number"] == "11010519491231002X"
    assert row["id_head"] == "11010519491231"
    assert row["address"] == "某路1号"


def test_features_of_a_sparse_record() -> None:
    row = features(Person(1, "Li Na", "F", date(2001, 2, 3)))
    assert row["name_py"] == "lina"
    assert row["initials"] == "ln"
    assert (row["phone"], row["id_number"], row["address"]) == (None, None, None)
