"""The detector settings a district starts with: China's cluster rules, CIDARS's fixed threshold
and moving percentile, EARS, Farrington flexible, CUSUM and the space–time scan, each with its
source. The data migration ``0003_surveillance_defaults`` inserts ``DEFAULTS_V1``; later changes go
in a new constant and a new migration, so that an old migration keeps doing what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from healthbrain.surveillance.definitions import (
    DISEASES,
    EMERGENCY_REPORT_HOURS,
    FIRST_RESPONSE_HOURS,
    FIXED_THRESHOLD_DISEASES,
    SCHOOL_CLUSTER_REPORT_HOURS,
)


@dataclass(frozen=True)
class Default:
    code: str
    name_zh: str
    name_en: str
    signal: str
    place_kind: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    grade: str = "yellow"
    interval: str = "day"
    response_hours: float = FIRST_RESPONSE_HOURS
    report_hours: float | None = None
    source: str = ""


_SCHOOL = "WS/T 772-2020; 学校和托幼机构传染病疫情报告工作规范: 同一班级1天内3例或连续3天内5例及以上症状相似病例，24小时内报告"
_WEEK = "学校和托幼机构传染病疫情报告工作规范: 一周内同一学校发生10例及以上同种传染病（腮腺炎、猩红热、水痘），20例感染性腹泻或1例死亡为突发事件"
_ILI = "全国流感监测方案: 同一学校一周内10例及以上流感样病例报告县疾控；30例以上或5例住院或2例死亡2小时内报告"
_HFMD = "手足口病聚集性和暴发疫情处置工作规范: 一周内同一托幼机构或学校5–9例为聚集，≥2例同班为聚集，≥10例为暴发"
_HUZHOU = "湖州市2023年学校传染病聚集性疫情预警标准 (shared/reference/surveillance.md)"
_CIDARS = "CIDARS (Yang W et al., WPSAR 2011; BMC Public Health 2017 s12889-017-4488-0)"
_EARS = "CDC EARS C1/C2/C3 (Hutwagner et al. 2003); R surveillance::earsC"
_FARRINGTON = "Noufaily et al., Stat Med 2013; R surveillance::farringtonFlexible"
_SCAN = "Kulldorff et al., PLoS Med 2005 (space–time permutation scan)"


def _defaults() -> list[Default]:
    out: list[Default] = []
    for syndrome, zh, en in (
        ("respiratory", "发热/呼吸道", "fever/respiratory"),
        ("gastrointestinal", "胃肠道", "gastrointestinal"),
        ("rash", "皮疹", "rash"),
    ):
        out.append(
            Default(
                f"school.class.{syndrome}.1d3",
                f"班级1天内≥3例{zh}症状缺课",
                f"Class: ≥ 3 {en} absences in 1 day",
                f"absence.{syndrome}",
                "class",
                "window",
                {"days": 1, "min_count": 3},
                "yellow",
                report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
                source=_SCHOOL,
            )
        )
        out.append(
            Default(
                f"school.class.{syndrome}.3d5",
                f"班级3天内≥5例{zh}症状缺课",
                f"Class: ≥ 5 {en} absences in 3 days",
                f"absence.{syndrome}",
                "class",
                "window",
                {"days": 3, "min_count": 5},
                "yellow",
                report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
                source=_SCHOOL,
            )
        )
    out += [
        Default(
            "school.ili.week10",
            "学校一周内≥10例发热缺课（流感样病例）",
            "School: ≥ 10 absences with fever in a week (ILI)",
            "absence.fever",
            "school",
            "window",
            {"days": 5, "min_count": 10},
            "yellow",
            report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
            source=_ILI,
        ),
        Default(
            "school.ili.week30",
            "学校一周内≥30例发热缺课（流感样病例）",
            "School: ≥ 30 absences with fever in a week (ILI)",
            "absence.fever",
            "school",
            "window",
            {"days": 5, "min_count": 30},
            "red",
            response_hours=EMERGENCY_REPORT_HOURS,
            report_hours=EMERGENCY_REPORT_HOURS,
            source=_ILI,
        ),
        Default(
            "school.gi.week10",
            "学校一周内≥10例胃肠道症状缺课",
            "School: ≥ 10 gastrointestinal absences in a week",
            "absence.gastrointestinal",
            "school",
            "window",
            {"days": 5, "min_count": 10},
            "orange",
            report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
            source=_HUZHOU,
        ),
        Default(
            "school.gi.week20",
            "学校一周内≥20例胃肠道症状缺课",
            "School: ≥ 20 gastrointestinal absences in a week",
            "absence.gastrointestinal",
            "school",
            "window",
            {"days": 5, "min_count": 20},
            "red",
            response_hours=EMERGENCY_REPORT_HOURS,
            report_hours=EMERGENCY_REPORT_HOURS,
            source=_WEEK,
        ),
        Default(
            "school.absence.ears",
            "学校因病缺课异常升高（EARS C2）",
            "School: absence above its recent level (EARS C2)",
            "absence.all",
            "school",
            "ears-c2",
            {"alpha": 0.001, "baseline": 7, "min_sigma": 1.0},
            "blue",
            source=_EARS + "; σ ≥ 1 pupil so that a school with no absences all week does not alarm on one",
        ),
    ]
    for disease, zh, en in (
        ("mumps", "流行性腮腺炎", "mumps"),
        ("scarlet_fever", "猩红热", "scarlet fever"),
        ("varicella", "水痘", "varicella"),
    ):
        out.append(
            Default(
                f"school.{disease}.week10",
                f"学校一周内≥10例{zh}",
                f"School: ≥ 10 {en} cases in a week",
                f"case.{disease}",
                "school",
                "window",
                {"days": 7, "min_count": 10},
                "orange",
                report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
                source=_WEEK,
            )
        )
        out.append(
            Default(
                f"school.{disease}.week5",
                f"学校一周内≥5例{zh}",
                f"School: ≥ 5 {en} cases in a week",
                f"case.{disease}",
                "school",
                "window",
                {"days": 7, "min_count": 5},
                "yellow",
                report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
                source=_HUZHOU,
            )
        )
    for disease, zh in (("infectious_diarrhoea", "感染性腹泻"), ("norovirus", "诺如病毒感染")):
        out.append(
            Default(
                f"school.{disease}.week20",
                f"学校一周内≥20例{zh}",
                f"School: ≥ 20 cases of {DISEASES[disease].name_en.lower()} in a week",
                f"case.{disease}",
                "school",
                "window",
                {"days": 7, "min_count": 20},
                "red",
                response_hours=EMERGENCY_REPORT_HOURS,
                report_hours=EMERGENCY_REPORT_HOURS,
                source=_WEEK,
            )
        )
    out += [
        Default(
            "school.norovirus.week10",
            "学校7天内≥10例诺如病毒感染",
            "School: ≥ 10 norovirus cases in 7 days",
            "case.norovirus",
            "school",
            "window",
            {"days": 7, "min_count": 10},
            "orange",
            report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
            source=_HUZHOU,
        ),
        Default(
            "hfmd.class.2",
            "同班一周内≥2例手足口病",
            "Class: ≥ 2 HFMD cases in a week",
            "case.hfmd",
            "class",
            "window",
            {"days": 7, "min_count": 2},
            "yellow",
            report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
            source=_HFMD,
        ),
        Default(
            "hfmd.school.5",
            "托幼机构/学校一周内≥5例手足口病（聚集）",
            "School: ≥ 5 HFMD cases in a week (cluster)",
            "case.hfmd",
            "school",
            "window",
            {"days": 7, "min_count": 5},
            "yellow",
            report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
            source=_HFMD,
        ),
        Default(
            "hfmd.school.10",
            "托幼机构/学校一周内≥10例手足口病（暴发）",
            "School: ≥ 10 HFMD cases in a week (outbreak)",
            "case.hfmd",
            "school",
            "window",
            {"days": 7, "min_count": 10},
            "orange",
            report_hours=SCHOOL_CLUSTER_REPORT_HOURS,
            source=_HFMD,
        ),
        Default(
            "community.norovirus.7d10",
            "社区7天内≥10例诺如病毒感染",
            "Community: ≥ 10 norovirus cases in 7 days",
            "case.norovirus",
            "community",
            "window",
            {"days": 7, "min_count": 10},
            "orange",
            source=_HUZHOU,
        ),
        Default(
            "community.dysentery.3d10",
            "社区3天内≥10例痢疾",
            "Community: ≥ 10 dysentery cases in 3 days",
            "case.dysentery",
            "community",
            "window",
            {"days": 3, "min_count": 10},
            "orange",
            source=_HUZHOU,
        ),
        Default(
            "town.measles.10d2",
            "街道/乡镇10天内≥2例麻疹",
            "Town: ≥ 2 measles cases in 10 days",
            "case.measles",
            "town",
            "window",
            {"days": 10, "min_count": 2},
            "orange",
            source=_HUZHOU,
        ),
    ]
    for disease, zh, en in (
        ("mumps", "流行性腮腺炎", "mumps"),
        ("varicella", "水痘", "varicella"),
        ("rubella", "风疹", "rubella"),
    ):
        out.append(
            Default(
                f"community.{disease}.7d5",
                f"社区7天内≥5例{zh}",
                f"Community: ≥ 5 {en} cases in 7 days",
                f"case.{disease}",
                "community",
                "window",
                {"days": 7, "min_count": 5},
                "yellow",
                source=_HUZHOU,
            )
        )
    for disease in FIXED_THRESHOLD_DISEASES:
        out.append(
            Default(
                f"fixed.{disease}",
                f"单病例预警：{DISEASES[disease].name_zh}",
                f"One case is a signal: {DISEASES[disease].name_en}",
                f"case.{disease}",
                "district",
                "fixed",
                {"threshold": 1},
                "red",
                response_hours=EMERGENCY_REPORT_HOURS,
                report_hours=EMERGENCY_REPORT_HOURS,
                source=_CIDARS,
            )
        )
    for disease, percentile in (
        ("influenza", 75),
        ("hfmd", 75),
        ("mumps", 80),
        ("scarlet_fever", 80),
        ("varicella", 80),
        ("infectious_diarrhoea", 80),
    ):
        out.append(
            Default(
                f"cidars.{disease}",
                f"移动百分位数法（P{percentile}）：{DISEASES[disease].name_zh}",
                f"Moving percentile (P{percentile}): {DISEASES[disease].name_en}",
                f"case.{disease}",
                "district",
                "percentile",
                {"percentile": percentile, "window": 7, "b": 3, "w": 14},
                "blue",
                source=_CIDARS + "; CIDARS works per county, which a district is",
            )
        )
    for disease in ("influenza", "hfmd", "infectious_diarrhoea", "varicella"):
        out.append(
            Default(
                f"farrington.{disease}",
                f"Farrington 改进法（按周）：{DISEASES[disease].name_zh}",
                f"Farrington flexible (weekly): {DISEASES[disease].name_en}",
                f"case.{disease}",
                "district",
                "farrington-flexible",
                {"alpha": 0.01},
                "yellow",
                interval="week",
                source=_FARRINGTON,
            )
        )
    out += [
        Default(
            "fever_clinic.ili.ears",
            "发热门诊流感样病例异常升高（EARS C3）",
            "Fever clinics: ILI above recent level (EARS C3)",
            "fever_clinic.ili",
            "district",
            "ears-c3",
            {"alpha": 0.025},
            "blue",
            source=_EARS,
        ),
        Default(
            "fever_clinic.visits.ears",
            "医院发热门诊就诊异常升高（EARS C2）",
            "Fever clinic visits above recent level (EARS C2)",
            "fever_clinic.visits",
            "institution",
            "ears-c2",
            {"alpha": 0.001, "min_sigma": 1.0},
            "blue",
            source=_EARS + "; σ ≥ 1 visit, for small clinics",
        ),
        Default(
            "pharmacy.antipyretic.ears",
            "药店退热药销售异常升高（EARS C3）",
            "Pharmacies: antipyretic sales above recent level (EARS C3)",
            "pharmacy.antipyretic",
            "district",
            "ears-c3",
            {"alpha": 0.025},
            "blue",
            source=_EARS,
        ),
        Default(
            "pharmacy.antidiarrhoeal.ears",
            "药店止泻药销售异常升高（EARS C3）",
            "Pharmacies: antidiarrhoeal sales above recent level (EARS C3)",
            "pharmacy.antidiarrhoeal",
            "district",
            "ears-c3",
            {"alpha": 0.025},
            "blue",
            source=_EARS,
        ),
        Default(
            "lab.influenza_a.cusum",
            "甲流阳性数持续升高（CUSUM，按周）",
            "Influenza A positives rising (CUSUM, weekly)",
            "lab.influenza_a",
            "district",
            "cusum",
            {},
            "blue",
            interval="week",
            source="R surveillance::cusum (k = 1.04, h = 2.26)",
        ),
        Default(
            "scan.hfmd",
            "手足口病时空聚集（时空重排扫描）",
            "HFMD space–time cluster (permutation scan)",
            "case.hfmd",
            "community",
            "scan",
            {},
            "yellow",
            source=_SCAN,
        ),
        Default(
            "scan.infectious_diarrhoea",
            "感染性腹泻时空聚集（时空重排扫描）",
            "Infectious diarrhoea space–time cluster (permutation scan)",
            "case.infectious_diarrhoea",
            "community",
            "scan",
            {},
            "yellow",
            source=_SCAN,
        ),
        Default(
            "scan.influenza",
            "流感时空聚集（时空重排扫描）",
            "Influenza space–time cluster (permutation scan)",
            "case.influenza",
            "community",
            "scan",
            {},
            "blue",
            source=_SCAN,
        ),
    ]
    return out


DEFAULTS_V1: Final = tuple(_defaults())
