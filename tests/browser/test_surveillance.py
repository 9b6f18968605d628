"""The early-warning pages, driven through Chromium against a live server on the demo district.

A school doctor reports absences by file and corrects the rejected rows; the CDC finds the alert
on the console and works it to closure; the bureau only reads; the CDC configures the detectors
and the channels; a family doctor is refused. Alerts are raised through the feeds (the page's
upload or the JSON API), never written to the database behind the server's back.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Download, Locator, Page, Response, expect
from sqlalchemy import select

from healthbrain.core.time import local_today
from healthbrain.db import make_engine
from healthbrain.surveillance.models import SchoolHoliday
from tests.browser.conftest import Api, LiveServer
from tests.surveillance.factories import absence, case, school_day

pytestmark = pytest.mark.browser

AsUser = Callable[[str], Page]

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEEDS = "/api/v1/surveillance/feeds"
# The school-absence template's columns, as a school doctor sees them in Excel.
ABSENCE_HEADERS = ["学校代码", "班级", "年级", "日期", "缺课原因", "缺课人数", "班级人数"]
ERRORS_HEADER = "错误原因 / errors"
ROW_HEADER = "原行号 / row"
OPEN_STATUSES = ["new", "verifying", "monitoring", "risk_assessment", "responding"]
YELLOW_CHIP = "rgb(242, 194, 0)"  # .grade.yellow
# An i18n key shown instead of its text (``surv.console.title`` …).
RAW_KEY = re.compile(r"(?<![\w.])(?:surv|error|batch|home|nav|role|sex|pager|action)\.[a-z_]+(?:\.[a-z_]+)*")

_class_numbers = itertools.count(7)


def new_class_name() -> str:
    """A class the demo school has not registered yet (the demo's classes are all ``…1班``)."""
    return f"六年级{next(_class_numbers)}班"


def csrf_token(page: Page) -> str:
    """The session's CSRF token, as htmx sends it (the body's hx-headers)."""
    headers = page.locator("body").get_attribute("hx-headers")
    assert headers, "no hx-headers on <body>: not logged in?"
    token: str = json.loads(headers)["X-CSRF-Token"]
    return token


def term_day(live_server: LiveServer) -> date:
    """The most recent school day of the demo district: a weekday outside its school holidays,
    which the class rules count (read from the database: no API lists the holidays)."""
    engine = make_engine(live_server.database_url)
    try:
        with engine.connect() as connection:
            holidays = connection.execute(select(SchoolHoliday.first_day, SchoolHoliday.last_day)).all()
    finally:
        engine.dispose()
    for back in range(400):
        day = school_day(back)
        if not any(first <= day <= last for first, last in holidays):
            return day
    raise AssertionError("no school day in the last year and a half")


def own_school_code(api: Api) -> str:
    me = api.get("/api/v1/auth/me", user="school")
    institutions = api.get("/api/v1/institutions?limit=1000", user="admin")
    school = next(i for i in institutions if i["id"] == me["institution_id"])
    assert school["kind"] == "school"
    code: str = school["code"]
    return code


def class_alert(api: Api, alert_ids: list[int], class_name: str) -> dict[str, Any]:
    """Of the alerts a batch raised or extended, the one of ``class_name``."""
    found = [
        a for i in alert_ids if (a := api.get(f"/api/v1/surveillance/alerts/{i}", user="cdc"))["place_kind"] == "class"
    ]
    mine = [a for a in found if a["place_name"].endswith(class_name)]
    assert len(mine) == 1, f"no single class alert for {class_name} among {alert_ids}"
    alert: dict[str, Any] = mine[0]
    return alert


def open_alert_ids(api: Api, **filters: str) -> list[int]:
    """Open alerts by the API, newest first, as the console lists them."""
    query = "&".join([f"status={s}" for s in OPEN_STATUSES] + [f"{k}={v}" for k, v in filters.items()])
    return [a["id"] for a in api.get(f"/api/v1/surveillance/alerts?{query}&limit=500", user="cdc")]


def shown_alert_ids(page: Page, expected: list[int]) -> list[int]:
    """The console's rows, once htmx has swapped in a table of ``len(expected)`` alerts."""
    expect(page.get_by_test_id("alert-total")).to_have_text(f"共 {len(expected)} 条预警")
    rows = page.get_by_test_id("alert-row")
    expect(rows).to_have_count(len(expected))
    return [int(r.get_attribute("data-alert") or 0) for r in rows.all()]


def save_download(download: Download, directory: Path) -> Path:
    """The downloaded file under the name the server gave it (openpyxl goes by the extension)."""
    path = directory / download.suggested_filename
    download.save_as(path)
    return path


def sheet_rows(path: Path) -> list[list[Any]]:
    workbook = load_workbook(path, read_only=True)
    try:
        return [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    """A CSV as Excel saves it for Chinese headers: UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ABSENCE_HEADERS)
    writer.writerows(rows)
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
    return path


def upload(page: Page, file: Path) -> Response:
    """Choose the file, press Upload, and wait for the page with the result."""
    page.get_by_test_id("file").set_input_files(file)
    with page.expect_response(
        lambda r: r.url.endswith("/surveillance/submit") and r.request.method == "POST"
    ) as posted:
        page.get_by_test_id("upload").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("result")).to_be_visible()
    return posted.value


def result_counts(page: Page) -> dict[str, int]:
    return {
        key: int(page.get_by_test_id(f"r-{key}").inner_text())
        for key in ("received", "inserted", "corrected", "unchanged", "rejected")
    }


def result_batch(page: Page) -> int:
    heading = page.get_by_test_id("result").locator("h2").inner_text()
    found = re.search(r"#(\d+)", heading)
    assert found, heading
    return int(found.group(1))


def linked_alerts(banner: Locator) -> list[int]:
    return [int(re.sub(r"\D", "", href or "")) for href in (a.get_attribute("href") for a in banner.locator("a").all())]


def act(page: Page, action: str, *, expect_status: int = 303) -> None:
    """Press one workflow button and wait for the alert page it leads to."""
    with page.expect_response(lambda r: r.url.endswith("/act") and r.request.method == "POST") as posted:
        page.get_by_test_id(f"act-{action}").click()
    page.wait_for_load_state()
    assert posted.value.status == expect_status, f"{action}: HTTP {posted.value.status}"


def shoot(page: Page, directory: Path, name: str) -> Path:
    path = directory / f"surveillance-{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


# --------------------------------------------------------------------------- submitting a file


def test_school_doctor_uploads_absences_corrects_the_rejected_rows_and_a_resend_changes_nothing(
    as_user: AsUser, api: Api, live_server: LiveServer, tmp_path: Path, screenshot_dir: Path
) -> None:
    day = term_day(live_server)
    cluster, unregistered = new_class_name(), new_class_name()
    page = as_user("school")
    page.goto("/surveillance/submit")
    expect(page.get_by_test_id("feed-school_absence")).to_have_class(re.compile(r"\bactive\b"))

    # The templates: a real workbook and a CSV with a BOM, both with the Chinese headers.
    with page.expect_download() as template:
        page.get_by_test_id("template-xlsx").click()
    assert template.value.suggested_filename == "school_absence-template.xlsx"
    header, *_examples = sheet_rows(save_download(template.value, tmp_path))
    assert header == ABSENCE_HEADERS
    with page.expect_download() as template_csv:
        page.get_by_test_id("template-csv").click()
    text = save_download(template_csv.value, tmp_path).read_bytes().decode("utf-8")
    assert text.startswith("\ufeff" + ",".join(ABSENCE_HEADERS))

    # Two good rows make three pupils of one class absent with respiratory symptoms on one day
    # (the class rule: ≥ 3 in a day); three rows are wrong, each in one field.
    future = local_today() + timedelta(days=3)
    first = write_csv(
        tmp_path / "缺课日报.csv",
        [
            ["", cluster, 6, day.isoformat(), "发热", 2, 40],  # row 2: registers the class
            ["", cluster, "", day.isoformat(), "咳嗽", 1, 40],  # row 3: the third pupil
            ["", cluster, "", day.isoformat(), "打喷嚏", 1, 40],  # row 4: not a cause
            ["", cluster, "", future.isoformat(), "发热", 1, 40],  # row 5: in the future
            ["", unregistered, "", day.isoformat(), "腹泻", 1, 36],  # row 6: a new class without its grade
        ],
    )
    assert upload(page, first).status == 200
    assert result_counts(page) == {"received": 5, "inserted": 2, "corrected": 0, "unchanged": 0, "rejected": 3}
    first_batch = result_batch(page)
    raised = page.get_by_test_id("r-alerts")
    expect(raised).to_be_visible()
    alert = class_alert(api, linked_alerts(raised), cluster)
    assert (alert["grade"], alert["signal"], alert["status"]) == ("yellow", "absence.respiratory", "new")
    assert alert["observed"] == 3
    assert alert["methods"] == ["school.class.respiratory.1d3"]

    errors = page.get_by_test_id("row-errors").locator("tbody tr")
    expect(errors).to_have_count(3)
    cells = [[c.strip() for c in row.locator("td").all_inner_texts()] for row in errors.all()]
    # The field is named by the column header the school wrote, the reason in Chinese.
    assert [(row, field) for row, field, _message in cells] == [("4", "缺课原因"), ("5", "日期"), ("6", "班级")]
    assert cells[0][2] == "无法识别的值“打喷嚏”"
    assert cells[1][2] == f"日期 {future.isoformat()} 晚于今天"
    assert unregistered in cells[2][2] and "年级" in cells[2][2]
    expect(page.get_by_test_id("batches").locator("tbody tr").first.locator("td").first).to_have_text(str(first_batch))
    shoot(page, screenshot_dir, "submit-result")

    # The error report: the rejected rows as sent, with their reasons and row numbers.
    with page.expect_download() as report:
        page.get_by_test_id("error-report").click()
    assert report.value.suggested_filename == f"batch-{first_batch}-errors.xlsx"
    workbook = load_workbook(save_download(report.value, tmp_path))
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == [*ABSENCE_HEADERS, ERRORS_HEADER, ROW_HEADER]
    column = {name: i + 1 for i, name in enumerate(header)}
    rejected = {int(str(sheet.cell(r, column[ROW_HEADER]).value)): r for r in range(2, sheet.max_row + 1)}
    assert sorted(rejected) == [4, 5, 6]
    assert str(sheet.cell(rejected[4], column[ERRORS_HEADER]).value).startswith("缺课原因: ")
    assert str(sheet.cell(rejected[5], column[ERRORS_HEADER]).value).startswith("日期: ")
    assert str(sheet.cell(rejected[6], column[ERRORS_HEADER]).value).startswith("班级: ")
    assert sheet.cell(rejected[4], column["缺课原因"]).value == "打喷嚏"

    # Corrected in place (a fourth pupil with a sore throat, an earlier day as an Excel date, the
    # new class's grade) and uploaded as it is: the report's own columns are skipped.
    sheet.cell(rejected[4], column["缺课原因"]).value = "咽痛"
    sheet.cell(rejected[5], column["日期"]).value = day - timedelta(days=14)
    sheet.cell(rejected[6], column["年级"]).value = 6
    corrected = tmp_path / "错误报告-已改.xlsx"
    workbook.save(corrected)
    assert upload(page, corrected).status == 200
    assert result_counts(page) == {"received": 3, "inserted": 3, "corrected": 0, "unchanged": 0, "rejected": 0}
    second_batch = result_batch(page)
    assert second_batch != first_batch
    expect(page.get_by_test_id("row-errors")).to_have_count(0)
    assert alert["id"] in linked_alerts(page.get_by_test_id("r-alerts"))  # the fourth pupil extends it
    extended = api.get(f"/api/v1/surveillance/alerts/{alert['id']}", user="cdc")
    assert extended["observed"] == 4
    assert sorted(r["what"] for r in extended["line_list"]) == ["发热", "咳嗽", "咽痛"]
    classes = api.get(f"/api/v1/institutions/{own_school_code(api)}/classes", user="cdc")
    assert {c["name"]: c["grade"] for c in classes if c["name"] in (cluster, unregistered)} == {
        cluster: 6,
        unregistered: 6,
    }

    # The first file again: the stored result of its batch comes back, and nothing changes.
    assert upload(page, first).status == 200
    expect(page.get_by_test_id("result").locator("h2")).to_contain_text("已上传过")
    assert result_batch(page) == first_batch
    assert result_counts(page) == {"received": 5, "inserted": 2, "corrected": 0, "unchanged": 0, "rejected": 3}
    expect(page.get_by_test_id("batches").locator("tbody tr").first.locator("td").first).to_have_text(str(second_batch))
    again = api.get(f"/api/v1/surveillance/alerts/{alert['id']}", user="cdc")
    assert (again["observed"], again["version"]) == (extended["observed"], extended["version"])
    shoot(page, screenshot_dir, "submit-replay")


# --------------------------------------------------------------------------- the console and the workflow


def raise_overdue_class_alert(api: Api, live_server: LiveServer, rng: Random) -> tuple[int, str]:
    """A yellow class alert through the JSON feed, already past its response deadline: a rule for
    this one class asks for a response within 36 ms."""
    day = term_day(live_server)
    name = new_class_name()
    registered = api.post(
        f"{FEEDS}/school_absence",
        {"rows": [absence(day, "fever", 1, class_name=name, grade=6, enrolled=38)]},
        user="school",
    )
    assert registered["inserted"] == 1, registered
    classes = api.get(f"/api/v1/institutions/{own_school_code(api)}/classes", user="cdc")
    class_id = next(c["id"] for c in classes if c["name"] == name)
    rule = {
        "code": f"browser.class.{class_id}.{rng.randrange(10**6)}",
        "name_zh": f"{name}：1天内≥3例呼吸道症状缺课（立即响应）",
        "name_en": f"{name}: ≥ 3 respiratory absences in 1 day (respond at once)",
        "signal": "absence.respiratory",
        "place_kind": "class",
        "place_id": class_id,
        "method": "window",
        "params": {"days": 1, "min_count": 3},
        "grade": "yellow",
        "response_hours": 0.00001,
    }
    api.post("/api/v1/surveillance/detectors", rule, user="cdc")
    sent = api.post(
        f"{FEEDS}/school_absence", {"rows": [absence(day, "cough", 2, class_name=name, enrolled=38)]}, user="school"
    )
    alert = class_alert(api, sent["alerts"], name)
    assert alert["grade"] == "yellow"
    return alert["id"], name


def test_cdc_filters_the_console_opens_the_alert_and_works_it_to_closure(
    as_user: AsUser, api: Api, live_server: LiveServer, rng: Random, screenshot_dir: Path
) -> None:
    alert_id, class_name = raise_overdue_class_alert(api, live_server, rng)
    # One case of cholera: a red district alert, neither yellow nor from school absence.
    community = api.get("/api/v1/divisions?level=community", user="admin")[0]["code"]
    cholera = case(f"BT{rng.randrange(10**9):09d}", "霍乱", local_today(), community=community, institution_code=None)
    assert api.post(f"{FEEDS}/case", {"rows": [cholera]}, user="submitter")["alerts"]

    page = as_user("cdc")
    page.goto("/surveillance")
    expect(page.locator("h1")).to_have_text("预警工作台")
    everything = open_alert_ids(api)
    assert shown_alert_ids(page, everything) == everything
    row = page.locator(f'[data-testid="alert-row"][data-alert="{alert_id}"]')
    expect(row).to_have_class(re.compile(r"\bgrade-yellow\b"))
    chip = row.locator("span.grade")
    expect(chip).to_have_class(re.compile(r"\byellow\b"))
    expect(chip).to_have_text("黄色")
    expect(chip).to_have_css("background-color", YELLOW_CHIP)
    expect(page.get_by_test_id("open-by-grade")).to_be_visible()
    expect(page.locator("svg.map .area.hot").first).to_be_visible()
    shoot(page, screenshot_dir, "console")

    # Source, then grade: htmx swaps the table (and the address) to exactly what the API lists.
    page.get_by_test_id("f-group").select_option("absence")
    expect(page).to_have_url(re.compile(r"[?&]group=absence"))
    absences = open_alert_ids(api, signal="absence.")
    assert len(absences) < len(everything)
    assert shown_alert_ids(page, absences) == absences
    page.get_by_test_id("f-grade").select_option("yellow")
    expect(page).to_have_url(re.compile(r"[?&]grade=yellow"))
    yellow = open_alert_ids(api, signal="absence.", grade="yellow")
    assert alert_id in yellow
    assert shown_alert_ids(page, yellow) == yellow
    expect(page.get_by_test_id("alerts").locator("span.grade.yellow")).to_have_count(len(yellow))

    # Overdue only: the alert past its deadline stays, each row marked; the tile counts them all.
    page.get_by_test_id("f-overdue").check()
    expect(page).to_have_url(re.compile(r"[?&]overdue=1"))
    late = open_alert_ids(api, signal="absence.", grade="yellow", overdue="true")
    assert alert_id in late
    assert shown_alert_ids(page, late) == late
    for late_row in page.get_by_test_id("alert-row").all():
        expect(late_row.get_by_test_id("overdue").first).to_be_visible()
    expect(page.get_by_test_id("overdue-tile").locator(".num")).to_have_text(
        str(len(open_alert_ids(api, overdue="true")))
    )

    # The alert: the series with its dashed threshold, the class's school on the map, the rows.
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/surveillance/alerts/{alert_id}$"))
    status = page.get_by_test_id("status")
    expect(status).to_have_text("待核实")
    expect(page.get_by_test_id("grade")).to_have_class(re.compile(r"\byellow\b"))
    expect(page.locator(".facts").get_by_test_id("overdue")).to_contain_text("响应超时")
    chart = page.get_by_test_id("alert-chart").locator("svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("path[stroke-dasharray]")).to_have_count(1)
    area = page.get_by_test_id("alert-map").locator("svg.map")
    expect(area.locator(".area.hot, .marker").first).to_be_visible()
    expect(area.locator("circle.marker")).to_have_count(1)
    lines = page.get_by_test_id("line-list").locator("tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.filter(has_text="发热")).to_contain_text(class_name)
    expect(lines.filter(has_text="咳嗽")).to_contain_text(class_name)
    trail = page.get_by_test_id("trail").locator("li")
    expect(trail).to_have_count(1)
    expect(trail.last).to_contain_text("系统预警")
    expect(page.get_by_test_id("actions").locator("button")).to_have_count(4)  # verify, dismiss, report, note
    shoot(page, screenshot_dir, "alert-new")

    act(page, "verify")
    expect(status).to_have_text("核实中")
    expect(trail).to_have_count(2)
    expect(trail.last).to_contain_text("开始核实")
    expect(trail.last).to_contain_text("待核实 → 核实中")
    expect(page.get_by_test_id("overdue")).to_have_count(0)  # the first response is given

    act(page, "dismiss", expect_status=422)  # without a note
    expect(page.get_by_test_id("action-error")).to_have_text("排除: 请填写说明")  # which button, and why
    expect(status).to_have_text("核实中")
    expect(trail).to_have_count(2)
    shoot(page, screenshot_dir, "alert-error")

    page.get_by_test_id("note-assess").fill("现场调查：同班 3 名学生发热、咳嗽，有共同暴露")
    act(page, "assess")
    expect(status).to_have_text("风险评估")
    expect(trail).to_have_count(3)
    expect(trail.last).to_contain_text("核实中 → 风险评估")
    expect(trail.last).to_contain_text("现场调查：同班 3 名学生发热、咳嗽")

    act(page, "report")
    expect(status).to_have_text("风险评估")  # reporting does not move the status
    expect(trail).to_have_count(4)
    expect(trail.last).to_contain_text("网络直报")
    expect(page.get_by_test_id("act-report")).to_have_count(0)

    page.get_by_test_id("note-respond").fill("启动响应：晨午检、教室消毒")
    act(page, "respond")
    expect(status).to_have_text("响应处置")
    expect(trail).to_have_count(5)
    expect(trail.last).to_contain_text("风险评估 → 响应处置")

    page.get_by_test_id("outcome").select_option("confirmed_outbreak")
    page.get_by_test_id("note-close").fill("一周内无新增病例")
    act(page, "close")
    expect(status).to_have_text("已结案")
    expect(trail).to_have_count(6)
    expect(trail.last).to_contain_text("响应处置 → 已结案")
    expect(page.locator(".facts")).to_contain_text("确认为暴发/聚集性疫情")
    expect(page.get_by_test_id("actions").locator("button")).to_have_count(1)
    expect(page.get_by_test_id("act-note")).to_be_visible()
    shoot(page, screenshot_dir, "alert-closed")
    closed = api.get(f"/api/v1/surveillance/alerts/{alert_id}", user="cdc")
    assert (closed["status"], closed["outcome"]) == ("closed", "confirmed_outbreak")
    assert [e["action"] for e in closed["events"]] == ["created", "verify", "assess", "report", "respond", "close"]

    # The bureau reads the alert and its trail, and has no buttons nor the right to act.
    bureau = as_user("bureau")
    response = bureau.goto(f"/surveillance/alerts/{alert_id}")
    assert response is not None and response.status == 200
    expect(bureau.get_by_test_id("status")).to_have_text("已结案")
    expect(bureau.get_by_test_id("trail").locator("li")).to_have_count(6)
    expect(bureau.get_by_test_id("actions")).to_have_count(0)
    expect(bureau.locator("[data-testid^='act-']")).to_have_count(0)
    refused = bureau.request.post(
        f"/surveillance/alerts/{alert_id}/act",
        form={"action": "note", "note": "卫健局的记录"},
        headers={"X-CSRF-Token": csrf_token(bureau)},
    )
    assert refused.status == 403
    assert len(api.get(f"/api/v1/surveillance/alerts/{alert_id}", user="cdc")["events"]) == 6


# --------------------------------------------------------------------------- settings


def save_rule(page: Page) -> Response:
    with page.expect_response(
        lambda r: r.url.endswith("/surveillance/settings/save") and r.request.method == "POST"
    ) as posted:
        page.get_by_test_id("d-save").click()
    page.wait_for_load_state()
    return posted.value


def save_channel(page: Page) -> Response:
    with page.expect_response(
        lambda r: r.url.endswith("/surveillance/channels/save") and r.request.method == "POST"
    ) as posted:
        page.get_by_test_id("channel-save").click()
    page.wait_for_load_state()
    return posted.value


def test_cdc_adds_a_rule_fixes_its_parameters_disables_it_and_adds_a_webhook(
    as_user: AsUser, api: Api, rng: Random, screenshot_dir: Path
) -> None:
    code = f"browser.school.fever.{rng.randrange(10**6)}"
    page = as_user("cdc")
    page.goto("/surveillance/settings")
    expect(page.get_by_test_id("detector-row")).to_have_count(
        len(api.get("/api/v1/surveillance/detectors", user="cdc"))
    )
    page.get_by_test_id("new-detector").click()
    expect(page).to_have_url(re.compile(r"/surveillance/settings/new$"))

    page.get_by_test_id("d-code").fill(code)
    page.get_by_test_id("d-name-zh").fill("学校两天内≥8例发热缺课（浏览器测试）")
    page.get_by_test_id("d-name-en").fill("School: ≥ 8 fever absences in 2 days (browser test)")
    page.get_by_test_id("d-signal").select_option("absence.fever")
    page.get_by_test_id("d-place-kind").select_option("school")
    page.get_by_test_id("d-method").select_option("window")
    page.get_by_test_id("d-params").fill('{"days": 2, "min_count": 8')
    page.get_by_test_id("d-grade").select_option("orange")
    page.get_by_test_id("d-response").fill("4")

    # Not JSON: refused, and the form keeps what was typed.
    assert save_rule(page).status == 422
    expect(page.get_by_test_id("detector-error")).to_have_text("参数: 不是有效的 JSON：第 1 行第 27 个字符附近")
    expect(page.locator("label.invalid").get_by_test_id("d-params")).to_have_count(1)
    expect(page.get_by_test_id("d-code")).to_have_value(code)
    expect(page.get_by_test_id("d-name-zh")).to_have_value("学校两天内≥8例发热缺课（浏览器测试）")
    expect(page.get_by_test_id("d-signal")).to_have_value("absence.fever")
    expect(page.get_by_test_id("d-place-kind")).to_have_value("school")
    expect(page.get_by_test_id("d-method")).to_have_value("window")
    expect(page.get_by_test_id("d-grade")).to_have_value("orange")
    expect(page.get_by_test_id("d-response")).to_have_value("4")
    expect(page.get_by_test_id("d-params")).to_have_value('{"days": 2, "min_count": 8')
    shoot(page, screenshot_dir, "rule-error")

    # JSON, but a parameter the method does not have: refused too, the parameters field marked.
    page.get_by_test_id("d-params").fill('{"days": 2, "min_cases": 8}')
    assert save_rule(page).status == 422
    expect(page.get_by_test_id("detector-error")).to_contain_text("参数不正确：min_cases: 不认识的字段")
    expect(page.locator("label.invalid").get_by_test_id("d-params")).to_have_count(1)
    expect(page.get_by_test_id("d-code")).to_have_value(code)

    page.get_by_test_id("d-params").fill('{"days": 2, "min_count": 8}')
    assert save_rule(page).status == 303
    expect(page).to_have_url(re.compile(r"/surveillance/settings$"))
    row = page.locator(f'[data-testid="detector-row"][data-code="{code}"]')
    expect(row).to_contain_text("学校两天内≥8例发热缺课（浏览器测试）")
    expect(row.locator("pre.params")).to_have_text(re.compile(r"^days=2\s+min_count=8$"))
    expect(row.locator("span.grade.orange")).to_have_text("橙色")
    expect(row.locator("td").last).to_have_text("✓")
    saved = next(d for d in api.get("/api/v1/surveillance/detectors", user="cdc") if d["code"] == code)
    assert (saved["params"], saved["response_hours"], saved["enabled"]) == ({"days": 2, "min_count": 8}, 4.0, True)

    # Edit: the form comes back filled; unticked, the rule is disabled.
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/surveillance/settings/{saved['id']}$"))
    expect(page.get_by_test_id("d-code")).to_have_value(code)
    expect(page.get_by_test_id("d-enabled")).to_be_checked()
    assert json.loads(page.get_by_test_id("d-params").input_value()) == {"days": 2, "min_count": 8}
    page.get_by_test_id("d-enabled").uncheck()
    assert save_rule(page).status == 303
    expect(row.locator("td").last).to_have_text("—")
    assert not next(d for d in api.get("/api/v1/surveillance/detectors", user="cdc") if d["code"] == code)["enabled"]

    # A webhook channel: an address that is not http(s) is refused, then a good one is listed.
    name = f"browser-hook-{rng.randrange(10**6)}"
    page.get_by_test_id("channel-name").fill(name)
    page.get_by_test_id("channel-kind").select_option("webhook")
    page.get_by_test_id("channel-url").fill("ftp://127.0.0.1/hook")
    assert save_channel(page).status == 422
    expect(page.get_by_test_id("channel-error")).to_have_text("地址: 应以 http:// 或 https:// 开头")
    expect(page.get_by_test_id("channel-url")).to_have_value("ftp://127.0.0.1/hook")  # kept, to correct
    expect(page.get_by_test_id("channels").locator("tr", has_text=name)).to_have_count(0)
    shoot(page, screenshot_dir, "channel-error")
    page.get_by_test_id("channel-name").fill(name)
    page.get_by_test_id("channel-kind").select_option("webhook")
    page.get_by_test_id("channel-url").fill("http://127.0.0.1:9/healthbrain-browser-test")
    assert save_channel(page).status == 303
    expect(page).to_have_url(re.compile(r"/surveillance/settings#channels$"))
    channel = page.get_by_test_id("channels").locator("tr", has_text=name)
    expect(channel).to_contain_text("webhook")
    expect(channel).to_contain_text("http://127.0.0.1:9/healthbrain-browser-test")
    shoot(page, screenshot_dir, "settings")

    # The bureau reads the rules, without links to edit them and without the channels.
    bureau = as_user("bureau")
    bureau.goto("/surveillance/settings")
    expect(bureau.locator(f'[data-testid="detector-row"][data-code="{code}"]')).to_be_visible()
    expect(bureau.get_by_test_id("detectors").get_by_role("link")).to_have_count(0)
    expect(bureau.get_by_test_id("new-detector")).to_have_count(0)
    expect(bureau.get_by_test_id("channels")).to_have_count(0)


def test_a_family_doctor_is_refused_the_early_warning_pages(as_user: AsUser, api: Api) -> None:
    rule = api.get("/api/v1/surveillance/detectors", user="cdc")[0]
    page = as_user("doctor")
    for path in (
        "/surveillance",
        "/surveillance/settings",
        "/surveillance/settings/new",
        f"/surveillance/settings/{rule['id']}",
        "/surveillance/submit",
        "/surveillance/indicators",
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 403, path
        expect(page.get_by_test_id("error-message")).to_be_visible()
        expect(page.get_by_test_id("detector-form")).to_have_count(0)
    page.goto("/")  # error pages carry no CSRF token: take it from the home page
    token = csrf_token(page)
    saved = page.request.post(
        "/surveillance/settings/save",
        form={"code": "doctor.rule", "name_zh": "x", "name_en": "x", "signal": "absence.all", "place_kind": "school"},
        headers={"X-CSRF-Token": token},
    )
    assert saved.status == 403
    channel = page.request.post(
        "/surveillance/channels/save", form={"name": "doctor", "kind": "log"}, headers={"X-CSRF-Token": token}
    )
    assert channel.status == 403
    assert "doctor.rule" not in {d["code"] for d in api.get("/api/v1/surveillance/detectors", user="cdc")}
    assert "doctor" not in {c["name"] for c in api.get("/api/v1/surveillance/channels", user="cdc")}


# --------------------------------------------------------------------------- language and indicators


def test_the_early_warning_pages_in_english_and_back(as_user: AsUser, api: Api, screenshot_dir: Path) -> None:
    page = as_user("cdc")
    page.goto("/surveillance")
    page.get_by_test_id("lang-en").click()
    expect(page).to_have_url(re.compile(r"/surveillance$"))  # the switch keeps the page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Alert console")
    expect(page.get_by_test_id("open-by-grade")).to_contain_text("Yellow")
    expect(page.get_by_test_id("overdue-tile")).to_contain_text("Overdue")
    expect(page.locator("form.filters")).to_contain_text("Overdue only")
    expect(page.get_by_test_id("f-group").locator("option[value=absence]")).to_have_text("School absence")
    expect(page.get_by_test_id("alert-total")).to_have_text(re.compile(r"^\d+ alerts$"))
    shoot(page, screenshot_dir, "console-en")

    first_alert = api.get("/api/v1/surveillance/alerts?limit=1", user="cdc")[0]["id"]
    headings = {
        "/surveillance": "Alert console",
        f"/surveillance/alerts/{first_alert}": None,
        "/surveillance/settings": "Detector settings",
        "/surveillance/settings/new": "New rule",
        "/surveillance/submit": "Submit surveillance data",
        "/surveillance/indicators": "Response indicators",
    }
    for path, heading in headings.items():
        page.goto(path)  # the choice sticks (cookie)
        if heading:
            expect(page.locator("h1")).to_have_text(heading)
        body = page.locator("body").inner_text()
        assert not RAW_KEY.findall(body), f"{path}: untranslated keys {RAW_KEY.findall(body)}"
    expect(page.get_by_test_id("indicator-surv.response_in_time")).to_contain_text("District")

    page.get_by_test_id("lang-zh").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("预警响应指标")
    for path in headings:
        page.goto(path)
        body = page.locator("body").inner_text()
        assert not RAW_KEY.findall(body), f"{path}: untranslated keys {RAW_KEY.findall(body)}"


def test_response_indicators_by_month_for_the_district_and_each_town(
    as_user: AsUser, api: Api, screenshot_dir: Path
) -> None:
    towns = api.get("/api/v1/divisions?level=town", user="admin")
    this_month = local_today().strftime("%Y-%m")
    created_this_month = [
        a
        for a in api.get("/api/v1/surveillance/alerts?limit=500", user="cdc")
        if datetime.fromisoformat(a["created_at"].replace("Z", "+00:00")).astimezone(SHANGHAI).strftime("%Y-%m")
        == this_month
    ]

    page = as_user("bureau")
    page.goto("/surveillance")
    page.locator("a.button[href='/surveillance/indicators']").click()
    expect(page).to_have_url(re.compile(r"/surveillance/indicators$"))
    expect(page.locator("h1")).to_have_text("预警响应指标")
    tables = page.locator("table[data-testid^='indicator-']")
    expect(tables).to_have_count(5)
    for table in tables.all():
        expect(table.locator("thead th")).to_have_count(1 + 6)  # the area, then six months
        expect(table.locator("thead th").last).to_have_text(this_month)
        expect(table.locator("tbody tr")).to_have_count(1 + len(towns))
        expect(table.locator("tbody tr").first.locator("td").first).to_have_text("全区")
        for town in towns:
            expect(table.locator("tbody tr td:first-child", has_text=town["name"])).to_have_count(1)

    # Alerts per town-week this month: the district's count is every alert raised this month.
    district = page.get_by_test_id("indicator-surv.signals_per_area_week").locator("tbody tr").first
    cell = district.locator("td").last
    if created_this_month:
        expect(cell).to_contain_text(f"n={len(created_this_month)}")
    else:
        expect(cell).to_have_text("0.0")
    shoot(page, screenshot_dir, "indicators")
