"""The monthly health report (月度健康报告) of a chronic-disease patient, rendered as an A4 PDF.

The PDF embeds a CJK font (subsetted by fpdf2): Noto Sans SC from ``pylopdf-fonts-zh-cn`` unless a
site names another TTF/OTF through ``font_path`` or ``HEALTHBRAIN_CJK_FONT``. Charts are drawn with
fpdf2 primitives, so rendering needs no plotting library. The input is plain frozen dataclasses;
collecting them from the database is the caller's job.
"""

from __future__ import annotations

import calendar
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Final

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, TextMode, XPos, YPos
from fpdf.fonts import FontFace

from healthbrain.chronic.definitions import (
    BP_TARGET,
    CRITICAL_DBP,
    CRITICAL_GLUCOSE_HIGH,
    CRITICAL_GLUCOSE_LOW,
    CRITICAL_SBP,
    FASTING_GLUCOSE_TARGET,
    ReadingKind,
)
from healthbrain.core.time import SHANGHAI, to_local

__all__ = [
    "FONT_ENV",
    "CJKFontNotFoundError",
    "MonthlyReport",
    "ReportReading",
    "ReportVisit",
    "cjk_font_path",
    "render_monthly_report",
    "wrap_zh",
]

FONT_ENV: Final = "HEALTHBRAIN_CJK_FONT"
_FONT_PACKAGE: Final = "pylopdf_fonts_zh_cn"
_FONT_FILE: Final = "NotoSansSC-Regular.otf"
_FAMILY: Final = "cjk"

TITLE: Final = "居民慢病管理月度健康报告"
DISCLAIMER: Final = "本报告由健康大脑+生成，仅供健康管理参考，不替代医生诊疗"
NO_READINGS: Final = "本月无监测数据"

GLUCOSE_TARGET_LOW: Final = 4.4  # CDS 2020: fasting capillary glucose target 4.4–7.0 mmol/L
POINTS_BELOW: Final = 100  # from this many readings a series is drawn as daily means (points stay readable)

# Colours (RGB). Red is kept for critical readings only.
_PRIMARY: Final = (22, 86, 140)
_TEXT: Final = (33, 37, 41)
_MUTED: Final = (108, 117, 125)
_RULE: Final = (206, 212, 218)
_GRID: Final = (233, 236, 239)
_LABEL_FILL: Final = (240, 244, 248)
_HEAD_FILL: Final = (226, 235, 244)
_SBP: Final = (31, 100, 180)
_DBP: Final = (230, 126, 20)
_GLUCOSE: Final = (111, 66, 170)
_CRITICAL: Final = (214, 39, 40)
_REFERENCE: Final = (150, 40, 40)
_BAND: Final = (223, 242, 226)

# Page geometry, mm.
_MARGIN: Final = 15.0
_FOOTER_SPACE: Final = 20.0
_BODY_PT: Final = 10.0
_LINE: Final = 5.6  # body line height for 10 pt CJK text
_CELL_PAD: Final = 1.8
_CHART_H: Final = 62.0


@dataclass(frozen=True, slots=True)
class ReportReading:
    """One home or clinic reading of the month (家庭/门诊监测读数)."""

    at: datetime  # aware; shown in Asia/Shanghai
    kind: str  # ReadingKind: "bp" or "glucose"
    sbp: float | None = None
    dbp: float | None = None
    heart_rate: float | None = None
    glucose: float | None = None  # mmol/L
    critical: bool = False


@dataclass(frozen=True, slots=True)
class ReportVisit:
    """One follow-up of the month (随访记录)."""

    visit_date: date
    disease_zh: str
    visit_class_zh: str  # 此次随访分类, e.g. "控制满意"
    sbp: float | None = None
    dbp: float | None = None
    glucose: float | None = None
    next_date: date | None = None


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """Everything one monthly report shows; all text is already in Chinese."""

    month: date  # first day of the month
    patient_name: str
    sex_zh: str
    age: int
    record_number: str  # masked id shown on the report
    diseases_zh: tuple[str, ...]
    team_name: str
    doctor_name: str
    institution_name: str
    risk_tier_zh: str | None
    control_status: tuple[tuple[str, str], ...]  # (label, value)
    readings: tuple[ReportReading, ...]
    visits: tuple[ReportVisit, ...]
    home_bp_summary_zh: str | None  # the 722 protocol summary
    changes: tuple[str, ...]
    advice: tuple[str, ...]
    generated_at: datetime


