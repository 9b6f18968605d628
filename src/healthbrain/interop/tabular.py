"""CSV and Excel files for institutions without FHIR: the column specs of the five kinds of file
(个人基本信息, 就诊记录, 检查检验/测量, 健康体检表, 慢病随访), their Chinese headers (English aliases
accepted), and reading one cell or one row into typed values.

Pure: no database, no I/O. A cell that does not read comes back as a :class:`Problem` naming the
column and a message key, so the service can answer in the uploader's language.

Choices, written down once:
- Dates are read in the forms Chinese Excel users type: 2024-03-05, 2024/3/5, 2024.3.5, 20240305,
  2024年3月5日, and Excel serial numbers (a date cell formatted as "常规" shows 45356).
- Full-width characters (２０２４／３／５, １３５) are read as their ASCII forms (NFKC), except in
  free text (names, addresses, diagnoses), which is kept as typed.
- A number may be followed by its column's own unit ("65kg", "135 mmHg", "6.1mmol/L"); any other
  trailing text is an error rather than a guess (6.5 "mg/dL" in an mmol/L column is not 6.5).
- An ID number stored by Excel as a number has lost its last digits (15 significant digits): such
  a cell is refused with that reason, never "repaired".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache, cached_property, lru_cache
from typing import Any, Final

from healthbrain.chronic.definitions import Symptom
from healthbrain.core.time import SHANGHAI
from healthbrain.people.resident_id import ResidentIdError
from healthbrain.people.resident_id import parse as parse_resident_id
from healthbrain.records import codes as loinc


class Kind(StrEnum):
    RESIDENTS = "residents"  # 个人基本信息
    ENCOUNTERS = "encounters"  # 就诊记录
    OBSERVATIONS = "observations"  # 检查检验/测量
    EXAMS = "exams"  # 健康体检表
    FOLLOWUPS = "followups"  # 慢病随访 (高血压 / 2型糖尿病)


KIND_NAMES: Final[dict[Kind, tuple[str, str]]] = {
    Kind.RESIDENTS: ("个人基本信息", "Residents"),
    Kind.ENCOUNTERS: ("就诊记录", "Encounters"),
    Kind.OBSERVATIONS: ("检查检验/测量", "Observations"),
    Kind.EXAMS: ("健康体检表", "Physical examinations"),
    Kind.FOLLOWUPS: ("慢病随访", "Chronic-disease follow-ups"),
}


class ColumnType(StrEnum):
    TEXT = "text"
    ID_NUMBER = "id_number"  # 居民身份证号, GB 11643
    DIVISION_CODE = "division_code"  # 12-digit statistical division code
    PHONE = "phone"
    DATE = "date"
    DATETIME = "datetime"
    NUMBER = "number"
    INTEGER = "integer"
    BOOL = "bool"
    CODE = "code"  # one value of a code list
    CODES = "codes"  # several values of a code list (头痛头晕、心悸)
    LIST = "list"  # several free-text items (；-separated)


@dataclass(frozen=True)
class Code:
    value: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    name: str
    zh: str
    en: str
    type: ColumnType = ColumnType.TEXT
    required: bool = False
    example: str = ""
    codes: tuple[Code, ...] = ()
    unit: str | None = None  # the unit a number is in (accepted after it)
    unit_aliases: tuple[str, ...] = ()
    max_length: int | None = None
    note_zh: str = ""
    note_en: str = ""

    @cached_property
    def _code_keys(self) -> dict[str, str]:
        """Every way of writing a value, folded → the value (the first code that has it wins)."""
        keys: dict[str, str] = {}
        for c in self.codes:
            for label in (c.value, c.zh, c.en, *c.aliases):
                keys.setdefault(_fold(label), c.value)
        return keys

    @cached_property
    def unit_keys(self) -> frozenset[str]:
        """The column's unit and its aliases, folded (what may follow a number)."""
        return frozenset(_fold(u) for u in (self.unit or "", *self.unit_aliases) if u)

    def code_of(self, label: str) -> str | None:
        return self._code_keys.get(_fold(label))

    def label(self, language: str) -> str:
        return self.zh if language == "zh-CN" else self.en


@dataclass(frozen=True)
class Spec:
    kind: Kind
    columns: tuple[Column, ...]
    # Rules across columns, checked after the cells: ("one_of", a, b) — at least one of them given.
    one_of: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


# --- code lists ------------------------------------------------------------------------------

