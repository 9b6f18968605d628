"""Name and place-name material for the synthetic district.

Surname weights follow the 2020 census ranking (公安部户籍人口统计, top 100, in per cent, with
陈/沈/徐/钱 raised for Zhejiang); compound surnames make up about 1 % as records.md asks, so that
record linkage meets them. Given-name characters differ by sex and by generation.
"""

from __future__ import annotations

import numpy as np

_SURNAMES = """
王7.1 李7.0 张6.7 刘5.4 陈5.3 杨3.1 黄2.2 赵2.0 吴2.2 周1.9 徐2.0 孙1.4 马1.2 朱1.3 胡1.2 郭1.1
何1.0 林1.0 高0.9 罗0.8 郑0.9 梁0.7 谢0.7 宋0.6 唐0.6 许0.6 韩0.5 冯0.5 邓0.5 曹0.5 彭0.5 曾0.4
肖0.4 田0.4 董0.4 袁0.4 潘0.5 于0.4 蒋0.5 蔡0.4 余0.4 杜0.3 叶0.5 程0.3 苏0.3 魏0.3 吕0.3 丁0.3
任0.3 沈0.6 姚0.3 卢0.3 姜0.3 崔0.2 钟0.2 谭0.2 陆0.3 汪0.3 范0.2 金0.3 石0.2 廖0.2 贾0.2 夏0.2
韦0.2 付0.2 方0.3 白0.2 邹0.2 孟0.2 熊0.2 秦0.2 邱0.2 江0.2 尹0.2 薛0.1 闫0.1 段0.1 雷0.1 侯0.1
龙0.1 史0.1 陶0.1 黎0.1 贺0.1 顾0.2 毛0.2 郝0.1 龚0.1 邵0.2 万0.1 钱0.3 严0.1 覃0.1 武0.1 戴0.1
莫0.1 孔0.1 向0.1 汤0.1 单0.1 曾0.1 翁0.1 应0.1 楼0.1 童0.1 俞0.2 章0.1 郦0.05 虞0.05
"""
_COMPOUND = "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 令狐 司徒 夏侯 端木 申屠"
COMPOUND_SHARE = 0.01


def _parse(spec: str) -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    weights: list[float] = []
    for token in spec.split():
        names.append(token[0])
        weights.append(float(token[1:]))
    # Merge repeated characters (a surname listed twice adds its weights).
    merged: dict[str, float] = {}
    for n, w in zip(names, weights, strict=True):
        merged[n] = merged.get(n, 0.0) + w
    arr = np.array(list(merged.values()))
    return list(merged), arr / arr.sum()


SURNAMES, SURNAME_WEIGHTS = _parse(_SURNAMES)
COMPOUND_SURNAMES = _COMPOUND.split()

# Given-name characters: (born before 1980, born 1980 or later), per sex.
GIVEN_MALE_OLD = list("国建明华军平伟强志文林海兵勇德新忠春生荣金福祥庆宝根水富贵才发永昌兴亮学俊")
GIVEN_MALE_NEW = list("宇浩轩子俊博晨泽一嘉梓皓睿然杰涛磊鹏超辰逸航铭昊天宸哲凯旭瑞阳毅翔远豪辉")
GIVEN_FEMALE_OLD = list("芳秀英华玲红梅兰珍凤霞丽娟萍琴桂云燕美春素月翠菊敏静莲琳雪彩金妹")
GIVEN_FEMALE_NEW = list("婷欣怡萱涵诗雨思佳悦可琪颖雅梓晨馨钰瑶妍蕾璐菲倩洁薇露婉茜彤蓉晴")

# Place-name syllables (Jiangnan style) for towns, communities and villages.
PLACE_FIRST = list("东西南北新长青金龙凤安永和兴古临江湖山桥塘仁德平康宁清云石梅桃柳花丰盛双良崇五三上下前后大小白")
PLACE_SECOND = list("浦湖山桥塘港溪阳林浜泾田坞岭口墩渚埠湾庄门亭园洲河坝溪岙圩荡坊")


def given_pool(sex_male: bool, born_recent: bool) -> list[str]:
    if sex_male:
        return GIVEN_MALE_NEW if born_recent else GIVEN_MALE_OLD
    return GIVEN_FEMALE_NEW if born_recent else GIVEN_FEMALE_OLD


def make_names(rng: np.random.Generator, male: np.ndarray, birth_year: np.ndarray) -> list[str]:
    """Chinese names for residents (vectorised per group; deterministic for a given generator)."""
    n = len(male)
    surname_idx = rng.choice(len(SURNAMES), size=n, p=SURNAME_WEIGHTS)
    surnames = np.array(SURNAMES, dtype=object)[surname_idx]
    compound = rng.random(n) < COMPOUND_SHARE
    if compound.any():
        surnames[compound] = np.array(COMPOUND_SURNAMES, dtype=object)[
            rng.integers(0, len(COMPOUND_SURNAMES), int(compound.sum()))
        ]
    recent = birth_year >= 1980
    # Younger people more often have two-character given names.
    two_chars = rng.random(n) < np.where(recent, 0.85, 0.6)
    given = np.empty(n, dtype=object)
    for is_male in (True, False):
        for is_recent in (True, False):
            mask = (male == is_male) & (recent == is_recent)
            count = int(mask.sum())
            if not count:
                continue
            pool = np.array(given_pool(is_male, is_recent), dtype=object)
            first = pool[rng.integers(0, len(pool), count)]
            second = pool[rng.integers(0, len(pool), count)]
            given[mask] = np.where(two_chars[mask], first + second, first)
    return list(surnames + given)


def place_names(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """Distinct two-character place names not yet used in the district."""
    names: list[str] = []
    while len(names) < count:
        name = PLACE_FIRST[int(rng.integers(len(PLACE_FIRST)))] + PLACE_SECOND[int(rng.integers(len(PLACE_SECOND)))]
        if name not in taken:
            taken.add(name)
            names.append(name)
        if len(taken) >= len(PLACE_FIRST) * len(PLACE_SECOND):
            raise RuntimeError("ran out of place names")
    return names
