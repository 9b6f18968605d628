"""Epidemiological inputs of the simulator, each with its source. Pure data."""

from __future__ import annotations

from typing import Final

# Hypertension prevalence by age band, China Hypertension Survey 2012–2015 (Wang Z et al.,
# Circulation 2018;137:2344): crude adult prevalence 27.9 %. The simulator scales the bands so the
# adults of the district reach HYPERTENSION_TARGET.
HYPERTENSION_BY_AGE: Final = ((18, 0.04), (25, 0.06), (35, 0.15), (45, 0.29), (55, 0.44), (65, 0.55), (75, 0.60))
HYPERTENSION_TARGET: Final = 0.27

# Diabetes prevalence by age band (Li Y et al., BMJ 2020;369:m997: 12.8 % of adults, ADA criteria).
DIABETES_BY_AGE: Final = ((18, 0.02), (30, 0.05), (40, 0.10), (50, 0.17), (60, 0.24), (70, 0.25))
DIABETES_TARGET: Final = 0.11

# Share of patients whose blood pressure / glucose is controlled (China PEACE and CHS report
# control among treated patients of roughly a third to a half; the BPHS-managed share is higher).
BP_CONTROLLED_SHARE: Final = 0.55
GLUCOSE_CONTROLLED_SHARE: Final = 0.50

# Other chronic conditions on the problem list: (ICD-10, Chinese name, minimum age, prevalence).
OTHER_CONDITIONS: Final = (
    ("I25.1", "动脉粥样硬化性心脏病", 60, 0.06),
    ("I25.1", "动脉粥样硬化性心脏病", 45, 0.015),
    ("I63.9", "脑梗死", 60, 0.03),
    ("J44.9", "慢性阻塞性肺疾病", 60, 0.05),
    ("J44.9", "慢性阻塞性肺疾病", 40, 0.012),
)
# Pregnant at a given moment: births ~6.3 per 1000 residents a year (Zhejiang 2022) × 40/52 weeks,
# concentrated in women aged 20–44.
PREGNANT_SHARE_WOMEN_20_44: Final = 0.026

# Outpatient visits a year by age (a fraction of China's ~6 visits a year per person, since the
# simulated history keeps only visits that reach the regional platform with structured data).
OUTPATIENT_VISITS_BY_AGE: Final = ((0, 2.5), (7, 1.0), (18, 0.8), (45, 1.4), (65, 2.4))

# Annual physical examination uptake (BPHS elderly health management, district reports 60–75 %).
EXAM_UPTAKE_ELDERLY: Final = 0.70
EXAM_UPTAKE_CHRONIC: Final = 0.50
EXAM_UPTAKE_OTHER_ADULTS: Final = 0.08

# Chronic follow-ups: four a year (BPHS), each done with this probability.
FOLLOWUP_DONE: Final = 0.85

HYPERTENSION_DRUGS: Final = (  # ATC, name, dose, frequency, share
    ("C08CA01", "苯磺酸氨氯地平片", "5mg", "qd", 0.40),
    ("C08CA05", "硝苯地平控释片", "30mg", "qd", 0.15),
    ("C09CA03", "缬沙坦胶囊", "80mg", "qd", 0.15),
    ("C09CA04", "厄贝沙坦片", "150mg", "qd", 0.10),
    ("C09CA01", "氯沙坦钾片", "50mg", "qd", 0.10),
    ("C03AA03", "氢氯噻嗪片", "12.5mg", "qd", 0.05),
    ("C07AB02", "琥珀酸美托洛尔缓释片", "47.5mg", "qd", 0.05),
)
DIABETES_DRUGS: Final = (
    ("A10BA02", "盐酸二甲双胍片", "0.5g", "tid", 0.60),
    ("A10BF01", "阿卡波糖片", "50mg", "tid", 0.15),
    ("A10BB09", "格列齐特缓释片", "30mg", "qd", 0.10),
    ("A10AE04", "甘精胰岛素注射液", "10U", "qn", 0.10),
    ("A10BH01", "磷酸西格列汀片", "100mg", "qd", 0.05),
)

OUTPATIENT_REASONS: Final = (  # ICD-10, Chinese name, weight for children, adults, elderly
    ("J06.9", "急性上呼吸道感染", 0.50, 0.25, 0.18),
    ("J20.9", "急性支气管炎", 0.15, 0.08, 0.10),
    ("A09", "感染性腹泻", 0.10, 0.05, 0.04),
    ("K29.7", "胃炎", 0.01, 0.12, 0.10),
    ("M54.5", "腰痛", 0.00, 0.12, 0.12),
    ("R51", "头痛", 0.03, 0.06, 0.04),
    ("H10.9", "结膜炎", 0.05, 0.03, 0.03),
    ("L30.9", "皮炎", 0.10, 0.07, 0.05),
    ("N39.0", "泌尿道感染", 0.01, 0.05, 0.06),
    ("M17.9", "膝关节病", 0.00, 0.04, 0.12),
    ("K02.9", "龋病", 0.05, 0.03, 0.02),
    ("Z00.0", "一般医学检查", 0.00, 0.10, 0.14),
)
FEVER_REASONS: Final = frozenset({"J06.9", "J20.9", "A09"})