SEX = (Code("M", "男", "Male", ("1", "m", "男性")), Code("F", "女", "Female", ("2", "f", "女性")))
YES_NO = (
    Code("true", "是", "Yes", ("有", "y", "1", "true", "t", "√")),
    Code("false", "否", "No", ("无", "n", "0", "false", "f", "×")),
)
ENCOUNTER_CLASSES = (
    Code("outpatient", "门诊", "Outpatient"),
    Code("inpatient", "住院", "Inpatient"),
    Code("emergency", "急诊", "Emergency"),
    Code("home", "家庭访视", "Home visit", ("上门", "出诊")),
    Code("followup", "随访", "Follow-up"),
    Code("physical_exam", "体检", "Physical examination", ("健康体检",)),
    Code("phone", "电话", "Phone", ("电话随访",)),
)
RELATIONS = (
    Code("head", "户主", "Head"),
    Code("spouse", "配偶", "Spouse"),
    Code("child", "子女", "Child"),
    Code("parent", "父母", "Parent"),
    Code("grandchild", "孙子女", "Grandchild"),
    Code("grandparent", "祖父母", "Grandparent"),
    Code("sibling", "兄弟姐妹", "Sibling"),
    Code("other", "其他", "Other"),
)
DISABILITIES = (
    Code("visual", "视力残疾", "Visual"),
    Code("hearing", "听力残疾", "Hearing"),
    Code("speech", "言语残疾", "Speech"),
    Code("physical", "肢体残疾", "Physical"),
    Code("intellectual", "智力残疾", "Intellectual"),
    Code("mental", "精神残疾", "Mental"),
    Code("multiple", "多重残疾", "Multiple"),
)
SMOKING = (
    Code("never", "从不吸烟", "Never", ("从不", "不吸烟")),
    Code("former", "已戒烟", "Former", ("戒烟",)),
    Code("current", "吸烟", "Current", ("现在吸烟",)),
)
DRINKING = (
    Code("never", "从不", "Never", ("不饮酒", "从不饮酒")),
    Code("occasional", "偶尔", "Occasional"),
    Code("often", "经常", "Often"),
    Code("daily", "每天", "Daily"),
)
EXERCISE = (
    Code("daily", "每天", "Daily"),
    Code("weekly", "每周一次以上", "Weekly", ("每周",)),
    Code("occasional", "偶尔", "Occasional"),
    Code("never", "不锻炼", "Never", ("从不",)),
)
CONCLUSION = (
    Code("normal", "体检无异常", "Normal", ("正常", "无异常")),
    Code("abnormal", "有异常", "Abnormal", ("异常",)),
)
DISEASES = (
    Code("htn", "高血压", "Hypertension", ("原发性高血压",)),
    Code("t2dm", "2型糖尿病", "Type 2 diabetes", ("糖尿病", "二型糖尿病")),
)
VISIT_METHODS = (
    Code("clinic", "门诊", "Clinic"),
    Code("home", "家庭", "Home", ("家庭访视", "上门")),
    Code("phone", "电话", "Phone"),
)
SYMPTOMS = (
    Code(Symptom.NONE, "无症状", "None", ("无",)),
    Code(Symptom.HEADACHE_DIZZINESS, "头痛头晕", "Headache / dizziness", ("头痛", "头晕")),
    Code(Symptom.NAUSEA_VOMITING, "恶心呕吐", "Nausea / vomiting"),
    Code(Symptom.BLURRED_VISION, "眼花耳鸣", "Blurred vision", ("视物模糊",)),
    Code(Symptom.EYE_PAIN, "眼痛", "Eye pain"),
    Code(Symptom.PALPITATIONS, "心悸", "Palpitations", ("心悸胸闷",)),
    Code(Symptom.CHEST_TIGHTNESS, "胸闷", "Chest tightness"),
    Code(Symptom.ORTHOPNOEA, "呼吸困难不能平卧", "Orthopnoea"),
    Code(Symptom.ALTERED_CONSCIOUSNESS, "意识或行为改变", "Altered consciousness"),
    Code(Symptom.KETOTIC_BREATH, "呼气烂苹果味", "Ketotic breath"),
    Code(Symptom.DEEP_BREATHING, "深大呼吸", "Deep breathing"),
    Code(Symptom.SUDDEN_VISION_LOSS, "视力骤降", "Sudden vision loss"),
    Code(Symptom.POLYURIA_POLYDIPSIA, "多饮多尿", "Polyuria / polydipsia"),
    Code(Symptom.NUMBNESS, "手脚麻木", "Numbness"),
    Code(Symptom.OEDEMA, "下肢浮肿", "Oedema"),
)
SALT = (
    Code("light", "轻", "Light", ("少",)),
    Code("moderate", "中", "Moderate"),
    Code("heavy", "重", "Heavy", ("多",)),
)
ADHERENCE = (
    Code("regular", "规律", "Regular"),
    Code("intermittent", "间断", "Intermittent"),
    Code("none", "不服药", "None"),
)
HYPOGLYCAEMIA = (
    Code("none", "无", "None"),
    Code("occasional", "偶尔", "Occasional"),
    Code("frequent", "频繁", "Frequent"),
)
PULSE = (
    Code("palpable", "触及正常", "Palpable", ("正常",)),
    Code("weak", "减弱", "Weak"),
    Code("absent", "消失", "Absent"),
)
# Observation items by Chinese name, English name or LOINC code (records.codes.LOINC_NAMES).
OBSERVATION_ITEMS = tuple(Code(code, zh, en) for code, (zh, en, _unit) in loinc.LOINC_NAMES.items())

