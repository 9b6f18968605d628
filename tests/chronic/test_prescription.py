"""Health prescription (健康处方): one item per section, the patient's own figures in the text, and nothing
invented when data is missing — table-driven, no database."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from healthbrain.chronic.definitions import Adherence, Disease
from healthbrain.chronic.prescription import SECTION_NAMES, PatientFacts, Section, generate

HTN = frozenset({Disease.HYPERTENSION})
DM = frozenset({Disease.DIABETES})
BOTH = HTN | DM


def bare(diseases: frozenset[Disease] = HTN, *, age: int = 58, male: bool = True) -> PatientFacts:
    """A patient about whom nothing but age, sex and diagnosis is recorded."""
    return PatientFacts(age=age, male=male, diseases=diseases)


def full_htn() -> PatientFacts:
    """A 58-year-old hypertensive man, overweight, smoking and drinking, not controlled."""
    return PatientFacts(
        age=58,
        male=True,
        diseases=HTN,
        sbp=146,
        dbp=92,
        height_cm=170,
        weight_kg=78.9,
        waist_cm=95,
        smoking="current",
        cigarettes_per_day=10,
        drinking="daily",
        alcohol_g_per_day=40,
        exercise="occasional",
        exercise_minutes_per_week=60,
        salt="heavy",
        diet="meat",
        adherence=Adherence.REGULAR,
        medications=("氨氯地平片",),
        risk_tier="high",
        has_bp_device=True,
        home_bp_mean=(138.4, 86.2),
    )


def text_of(facts: PatientFacts, section: Section) -> str:
    (item,) = [item for item in generate(facts) if item.section is section]
    return item.text


@pytest.mark.parametrize("facts", [bare(HTN), bare(DM), bare(BOTH), bare(frozenset()), full_htn()])
def test_one_item_per_section_in_order(facts: PatientFacts) -> None:
    items = generate(facts)
    assert [item.section for item in items] == list(Section) == list(SECTION_NAMES)
    assert all(item.text and item.basis for item in items)


@pytest.mark.parametrize(
    ("facts", "section", "expected", "absent"),
    [
        # weight: BMI with one decimal, 5 % of the weight, the weight at BMI 24
        (
            full_htn(),
            Section.WEIGHT,
            ["体质指数27.3", "超重", "6个月内减重5%", "约3.9公斤", "69.4公斤以下", "腰围95厘米", "90厘米"],
            [],
        ),
        (
            replace(bare(DM, male=False), height_cm=165, weight_kg=86, waist_cm=84),
            Section.WEIGHT,
            ["体质指数31.6", "肥胖", "约4.3公斤", "65.3公斤以下", "腰围84厘米", "小于85厘米"],
            ["中心型肥胖标准"],
        ),
        (
            replace(bare(male=False), height_cm=158, weight_kg=52, waist_cm=86.0),
            Section.WEIGHT,
            ["体质指数20.8", "正常范围", "腰围86厘米", "85厘米的中心型肥胖"],
            ["减重"],
        ),
        (
            replace(bare(DM), height_cm=160, weight_kg=45),
            Section.WEIGHT,
            ["体质指数17.6", "体重过低", "血糖控制", "测量腰围"],
            ["减重"],
        ),
        (replace(bare(), weight_kg=70.5), Section.WEIGHT, ["体重70.5公斤", "缺少身高", "测量身高"], ["体质指数7"]),
        (replace(bare(), height_cm=170), Section.WEIGHT, ["缺少体重", "测量体重"], ["体质指数2"]),
        # salt: 5 g, by the BPHS level
        (full_htn(), Section.SALT, ["偏咸", "不超过5克", "限盐勺", "降低血压"], []),
        (replace(bare(DM), salt="light"), Section.SALT, ["清淡", "不超过5克"], ["降低血压"]),
        (replace(bare(), diet="salty"), Section.SALT, ["偏咸", "不超过5克"], []),
        # diet
        (full_htn(), Section.DIET, ["荤食为主", "300克"], ["主食总量"]),
        (replace(bare(DM), diet="sweet"), Section.DIET, ["甜食", "血糖明显升高", "主食总量"], []),
        # exercise: the minutes short of 150, resistance training for diabetes, a hold above 180/110
        (full_htn(), Section.EXERCISE, ["每周运动约60分钟", "还差90分钟", "150分钟", "5～7天"], ["抗阻"]),
        (replace(bare(DM), exercise_minutes_per_week=200), Section.EXERCISE, ["约200分钟", "已达到", "2～3次抗阻"], []),
        (replace(bare(), exercise="never"), Section.EXERCISE, ["不运动", "10分钟快走"], []),
        (replace(bare(), sbp=186, dbp=112), Section.EXERCISE, ["186/112 mmHg", "暂停中等及以上强度"], []),
        # smoking
        (full_htn(), Section.SMOKING, ["每天吸烟约10支", "戒烟门诊", "12320"], ["糖尿病并发症"]),
        (replace(bare(DM), smoking="current"), Section.SMOKING, ["目前吸烟", "糖尿病并发症", "12320"], ["支。"]),
        (replace(bare(), smoking="former"), Section.SMOKING, ["已经戒烟"], ["12320"]),
        # alcohol: limits by sex, the patient's grams
        (full_htn(), Section.ALCOHOL, ["约40克酒精", "男性每天25克", "建议戒酒", "啤酒750毫升"], []),
        (
            replace(bare(DM, male=False), drinking="occasional"),
            Section.ALCOHOL,
            ["偶尔饮酒", "女性每天酒精不超过15克", "低血糖"],
            [],
        ),
        (replace(bare(DM), drinking="never"), Section.ALCOHOL, ["不饮酒，请继续保持"], ["低血糖"]),
        (replace(bare(), alcohol_g_per_day=12.5), Section.ALCOHOL, ["约12.5克", "未超过上限"], []),
        # adherence: the medicines named, uncontrolled BP, risk tier
        (full_htn(), Section.ADHERENCE, ["氨氯地平片", "规律服药", "血压仍未达标", "高危"], ["血糖"]),
        (
            replace(bare(BOTH), adherence=Adherence.INTERMITTENT, medications=("二甲双胍片", "缬沙坦胶囊")),
            Section.ADHERENCE,
            ["二甲双胍片、缬沙坦胶囊", "间断服药", "血压和血糖波动", "药盒"],
            [],
        ),
        (replace(bare(), adherence=Adherence.NONE), Section.ADHERENCE, ["未服药", "医生评估"], ["上述药物"]),
        # monitoring: 722 when not controlled, 1–2 days a week when controlled, glucose frequency by control
        (
            full_htn(),
            Section.MONITORING,
            ["146/92 mmHg", "138/86 mmHg", "未达到控制目标", "“722”", "连续7天", "电子血压计按上述"],
            ["血糖"],
        ),
        (
            replace(bare(), sbp=128, dbp=76),
            Section.MONITORING,
            ["128/76 mmHg", "已达到控制目标", "1～2天", "上臂式电子血压计"],
            ["722"],
        ),
        # ≥ 65 years: the BPHS target is 150/90
        (replace(bare(age=70), sbp=145, dbp=85), Section.MONITORING, ["145/85 mmHg", "已达到控制目标"], ["722"]),
        (replace(bare(age=60), sbp=145, dbp=85), Section.MONITORING, ["<140/90 mmHg", "722"], ["已达到"]),
        (
            replace(bare(), sbp=130, dbp=80, home_bp_mean=(137, 84)),
            Section.MONITORING,
            ["137/84 mmHg", "未达到控制目标", "722"],
            [],
        ),
        (
            replace(bare(DM), fasting_glucose=8.24, hba1c=7.6, has_glucose_device=True),
            Section.MONITORING,
            ["空腹血糖8.2 mmol/L", "糖化血红蛋白7.6%", "至少4天", "您家中的血糖仪"],
            ["血压"],
        ),
        (
            replace(bare(DM), fasting_glucose=6.1),
            Section.MONITORING,
            ["6.1 mmol/L", "已达到控制目标", "2～4次", "配备一台血糖仪"],
            ["至少4天"],
        ),
        (replace(bare(DM), fasting_glucose=3.5), Section.MONITORING, ["3.5 mmol/L", "低血糖", "紧急"], ["已达到"]),
        (replace(bare(DM), fasting_glucose=17.2), Section.MONITORING, ["17.2 mmol/L", "紧急", "至少4天"], []),
        (replace(bare(), sbp=186, dbp=112), Section.MONITORING, ["186/112 mmHg", "紧急", "722"], []),
        (replace(bare(BOTH), sbp=128, dbp=76), Section.MONITORING, ["130/80 mmHg", "缺少血糖数据"], []),
    ],
)
def test_key_figures(facts: PatientFacts, section: Section, expected: list[str], absent: list[str]) -> None:
    text = text_of(facts, section)
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    for fragment in absent:
        assert fragment not in text, f"{fragment!r} in {text!r}"


# Every figure a prescription may state without patient data: a guideline figure (see the module's sources).
GUIDELINE_FIGURES = {
    "1", "2", "3", "4", "5", "6", "7", "10", "15", "18.5", "20", "23.9", "25", "30", "38", "50", "75", "80", "85",
    "90", "130", "135", "150", "200", "250", "300", "350", "450", "722", "750", "12320",
}  # fmt: skip


@pytest.mark.parametrize("diseases", [HTN, DM, BOTH])
@pytest.mark.parametrize(("age", "male"), [(50, True), (72, False)])
def test_nothing_invented_when_data_is_missing(diseases: frozenset[Disease], age: int, male: bool) -> None:
    for item in generate(bare(diseases, age=age, male=male)):
        figures = set(re.findall(r"\d+(?:\.\d+)?", item.text))
        assert figures <= GUIDELINE_FIGURES, (item.section, figures - GUIDELINE_FIGURES)
        assert re.search("未记录|缺少", item.basis), item
        assert "下次随访" in item.text, item
        assert "您目前体质指数" not in item.text and "最近一次" not in item.text


def test_patient_figures_come_only_from_the_patient() -> None:
    # Change one datum: only the figure derived from it changes.
    a = {item.section: item.text for item in generate(full_htn())}
    b = {item.section: item.text for item in generate(replace(full_htn(), weight_kg=88.0))}
    assert {s for s in Section if a[s] != b[s]} == {Section.WEIGHT}
    assert "体质指数30.4" in b[Section.WEIGHT] and "约4.4公斤" in b[Section.WEIGHT]
