"""The family doctor's morning on the chronic-disease pages, driven through Chromium against a live
server on the demo district: the worklist (a critical reading that arrived by the device API
first), handling it, a follow-up with its classification, the path, a health prescription edited
and printed, a monthly report, snoozes; the English pages; a role without access is refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from healthbrain.core.time import local_today
from tests.browser.conftest import Api

pytestmark = pytest.mark.browser

AsUser = Callable[[str], Page]
RAW_KEY = re.compile(r"(?<![\w.])(?:chr|chr_ind|error|nav|sex)\.[a-z_]+(?:\.[a-z_]+)*")
SHOTS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screenshots"


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _worklist_patient(api: Api) -> int:
    """A patient of the demo doctor's worklist (follow-up due), to work on through the pages."""
    worklist = api.get("/api/v1/chronic/worklist?limit=20", user="doctor")
    followups = next(s for s in worklist["sections"] if s["kind"] == "followup")
    assert followups["items"], "the demo doctor has no follow-up due"
    return int(followups["items"][0]["resident_id"])


def test_a_critical_reading_reaches_the_worklist_and_is_handled(as_user: AsUser, api: Api) -> None:
    resident = _worklist_patient(api)
    serial = f"BROWSER-BP-{datetime.now(UTC):%H%M%S%f}"
    bound = api.post(
        f"/api/v1/chronic/residents/{resident}/devices", {"device_id": serial, "kind": "bp"}, user="doctor"
    )
    reading = {
        "kind": "bp",
        "measured_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat(),
        "sbp": 193,
        "dbp": 117,
    }
    sent = api.request(
        "POST",
        f"/api/v1/chronic/device-readings?device_id={serial}",
        json={"readings": [reading]},
        token=bound["token"],
    )
    assert sent["critical"] == 1 and sent["alerts"]

    page = as_user("doctor")
    page.goto("/")
    expect(page.get_by_test_id("home-worklist")).to_be_visible()
    page.goto("/chronic")
    row = page.get_by_test_id("critical-row").filter(has_text="193/117")
    expect(row).to_be_visible()
    _shot(page, "chronic-worklist")
    row.locator("select[name=action]").select_option("phoned")
    row.locator("input[name=note]").fill("已电话联系，嘱立即就诊")
    row.get_by_role("button").click()
    expect(page.get_by_test_id("notice")).to_contain_text("危急值已处理")
    expect(page.get_by_test_id("critical-row").filter(has_text="193/117")).to_have_count(0)


def test_a_followup_is_classified_and_the_chart_shows_the_path(as_user: AsUser, api: Api) -> None:
    resident = _worklist_patient(api)
    page = as_user("doctor")
    page.goto(f"/chronic/residents/{resident}")
    expect(page.get_by_test_id("chart-title")).to_be_visible()
    expect(page.get_by_test_id("bp-chart").locator("svg")).to_be_visible()
    dimensions = page.get_by_test_id("path").locator("td:first-child").all_inner_texts()
    assert {"生命体征", "实验室检查", "生活方式", "用药依从性", "并发症筛查", "自我管理与健康教育"} <= set(dimensions)

    form = page.get_by_test_id("followup-form")
    enrolled = form.get_by_test_id("f-disease").locator("option").all_inner_texts()
    form.get_by_test_id("f-disease").select_option(label=enrolled[0])
    form.get_by_test_id("f-sbp").fill("152")
    form.get_by_test_id("f-dbp").fill("96")
    form.get_by_test_id("f-glucose").fill("6.4")
    form.get_by_test_id("f-adherence").select_option("intermittent")
    form.get_by_test_id("f-save").click()
    notice = page.get_by_test_id("notice")
    expect(notice).to_be_visible()
    # Hypertension at 152/96 is not controlled (14 days); a diabetes form at 6.4 mmol/L is.
    if enrolled[0] == "高血压":
        expect(notice).to_contain_text("控制不满意")
        expect(notice).to_contain_text((local_today() + timedelta(days=14)).isoformat())
    else:
        expect(notice).to_contain_text("控制满意")
    expect(page.get_by_test_id("followup-history-row").first).to_contain_text(local_today().isoformat())
    _shot(page, "chronic-chart")

    # A form that cannot be saved says why, in place, and keeps what was typed.
    form = page.get_by_test_id("followup-form")
    form.get_by_test_id("f-sbp").fill("120")
    form.get_by_test_id("f-dbp").fill("")
    form.get_by_test_id("f-save").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("收缩压与舒张压须同时填写")
    expect(page.get_by_test_id("followup-form").get_by_test_id("f-sbp")).to_have_value("120")


def test_prescription_edit_save_print_and_monthly_report(as_user: AsUser, api: Api) -> None:
    resident = _worklist_patient(api)
    page = as_user("doctor")
    page.goto(f"/chronic/residents/{resident}")
    page.get_by_test_id("draft-link").click()
    salt = page.get_by_test_id("rx-salt")
    expect(salt).to_contain_text("5")
    salt.fill(salt.input_value() + "（医生补充：少吃咸菜和腌制品）")
    page.get_by_test_id("rx-save").click()
    expect(page.get_by_test_id("notice")).to_contain_text("健康处方已保存")
    page.get_by_test_id("rx-saved").first.get_by_role("link").click()
    expect(page.get_by_test_id("prescription")).to_contain_text("少吃咸菜和腌制品")
    _shot(page, "chronic-prescription")

    page.goto(f"/chronic/residents/{resident}")
    page.get_by_test_id("report-month").fill(local_today().strftime("%Y-%m"))
    page.get_by_test_id("report-make").click()
    expect(page.get_by_test_id("notice")).to_contain_text("月度健康报告已生成")
    href = page.get_by_test_id("report-link").first.get_attribute("href")
    assert href
    pdf = page.request.get(href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"


def test_agreed_to_visit_hides_the_patient(as_user: AsUser, api: Api) -> None:
    page = as_user("doctor")
    page.goto("/chronic")
    before = int(page.get_by_test_id("count-followup").inner_text())
    row = page.get_by_test_id("followup-row").first
    name = row.get_by_test_id("patient-link").inner_text()
    row.get_by_role("button", name=re.compile("已约定就诊")).click()
    expect(page.get_by_test_id("notice")).to_be_visible()
    after = int(page.get_by_test_id("count-followup").inner_text())
    assert after < before
    assert name not in page.get_by_test_id("section-followup").inner_text() or after < before


def test_the_risk_filter_and_the_english_worklist(as_user: AsUser) -> None:
    page = as_user("doctor")
    page.goto("/chronic?lang=en")
    expect(page.get_by_role("heading", name=re.compile("Family doctor's worklist"))).to_be_visible()
    page.get_by_test_id("risk-filter").select_option("high")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"risk=high"))
    badges = page.locator("[data-testid=section-followup] .badge[class*=risk-]").all_inner_texts()
    assert badges and all(text == "High risk" for text in badges), badges
    assert not RAW_KEY.search(page.locator("main").inner_text())
    page.goto("/chronic?lang=zh-CN")


def test_roles_without_the_worklist(as_user: AsUser) -> None:
    page = as_user("bureau")
    page.goto("/")
    expect(page.locator("nav a[href='/chronic']")).to_have_count(0)
    response = page.goto("/chronic")
    assert response is not None and response.status == 403
