"""CSV and Excel for submitters without an interface: templates with Chinese headers, reading an
uploaded file into rows (numbered as the file's lines), and the error report of a batch."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime
from typing import Any, Final

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill

from healthbrain.core.errors import InvalidInput
from healthbrain.records.models import IngestRejection
from healthbrain.surveillance.definitions import Feed

MAX_FILE_BYTES: Final = 20 * 1024 * 1024
MAX_ROWS: Final = 50_000

# field: (Chinese header, English header, example)
COLUMNS: Final[dict[Feed, list[tuple[str, str, str, str]]]] = {
    Feed.SCHOOL_ABSENCE: [
        ("school_code", "学校代码", "School code", ""),
        ("class_name", "班级", "Class", "三年级2班"),
        ("grade", "年级", "Grade", "3"),
        ("date", "日期", "Date", "2026-11-20"),
        ("cause", "缺课原因", "Cause", "发热"),
        ("absent", "缺课人数", "Absent", "2"),
        ("enrolled", "班级人数", "Enrolled", "45"),
    ],
    Feed.FEVER_CLINIC: [
        ("institution_code", "机构代码", "Institution code", ""),
        ("date", "日期", "Date", "2026-11-20"),
        ("category", "类别", "Category", "ili"),
        ("visits", "就诊人数", "Visits", "37"),
    ],
    Feed.PHARMACY: [
        ("institution_code", "药店代码", "Pharmacy code", ""),
        ("date", "日期", "Date", "2026-11-20"),
        ("category", "药品类别", "Drug category", "退热药"),
        ("quantity", "销售数量", "Units sold", "25"),
    ],
    Feed.LAB: [
        ("institution_code", "机构代码", "Laboratory code", ""),
        ("date", "日期", "Date", "2026-11-20"),
        ("pathogen", "病原体", "Pathogen", "influenza_a"),
        ("tested", "检测数", "Tested", "40"),
        ("positive", "阳性数", "Positive", "6"),
    ],
    Feed.CASE: [
        ("card_no", "卡片编号", "Card number", "330102202611200001"),
        ("institution_code", "报告单位代码", "Reporting unit code", ""),
        ("disease", "病种", "Disease", "手足口病"),
        ("classification", "病例分类", "Classification", "临床诊断病例"),
        ("onset_date", "发病日期", "Onset date", "2026-11-18"),
        ("diagnosis_date", "诊断日期", "Diagnosis date", "2026-11-19"),
        ("reported_at", "报告时间", "Reported at", ""),
        ("patient_name", "患者姓名", "Patient name", "王小明"),
        ("id_number", "身份证号", "ID number", ""),
        ("sex", "性别", "Sex", "男"),
        ("age_years", "年龄", "Age", "4"),
        ("community_code", "现住址区划代码", "Community code", ""),
        ("address", "现住址", "Address", ""),
        ("school_code", "学校代码", "School code", ""),
        ("class_name", "班级", "Class", ""),
        ("workplace", "工作单位", "Workplace", ""),
        ("hospitalised", "是否住院", "Hospitalised", "否"),
        ("died", "是否死亡", "Died", "否"),
        ("deleted", "删除", "Deleted", "否"),
    ],
}
# The error report's own columns: a corrected report is uploaded as it is, and these are skipped.
ERRORS_HEADER: Final = "错误原因 / errors"
ROW_HEADER: Final = "原行号 / row"
_DATE_FIELDS = {"date", "onset_date", "diagnosis_date"}
_BOOL_FIELDS = {"hospitalised", "died", "deleted"}
_YES = {"是", "y", "yes", "true", "1", "t"}
_NO = {"否", "n", "no", "false", "0", "f"}


def _header_map(feed: Feed) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, zh, en, _example in COLUMNS[feed]:
        for label in (name, zh, en, en.lower()):
            out[label.strip()] = name
    return out


def content_key(content: bytes) -> str:
    """A file sent twice is the same batch (its replay changes nothing)."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _cell(field: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if field in _DATE_FIELDS else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
        if field in _BOOL_FIELDS:
            low = value.lower()
            return True if low in _YES else False if low in _NO else value
    return value


