"""Epidemiological definitions of the early-warning system, defined once with their sources.

Diseases follow the notifiable list of the Law of the PRC on the Prevention and Control of
Infectious Diseases (classes A, B, C as amended through 2023) with ICD-10 codes; varicella and
norovirus are not on the national list but are reported and cluster-managed by Zhejiang's and
most cities' CDCs (Huzhou 2023 list, ``shared/reference/surveillance.md``). School absence
symptoms follow WS/T 772-2020 (morning/afternoon checks, absence due to illness by cause).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class DiseaseClass(StrEnum):
    A = "A"  # 甲类
    B = "B"  # 乙类
    C = "C"  # 丙类
    OTHER = "other"  # 其他需报告/聚集性疫情管理的传染病


@dataclass(frozen=True, slots=True)
class Disease:
    code: str
    name_zh: str
    name_en: str
    klass: DiseaseClass
    icd10: str
    syndrome: str  # the symptom group a school absence with this diagnosis counts under


_A, _B, _C, _O = DiseaseClass.A, DiseaseClass.B, DiseaseClass.C, DiseaseClass.OTHER
DISEASES: Final[dict[str, Disease]] = {
    d.code: d
    for d in (
        Disease("plague", "鼠疫", "Plague", _A, "A20", "other"),
        Disease("cholera", "霍乱", "Cholera", _A, "A00", "gastrointestinal"),
        Disease("sars", "传染性非典型肺炎", "SARS", _B, "U04", "respiratory"),
        Disease("covid19", "新型冠状病毒感染", "COVID-19", _B, "U07.1", "respiratory"),
        Disease("hiv", "艾滋病", "HIV/AIDS", _B, "B24", "other"),
        Disease("hepatitis_a", "甲型病毒性肝炎", "Hepatitis A", _B, "B15", "other"),
        Disease("hepatitis_b", "乙型病毒性肝炎", "Hepatitis B", _B, "B16", "other"),
        Disease("hepatitis_e", "戊型病毒性肝炎", "Hepatitis E", _B, "B17.2", "other"),
        Disease("polio", "脊髓灰质炎", "Poliomyelitis", _B, "A80", "other"),
        Disease("avian_influenza", "人感染高致病性禽流感", "Human avian influenza", _B, "J09", "respiratory"),
        Disease("measles", "麻疹", "Measles", _B, "B05", "rash"),
        Disease("hfrs", "流行性出血热", "Haemorrhagic fever with renal syndrome", _B, "A98.5", "other"),
        Disease("rabies", "狂犬病", "Rabies", _B, "A82", "other"),
        Disease("japanese_encephalitis", "流行性乙型脑炎", "Japanese encephalitis", _B, "A83.0", "other"),
        Disease("dengue", "登革热", "Dengue", _B, "A90", "other"),
        Disease("anthrax", "炭疽", "Anthrax", _B, "A22", "other"),
        Disease("dysentery", "细菌性和阿米巴性痢疾", "Dysentery", _B, "A03", "gastrointestinal"),
        Disease("tuberculosis", "肺结核", "Pulmonary tuberculosis", _B, "A15", "respiratory"),
        Disease("typhoid", "伤寒和副伤寒", "Typhoid and paratyphoid", _B, "A01", "gastrointestinal"),
        Disease("meningococcal", "流行性脑脊髓膜炎", "Meningococcal meningitis", _B, "A39", "other"),
        Disease("pertussis", "百日咳", "Pertussis", _B, "A37", "respiratory"),
        Disease("diphtheria", "白喉", "Diphtheria", _B, "A36", "respiratory"),
        Disease("scarlet_fever", "猩红热", "Scarlet fever", _B, "A38", "rash"),
        Disease("brucellosis", "布鲁氏菌病", "Brucellosis", _B, "A23", "other"),
        Disease("syphilis", "梅毒", "Syphilis", _B, "A53", "other"),
        Disease("malaria", "疟疾", "Malaria", _B, "B54", "other"),
        Disease("mpox", "猴痘", "Mpox", _B, "B04", "rash"),
        Disease("influenza", "流行性感冒", "Influenza", _C, "J11", "respiratory"),
        Disease("mumps", "流行性腮腺炎", "Mumps", _C, "B26", "parotitis"),
        Disease("rubella", "风疹", "Rubella", _C, "B06", "rash"),
        Disease(
            "haemorrhagic_conjunctivitis",
            "急性出血性结膜炎",
            "Acute haemorrhagic conjunctivitis",
            _C,
            "B30.3",
            "conjunctivitis",
        ),
        Disease(
            "infectious_diarrhoea", "其它感染性腹泻病", "Other infectious diarrhoea", _C, "A09", "gastrointestinal"
        ),
        Disease("hfmd", "手足口病", "Hand, foot and mouth disease", _C, "B08.4", "rash"),
        Disease("varicella", "水痘", "Varicella", _O, "B01", "rash"),
        Disease("norovirus", "诺如病毒感染", "Norovirus infection", _O, "A08.1", "gastrointestinal"),
        Disease("unexplained_pneumonia", "不明原因肺炎", "Pneumonia of unknown cause", _O, "J18.9", "respiratory"),
    )
}

# One case is a signal (CIDARS fixed-threshold method; Yang W et al., Western Pac Surveill Response
# J 2011;2(1):10-15: plague, cholera, SARS, human avian influenza, poliomyelitis, pulmonary
# anthrax, diphtheria, filariasis and pneumonia of unknown cause).
FIXED_THRESHOLD_DISEASES: Final = (
    "plague",
    "cholera",
    "sars",
    "avian_influenza",
    "polio",
    "anthrax",
    "diphtheria",
    "unexplained_pneumonia",
)

CASE_CLASSIFICATIONS: Final = ("suspected", "clinical", "confirmed", "carrier")  # 疑似/临床诊断/确诊/病原携带

# School absence due to illness (因病缺课): the symptom a pupil is registered with (WS/T 772-2020),
# and the syndrome group that "similar symptoms" of the cluster rules means.
SYMPTOMS: Final[dict[str, tuple[str, str, str]]] = {
    # code: (Chinese, English, syndrome group)
    "fever": ("发热", "Fever", "respiratory"),
    "cough": ("咳嗽", "Cough", "respiratory"),
    "sore_throat": ("咽痛", "Sore throat", "respiratory"),
    "headache": ("头痛", "Headache", "other"),
    "vomiting": ("呕吐", "Vomiting", "gastrointestinal"),
    "diarrhoea": ("腹泻", "Diarrhoea", "gastrointestinal"),
    "abdominal_pain": ("腹痛", "Abdominal pain", "gastrointestinal"),
    "rash": ("皮疹", "Rash", "rash"),
    "conjunctivitis": ("红眼", "Red eyes", "conjunctivitis"),
    "jaundice": ("黄疸", "Jaundice", "other"),
    "parotid_swelling": ("腮腺肿大", "Parotid swelling", "parotitis"),
    "other": ("其他", "Other", "other"),
}
SYNDROMES: Final[dict[str, tuple[str, str]]] = {
    "respiratory": ("发热/呼吸道症状", "Fever / respiratory"),
    "gastrointestinal": ("胃肠道症状", "Gastrointestinal"),
    "rash": ("皮疹", "Rash"),
    "parotitis": ("腮腺肿大", "Parotitis"),
    "conjunctivitis": ("红眼", "Conjunctivitis"),
    "other": ("其他", "Other"),
}


def absence_syndrome(cause: str) -> str:
    """The syndrome group of an absence cause (a symptom code or a diagnosed disease code)."""
    if cause in SYMPTOMS:
        return SYMPTOMS[cause][2]
    return DISEASES[cause].syndrome


ABSENCE_CAUSES: Final = frozenset(SYMPTOMS) | frozenset(DISEASES)
FEVER_CAUSES: Final = frozenset({"fever", "influenza"})  # also counted as absence.fever

FEVER_CLINIC_CATEGORIES: Final[dict[str, tuple[str, str]]] = {
    "visits": ("发热门诊就诊", "Fever-clinic visits"),
    "ili": ("流感样病例", "Influenza-like illness"),
    "sari": ("严重急性呼吸道感染", "Severe acute respiratory infection"),
}
PHARMACY_CATEGORIES: Final[dict[str, tuple[str, str]]] = {
    "antipyretic": ("退热药", "Antipyretics"),
    "cough_cold": ("止咳感冒药", "Cough and cold remedies"),
    "antidiarrhoeal": ("止泻药", "Antidiarrhoeals"),
    "antiviral": ("抗流感病毒药", "Influenza antivirals"),
}
PATHOGENS: Final[dict[str, tuple[str, str]]] = {
    "influenza_a": ("甲型流感病毒", "Influenza A"),
    "influenza_b": ("乙型流感病毒", "Influenza B"),
    "sars_cov_2": ("新型冠状病毒", "SARS-CoV-2"),
    "rsv": ("呼吸道合胞病毒", "RSV"),
    "norovirus": ("诺如病毒", "Norovirus"),
    "rotavirus": ("轮状病毒", "Rotavirus"),
    "enterovirus": ("肠道病毒（EV71/CA16等）", "Enterovirus (EV71, CA16 …)"),
    "mycoplasma": ("肺炎支原体", "Mycoplasma pneumoniae"),
}


class Feed(StrEnum):
    """The sources of the multi-point system (多点触发)."""

    SCHOOL_ABSENCE = "school_absence"  # 学校因病缺课
    FEVER_CLINIC = "fever_clinic"  # 发热门诊
    PHARMACY = "pharmacy"  # 药店销售
    LAB = "lab"  # 实验室检测
    CASE = "case"  # 法定传染病报告卡


class PlaceKind(StrEnum):
    """Where a series is counted."""

    CLASS = "class"  # 班级
    SCHOOL = "school"  # 学校
    INSTITUTION = "institution"  # 医疗机构/药店/实验室
    COMMUNITY = "community"  # 社区/村 (the residence of a case)
    TOWN = "town"  # 街道/乡镇
    DISTRICT = "district"  # 全区


@dataclass(frozen=True, slots=True)
class Signal:
    """A count series definition: which feed, which rows, where it is counted."""

    slug: str
    feed: Feed
    key: str  # the syndrome, category, pathogen or disease the rows are filtered on
    name_zh: str
    name_en: str
    places: tuple[PlaceKind, ...]
    school_days: bool = False  # counted on school days only (no data at weekends and in holidays)

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


_SCHOOL_PLACES = (PlaceKind.CLASS, PlaceKind.SCHOOL, PlaceKind.TOWN, PlaceKind.DISTRICT)
_FACILITY_PLACES = (PlaceKind.INSTITUTION, PlaceKind.TOWN, PlaceKind.DISTRICT)
_CASE_PLACES = (
    PlaceKind.COMMUNITY,
    PlaceKind.TOWN,
    PlaceKind.DISTRICT,
    PlaceKind.SCHOOL,
    PlaceKind.CLASS,
)


def _signals() -> dict[str, Signal]:
    out: list[Signal] = [
        Signal(
            "absence.all",
            Feed.SCHOOL_ABSENCE,
            "*",
            "因病缺课（全部）",
            "Absence due to illness (all)",
            _SCHOOL_PLACES,
            True,
        )
    ]
    out += [
        Signal(f"absence.{k}", Feed.SCHOOL_ABSENCE, k, f"因病缺课·{zh}", f"Absence: {en}", _SCHOOL_PLACES, True)
        for k, (zh, en) in SYNDROMES.items()
    ]
    # Fever itself (发热, and diagnosed influenza): the school ILI rule counts these, not every cough.
    out.append(
        Signal("absence.fever", Feed.SCHOOL_ABSENCE, "fever", "因病缺课·发热", "Absence: Fever", _SCHOOL_PLACES, True)
    )
    out += [
        Signal(f"fever_clinic.{k}", Feed.FEVER_CLINIC, k, zh, en, _FACILITY_PLACES)
        for k, (zh, en) in FEVER_CLINIC_CATEGORIES.items()
    ]
    out += [
        Signal(f"pharmacy.{k}", Feed.PHARMACY, k, f"药店销售·{zh}", f"Pharmacy sales: {en}", _FACILITY_PLACES)
        for k, (zh, en) in PHARMACY_CATEGORIES.items()
    ]
    out += [
        Signal(f"lab.{k}", Feed.LAB, k, f"实验室阳性·{zh}", f"Lab positives: {en}", _FACILITY_PLACES)
        for k, (zh, en) in PATHOGENS.items()
    ]
    out += [Signal(f"case.{d.code}", Feed.CASE, d.code, d.name_zh, d.name_en, _CASE_PLACES) for d in DISEASES.values()]
    return {s.slug: s for s in out}


SIGNALS: Final[dict[str, Signal]] = _signals()

# Alert grades (预警分级), most severe first; Chinese cities grade warnings red / orange / yellow / blue.
GRADES: Final = ("red", "orange", "yellow", "blue")


def grade_rank(grade: str) -> int:
    """0 for red (most severe) … 3 for blue."""
    return GRADES.index(grade)


# Response deadlines (hours), the defaults of issue #3 and the national rules: a first response to
# any signal within 6 h (CIDARS practice: median response 1.1 h; PRODUCT.md target < 6 h); a school
# cluster reported within 24 h; an event at the emergency level reported within 2 h (国家突发公共
# 卫生事件相关信息报告管理工作规范).
FIRST_RESPONSE_HOURS: Final = 6.0
SCHOOL_CLUSTER_REPORT_HOURS: Final = 24.0
EMERGENCY_REPORT_HOURS: Final = 2.0