class CJKFontNotFoundError(FileNotFoundError):
    """No CJK font file to embed; the message names each place that was tried."""


# --- the font ---------------------------------------------------------------------------------------------------


def _packaged_font() -> Path | None:
    try:
        folder = resources.files(_FONT_PACKAGE)
    except ModuleNotFoundError:
        return None
    candidate = Path(str(folder / _FONT_FILE))
    return candidate if candidate.is_file() else None


def cjk_font_path(override: str | Path | None = None) -> Path:
    """The TTF/OTF font to embed: ``override``, else ``$HEALTHBRAIN_CJK_FONT``, else the packaged Noto Sans SC.

    A configured path that does not exist is an error rather than a silent fall-back, so a site
    that chose its own font learns of a typo instead of getting a different font.
    """
    if override is not None and str(override):
        candidate = Path(override).expanduser()
        if candidate.is_file():
            return candidate
        raise CJKFontNotFoundError(f"CJK font for PDF reports not found: font_path={str(candidate)!r} is not a file")
    from_env = os.environ.get(FONT_ENV, "").strip()
    if from_env:
        candidate = Path(from_env).expanduser()
        if candidate.is_file():
            return candidate
        raise CJKFontNotFoundError(f"CJK font for PDF reports not found: {FONT_ENV}={str(candidate)!r} is not a file")
    packaged = _packaged_font()
    if packaged is not None:
        return packaged
    raise CJKFontNotFoundError(
        "CJK font for PDF reports not found: no font_path given, "
        f"{FONT_ENV} is unset, and {_FONT_FILE} is not in the {_FONT_PACKAGE!r} package "
        "(install pylopdf-fonts-zh-cn, or point font_path / HEALTHBRAIN_CJK_FONT at a TTF/OTF file)"
    )


# --- Chinese line breaking --------------------------------------------------------------------------------------

# fpdf2 wraps only at spaces; Chinese may break between any two characters except before closing
# punctuation and after opening punctuation (避头尾), and a run of Latin letters or digits stays whole.
_TOKEN_RE: Final = re.compile(r"[!-~]+|\s+|.", re.DOTALL)
_NO_LINE_START: Final = frozenset("，。、；：？！）》」』】〕〉”’·…—～％,.;:?!)]}%")
_NO_LINE_END: Final = frozenset("（《「『【〔〈“‘([{")
# Zero-width characters pasted in from elsewhere have no glyph in Noto Sans SC and would print as boxes.
_INVISIBLE: Final = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    glue_next = False
    for token in _TOKEN_RE.findall(text):
        if out and not token.isspace() and (glue_next or token[0] in _NO_LINE_START):
            out[-1] += token
        else:
            out.append(token)
        glue_next = token[-1] in _NO_LINE_END
    return out


def wrap_zh(pdf: FPDF, text: str, width: float) -> list[str]:
    """Lines of ``text`` no wider than ``width`` in the current font, broken the Chinese way."""
    lines: list[str] = []
    text = text.translate(_INVISIBLE)
    for paragraph in text.splitlines() or [""]:
        line, line_w = "", 0.0
        for token in _tokens(paragraph):
            token_w = pdf.get_string_width(token)
            pieces = [token] if token_w <= width else list(token)  # a run wider than a line breaks anywhere
            for piece in pieces:
                piece_w = token_w if len(pieces) == 1 else pdf.get_string_width(piece)
                if not line and piece.isspace():
                    continue
                if line and line_w + piece_w > width:
                    lines.append(line.rstrip())
                    line, line_w = ("", 0.0) if piece.isspace() else (piece, piece_w)
                else:
                    line, line_w = line + piece, line_w + piece_w
        lines.append(line.rstrip())
    return lines


# --- the document -----------------------------------------------------------------------------------------------