# How a unit may be written after a number, per UCUM unit.
UNIT_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "mm[Hg]": ("mmHg", "毫米汞柱"),
    "/min": ("次/分", "次/分钟", "bpm", "次"),
    "kg": ("公斤", "千克"),
    "cm": ("厘米",),
    "mmol/L": ("mmol/l",),
    "Cel": ("℃", "°C", "度"),
    "kg/m2": ("kg/m²",),
    "umol/L": ("μmol/L", "µmol/L"),
    "%": (),
}

# --- the columns -------------------------------------------------------------------------------

RECORD_NO = Column(
    "record_no",
    "记录编号",
    "Record number",
    max_length=64,
    note_zh="本机构系统中的记录编号（可选）；填写后，同一编号再次上传即为更正",
    note_en="Your system's own record number (optional); sending the same number again corrects the row",
)
ID_NUMBER = Column(
    "id_number",
    "身份证号",
    "ID number",
    ColumnType.ID_NUMBER,
    example="11010519491231002X",
    note_zh="18位居民身份证号（或15位旧号）；单元格请设为文本格式",
    note_en="18-character resident ID (or 15-digit legacy); format the cells as text",
)
MRN = Column(
    "mrn",
    "病案号",
    "MRN",
    max_length=64,
    example="MZ0001",
    note_zh="本机构的病案号/档案号；身份证号与病案号至少填一项",
    note_en="The institution's own record number; give the ID number or the MRN (or both)",
)
NAME_CHECK = Column(
    "name",
    "姓名",
    "Name",
    max_length=64,
    example="张三",
    note_zh="可选；填写时须与档案姓名一致，防止身份证号填错",
    note_en="Optional; when given it must match the record (guards against a mistyped ID)",
)
INSTITUTION_CODE = Column(
    "institution_code",
    "机构代码",
    "Institution code",
    max_length=32,
    note_zh="默认为上传账号所属机构",
    note_en="Defaults to the uploading account's institution",
)
PRACTITIONER_CODE = Column("practitioner_code", "医生编码", "Practitioner code", max_length=32)


def _measure(name: str, zh: str, en: str, unit: str, example: str = "") -> Column:
    shown = {"mm[Hg]": "mmHg", "/min": "次/分"}.get(unit, unit)
    return Column(
        name,
        f"{zh}({shown})",
        f"{en} ({shown})",
        ColumnType.NUMBER,
        example=example,
        unit=unit,
        unit_aliases=(unit, *UNIT_ALIASES.get(unit, ())),
    )


