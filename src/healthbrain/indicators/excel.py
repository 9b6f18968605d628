"""An indicator table as an Excel workbook, the same for every domain's indicator page."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from healthbrain.indicators.registry import Indicator, Value


def table_workbook(
    *,
    sheet_title: str,
    title: str,
    unit_header: str,
    parts: tuple[str, str, str],  # the numerator, denominator and rate headers
    indicators: Sequence[Indicator],
    rows: Sequence[tuple[str, Mapping[str, Value]]],  # (unit name, values by indicator slug)
    language: str,
) -> bytes:
    """A title line, two header rows (indicator; numerator, denominator, rate), one row per unit."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title
    sheet.append([title])
    header, second = [unit_header], [""]
    for i in indicators:
        header += [i.name(language), "", ""]
        second += list(parts)
    sheet.append(header)
    sheet.append(second)
    for column in range(len(indicators)):
        start = 2 + 3 * column
        sheet.merge_cells(start_row=2, start_column=start, end_row=2, end_column=start + 2)
        sheet.cell(row=2, column=start).alignment = Alignment(horizontal="center")
    for row in sheet.iter_rows(min_row=1, max_row=3):
        for cell in row:
            cell.font = Font(bold=True)
    for name, values in rows:
        line: list[Any] = [name]
        for i in indicators:
            v = values[i.slug]
            line += [int(v.numerator or 0), int(v.denominator or 0), v.value]
        sheet.append(line)
    sheet.column_dimensions["A"].width = 28
    sheet.freeze_panes = "B4"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
