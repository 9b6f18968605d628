"""The monthly health report PDF: Chinese text survives the round trip, the font is embedded, renders repeat."""

from __future__ import annotations

import io
import logging
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader
from pypdf.generic import DictionaryObject, NameObject

from healthbrain.chronic.report_pdf import (
    FONT_ENV,
    NO_READINGS,
    TITLE,
    CJKFontNotFoundError,
    MonthlyReport,
    ReportReading,
    ReportVisit,
    cjk_font_path,
    render_monthly_report,
    wrap_zh,
)
from healthbrain.core.time import SHANGHAI

ADVICE = (
    "继续规律服用氨氯地平片 5 mg，每日一次，不要自行停药或减量；如出现头晕、乏力、下肢水肿等不适，请及时联系家庭医生。",
    "每日食盐摄入控制在 5 克以内，少吃腌制食品和加工肉类，多吃新鲜蔬菜水果，烹调时可用限盐勺。",
    "坚持每周至少 5 天、每天 30 分钟的中等强度运动，如快走、太极拳；血压高于 180/110 mmHg 时暂停运动并及时就医。",
    "空腹血糖仍有波动，请在下次随访前连续 3 天记录早餐前和晚餐后 2 小时血糖，并携带血糖记录本复诊。",
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def bp_readings(count_per_day: int = 2, *, seed: int = 7) -> list[ReportReading]:
    """Morning and evening home BP over November, drifting down, with one critical reading on the 14th."""
    rng = random.Random(seed)
    readings = []
    for day in range(1, 31):
        if day in (9, 22):  # days the patient forgot to measure
            continue
        for i in range(count_per_day):
            hour = 7 + (i * 14) // max(count_per_day, 1)
            sbp = 139 - day * 0.35 + rng.uniform(-7, 7)
            dbp = 86 - day * 0.15 + rng.uniform(-5, 5)
            readings.append(ReportReading(at=local(day, hour, 10 * i % 60), kind="bp", sbp=round(sbp), dbp=round(dbp)))
    readings.append(ReportReading(at=local(14, 21, 30), kind="bp", sbp=182, dbp=104, heart_rate=88, critical=True))
    return readings


def glucose_readings() -> list[ReportReading]:
    values = [7.6, 7.2, 6.9, 7.4, 6.6, 6.8, 3.6, 6.5, 6.9, 6.3]
    return [
        ReportReading(at=local(1 + 3 * i, 6, 45), kind="glucose", glucose=v, critical=v <= 3.9)
        for i, v in enumerate(values)
    ]


def realistic_report(**changes: object) -> MonthlyReport:
    report = MonthlyReport(
        month=date(2026, 11, 1),
        patient_name="张秀英",
        sex_zh="女",
        age=68,
        record_number="330106********2847",
        diseases_zh=("高血压", "2型糖尿病"),
        team_name="北山街道家庭医生第三团队",
        doctor_name="李建国",
        institution_name="杭州市西湖区北山街道社区卫生服务中心",
        risk_tier_zh="中危",
        control_status=(
            ("血压控制", "达标（128/82 mmHg）"),
            ("血糖控制", "未达标（空腹 7.6 mmol/L）"),
            ("规律服药", "规律"),
            ("随访情况", "本月完成 2 次面对面随访，按期完成"),
        ),
        readings=(*bp_readings(), *glucose_readings()),
        visits=(
            ReportVisit(date(2026, 11, 5), "高血压", "控制满意", sbp=128, dbp=82, next_date=date(2027, 2, 3)),
            ReportVisit(date(2026, 11, 5), "2型糖尿病", "控制不满意", glucose=7.6, next_date=date(2026, 11, 19)),
            ReportVisit(date(2026, 11, 19), "2型糖尿病", "控制满意", glucose=6.5, next_date=date(2027, 2, 17)),
        ),
        home_bp_summary_zh="722 方案：6 天 24 次读数，平均 132/84 mmHg，未达家庭高血压标准",
        changes=(
            "本月家庭血压平均 132/84 mmHg，较上月（141/88 mmHg）下降 9/4 mmHg。",
            "空腹血糖平均 6.7 mmol/L，较上月 7.4 mmol/L 有所下降；11 月 19 日出现一次低血糖（3.6 mmol/L）。",
            "11 月 14 日晚出现一次血压危急值（182/104 mmHg），家庭医生已于当晚电话随访。",
        ),
        advice=ADVICE,
        generated_at=datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
    )
    return replace(report, **changes)  # type: ignore[arg-type]


def squeeze(text: str) -> str:
    return "".join(text.split())


def text_of(pdf: bytes) -> str:
    """All page text, whitespace removed (wrapping adds line breaks; pypdf adds spaces between CJK glyphs).

    fpdf2 gives its CID fonts an embedded /Encoding CMap stream; pypdf 7 reads any /Encoding stream as a
    one-byte encoding, which turns two-byte codes into NULs and, once a subset passes 255 glyphs, into wrong
    characters (pdftotext reads the file right). The text itself comes from /ToUnicode, so reading the codes
    as two-byte (Identity-H) here tests what a reader extracts, without that pypdf gap.
    """
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():  # type: ignore[index]
            font = ref.get_object()
            if font.get("/Subtype") == "/Type0":
                font[NameObject("/Encoding")] = NameObject("/Identity-H")
    return "".join(squeeze(page.extract_text()) for page in reader.pages)


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def test_realistic_report_text_round_trips(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        pdf = render_monthly_report(realistic_report())
    text = text_of(pdf)
    assert squeeze(TITLE) in text
    assert "2026年11月" in text
    assert "张秀英" in text
    assert "控制满意" in text
    assert "杭州市西湖区北山街道社区卫生服务中心" in text
    assert squeeze("722 方案：6 天 24 次读数") in text
    for sentence in ADVICE:
        assert squeeze(sentence) in text
    assert squeeze("本报告由健康大脑+生成，仅供健康管理参考，不替代医生诊疗") in text
    assert NO_READINGS not in text
    assert not [r for r in caplog.records if "missing the following glyphs" in r.getMessage()]
    assert page_count(pdf) <= 2


def test_font_is_embedded_with_a_unicode_map() -> None:
    reader = PdfReader(io.BytesIO(render_monthly_report(realistic_report())))
    resources = reader.pages[0]["/Resources"].get_object()
    assert isinstance(resources, DictionaryObject)
    fonts = resources["/Font"].get_object()
    assert isinstance(fonts, DictionaryObject)
    assert fonts
    for ref in fonts.values():
        font = ref.get_object()
        assert isinstance(font, DictionaryObject)
        assert str(font["/BaseFont"]).endswith("+NotoSansSC")  # a subset (tag+name) of the packaged font
        assert "/ToUnicode" in font
        descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font  # type: ignore[index]
        assert isinstance(descendant, DictionaryObject)
        descriptor = descendant["/FontDescriptor"].get_object()
        assert isinstance(descriptor, DictionaryObject)
        assert "/FontFile3" in descriptor or "/FontFile2" in descriptor


def test_no_readings_says_so_instead_of_an_empty_chart() -> None:
    pdf = render_monthly_report(realistic_report(readings=(), home_bp_summary_zh=None, visits=(), changes=()))
    text = text_of(pdf)
    assert NO_READINGS in text
    assert "本月血压监测" not in text
    assert page_count(pdf) == 1


def test_glucose_only_month_shows_the_glucose_chart() -> None:
    text = text_of(render_monthly_report(realistic_report(readings=tuple(glucose_readings()))))
    assert "本月无血压监测数据" in text
    assert "本月血糖监测" in text


def test_readings_outside_the_month_are_left_out() -> None:
    stray = ReportReading(at=local(1, 7) - timedelta(days=3), kind="bp", sbp=150, dbp=95)
    text = text_of(render_monthly_report(realistic_report(readings=(stray,))))
    assert NO_READINGS in text


def test_three_hundred_readings_fit_in_two_pages() -> None:
    readings = bp_readings(count_per_day=10)
    assert len(readings) >= 280
    readings += [ReportReading(at=local(1, 6), kind="glucose", glucose=6.1)] * 20
    pdf = render_monthly_report(realistic_report(readings=tuple(readings)))
    assert page_count(pdf) <= 2
    assert squeeze("折线为每日平均值") in text_of(pdf)


def test_long_advice_wraps_and_breaks_pages() -> None:
    advice = tuple(ADVICE[i % len(ADVICE)] * 3 for i in range(12))
    pdf = render_monthly_report(realistic_report(advice=advice))
    text = text_of(pdf)
    assert page_count(pdf) >= 2
    for sentence in advice:
        assert squeeze(sentence) in text


def test_two_renders_are_byte_identical() -> None:
    report = realistic_report()
    first = render_monthly_report(report)
    assert render_monthly_report(report) == first
    metadata = PdfReader(io.BytesIO(first)).metadata
    assert metadata is not None
    assert metadata.creation_date == report.generated_at
    later = render_monthly_report(replace(report, generated_at=report.generated_at + timedelta(hours=1)))
    assert later != first


def test_missing_font_override_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "SiteFont.ttf"
    with pytest.raises(CJKFontNotFoundError, match=r"SiteFont\.ttf"):
        render_monthly_report(realistic_report(), font_path=missing)
    with pytest.raises(CJKFontNotFoundError, match="font_path"):
        cjk_font_path(missing)


def test_font_env_overrides_the_packaged_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaged = cjk_font_path()
    assert packaged.name == "NotoSansSC-Regular.otf"
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "nope.otf"))
    with pytest.raises(CJKFontNotFoundError, match=FONT_ENV):
        cjk_font_path()
    monkeypatch.setenv(FONT_ENV, str(packaged))
    assert cjk_font_path() == packaged
    assert cjk_font_path(packaged) == packaged  # the argument wins over the environment


def test_a_single_reading_renders() -> None:
    one = ReportReading(at=local(12, 8), kind="bp", sbp=152, dbp=96)
    text = text_of(render_monthly_report(realistic_report(readings=(one,))))
    assert squeeze("共 1 次读数") in text


@pytest.mark.parametrize(
    "text",
    [
        ADVICE[0],
        "血压高于 180/110 mmHg 时暂停运动并及时就医，（如有胸闷、胸痛）请立即拨打 120。" * 3,
        "零宽\u200b空格不应显示为方框",
        "https://example.org/" + "a" * 200,  # a run wider than a line breaks anywhere
    ],
)
def test_wrap_zh_keeps_width_and_punctuation_rules(text: str) -> None:
    pdf = FPDF()
    pdf.add_font("cjk", fname=cjk_font_path())
    pdf.set_font("cjk", size=10)
    lines = wrap_zh(pdf, text, 60)
    assert all(pdf.get_string_width(line) <= 60 + 1e-6 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\u200b", "")
    assert not any(line[:1] in "，。、；：？！）" for line in lines)  # 避头: no line opens with closing punctuation
    assert not any(line[-1:] in "（《“" for line in lines)  # 避尾: none ends with opening punctuation