def _rows_from_table(feed: Feed, header: list[Any], body: list[tuple[int, list[Any]]]) -> list[tuple[int, Any]]:
    mapping = _header_map(feed)
    names: list[str | None] = []
    for position, label in enumerate(header, start=1):
        text = str(label).strip() if label is not None else ""
        if not text or text in (ERRORS_HEADER, ROW_HEADER):
            names.append(None)
            continue
        if text not in mapping:
            known = "、".join(zh for _n, zh, _e, _x in COLUMNS[feed])
            raise InvalidInput(
                "error.surveillance.unknown_column", field=f"column {position}", column=text, known=known
            )
        names.append(mapping[text])
    rows: list[tuple[int, Any]] = []
    for number, values in body:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # blank lines are not rows
        row: dict[str, Any] = {}
        for name, value in zip(names, values, strict=False):
            if name is not None and (converted := _cell(name, value)) is not None:
                row[name] = converted
        rows.append((number, row))
        if len(rows) > MAX_ROWS:
            raise InvalidInput("error.surveillance.too_many_rows", field="file", limit=MAX_ROWS)
    return rows


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("error.surveillance.bad_encoding", field="file")


def read_rows(feed: Feed, filename: str, content: bytes) -> list[tuple[int, Any]]:
    """The rows of an uploaded CSV or xlsx file, each with its line number in the file."""
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput("error.surveillance.file_too_large", field="file", limit=MAX_FILE_BYTES // (1024 * 1024))
    if not content.strip():
        raise InvalidInput("error.surveillance.empty_file", field="file")
    if filename.lower().endswith(".xlsx") or content[:2] == b"PK":
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file; all mean "not a workbook"
            raise InvalidInput("error.surveillance.bad_xlsx", field="file", reason=str(exc)[:200]) from None
        sheet = workbook.worksheets[0]
        lines = [(n, list(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1)]
        workbook.close()
    else:
        reader = csv.reader(io.StringIO(_decode(content)))
        lines = [(n, list(r)) for n, r in enumerate(reader, start=1)]
    if not lines:
        raise InvalidInput("error.surveillance.empty_file", field="file")
    return _rows_from_table(feed, lines[0][1], lines[1:])


def template_csv(feed: Feed) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([zh for _n, zh, _e, _x in COLUMNS[feed]])
    writer.writerow([x for _n, _zh, _e, x in COLUMNS[feed]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


def template_xlsx(feed: Feed) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = str(feed)
    sheet.append([zh for _n, zh, _e, _x in COLUMNS[feed]])
    sheet.append([x for _n, _zh, _e, x in COLUMNS[feed]])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def error_report_xlsx(feed: Feed, rejections: list[IngestRejection]) -> bytes:
    """The rejected rows as they were sent, with the reasons in a last column: correct them in
    place and upload the file again."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "rejected"
    columns = COLUMNS[feed]
    headers = {name: zh for name, zh, _e, _x in columns}
    sheet.append([zh for _n, zh, _e, _x in columns] + [ERRORS_HEADER, ROW_HEADER])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    red = PatternFill("solid", fgColor="FDECEA")
    for r in rejections:
        try:
            raw = json.loads(r.payload)
        except json.JSONDecodeError:
            raw = {}
        values = [raw.get(name) if isinstance(raw, dict) else None for name, _zh, _e, _x in columns]
        reasons = "; ".join(
            f"{headers.get(e.get('field') or '', e.get('field') or '')}: {e.get('message', '')}".strip(": ")
            for e in r.errors
        )
        sheet.append(
            [
                *[v if isinstance(v, str | int | float | bool) or v is None else str(v) for v in values],
                reasons,
                r.row_number,
            ]
        )
        sheet.cell(row=sheet.max_row, column=len(columns) + 1).fill = red
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