RESIDENTS = Spec(
    Kind.RESIDENTS,
    (
        ID_NUMBER,
        MRN,
        Column("name", "姓名", "Name", required=True, max_length=64, example="张三"),
        Column(
            "sex",
            "性别",
            "Sex",
            ColumnType.CODE,
            codes=SEX,
            example="男",
            note_zh="无身份证号时必填",
            note_en="Required without an ID number",
        ),
        Column(
            "birth_date",
            "出生日期",
            "Birth date",
            ColumnType.DATE,
            example="1949-12-31",
            note_zh="无身份证号时必填",
            note_en="Required without an ID number",
        ),
        Column("phone", "联系电话", "Phone", ColumnType.PHONE, example="13812345678"),
        Column(
            "division_code",
            "区划代码",
            "Division code",
            ColumnType.DIVISION_CODE,
            example="330199001001",
            note_zh="现住址所在社区/村的12位统计用区划代码；或填“所属社区”",
            note_en="12-digit statistical code of the community / village; or fill “Community”",
        ),
        Column(
            "division_name",
            "所属社区",
            "Community",
            max_length=64,
            note_zh="本区内社区/村的名称（无区划代码时）",
            note_en="Name of the community / village in the district (without a code)",
        ),
        Column("address", "现住址", "Address", max_length=256, example="青山社区1幢101"),
        Column("household_code", "家庭户编号", "Household code", max_length=32),
        Column("relation_to_head", "与户主关系", "Relation to head", ColumnType.CODE, codes=RELATIONS),
        Column("disability", "残疾情况", "Disability", ColumnType.CODE, codes=DISABILITIES),
    ),
    one_of=(("id_number", "mrn"), ("division_code", "division_name")),
)

ENCOUNTERS = Spec(
    Kind.ENCOUNTERS,
    (
        RECORD_NO,
        ID_NUMBER,
        MRN,
        NAME_CHECK,
        Column(
            "encounter_class", "就诊类型", "Encounter type", ColumnType.CODE, required=True, codes=ENCOUNTER_CLASSES
        ),
        Column("start_at", "就诊时间", "Start", ColumnType.DATETIME, required=True, example="2024-03-05 09:30"),
        Column("end_at", "结束时间", "End", ColumnType.DATETIME),
        Column("reason_code", "诊断编码", "Diagnosis code", max_length=16, example="I10", note_zh="ICD-10"),
        Column("reason_text", "诊断名称", "Diagnosis", max_length=256, example="原发性高血压"),
        PRACTITIONER_CODE,
        INSTITUTION_CODE,
    ),
    one_of=(("id_number", "mrn"),),
)

OBSERVATIONS = Spec(
    Kind.OBSERVATIONS,
    (
        RECORD_NO,
        ID_NUMBER,
        MRN,
        NAME_CHECK,
        Column(
            "code",
            "项目",
            "Item",
            required=True,
            max_length=64,
            codes=OBSERVATION_ITEMS,
            example="收缩压",
            note_zh="项目名称（见可选值）或任一LOINC编码（如 2160-0）",
            note_en="An item name (see the values) or any LOINC code (e.g. 2160-0)",
        ),
        Column("value", "结果", "Result", required=True, max_length=256, example="135"),
        Column("unit", "单位", "Unit", max_length=16, example="mmHg", note_zh="可不填，默认为项目的标准单位"),
        Column("effective_at", "检查时间", "Time", ColumnType.DATETIME, required=True, example="2024-03-05 09:30"),
        INSTITUTION_CODE,
    ),
    one_of=(("id_number", "mrn"),),
)

EXAMS = Spec(
    Kind.EXAMS,
    (
        RECORD_NO,
        ID_NUMBER,
        MRN,
        NAME_CHECK,
        Column("exam_date", "体检日期", "Exam date", ColumnType.DATE, required=True, example="2024-03-05"),
        _measure("height_cm", "身高", "Height", "cm", "168"),
        _measure("weight_kg", "体重", "Weight", "kg", "65.5"),
        _measure("waist_cm", "腰围", "Waist", "cm", "82"),
        _measure("systolic_bp", "收缩压", "Systolic BP", "mm[Hg]", "132"),
        _measure("diastolic_bp", "舒张压", "Diastolic BP", "mm[Hg]", "84"),
        _measure("heart_rate", "心率", "Heart rate", "/min", "72"),
        _measure("fasting_glucose", "空腹血糖", "Fasting glucose", "mmol/L", "5.6"),
        Column("symptoms", "症状", "Symptoms", max_length=500, example="无症状"),
        Column("smoking", "吸烟情况", "Smoking", ColumnType.CODE, codes=SMOKING, example="从不吸烟"),
        Column("drinking", "饮酒频率", "Drinking", ColumnType.CODE, codes=DRINKING, example="偶尔"),
        Column("exercise", "锻炼频率", "Exercise", ColumnType.CODE, codes=EXERCISE, example="每天"),
        Column("diet", "饮食习惯", "Diet", max_length=32, example="荤素均衡"),
        Column("conclusion", "健康评价", "Conclusion", ColumnType.CODE, codes=CONCLUSION, example="有异常"),
        Column(
            "abnormalities",
            "异常项",
            "Abnormalities",
            ColumnType.LIST,
            example="血压偏高",
            note_zh="多项用；分隔",
            note_en="Separate items with ;",
        ),
        Column(
            "guidance",
            "健康指导",
            "Guidance",
            ColumnType.LIST,
            example="低盐饮食；定期复查",
            note_zh="多项用；分隔",
            note_en="Separate items with ;",
        ),
        PRACTITIONER_CODE,
        INSTITUTION_CODE,
    ),
    one_of=(("id_number", "mrn"),),
)

