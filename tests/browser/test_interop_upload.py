"""The data-upload page (数据上报), driven through Chromium against a live server on the demo
district: a hospital's data submitter uploads a residents file with one bad row, sees the counts,
downloads the error report, corrects it and uploads it again."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, unused_id_number

pytestmark = pytest.mark.browser

AsUser = Callable[[str], Page]


def _workbook(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_submitter_uploads_corrects_and_reuploads(
    as_user: AsUser, api: Api, rng: random.Random, tmp_path: Path, screenshot_dir: Path
) -> None:
    community = api.get("/api/v1/divisions?level=community", user="admin")[0]["code"]
    good = unused_id_number(api, rng)
    fixed = unused_id_number(api, rng)
    wrong = fixed[:-1] + ("1" if fixed[-1] != "1" else "2")  # a typing error in the check character
    path = tmp_path / "居民.xlsx"
    path.write_bytes(
        _workbook(
            [
                ["身份证号", "姓名", "联系电话", "区划代码", "现住址"],
                [good, "上报甲", "13900001234", community, "上报路1号"],
                [wrong, "上报乙", "13900005678", community, "上报路2号"],
            ]
        )
    )

    page = as_user("submitter")
    page.locator("nav.mainnav a", has_text="数据上报").click()
    expect(page.locator("h1")).to_have_text("数据上报")
    expect(page.get_by_test_id("kind-residents")).to_have_class("active")
    with page.expect_download() as template:
        page.get_by_test_id("template-xlsx").click()
    sheet = load_workbook(io.BytesIO(Path(template.value.path()).read_bytes())).worksheets[0]
    assert [c.value for c in sheet[1]][:3] == ["身份证号", "病案号", "姓名"]

    page.get_by_test_id("file").set_input_files(str(path))
    page.get_by_test_id("upload").click()
    expect(page.get_by_test_id("r-received")).to_have_text("2")
    expect(page.get_by_test_id("r-inserted")).to_have_text("1")
    expect(page.get_by_test_id("r-rejected")).to_have_text("1")
    errors = page.get_by_test_id("row-errors")
    expect(errors).to_contain_text("身份证号")
    expect(errors).to_contain_text("校验位")
    expect(errors.locator("tbody tr td").first).to_have_text("3")
    page.screenshot(path=str(screenshot_dir / "interop-upload.png"), full_page=True)

    with page.expect_download() as report:
        page.get_by_test_id("error-report").click()
    corrected = tmp_path / "errors.xlsx"
    workbook = load_workbook(io.BytesIO(Path(report.value.path()).read_bytes()))
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[-2:] == ["错误原因", "原行号"]
    assert "校验位" in str(sheet.cell(row=2, column=len(header) - 1).value)
    sheet.cell(row=2, column=header.index("身份证号") + 1, value=fixed)
    workbook.save(corrected)

    page.get_by_test_id("file").set_input_files(str(corrected))
    page.get_by_test_id("upload").click()
    expect(page.get_by_test_id("r-received")).to_have_text("1")
    expect(page.get_by_test_id("r-inserted")).to_have_text("1")
    expect(page.get_by_test_id("r-rejected")).to_have_text("0")
    expect(page.get_by_test_id("batches").locator("tbody tr")).to_have_count(2)
    found = api.get(f"/api/v1/residents?q={fixed}", user="admin")["items"]
    assert [r["name"] for r in found] == ["上报乙"]

    # the same file again stores nothing twice
    page.get_by_test_id("file").set_input_files(str(path))
    page.get_by_test_id("upload").click()
    expect(page.get_by_test_id("r-inserted")).to_have_text("0")
    expect(page.get_by_test_id("r-duplicates")).to_have_text("1")
    expect(page.get_by_test_id("r-rejected")).to_have_text("1")


def test_english_page_and_refusal_for_a_family_doctor(as_user: AsUser) -> None:
    page = as_user("submitter")
    page.goto("/interop/upload?lang=en")
    expect(page.locator("h1")).to_have_text("Data upload")
    expect(page.get_by_test_id("kinds").locator("a")).to_have_text(
        ["Residents", "Encounters", "Observations", "Physical examinations"]
    )
    doctor = as_user("doctor")
    response = doctor.goto("/interop/upload")
    assert response is not None and response.status == 403