class _ReportPDF(FPDF):
    """An FPDF whose footer carries the patient, the page number, the generation time and the disclaimer."""

    def __init__(self, report: MonthlyReport) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report = report

    def footer(self) -> None:
        r = self.report
        top = self.h - _FOOTER_SPACE + 6
        with self.local_context(draw_color=_RULE, line_width=0.2, text_color=_MUTED, font_size_pt=7.5):
            self.line(_MARGIN, top, self.w - _MARGIN, top)
            self.set_xy(_MARGIN, top + 1.2)
            self.cell(
                self.epw / 2,
                4,
                f"{r.patient_name}　档案编号：{r.record_number}　生成时间：{_local_minute(r.generated_at)}",
            )
            self.cell(self.epw / 2, 4, f"第 {self.page_no()} / {{nb}} 页", align=Align.R)
            self.set_xy(_MARGIN, top + 5.4)
            self.cell(self.epw, 4, DISCLAIMER, align=Align.C)


def _local_minute(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def _month_zh(month: date) -> str:
    return f"{month.year}年{month.month}月"


def _fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _bp(sbp: float | None, dbp: float | None) -> str:
    return "—" if sbp is None or dbp is None else f"{sbp:.0f}/{dbp:.0f}"


def _ensure_space(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm still fit, so a heading never sits alone at a page foot."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _section(pdf: FPDF, title: str, *, keep_with: float = 18.0) -> None:
    _ensure_space(pdf, 10 + keep_with)
    pdf.ln(3)
    y = pdf.get_y()
    with pdf.local_context(fill_color=_PRIMARY):
        pdf.rect(_MARGIN, y + 1.3, 1.2, 5.0, style="F")
    with pdf.local_context(text_color=_PRIMARY, font_size_pt=12.5):
        pdf.set_x(_MARGIN + 3.2)
        pdf.cell(0, 7.6, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _paragraph(pdf: FPDF, text: str, *, color: tuple[int, int, int] = _TEXT, indent: float = 0.0) -> None:
    with pdf.local_context(text_color=color):
        for line in wrap_zh(pdf, text, pdf.epw - indent):
            pdf.set_x(_MARGIN + indent)
            pdf.cell(pdf.epw - indent, _LINE, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _bullets(pdf: FPDF, items: Sequence[str], *, empty: str) -> None:
    if not items:
        _paragraph(pdf, empty, color=_MUTED)
        return
    indent = 5.0
    for item in items:
        lines = wrap_zh(pdf, item, pdf.epw - indent)
        _ensure_space(pdf, _LINE * min(len(lines), 2))  # keep the bullet with its next line
        # A drawn dot: the CJK font's "•" is a small middle dot.
        with pdf.local_context(fill_color=_PRIMARY):
            pdf.circle(_MARGIN + 2.0, pdf.get_y() + _LINE / 2, 0.75, style="F")
        for line in lines:
            pdf.set_x(_MARGIN + indent)
            pdf.cell(pdf.epw - indent, _LINE, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(0.8)


def _table(
    pdf: FPDF,
    rows: Sequence[Sequence[str]],
    col_widths: Sequence[float],
    *,
    heading: bool,
    label_columns: Iterable[int] = (),
) -> None:
    """A bordered table; cell text is pre-wrapped by :func:`wrap_zh` (fpdf2 wraps only at spaces)."""
    widths = [pdf.epw * w / sum(col_widths) for w in col_widths]
    labels = set(label_columns)
    label_style = FontFace(emphasis="", color=_MUTED, fill_color=_LABEL_FILL)
    with (
        pdf.local_context(draw_color=_RULE, line_width=0.2, text_color=_TEXT),
        pdf.table(
            col_widths=widths,
            width=pdf.epw,
            first_row_as_headings=heading,
            headings_style=FontFace(emphasis="", color=_PRIMARY, fill_color=_HEAD_FILL),
            borders_layout=TableBordersLayout.ALL,
            line_height=_LINE - 0.6,
            padding=(_CELL_PAD - 0.6, _CELL_PAD),
            text_align="LEFT",
        ) as table,
    ):
        for r, values in enumerate(rows):
            row = table.row()
            for c, value in enumerate(values):
                text = "\n".join(wrap_zh(pdf, value, widths[c] - 2 * _CELL_PAD - 0.5))
                row.cell(text, style=label_style if c in labels and not (heading and r == 0) else None)


# --- charts -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Point:
    x: float  # fraction of the month, 0..1
    value: float
    critical: bool


@dataclass(frozen=True, slots=True)
class _Series:
    label: str
    color: tuple[int, int, int]
    points: tuple[_Point, ...]


@dataclass(frozen=True, slots=True)
class _Reference:
    value: float
    label: str


def _month_bounds(month: date) -> tuple[datetime, int]:
    days = calendar.monthrange(month.year, month.month)[1]
    return datetime.combine(month.replace(day=1), time(0), tzinfo=SHANGHAI), days


def _month_fraction(at: datetime, start: datetime, days: int) -> float:
    return (to_local(at) - start).total_seconds() / (days * 86400)


def _in_month(readings: Iterable[ReportReading], kind: ReadingKind, month: date) -> list[ReportReading]:
    start, days = _month_bounds(month)
    kept = [r for r in readings if r.kind == kind and 0 <= _month_fraction(r.at, start, days) < 1]
    return sorted(kept, key=lambda r: r.at)


def _points(
    readings: Sequence[tuple[datetime, float, bool]], month: date, *, daily_means: bool
) -> tuple[tuple[_Point, ...], tuple[_Point, ...]]:
    """(line points, critical points). Many readings collapse to daily means at noon; critical ones stay single."""
    start, days = _month_bounds(month)
    critical = tuple(_Point(_month_fraction(at, start, days), v, True) for at, v, c in readings if c)
    if not daily_means:
        return tuple(_Point(_month_fraction(at, start, days), v, c) for at, v, c in readings), critical
    by_day: dict[int, list[float]] = defaultdict(list)
    for at, v, _ in readings:
        by_day[to_local(at).day].append(v)
    means = tuple(_Point((day - 0.5) / days, sum(vs) / len(vs), False) for day, vs in sorted(by_day.items()))
    return means, critical


def _axis_range(values: Iterable[float], *, floor: float, ceiling: float, step: float) -> tuple[float, float]:
    values = list(values)
    low = min([*values, floor])
    high = max([*values, ceiling])
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _spread(positions: list[float], gap: float) -> list[float]:
    """Nudge label baselines (sorted top to bottom) apart so none overlaps its neighbour."""
    out: list[float] = []
    for p in positions:
        out.append(p if not out or p - out[-1] >= gap else out[-1] + gap)
    return out


def _draw_chart(
    pdf: FPDF,
    *,
    month: date,
    unit: str,
    y_range: tuple[float, float],
    y_step: float,
    series: Sequence[_Series],
    critical: Sequence[_Point],
    references: Sequence[_Reference],
    band: tuple[float, float, str] | None = None,
    decimals: int = 0,
) -> None:
    """A line chart over the days of ``month``, drawn at the current y and taking the full text width."""
    _, days = _month_bounds(month)
    top = pdf.get_y()
    left = _MARGIN + 11.0  # y tick labels
    right = pdf.w - _MARGIN - 16.0  # reference-line labels
    plot_top = top + 8.0  # unit and legend
    plot_bottom = top + _CHART_H - 7.0  # day labels
    y_low, y_high = y_range

    def px(x: float) -> float:
        return left + x * (right - left)

    def py(value: float) -> float:
        value = min(max(value, y_low), y_high)
        return plot_bottom - (value - y_low) / (y_high - y_low) * (plot_bottom - plot_top)

    with pdf.local_context(font_size_pt=7, text_color=_MUTED, line_width=0.15):
        pdf.text(_MARGIN, plot_top - 3.2, unit)
        if band is not None:
            with pdf.local_context(fill_color=_BAND):
                pdf.rect(left, py(band[1]), right - left, py(band[0]) - py(band[1]), style="F")
        # Horizontal grid with the y ticks.
        steps = round((y_high - y_low) / y_step)
        for i in range(steps + 1):
            value = y_low + i * y_step
            with pdf.local_context(draw_color=_GRID):
                pdf.line(left, py(value), right, py(value))
            label = f"{value:.{decimals}f}"
            pdf.text(left - 1.5 - pdf.get_string_width(label), py(value) + 1.0, label)
        # Day ticks: the 1st, every 5th, and the last day (unless it crowds the 25th).
        ticks = [1, *range(5, days - 2, 5), days]
        for day in ticks:
            x = px((day - 0.5) / days)
            with pdf.local_context(draw_color=_GRID):
                pdf.line(x, plot_top, x, plot_bottom)
            pdf.line(x, plot_bottom, x, plot_bottom + 1.0)
            label = f"{month.month}/{day}"
            pdf.text(x - pdf.get_string_width(label) / 2, plot_bottom + 4.0, label)
        with pdf.local_context(draw_color=_MUTED, line_width=0.25):
            pdf.line(left, plot_bottom, right, plot_bottom)
            pdf.line(left, plot_top, left, plot_bottom)

    # Dashed reference lines, labelled in the right margin.
    visible = sorted((r for r in references if y_low <= r.value <= y_high), key=lambda r: -r.value)
    label_y = _spread([py(r.value) + 1.0 for r in visible], 2.8)
    with pdf.local_context(draw_color=_REFERENCE, line_width=0.3, text_color=_REFERENCE, font_size_pt=7):
        pdf.set_dash_pattern(dash=1.5, gap=1.0)
        for ref in visible:
            pdf.line(left, py(ref.value), right, py(ref.value))
        pdf.set_dash_pattern()
        for ref, y in zip(visible, label_y, strict=True):
            pdf.text(right + 1.2, y, ref.label)

    for s in series:
        coords = [(px(p.x), py(p.value)) for p in s.points]
        # A series holds fewer than POINTS_BELOW readings or at most one mean a day, so every point is drawn.
        with pdf.local_context(draw_color=s.color, line_width=0.35, fill_color=(255, 255, 255)):
            if len(coords) > 1:
                pdf.polyline(coords)
            for (x, y), p in zip(coords, s.points, strict=True):
                if not p.critical:
                    pdf.circle(x, y, 0.7, style="FD")
    with pdf.local_context(draw_color=_CRITICAL, fill_color=_CRITICAL, line_width=0.2):
        for p in critical:
            pdf.circle(px(p.x), py(p.value), 1.0, style="FD")

    # Legend, right-aligned above the plot.
    items: list[tuple[str, tuple[int, int, int], str]] = [(s.label, s.color, "line") for s in series]
    if band is not None:
        items.append((band[2], _BAND, "box"))
    if critical:
        items.append(("危急值", _CRITICAL, "dot"))
    if references:
        items.append(("参考线", _REFERENCE, "dash"))
    with pdf.local_context(font_size_pt=7.5, text_color=_TEXT):
        x = right
        for label, color, kind in reversed(items):
            x -= pdf.get_string_width(label)
            pdf.text(x, plot_top - 3.2, label)
            x -= 7.0
            y = plot_top - 4.2
            with pdf.local_context(draw_color=color, fill_color=color, line_width=0.4):
                if kind == "dot":
                    pdf.circle(x + 3.0, y, 1.0, style="FD")
                elif kind == "box":
                    pdf.rect(x + 0.5, y - 1.5, 5.0, 3.0, style="F")
                else:
                    if kind == "dash":
                        pdf.set_dash_pattern(dash=1.2, gap=0.8)
                    pdf.line(x, y, x + 6.0, y)
                    pdf.set_dash_pattern()
            x -= 4.0
    pdf.set_xy(_MARGIN, top + _CHART_H)


def _caption(pdf: FPDF, text: str) -> None:
    with pdf.local_context(font_size_pt=8.5):
        _paragraph(pdf, text, color=_MUTED)


def _bp_section(pdf: FPDF, report: MonthlyReport, readings: Sequence[ReportReading]) -> None:
    _section(pdf, "本月血压监测", keep_with=_CHART_H + 8)
    bp = [(r.at, r.sbp, r.dbp, r.critical) for r in readings if r.sbp is not None and r.dbp is not None]
    many = len(bp) >= POINTS_BELOW
    # Mark the value that crossed its critical line; a reading flagged for another reason marks its systolic.
    sys_line, sys_crit = _points(
        [(at, s, c and (s >= CRITICAL_SBP or d < CRITICAL_DBP)) for at, s, d, c in bp], report.month, daily_means=many
    )
    dia_line, dia_crit = _points(
        [(at, d, c and d >= CRITICAL_DBP) for at, _, d, c in bp], report.month, daily_means=many
    )
    target_sbp, target_dbp = BP_TARGET
    _draw_chart(
        pdf,
        month=report.month,
        unit="mmHg",
        y_range=_axis_range([v for _, s, d, _ in bp for v in (s, d)], floor=60, ceiling=160, step=20),
        y_step=20,
        series=(_Series("收缩压", _SBP, sys_line), _Series("舒张压", _DBP, dia_line)),
        critical=(*sys_crit, *dia_crit),
        references=(_Reference(target_sbp, f"{target_sbp} 收缩压"), _Reference(target_dbp, f"{target_dbp} 舒张压")),
    )
    n = len(bp)
    mean_sbp, mean_dbp = sum(s for _, s, _, _ in bp) / n, sum(d for _, _, d, _ in bp) / n
    _, top_sbp, top_dbp, _ = max(bp, key=lambda r: (r[1], r[2]))
    n_critical = sum(c for *_, c in bp)
    caption = f"共 {n} 次读数，平均 {mean_sbp:.0f}/{mean_dbp:.0f} mmHg，最高 {_bp(top_sbp, top_dbp)} mmHg"
    caption += f"，危急值 {n_critical} 次。" if n_critical else "，无危急值。"
    _caption(pdf, caption + ("读数较多，折线为每日平均值。" if many else ""))


def _glucose_section(pdf: FPDF, report: MonthlyReport, readings: Sequence[ReportReading]) -> None:
    _section(pdf, "本月血糖监测", keep_with=_CHART_H + 8)
    glucose = [(r.at, r.glucose, r.critical) for r in readings if r.glucose is not None]
    many = len(glucose) >= POINTS_BELOW
    line, crit = _points(glucose, report.month, daily_means=many)
    values = [v for _, v, _ in glucose]
    y_low, y_high = _axis_range(values, floor=2, ceiling=10, step=2)
    step = 2.0 if y_high - y_low <= 16 else 4.0
    _draw_chart(
        pdf,
        month=report.month,
        unit="mmol/L",
        y_range=(math.floor(y_low / step) * step, math.ceil(y_high / step) * step),  # ticks land on the step
        y_step=step,
        series=(_Series("血糖", _GLUCOSE, line),),
        critical=crit,
        references=(
            _Reference(CRITICAL_GLUCOSE_HIGH, f"{CRITICAL_GLUCOSE_HIGH:.1f} 过高"),
            _Reference(FASTING_GLUCOSE_TARGET, f"{FASTING_GLUCOSE_TARGET:.1f}"),
            _Reference(CRITICAL_GLUCOSE_LOW, f"{CRITICAL_GLUCOSE_LOW:.1f} 低血糖"),
        ),
        band=(GLUCOSE_TARGET_LOW, FASTING_GLUCOSE_TARGET, f"空腹目标 {GLUCOSE_TARGET_LOW}–{FASTING_GLUCOSE_TARGET}"),
    )
    n_critical = sum(c for *_, c in glucose)
    caption = (
        f"共 {len(values)} 次读数，平均 {sum(values) / len(values):.1f} mmol/L，"
        f"最高 {max(values):.1f}，最低 {min(values):.1f} mmol/L"
    )
    caption += f"，危急值 {n_critical} 次。" if n_critical else "，无危急值。"
    _caption(pdf, caption + ("读数较多，折线为每日平均值。" if many else ""))


# --- the report -------------------------------------------------------------------------------------------------


def _title(pdf: FPDF, report: MonthlyReport) -> None:
    with pdf.local_context(font_size_pt=8, text_color=_MUTED):
        pdf.cell(pdf.epw / 2, 4, report.institution_name)
        pdf.cell(
            pdf.epw / 2, 4, f"报告月份：{_month_zh(report.month)}", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.ln(3)
    # Noto Sans SC ships one weight; stroking the glyph outline gives the title its weight.
    with pdf.local_context(
        font_size_pt=19, text_color=_PRIMARY, draw_color=_PRIMARY, line_width=0.25, text_mode=TextMode.FILL_STROKE
    ):
        pdf.cell(pdf.epw, 10, TITLE, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    with pdf.local_context(font_size_pt=12, text_color=_TEXT):
        pdf.cell(pdf.epw, 7, _month_zh(report.month), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    with pdf.local_context(draw_color=_PRIMARY, line_width=0.6):
        pdf.line(_MARGIN, pdf.get_y(), pdf.w - _MARGIN, pdf.get_y())
    pdf.ln(4)


def _patient_block(pdf: FPDF, report: MonthlyReport) -> None:
    rows = [
        ("姓名", report.patient_name, "性别", report.sex_zh, "年龄", f"{report.age} 岁"),
        (
            "档案编号",
            report.record_number,
            "管理病种",
            "、".join(report.diseases_zh) or "—",
            "风险分层",
            report.risk_tier_zh or "—",
        ),
        ("签约团队", report.team_name, "责任医生", report.doctor_name, "管理机构", report.institution_name),
    ]
    _table(pdf, rows, (15, 27, 15, 27, 15, 31), heading=False, label_columns=(0, 2, 4))


def render_monthly_report(report: MonthlyReport, *, font_path: str | Path | None = None) -> bytes:
    """The report as PDF bytes: A4 portrait, usually one or two pages.

    Two renders of the same report are byte-identical: the PDF creation date is ``generated_at``.
    """
    pdf = _ReportPDF(report)
    pdf.add_font(_FAMILY, fname=cjk_font_path(font_path))
    pdf.set_font(_FAMILY, size=_BODY_PT)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_FOOTER_SPACE)
    pdf.set_creation_date(report.generated_at)
    pdf.set_title(f"{TITLE} {_month_zh(report.month)}")
    pdf.set_author(report.institution_name)
    pdf.set_creator("健康大脑+")
    pdf.set_lang("zh-CN")
    pdf.set_text_color(*_TEXT)
    pdf.add_page()

    _title(pdf, report)
    _patient_block(pdf, report)

    _section(pdf, "本月控制情况")
    if report.control_status:
        _table(pdf, [("项目", "情况"), *report.control_status], (1, 3), heading=True, label_columns=(0,))
    else:
        _paragraph(pdf, "本月无控制情况评估。", color=_MUTED)

    bp = _in_month(report.readings, ReadingKind.BP, report.month)
    glucose = _in_month(report.readings, ReadingKind.GLUCOSE, report.month)
    bp = [r for r in bp if r.sbp is not None and r.dbp is not None]
    glucose = [r for r in glucose if r.glucose is not None]
    if not bp and not glucose:
        _section(pdf, "本月监测数据")
        _paragraph(pdf, NO_READINGS, color=_MUTED)
    else:
        if bp:
            _bp_section(pdf, report, bp)
        else:
            _section(pdf, "本月血压监测")
            _paragraph(pdf, "本月无血压监测数据", color=_MUTED)
        if glucose:
            _glucose_section(pdf, report, glucose)

    _section(pdf, "随访记录")
    if report.visits:
        header = ("随访日期", "病种", "血压 (mmHg)", "血糖 (mmol/L)", "随访分类", "下次随访")
        rows = [
            (
                v.visit_date.isoformat(),
                v.disease_zh,
                _bp(v.sbp, v.dbp),
                _fmt(v.glucose, 1),
                v.visit_class_zh,
                v.next_date.isoformat() if v.next_date else "—",
            )
            for v in sorted(report.visits, key=lambda v: v.visit_date)
        ]
        _table(pdf, [header, *rows], (22, 22, 20, 20, 22, 22), heading=True)
    else:
        _paragraph(pdf, "本月无随访记录。", color=_MUTED)

    if report.home_bp_summary_zh:
        _section(pdf, "家庭血压监测（722 方案）")
        _paragraph(pdf, report.home_bp_summary_zh)

    _section(pdf, "本月变化")
    _bullets(pdf, report.changes, empty="与上月相比无明显变化。")
    _section(pdf, "健康建议")
    _bullets(pdf, report.advice, empty="请继续按医嘱服药，定期监测并按时随访。")

    return bytes(pdf.output())