FOLLOWUPS = Spec(
    Kind.FOLLOWUPS,
    (
        RECORD_NO,
        ID_NUMBER,
        MRN,
        NAME_CHECK,
        Column("disease", "随访病种", "Disease", ColumnType.CODE, required=True, codes=DISEASES, example="高血压"),
        Column("visit_date", "随访日期", "Visit date", ColumnType.DATE, required=True, example="2024-03-05"),
        Column("method", "随访方式", "Method", ColumnType.CODE, codes=VISIT_METHODS, example="门诊"),
        Column(
            "symptoms",
            "症状",
            "Symptoms",
            ColumnType.CODES,
            codes=SYMPTOMS,
            example="无症状",
            note_zh="多项用、分隔",
            note_en="Separate items with 、 or ,",
        ),
        _measure("sbp", "收缩压", "Systolic BP", "mm[Hg]", "138"),
        _measure("dbp", "舒张压", "Diastolic BP", "mm[Hg]", "86"),
        _measure("heart_rate", "心率", "Heart rate", "/min", "76"),
        _measure("weight_kg", "体重", "Weight", "kg", "70"),
        _measure("height_cm", "身高", "Height", "cm", "170"),
        _measure("waist_cm", "腰围", "Waist", "cm", ""),
        _measure("fasting_glucose", "空腹血糖", "Fasting glucose", "mmol/L", ""),
        Column("dorsalis_pedis", "足背动脉搏动", "Dorsalis pedis pulse", ColumnType.CODE, codes=PULSE),
        Column("smoking", "吸烟情况", "Smoking", ColumnType.CODE, codes=SMOKING),
        Column("cigarettes_per_day", "日吸烟量(支)", "Cigarettes per day", ColumnType.INTEGER, unit="支"),
        Column("drinking", "饮酒频率", "Drinking", ColumnType.CODE, codes=DRINKING),
        Column("exercise", "运动频率", "Exercise", ColumnType.CODE, codes=EXERCISE),
        Column("salt", "摄盐情况", "Salt", ColumnType.CODE, codes=SALT, example="轻"),
        Column("adherence", "服药依从性", "Adherence", ColumnType.CODE, codes=ADHERENCE, example="规律"),
        Column("adverse_reaction", "药物不良反应", "Adverse reaction", ColumnType.BOOL, codes=YES_NO, example="无"),
        Column("hypoglycaemia", "低血糖反应", "Hypoglycaemia", ColumnType.CODE, codes=HYPOGLYCAEMIA),
        Column(
            "new_or_worse_complication",
            "新发或加重并发症",
            "New or worse complication",
            ColumnType.BOOL,
            codes=YES_NO,
        ),
        Column(
            "medications",
            "用药情况",
            "Medications",
            ColumnType.LIST,
            example="氨氯地平 5mg 每日一次",
            note_zh="每种药：药名 剂量 用法，多种药用；分隔",
            note_en="Each drug: name dose frequency; separate drugs with ;",
        ),
        Column("referral_to", "转诊机构", "Referred to", max_length=128),
        Column("note", "备注", "Note", max_length=500),
    ),
    one_of=(("id_number", "mrn"),),
)

SPECS: Final[dict[Kind, Spec]] = {s.kind: s for s in (RESIDENTS, ENCOUNTERS, OBSERVATIONS, EXAMS, FOLLOWUPS)}

# The error report's own columns: ignored when a corrected report is uploaded again.
ERRORS_HEADER: Final = "错误原因"
ROW_HEADER: Final = "原行号"
IGNORED_HEADERS: Final = frozenset({ERRORS_HEADER, ROW_HEADER, "错误原因 / errors", "原行号 / row", "errors", "row"})


