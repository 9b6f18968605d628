"""Early-warning pages through the real app (the browser tests drive them in Chromium; these check
the server side on both databases quickly): the console, an alert, uploads with row errors,
templates and the error report, the settings form."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.conftest import bearer
from tests.factories import PASSWORD, World
from tests.surveillance.factories import absence, school_day


def _login(client: TestClient, username: str) -> str:
    response = client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/")
    marker = 'name="csrf_token" value="'
    return page.text.split(marker, 1)[1].split('"', 1)[0]


def _alert(client: TestClient, world: World) -> int:
    rows = [absence(school_day(), "fever", 2), absence(school_day(), "cough", 2)]
    result = client.post(
        "/api/v1/surveillance/feeds/school_absence", headers=bearer(world, "school"), json={"rows": rows}
    ).json()
    return int(result["alerts"][0])


def test_console_and_alert_page(client: TestClient, world: World) -> None:
    alert_id = _alert(client, world)
    _login(client, "cdc")
    home = client.get("/")
    assert 'data-testid="home-alerts"' in home.text and f"/surveillance/alerts/{alert_id}" in home.text
    console = client.get("/surveillance")
    assert console.status_code == 200 and f'data-alert="{alert_id}"' in console.text
    assert "因病缺课·发热/呼吸道症状" in console.text and 'class="grade yellow"' in console.text
    filtered = client.get("/surveillance", params={"group": "case"}, headers={"HX-Request": "true"})
    assert "<html" not in filtered.text and f'data-alert="{alert_id}"' not in filtered.text
    page = client.get(f"/surveillance/alerts/{alert_id}")
    assert page.status_code == 200
    assert 'stroke-dasharray="6 4"' in page.text  # the threshold line
    assert 'class="area hot"' in page.text  # the school's community on the map
    assert "一年级1班" in page.text and 'data-testid="act-verify"' in page.text
    english = client.get(f"/surveillance/alerts/{alert_id}", params={"lang": "en"})
    assert "Series and threshold" in english.text and "surv." not in english.text.replace("/surveillance", "")


def test_working_an_alert_on_the_page(client: TestClient, world: World) -> None:
    alert_id = _alert(client, world)
    csrf = _login(client, "cdc")
    done = client.post(
        f"/surveillance/alerts/{alert_id}/act", data={"csrf_token": csrf, "action": "verify"}, follow_redirects=False
    )
    assert done.status_code == 303
    refused = client.post(f"/surveillance/alerts/{alert_id}/act", data={"csrf_token": csrf, "action": "dismiss"})
    assert refused.status_code == 422 and 'data-testid="action-error"' in refused.text
    assert "请填写说明" in refused.text
    assert (
        client.post(f"/surveillance/alerts/{alert_id}/act", data={"action": "verify"}).status_code == 403
    )  # no CSRF token


def test_upload_with_row_errors_and_the_error_report(client: TestClient, world: World) -> None:
    csrf = _login(client, "school")
    day = school_day().isoformat()
    content = (
        f"\ufeff班级,日期,缺课原因,缺课人数\n一年级1班,{day},发热,1\n一年级1班,{day},打喷嚏,1\n九年级9班,{day},发热,1\n"
    )
    files = {"file": ("absence.csv", content.encode(), "text/csv")}
    page = client.post("/surveillance/submit", data={"csrf_token": csrf, "feed": "school_absence"}, files=files)
    assert page.status_code == 200 and 'data-testid="row-errors"' in page.text
    assert 'data-testid="r-inserted">1<' in page.text and 'data-testid="r-rejected">2<' in page.text
    batch_id = int(page.text.split("/surveillance/batches/", 1)[1].split("/", 1)[0])
    report = client.get(f"/surveillance/batches/{batch_id}/errors.xlsx")
    assert report.status_code == 200
    sheet = load_workbook(io.BytesIO(report.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-2:] == ("错误原因 / errors", "原行号 / row")
    assert [r[-1] for r in rows[1:]] == [3, 4]
    assert "打喷嚏" in str(rows[1]) and str(rows[1][-2]).startswith("缺课原因: ")  # the column as the sender names it
    unknown = client.post(
        "/surveillance/submit",
        data={"csrf_token": csrf, "feed": "school_absence"},
        files={"file": ("x.csv", "班级,体温\n一年级1班,38.5\n".encode(), "text/csv")},
    )
    assert unknown.status_code == 422 and "体温" in unknown.text
    template = client.get("/surveillance/templates/case.xlsx")
    headers = next(load_workbook(io.BytesIO(template.content)).worksheets[0].iter_rows(values_only=True))
    assert headers[:3] == ("卡片编号", "报告单位代码", "病种")
    assert client.get("/surveillance").status_code == 403  # a school sends data, it does not read alerts


def test_settings_form_keeps_values_on_error(client: TestClient, world: World) -> None:
    csrf = _login(client, "cdc")
    form = {
        "csrf_token": csrf,
        "code": "page.rule",
        "name_zh": "测试规则",
        "name_en": "Test rule",
        "signal": "case.mumps",
        "place_kind": "school",
        "method": "window",
        "interval": "day",
        "params": '{"days": 7, "min_count": ',
        "grade": "orange",
        "response_hours": "6",
        "enabled": "on",
    }
    bad = client.post("/surveillance/settings/save", data=form)
    assert bad.status_code == 422 and 'data-testid="detector-error"' in bad.text and "page.rule" in bad.text
    good = client.post(
        "/surveillance/settings/save", data={**form, "params": '{"days": 7, "min_count": 4}'}, follow_redirects=False
    )
    assert good.status_code == 303
    assert 'data-code="page.rule"' in client.get("/surveillance/settings").text
    _login(client, "doctor_a1")
    assert client.get("/surveillance/settings").status_code == 403
