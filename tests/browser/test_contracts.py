"""Family-doctor contracting and the record indicators in a real browser, on the demo district: a doctor
signs from the worklist with a signature drawn on the pad, renews a contract about to expire, and the
bureau reads 建档率 / 使用率 / 签约率 with their chart and Excel file."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from healthbrain.core.time import local_today
from healthbrain.indicators.registry import month_periods
from tests.browser.conftest import Api

pytestmark = pytest.mark.browser

AsUser = Callable[[str], Page]


def draw_signature(page: Page) -> None:
    pad = page.get_by_test_id("signature-pad")
    box = pad.bounding_box()
    assert box is not None
    x, y = box["x"], box["y"]
    page.mouse.move(x + 40, y + 120)
    page.mouse.down()
    for i in range(1, 30):
        page.mouse.move(x + 40 + i * 12, y + 120 - (35 if i % 4 < 2 else -20), steps=2)
    page.mouse.up()
    expect(page.get_by_test_id("signature-state")).to_have_text("已签名")


def test_sign_from_the_worklist_with_a_drawn_signature(as_user: AsUser, api: Api, screenshot_dir: Path) -> None:
    page = as_user("doctor")
    page.locator("nav.mainnav a", has_text="家庭医生签约").click()
    expect(page.locator("h1")).to_contain_text("家庭医生签约")
    uncontracted = page.get_by_test_id("uncontracted")
    before = int(page.get_by_test_id("count-contracted").locator(".num").inner_text())
    first = uncontracted.locator("tbody tr").filter(has=page.get_by_test_id("sign")).first
    resident_id = int(first.get_attribute("data-resident") or 0)
    name = first.locator("td").first.locator("a").inner_text()
    page.screenshot(path=str(screenshot_dir / "contracts-worklists.png"), full_page=True)
    first.get_by_test_id("sign").click()

    expect(page.get_by_test_id("resident-name")).to_contain_text(name)
    page.get_by_test_id("package").select_option("basic")
    draw_signature(page)
    page.screenshot(path=str(screenshot_dir / "contracts-sign-form.png"), full_page=True)
    page.get_by_test_id("submit").click()

    page.wait_for_url(f"**/contracts/residents/{resident_id}?notice=signed")
    expect(page.get_by_test_id("notice")).to_have_text("签约成功。")
    contract = page.get_by_test_id("contract").first
    expect(contract.get_by_test_id("status")).to_have_text("在约")
    image = contract.get_by_test_id("signature")
    expect(image).to_be_visible()
    source = image.get_attribute("src") or ""
    assert source.startswith("data:image/png;base64,")
    assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    page.screenshot(path=str(screenshot_dir / "contracts-history.png"), full_page=True)

    stored = api.get(f"/api/v1/contracts/residents/{resident_id}", user="doctor")
    assert stored[0]["consents"][0]["signature"] == source and stored[0]["package"]["code"] == "basic"

    page.goto("/contracts")
    expect(page.get_by_test_id("recent").locator(f"tr[data-resident='{resident_id}']")).to_be_visible()
    expect(page.get_by_test_id("uncontracted").locator(f"tr[data-resident='{resident_id}']")).to_have_count(0)
    expect(page.get_by_test_id("count-contracted").locator(".num")).to_have_text(str(before + 1))


def test_a_form_without_signature_is_shown_again_with_the_reason(as_user: AsUser, api: Api) -> None:
    page = as_user("doctor")
    page.goto("/contracts?population=elderly")
    row = page.get_by_test_id("uncontracted").locator("tbody tr").filter(has=page.get_by_test_id("sign")).first
    row.get_by_test_id("sign").click()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("form-errors")).to_contain_text("签名板")
    draw_signature(page)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("notice")).to_have_text("签约成功。")


def test_renew_a_contract_about_to_expire(as_user: AsUser, api: Api, screenshot_dir: Path) -> None:
    [team] = api.get("/api/v1/contracts/teams", user="doctor")
    lists = api.get(f"/api/v1/contracts/teams/{team['id']}/worklists?population=child&limit=5", user="doctor")
    resident = lists["uncontracted"]["items"][-1]
    start = local_today() - timedelta(days=355)
    body = {
        "resident_id": resident["resident_id"],
        "team_id": team["id"],
        "package_code": "child",
        "start_date": start.isoformat(),
        "consent": {"signer_name": "家长", "signer_relation": "parent", "method": "electronic"},
    }
    old = api.post("/api/v1/contracts", body, user="doctor")

    page = as_user("doctor")
    page.goto("/contracts")
    row = page.get_by_test_id("expiring").locator(f"tr[data-contract='{old['id']}']")
    expect(row).to_be_visible()
    row.get_by_test_id("renew").click()
    expect(page.get_by_test_id("renews")).to_contain_text("儿童包")
    expect(page.get_by_test_id("start")).to_have_value(
        (date.fromisoformat(old["end_date"]) + timedelta(days=1)).isoformat()
    )
    page.get_by_test_id("signer").fill("王家长")
    page.get_by_test_id("relation").select_option("parent")
    draw_signature(page)
    page.get_by_test_id("submit").click()

    expect(page.get_by_test_id("notice")).to_have_text("续约成功。")
    renewed = page.locator("[data-testid=contract]").first
    expect(renewed.get_by_test_id("status")).to_have_text("未开始")
    expect(renewed).to_contain_text("续约")
    expect(renewed.get_by_test_id("consent")).to_contain_text("王家长（父母）")
    page.screenshot(path=str(screenshot_dir / "contracts-renewed.png"), full_page=True)
    page.goto("/contracts")
    expect(page.get_by_test_id("expiring").locator(f"tr[data-contract='{old['id']}']")).to_have_count(0)


def test_record_indicators_page(as_user: AsUser, screenshot_dir: Path) -> None:
    page = as_user("bureau")
    page.locator("nav.mainnav a", has_text="档案与签约指标").click()
    table = page.get_by_test_id("record-indicators")
    expect(table.locator("thead th").nth(1)).to_contain_text("电子健康档案建档率")
    district = table.locator("tr[data-unit='all']")
    expect(district.locator("td").first).to_have_text("全区")
    expect(district.locator("td[data-indicator='records.record_rate']")).to_contain_text("%")
    assert table.locator("tbody tr").count() > 2  # the district and its towns
    # the demo's simulation stored the last 12 months: read, not counted, with the time of the refresh
    expect(page.get_by_test_id("computed-at")).to_contain_text("数据更新于")
    expect(page.get_by_test_id("refresh-command")).to_have_count(0)
    expect(page.get_by_test_id("series-records.contract_rate").locator("svg")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("series-live")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "record-indicators.png"), full_page=True)
    page.get_by_test_id("f-level").select_option("centre")
    page.locator("form[data-testid=indicator-filters] button").click()
    expect(table.locator("thead th").first).to_have_text("社区卫生服务中心")
    with page.expect_download() as download:
        page.get_by_test_id("xlsx").click()
    assert (
        download.value.suggested_filename.startswith("record-indicators-")
        and "centre" in download.value.suggested_filename
    )


def test_a_month_never_refreshed_is_counted_live_and_says_how_to_store_it(
    as_user: AsUser, screenshot_dir: Path
) -> None:
    month = month_periods(local_today(), 14)[0].label  # before the 12 months the simulation stored
    page = as_user("bureau")
    page.goto(f"/records/indicators?month={month}")
    expect(page.get_by_test_id("refresh-command")).to_have_text(
        f"healthbrain records indicators refresh --month {month}"
    )
    expect(page.get_by_test_id("computed-at")).to_contain_text("该月尚未预先计算")
    expect(page.get_by_test_id("record-indicators").locator("tr[data-unit='all'] td").first).to_have_text("全区")
    expect(page.get_by_test_id("series-live")).to_contain_text(month, timeout=60_000)
    page.screenshot(path=str(screenshot_dir / "record-indicators-live.png"), full_page=True)


def test_record_indicators_for_a_doctor_in_english(as_user: AsUser) -> None:
    page = as_user("doctor")
    page.goto("/records/indicators?lang=en")
    table = page.get_by_test_id("record-indicators")
    expect(table.locator("thead th").first).to_have_text("Family-doctor team")
    expect(table.locator("tr[data-unit='all'] td").first).to_have_text("Total (communities served)")
    expect(table.locator("tbody tr")).to_have_count(2)