# --- cells -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a cell (``field``: a column name, or None for the row) does not read: a message key and
    its parameters."""

    field: str | None
    key: str
    params: Mapping[str, Any] = dataclass_field(default_factory=dict)


class CellError(ValueError):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")


def _ascii(value: Any) -> str:
    """A cell as text in its ASCII forms (full-width digits and punctuation folded)."""
    return unicodedata.normalize("NFKC", str(value)).strip()


_EXCEL_EPOCH = date(1899, 12, 30)
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME = re.compile(r"^(\d{1,2})\s*[:时点]\s*(\d{1,2})?\s*(?:[:分]\s*(\d{1,2})?\s*秒?)?\s*分?$")


def excel_serial(value: float) -> datetime:
    """An Excel serial day number (1900 date system, as Chinese Excel saves) as a naive datetime."""
    if not 1 <= value < 2958466:
        raise CellError("tab.cell.serial_range", value=value)
    return datetime.combine(_EXCEL_EPOCH, time()) + timedelta(days=float(value))


def _split_date_time(text: str) -> tuple[str, str]:
    text = text.replace("T", " ")
    # 2024年3月5日14时30分: the date ends at 日
    if "日" in text and not text.endswith("日"):
        head, tail = text.split("日", 1)
        return head + "日", tail.strip()
    parts = text.split(None, 1) or [""]
    return parts[0], parts[1] if len(parts) > 1 else ""


def parse_date(value: Any) -> date:
    """A date as Chinese Excel users type it (see the module's docstring)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise CellError("tab.cell.date", value=value)
    if isinstance(value, int | float):
        return excel_serial(value).date()
    text = _ascii(value)
    day, _rest = _split_date_time(text)
    match = _DATE.match(day) or _COMPACT_DATE.match(day)
    if match is None:
        if re.fullmatch(r"\d{5}(\.\d+)?", text):
            return excel_serial(float(text)).date()
        raise CellError("tab.cell.date", value=text)
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise CellError("tab.cell.date", value=text) from None


def _parse_time(text: str, raw: str) -> time:
    if not text:
        return time(0, 0)
    match = _TIME.match(text)
    if match is None:
        raise CellError("tab.cell.datetime", value=raw)
    try:
        return time(int(match[1]), int(match[2] or 0), int(match[3] or 0))
    except ValueError:
        raise CellError("tab.cell.datetime", value=raw) from None


def parse_datetime(value: Any) -> datetime:
    """A local date and time (Asia/Shanghai) as an aware instant; a date alone is its midnight."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime.combine(value, time(), SHANGHAI)
    if isinstance(value, bool):
        raise CellError("tab.cell.datetime", value=value)
    if isinstance(value, int | float):
        return excel_serial(value).replace(microsecond=0, tzinfo=SHANGHAI)
    text = _ascii(value)
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return excel_serial(float(text)).replace(microsecond=0, tzinfo=SHANGHAI)
    day_text, time_text = _split_date_time(text)
    try:
        day = parse_date(day_text)
    except CellError:
        raise CellError("tab.cell.datetime", value=text) from None
    return datetime.combine(day, _parse_time(time_text, text), SHANGHAI)


_NUMBER = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(.*)$")


def parse_number(value: Any, column: Column) -> float:
    if isinstance(value, bool):
        raise CellError("tab.cell.number", value=value)
    if isinstance(value, int | float):
        return float(value)
    text = _ascii(value).replace(",", "")
    match = _NUMBER.match(text)
    if match is None:
        raise CellError("tab.cell.number", value=text)
    unit = match[2].strip()
    if unit and _fold(unit) not in column.unit_keys:
        if column.unit:
            raise CellError("tab.cell.unit", value=text, unit=loinc.UNIT_DISPLAY.get(column.unit, column.unit))
        raise CellError("tab.cell.number", value=text)
    return float(match[1])


def parse_integer(value: Any, column: Column) -> int:
    number = parse_number(value, column)
    if not number.is_integer():
        raise CellError("tab.cell.integer", value=value)
    return int(number)


def parse_id_number(value: Any, *, today: date | None = None) -> str:
    """The 18-character form of a resident ID; a number cell is refused (Excel kept 15 digits)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise CellError("tab.cell.id_numeric")
    return _canonical_id(_ascii(value).upper().replace(" ", ""), today)


@lru_cache(maxsize=65_536)
def _canonical_id(text: str, today: date | None) -> str:
    """A file names the same residents again and again: each number is checked once."""
    try:
        return parse_resident_id(text, today=today).number
    except ResidentIdError as exc:
        raise CellError(f"error.id_number.{exc.reason}", **exc.params) from None


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


_LIST_SEPARATORS = re.compile(r"\s*[;；\n]\s*")
_CODES_SEPARATORS = re.compile(r"\s*[;；,，、/\n]\s*")


def parse_cell(column: Column, value: Any, *, today: date | None = None) -> Any:
    """One cell in its column's type; raises :class:`CellError`."""
    match column.type:
        case ColumnType.ID_NUMBER:
            return parse_id_number(value, today=today)
        case ColumnType.DIVISION_CODE:
            text = _text(value) if isinstance(value, int | float) else _ascii(value)
            if not re.fullmatch(r"\d{12}", text):
                raise CellError("tab.cell.division_code", value=text)
            return text
        case ColumnType.PHONE:
            text = re.sub(r"[\s-]", "", _text(value) if isinstance(value, int | float) else _ascii(value))
            if text.startswith("+86"):
                text = text[3:]
            if not re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", text):
                raise CellError("tab.cell.phone", value=text)
            return text
        case ColumnType.DATE:
            return parse_date(value)
        case ColumnType.DATETIME:
            return parse_datetime(value)
        case ColumnType.NUMBER:
            return parse_number(value, column)
        case ColumnType.INTEGER:
            return parse_integer(value, column)
        case ColumnType.BOOL:
            found = column.code_of(_text(value))
            if found is None:
                raise CellError("tab.cell.code", value=_text(value), allowed=allowed(column))
            return found == "true"
        case ColumnType.CODE:
            text = _text(value)
            found = column.code_of(text)
            if found is None:
                raise CellError("tab.cell.code", value=text, allowed=allowed(column))
            return found
        case ColumnType.CODES:
            out: list[str] = []
            for item in (i for i in _CODES_SEPARATORS.split(_text(value)) if i):
                found = column.code_of(item)
                if found is None:
                    raise CellError("tab.cell.code", value=item, allowed=allowed(column))
                if found not in out:
                    out.append(found)
            return out
        case ColumnType.LIST:
            items = [i for i in _LIST_SEPARATORS.split(_text(value)) if i]
            if column.max_length and any(len(i) > column.max_length for i in items):
                raise CellError("tab.cell.too_long", limit=column.max_length)
            return items
    text = _text(value)
    if column.max_length and len(text) > column.max_length:
        raise CellError("tab.cell.too_long", limit=column.max_length)
    return text


def allowed(column: Column) -> str:
    return "、".join(c.zh for c in column.codes)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class ParsedRow:
    number: int
    raw: dict[str, Any]
    values: dict[str, Any]
    problems: list[Problem]


def parse_row(spec: Spec, number: int, raw: Mapping[str, Any], *, today: date | None = None) -> ParsedRow:
    """A row (column name → cell as read from the file) in typed values, with every problem found
    (all of them, so one correction round is enough)."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for column in spec.columns:
        cell = raw.get(column.name)
        if _blank(cell):
            if column.required:
                problems.append(Problem(column.name, "tab.cell.required"))
            continue
        try:
            values[column.name] = parse_cell(column, cell, today=today)
        except CellError as exc:
            problems.append(Problem(column.name, exc.key, exc.params))
    for first, second in spec.one_of:
        if first not in values and second not in values and not any(p.field in (first, second) for p in problems):
            a, b = spec.column(first), spec.column(second)
            assert a is not None and b is not None
            problems.append(Problem(first, "tab.cell.one_of", {"a": a.zh, "b": b.zh}))
    if spec.kind == Kind.RESIDENTS and "id_number" not in values and not any(p.field == "id_number" for p in problems):
        for name in ("sex", "birth_date"):
            if name not in values and not any(p.field == name for p in problems):
                problems.append(Problem(name, "tab.cell.required_without_id"))
    return ParsedRow(number=number, raw=dict(raw), values=values, problems=problems)


# --- headers -----------------------------------------------------------------------------------


class HeaderError(ValueError):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _header_key(label: str) -> str:
    text = _fold(label).replace("*", "")
    return text


def _without_unit(label: str) -> str:
    return re.sub(r"[(（][^)）]*[)）]$", "", _header_key(label))


def header_lookup(spec: Spec) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in spec.columns:
        for label in (c.name, c.zh, c.en):
            out[_header_key(label)] = c.name
            out.setdefault(_without_unit(label), c.name)
    return out


def map_header(spec: Spec, header: Sequence[Any]) -> list[str | None]:
    """The column name of each header cell (None: a column to skip), or :class:`HeaderError`."""
    lookup = header_lookup(spec)
    ignored = {_header_key(h) for h in IGNORED_HEADERS}
    names: list[str | None] = []
    for position, cell in enumerate(header, start=1):
        text = "" if cell is None else str(cell)
        key = _header_key(text)
        if not key or key in ignored:
            names.append(None)
            continue
        name = lookup.get(key) or lookup.get(_without_unit(text))
        if name is None:
            raise HeaderError(
                "tab.header.unknown",
                position=position,
                column=text.strip(),
                known="、".join(c.zh for c in spec.columns),
            )
        if name in names:
            raise HeaderError("tab.header.twice", position=position, column=text.strip())
        names.append(name)
    missing = [c.zh for c in spec.columns if c.required and c.name not in names]
    if missing:
        raise HeaderError("tab.header.missing", columns="、".join(missing))
    return names


# --- keys --------------------------------------------------------------------------------------


def resident_key(values: Mapping[str, Any]) -> str:
    """How a row names its resident, in a key: the ID number, else the institution's MRN."""
    if values.get("id_number"):
        return f"id:{values['id_number']}"
    return f"mrn:{values.get('mrn', '')}"


NATURAL_KEYS: Final[dict[Kind, tuple[str, ...]]] = {
    Kind.ENCOUNTERS: ("start_at", "encounter_class"),
    Kind.OBSERVATIONS: ("code", "effective_at"),
    Kind.EXAMS: ("exam_date",),
    Kind.FOLLOWUPS: ("disease", "visit_date"),
}


def _key_part(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def row_key(kind: Kind, institution_code: str, values: Mapping[str, Any]) -> str:
    """A row's deterministic ``source_key`` (≤ 128 characters): the uploading institution, the kind
    of file and either the row's 记录编号 or its natural key (resident + time + type)."""
    if values.get("record_no"):
        basis = f"no|{values['record_no']}"
    else:
        basis = "|".join([resident_key(values), *(_key_part(values.get(k)) for k in NATURAL_KEYS[kind])])
    digest = hashlib.sha256(basis.encode()).hexdigest()[:40]
    return f"tab|{institution_code[:32]}|{kind}|{digest}"


def parse_medications(items: Sequence[str]) -> list[dict[str, str | None]]:
    """ "氨氯地平 5mg 每日一次" → name, dose, frequency (whitespace-separated, dose and frequency optional)."""
    out: list[dict[str, str | None]] = []
    for item in items:
        parts = item.split()
        out.append(
            {
                "name": parts[0],
                "dose": parts[1] if len(parts) > 1 else None,
                "frequency": " ".join(parts[2:]) or None,
            }
        )
    return out


_LOINC = re.compile(r"^\d{1,7}-\d$")


@dataclass(frozen=True)
class ObservationValue:
    code: str
    value_num: float | None
    value_text: str | None
    unit: str | None


@cache
def _measured_value(unit: str) -> Column:
    """The 结果 column of an item measured in ``unit`` (built once per unit)."""
    return Column(
        "value", "结果", "Result", ColumnType.NUMBER, unit=unit, unit_aliases=(unit, *UNIT_ALIASES.get(unit, ()))
    )


def read_observation(values: Mapping[str, Any]) -> ObservationValue:
    """项目 / 结果 / 单位 of an observations row: a known item is a number in its own unit (a unit
    written otherwise is refused, not converted); any other LOINC code keeps its value as sent."""
    item = str(values["code"]).strip()
    column = OBSERVATIONS.column("code")
    assert column is not None
    code = column.code_of(item) or (_ascii(item) if _LOINC.match(_ascii(item)) else None)
    if code is None:
        raise CellError("tab.cell.item", value=item, allowed=allowed(column))
    unit_given = str(values["unit"]).strip() if values.get("unit") else None
    known = loinc.LOINC_NAMES.get(code)
    if known is None:
        raw = values["value"]
        try:
            number: float | None = parse_number(raw, Column("value", "结果", "Result"))
        except CellError:
            number = None
        return ObservationValue(code, number, None if number is not None else str(raw).strip(), unit_given)
    unit = known[2]
    measured = _measured_value(unit)
    if unit_given is not None and _fold(unit_given) not in measured.unit_keys:
        raise CellError(
            "tab.cell.unit_of_item", unit=unit_given, item=known[0], expected=loinc.UNIT_DISPLAY.get(unit, unit)
        )
    return ObservationValue(code, parse_number(values["value"], measured), None, unit)
