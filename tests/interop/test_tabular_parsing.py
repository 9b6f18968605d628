"""The pure core of the CSV / Excel import: headers, cells, rows and keys (no database)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from healthbrain.core.time import SHANGHAI
from healthbrain.interop.tabular import (
    EXAMS,
    FOLLOWUPS,
    OBSERVATIONS,
    RESIDENTS,
    CellError,
    HeaderError,
    Kind,
    map_header,
    parse_cell,
    parse_date,
    parse_datetime,
    parse_medications,
    parse_row,
    read_observation,
    row_key,
)

VALID_ID = "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024/3/5", date(2024, 3, 5)),
        ("2024.03.05", date(2024, 3, 5)),
        ("20240305", date(2024, 3, 5)),
        ("2024年3月5日", date(2024, 3, 5)),
        ("２０２４年３月５日", date(2024, 3, 5)),  # full-width digits
        ("２０２４／３／５", date(2024, 3, 5)),
        (45356, date(2024, 3, 5)),  # Excel serial (a date cell formatted as 常规)
        (45356.0, date(2024, 3, 5)),
        ("45356", date(2024, 3, 5)),
        ("2024-03-05 00:00:00", date(2024, 3, 5)),  # a CSV saved from a date-time cell
        (datetime(2024, 3, 5, 8, 0), date(2024, 3, 5)),  # noqa: DTZ001 - openpyxl's cells are naive
        (date(2024, 3, 5), date(2024, 3, 5)),
    ],
)
def test_dates_as_chinese_excel_users_type_them(value: object, expected: date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["2024-02-30", "2024-13-01", "5/3/2024", "昨天", "2024", "", True])
def test_what_is_not_a_date_is_refused(value: object) -> None:
    with pytest.raises(CellError):
        parse_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05 09:30", datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI)),
        ("2024/3/5 9:30:15", datetime(2024, 3, 5, 9, 30, 15, tzinfo=SHANGHAI)),
        ("2024-03-05T09:30", datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI)),
        ("2024年3月5日14时30分", datetime(2024, 3, 5, 14, 30, tzinfo=SHANGHAI)),
        ("2024年3月5日 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=SHANGHAI)),
        ("２０２４－０３－０５　０９：３０", datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI)),
        ("20240305", datetime(2024, 3, 5, 0, 0, tzinfo=SHANGHAI)),
        (45356.5, datetime(2024, 3, 5, 12, 0, tzinfo=SHANGHAI)),
        (datetime(2024, 3, 5, 9, 30), datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI)),  # noqa: DTZ001 - as openpyxl reads
    ],
)
def test_date_times_are_local_shanghai_instants(value: object, expected: datetime) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize("value", ["2024-03-05 25:00", "2024-03-05 午后", "下周"])
def test_bad_date_times_are_refused(value: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_datetime(value)
    assert exc.value.key == "tab.cell.datetime"


def _column(spec: object, name: str):  # type: ignore[no-untyped-def]
    column = spec.column(name)  # type: ignore[attr-defined]
    assert column is not None
    return column


@pytest.mark.parametrize(
    ("spec", "name", "value", "expected"),
    [
        (EXAMS, "weight_kg", "65.5", 65.5),
        (EXAMS, "weight_kg", "65.5kg", 65.5),
        (EXAMS, "weight_kg", "65.5 公斤", 65.5),
        (EXAMS, "weight_kg", "６５．５", 65.5),
        (EXAMS, "weight_kg", 65, 65.0),
        (EXAMS, "systolic_bp", "135mmHg", 135.0),
        (EXAMS, "systolic_bp", "135 mmhg", 135.0),
        (EXAMS, "fasting_glucose", "6.1mmol/L", 6.1),
        (EXAMS, "heart_rate", "72次/分", 72.0),
        (RESIDENTS, "sex", "男", "M"),
        (RESIDENTS, "sex", "女", "F"),
        (RESIDENTS, "sex", "Female", "F"),
        (RESIDENTS, "sex", "1", "M"),
        (RESIDENTS, "id_number", "11010519491231002x", VALID_ID),
        (RESIDENTS, "id_number", "１１０１０５１９４９１２３１００２Ｘ", VALID_ID),
        (RESIDENTS, "phone", "138 1234 5678", "13812345678"),
        (RESIDENTS, "phone", 13812345678, "13812345678"),
        (RESIDENTS, "division_code", 330199001001, "330199001001"),
        (RESIDENTS, "relation_to_head", "配偶", "spouse"),
        (FOLLOWUPS, "symptoms", "头痛头晕、心悸", ["headache_dizziness", "palpitations"]),
        (FOLLOWUPS, "symptoms", "无症状", ["none"]),
        (FOLLOWUPS, "adverse_reaction", "无", False),
        (FOLLOWUPS, "adverse_reaction", "有", True),
        (FOLLOWUPS, "disease", "糖尿病", "t2dm"),
        (FOLLOWUPS, "method", "电话", "phone"),
        (FOLLOWUPS, "cigarettes_per_day", "10支", 10),
        (EXAMS, "guidance", "低盐饮食；定期复查", ["低盐饮食", "定期复查"]),
        (EXAMS, "smoking", "已戒烟", "former"),
    ],
)
def test_cells_read_in_their_column_type(spec: object, name: str, value: object, expected: object) -> None:
    assert parse_cell(_column(spec, name), value) == expected


@pytest.mark.parametrize(
    ("spec", "name", "value", "key"),
    [
        (EXAMS, "fasting_glucose", "110mg/dL", "tab.cell.unit"),  # a unit that is not the column's
        (EXAMS, "weight_kg", "六十五", "tab.cell.number"),
        (EXAMS, "weight_kg", True, "tab.cell.number"),
        (FOLLOWUPS, "cigarettes_per_day", "2.5", "tab.cell.integer"),
        (RESIDENTS, "sex", "未知", "tab.cell.code"),
        (RESIDENTS, "id_number", 1.10105194912310e17, "tab.cell.id_numeric"),  # Excel lost the digits
        (RESIDENTS, "id_number", "110105194912310021", "error.id_number.check_character"),
        (RESIDENTS, "id_number", "1101051949123", "error.id_number.format"),
        (RESIDENTS, "phone", "12345", "tab.cell.phone"),
        (RESIDENTS, "division_code", "3301990010", "tab.cell.division_code"),
        (RESIDENTS, "name", "张" * 65, "tab.cell.too_long"),
        (FOLLOWUPS, "symptoms", "头痛头晕、发烧", "tab.cell.code"),
    ],
)
def test_bad_cells_name_their_reason(spec: object, name: str, value: object, key: str) -> None:
    with pytest.raises(CellError) as exc:
        parse_cell(_column(spec, name), value)
    assert exc.value.key == key


def test_headers_in_chinese_english_or_field_names_with_units_and_marks() -> None:
    header = ["*身份证号", "Name", "sex", "出生日期", " 区划代码 ", "错误原因", "原行号"]
    assert map_header(RESIDENTS, header) == ["id_number", "name", "sex", "birth_date", "division_code", None, None]
    assert map_header(EXAMS, ["身份证号", "体检日期", "身高(cm)", "体重", "收缩压（mmHg）", "Weight (kg)"][:5]) == [
        "id_number",
        "exam_date",
        "height_cm",
        "weight_kg",
        "systolic_bp",
    ]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (["身份证号", "姓名", "血型"], "tab.header.unknown"),
        (["身份证号", "姓名", "Name"], "tab.header.twice"),
        (["身份证号", "性别"], "tab.header.missing"),
    ],
)
def test_header_problems(header: list[str], key: str) -> None:
    with pytest.raises(HeaderError) as exc:
        map_header(RESIDENTS, header)
    assert exc.value.key == key


def test_a_row_reports_every_problem_at_once() -> None:
    row = parse_row(RESIDENTS, 7, {"name": "李四", "sex": "X", "birth_date": "2024-02-30", "division_name": "青山社区"})
    assert row.number == 7
    assert {(p.field, p.key) for p in row.problems} == {
        ("sex", "tab.cell.code"),
        ("birth_date", "tab.cell.date"),
        ("id_number", "tab.cell.one_of"),
    }


def test_without_an_id_number_sex_and_birth_date_are_required() -> None:
    row = parse_row(RESIDENTS, 2, {"name": "李四", "mrn": "A1", "division_code": "330199001001"})
    assert {(p.field, p.key) for p in row.problems} == {
        ("sex", "tab.cell.required_without_id"),
        ("birth_date", "tab.cell.required_without_id"),
    }
    ok = parse_row(RESIDENTS, 2, {"name": "李四", "id_number": VALID_ID, "division_code": "330199001001"})
    assert ok.problems == []
    assert ok.values == {"name": "李四", "id_number": VALID_ID, "division_code": "330199001001"}


def test_row_keys_are_deterministic_and_name_what_identifies_the_row() -> None:
    values = {"id_number": VALID_ID, "code": "8480-6", "effective_at": parse_datetime("2024-03-05 09:30")}
    same = {**values, "effective_at": parse_datetime("2024/3/5 9:30")}
    key = row_key(Kind.OBSERVATIONS, "C330199001", values)
    assert key == row_key(Kind.OBSERVATIONS, "C330199001", same)
    assert key.startswith("tab|C330199001|observations|") and len(key) <= 128
    assert key != row_key(Kind.OBSERVATIONS, "H33019901", values)  # another institution's row
    assert key != row_key(Kind.OBSERVATIONS, "C330199001", {**values, "code": "8462-4"})
    numbered = {**values, "record_no": "JY-1"}
    # with a record number, the number alone is the key: a changed time is a correction
    assert row_key(Kind.OBSERVATIONS, "C", numbered) == row_key(
        Kind.OBSERVATIONS, "C", {**numbered, "effective_at": parse_datetime("2024-03-06")}
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"code": "收缩压", "value": "135"}, ("8480-6", 135.0, None, "mm[Hg]")),
        ({"code": "空腹血糖", "value": "6.1", "unit": "mmol/L"}, ("14771-0", 6.1, None, "mmol/L")),
        ({"code": "8480-6", "value": "135mmHg"}, ("8480-6", 135.0, None, "mm[Hg]")),
        ({"code": "Weight", "value": 70}, ("29463-7", 70.0, None, "kg")),
        ({"code": "2160-0", "value": "88", "unit": "umol/L"}, ("2160-0", 88.0, None, "umol/L")),  # any LOINC
        ({"code": "5196-1", "value": "阴性"}, ("5196-1", None, "阴性", None)),
    ],
)
def test_observation_items(values: dict[str, object], expected: tuple[object, ...]) -> None:
    item = read_observation(values)
    assert (item.code, item.value_num, item.value_text, item.unit) == expected


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"code": "血型", "value": "A"}, "tab.cell.item"),
        ({"code": "空腹血糖", "value": "110", "unit": "mg/dL"}, "tab.cell.unit_of_item"),
        ({"code": "收缩压", "value": "偏高"}, "tab.cell.number"),
    ],
)
def test_bad_observation_items(values: dict[str, object], key: str) -> None:
    with pytest.raises(CellError) as exc:
        read_observation(values)
    assert exc.value.key == key


def test_medications_read_name_dose_and_frequency() -> None:
    assert parse_medications(["氨氯地平 5mg 每日一次", "二甲双胍"]) == [
        {"name": "氨氯地平", "dose": "5mg", "frequency": "每日一次"},
        {"name": "二甲双胍", "dose": None, "frequency": None},
    ]


def test_every_kind_has_a_spec_with_unique_headers() -> None:
    from healthbrain.interop.tabular import SPECS

    assert set(SPECS) == set(Kind)
    for spec in SPECS.values():
        labels = [c.zh for c in spec.columns] + [c.en for c in spec.columns]
        assert len(labels) == len(set(labels)), spec.kind
        assert map_header(spec, [c.zh for c in spec.columns]) == spec.names
        assert map_header(spec, [c.en for c in spec.columns]) == spec.names
    assert OBSERVATIONS.column("code") is not None
