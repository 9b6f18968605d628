"""Reading an uploaded CSV or xlsx file into rows, and writing the templates and the error report.

Rows keep their line number in the file (the header is line 1), so that a reason names the line
the submitter sees in Excel. Cells are kept as read (text, numbers, dates) — the verbatim values a
rejected row is stored with and written back into its error report.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, Final

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from healthbrain.interop.tabular import (
    ERRORS_HEADER,
    KIND_NAMES,
    ROW_HEADER,
    Column,
    ColumnType,
    HeaderError,
    Spec,
    map_header,
)

MAX_FILE_BYTES: Final = 20 * 1024 * 1024
MAX_ROWS: Final = 50_000
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TEXT_TYPES = {ColumnType.ID_NUMBER, ColumnType.DIVISION_CODE, ColumnType.PHONE, ColumnType.TEXT}
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
_ERROR_FILL = PatternFill("solid", fgColor="FDECEA")


class FileProblem(ValueError):
    """A file that cannot be read at all (not a row's problem): a message key and parameters."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileProblem("tab.file.encoding")


def _plain(value: Any) -> Any:
    """A cell as JSON can keep it: a date or time as the text Excel shows."""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, str):
        return value.strip()
    return value


def read_lines(filename: str, content: bytes) -> list[tuple[int, list[Any]]]:
    """The lines of a CSV (UTF-8, with or without BOM, or GB18030) or xlsx file (first sheet)."""
    if len(content) > MAX_FILE_BYTES:
        raise FileProblem("tab.file.too_large", limit=MAX_FILE_BYTES // (1024 * 1024))
    if not content.strip():
        raise FileProblem("tab.file.empty")
    if filename.lower().endswith((".xlsx", ".xlsm")) or content[:2] == b"PK":
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file; all mean "not a workbook"
            raise FileProblem("tab.file.bad_xlsx", reason=str(exc)[:200]) from None
        try:
            sheet = workbook.worksheets[0]
            lines = [(n, list(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1)]
        finally:
            workbook.close()
    elif filename.lower().endswith(".xls") or content[:4] == b"\xd0\xcf\x11\xe0":
        raise FileProblem("tab.file.old_xls")
    else:
        try:
            lines = [(n, list(r)) for n, r in enumerate(csv.reader(io.StringIO(_decode(content))), start=1)]
        except csv.Error as exc:
            raise FileProblem("tab.file.bad_csv", reason=str(exc)[:200]) from None
    return lines


def read_rows(spec: Spec, filename: str, content: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(line number, column name → cell) of each non-blank row under the header."""
    lines = read_lines(filename, content)
    # Leading blank lines (a title row left empty) are skipped; the header is the first line with text.
    while lines and all(v is None or str(v).strip() == "" for v in lines[0][1]):
        lines.pop(0)
    if not lines:
        raise FileProblem("tab.file.empty")
    try:
        names = map_header(spec, lines[0][1])
    except HeaderError as exc:
        raise FileProblem(exc.key, **exc.params) from None
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, values in lines[1:]:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        row = {name: _plain(v) for name, v in zip(names, values, strict=False) if name is not None and v is not None}
        rows.append((number, {k: v for k, v in row.items() if v != ""}))
        if len(rows) > MAX_ROWS:
            raise FileProblem("tab.file.too_many_rows", limit=MAX_ROWS)
    if not rows:
        raise FileProblem("tab.file.no_rows")
    return rows


# --- templates ----------------------------------------------------------------------------------


def _header_cells(sheet: Any, spec: Spec, *, text_rows: int = 0) -> None:
    sheet.append([c.zh for c in spec.columns])
    for index, column in enumerate(spec.columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        if column.required:
            cell.fill = _REQUIRED_FILL
        if column.note_zh or column.codes:
            text = column.note_zh or ""
            if column.codes:
                text = (text + "\n" if text else "") + "可选值：" + "、".join(c.zh for c in column.codes)
            cell.comment = Comment(text, "healthbrain")
        width = max(10, min(30, len(column.zh) * 2 + 4, 14 if column.type != ColumnType.ID_NUMBER else 22))
        sheet.column_dimensions[get_column_letter(index)].width = max(width, len(column.zh) * 2 + 2)
        if _is_text(column):
            # Text cells: Excel would otherwise turn an ID number into 1.10105E+17 and drop digits.
            for row in range(2, 2 + text_rows):
                sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"


def _is_text(column: Column) -> bool:
    return column.type in _TEXT_TYPES or column.name in ("mrn", "record_no")


def _kind_name(column: Column) -> tuple[str, str]:
    names = {
        ColumnType.TEXT: ("文本", "text"),
        ColumnType.ID_NUMBER: ("身份证号", "ID number"),
        ColumnType.DIVISION_CODE: ("12位区划代码", "12-digit code"),
        ColumnType.PHONE: ("电话号码", "phone"),
        ColumnType.DATE: ("日期，如 2024-03-05、2024/3/5、20240305", "date, e.g. 2024-03-05"),
        ColumnType.DATETIME: ("日期时间，如 2024-03-05 09:30", "date and time, e.g. 2024-03-05 09:30"),
        ColumnType.NUMBER: ("数字", "number"),
        ColumnType.INTEGER: ("整数", "whole number"),
        ColumnType.BOOL: ("是/否", "yes/no"),
        ColumnType.CODE: ("从可选值中选一项", "one of the values"),
        ColumnType.CODES: ("可选值中的一项或多项", "one or more of the values"),
        ColumnType.LIST: ("多项文本，用；分隔", "items separated by ;"),
    }
    return names[column.type]


def template_xlsx(spec: Spec) -> bytes:
    """The template: the header row (required columns in red), an example row, and a second sheet
    that explains each column and its allowed values."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = KIND_NAMES[spec.kind][0].replace("/", "、")
    _header_cells(sheet, spec, text_rows=1000)
    for index, column in enumerate(spec.columns, start=1):
        cell = sheet.cell(row=2, column=index, value=column.example or None)
        cell.font = Font(italic=True, color="808080")
    guide = workbook.create_sheet("填写说明")
    guide.append(["列名", "Column", "必填", "类型", "可选值 / 单位", "说明", "Note"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for column in spec.columns:
        zh_type, _en_type = _kind_name(column)
        values = "、".join(f"{c.zh}" for c in column.codes) if column.codes else (column.unit or "")
        guide.append(
            [column.zh, column.en, "是" if column.required else "", zh_type, values, column.note_zh, column.note_en]
        )
    guide.append([])
    guide.append(["第2行为示例，上传前请删除或覆盖。身份证号、病案号、区划代码请设为文本格式。"])
    guide.append(["被拒收的行可下载“错误报告”，在其中直接修改后原样重新上传（“错误原因”列会被忽略）。"])
    for letter, width in zip("ABCDEFG", (16, 22, 6, 30, 50, 40, 40), strict=True):
        guide.column_dimensions[letter].width = width
    for row in guide.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def template_csv(spec: Spec) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.zh for c in spec.columns])
    writer.writerow([c.example for c in spec.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


# --- the error report ---------------------------------------------------------------------------


def _cell_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False)


def error_report_xlsx(spec: Spec, rejected: Sequence[tuple[int, Any, Sequence[dict[str, Any]]]]) -> bytes:
    """The rejected rows as they were sent — (line, payload, errors) — under the template's headers,
    with the reasons in an 错误原因 column: correct the cells and upload the file again as it is."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "错误报告"
    _header_cells(sheet, spec)
    sheet.cell(row=1, column=len(spec.columns) + 1, value=ERRORS_HEADER).font = Font(bold=True, color="C00000")
    sheet.cell(row=1, column=len(spec.columns) + 2, value=ROW_HEADER).font = Font(bold=True)
    sheet.column_dimensions[get_column_letter(len(spec.columns) + 1)].width = 60
    labels = {c.name: c.zh for c in spec.columns}
    for line, payload, errors in rejected:
        raw = payload if isinstance(payload, dict) else {}
        reasons = "；".join(
            (f"{labels.get(e.get('field') or '', e.get('field'))}：" if e.get("field") else "")
            + str(e.get("message", ""))
            for e in errors
        )
        sheet.append([*(_cell_value(raw.get(c.name)) for c in spec.columns), reasons, line])
        for index, column in enumerate(spec.columns, start=1):
            if _is_text(column):
                sheet.cell(row=sheet.max_row, column=index).number_format = "@"
        error_cell = sheet.cell(row=sheet.max_row, column=len(spec.columns) + 1)
        error_cell.fill = _ERROR_FILL
        error_cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
