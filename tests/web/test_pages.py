"""Pages over HTTP (HTML): login redirects, each role's home, search, the record, errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import PASSWORD, World


def login(client: TestClient, username: str) -> None:
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def test_pages_need_a_login(client: TestClient) -> None:
    response = client.get("/residents", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/residents"
    assert "登录" in client.get("/login").text


def test_wrong_password_shows_the_form_again(client: TestClient) -> None:
    response = client.post("/login", data={"username": "admin", "password": "wrong-one", "next": "/"})
    assert response.status_code == 401 and "用户名或密码错误" in response.text


def test_login_never_redirects_off_site(client: TestClient) -> None:
    response = client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "next": "//evil.example/"}, follow_redirects=False
    )
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("username", "title", "present", "absent"),
    [
        ("admin", "系统管理", ["用户管理", "审计日志"], []),
        ("bureau", "全区概览", ["居民档案", 'class="map"'], ["用户管理", "审计日志"]),
        ("cdc", "疾控工作台", ["居民档案"], ["用户管理"]),
        ("centre_a", "中心工作台", ["审计日志", "team_a1团队"], ["用户管理"]),
        ("doctor_a1", "我的签约服务", ["team_a1团队", "居民档案"], ["用户管理", "审计日志", "team_b团队"]),
        ("submitter", "数据报送", ["最近的报送批次"], ["用户管理"]),
        ("device", "设备账号", [], ["居民档案", "用户管理"]),
    ],
)
def test_home_per_role(client: TestClient, username: str, title: str, present: list[str], absent: list[str]) -> None:
    login(client, username)
    page = client.get("/")
    assert page.status_code == 200 and title in page.text
    for text in present:
        assert text in page.text, text
    for text in absent:
        assert text not in page.text, text


def test_search_and_record_pages_mask_identity(client: TestClient, world: World) -> None:
    login(client, "doctor_a1")
    results = client.get("/residents", params={"q": "王"})
    assert "王大爷" in results.text and "钱大妈" not in results.text
    assert world.id_numbers["a1_elder"] not in results.text
    assert world.id_numbers["a1_elder"][:6] + "********" + world.id_numbers["a1_elder"][-4:] in results.text
    fragment = client.get("/residents", params={"q": "王"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "王大爷" in fragment.text
    record = client.get(f"/residents/{world.residents['a1_elder']}")
    assert record.status_code == 200
    assert "原发性高血压" in record.text and "<svg" in record.text and "李阿姨" in record.text  # household member
    assert world.id_numbers["a1_elder"] not in record.text


def test_record_page_outside_scope_is_404_without_data(client: TestClient, world: World) -> None:
    login(client, "doctor_a1")
    page = client.get(f"/residents/{world.residents['b1_adult']}")
    assert page.status_code == 404 and "孙先生" not in page.text


def test_english_switch(client: TestClient) -> None:
    login(client, "bureau")
    client.get("/lang/en?next=/", follow_redirects=False)
    page = client.get("/")
    assert "District overview" in page.text and "Residents" in page.text
    client.get("/lang/zh-CN")
    assert "全区概览" in client.get("/").text


def test_directory_pages(client: TestClient, world: World) -> None:
    login(client, "cdc")
    assert "东湖街道" in client.get("/directory").text
    assert "青山社区" in client.get(f"/directory/divisions/{world.codes['town_a']}").text
    assert "青山小学" in client.get("/directory/institutions", params={"kind": "school"}).text
    school = client.get(f"/directory/institutions/{world.institution_codes['school']}")
    assert "一年级1班" in school.text and "42" in school.text
    assert client.get("/directory/divisions/999999999999").status_code == 404


def test_admin_pages(client: TestClient, world: World) -> None:
    login(client, "admin")
    assert "doctor_a1" in client.get("/admin/users").text
    client.get(f"/api/v1/residents/{world.residents['a1_elder']}")
    audit = client.get("/admin/audit", params={"resident_id": str(world.residents["a1_elder"])})
    assert "resident.read" in audit.text


def test_registration_form_reports_field_errors(client: TestClient, world: World) -> None:
    login(client, "doctor_a1")
    home = client.get("/residents/new")
    token = home.text.split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post(
        "/residents/new",
        data={
            "csrf_token": token,
            "name": "测试",
            "id_number": "110105194912310021",
            "division_code": world.codes["a1"],
        },
    )
    assert bad.status_code == 422 and "校验位" in bad.text and 'data-testid="err-id_number"' in bad.text
    without_csrf = client.post("/residents/new", data={"name": "测试", "id_number": "11010519491231002X"})
    assert without_csrf.status_code == 403


def test_healthz_and_docs_are_local(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"].startswith("healthbrain")


def test_no_page_loads_anything_from_outside(client: TestClient, world: World) -> None:
    login(client, "bureau")
    for path in ("/", "/residents", f"/residents/{world.residents['a1_elder']}", "/directory", "/login"):
        html = client.get(path).text
        assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html, path


def test_an_absurd_username_is_just_a_failed_login(client: TestClient) -> None:
    response = client.post("/login", data={"username": "王" * 500, "password": "x", "next": "/"})
    assert response.status_code == 401


def test_admin_creates_a_family_doctor_on_the_page(client: TestClient, world: World) -> None:
    login(client, "admin")
    token = client.get("/admin/users").text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "display_name": "新医生", "password": "long-enough-1", "role": "family_doctor"}
    bad_name = client.post("/admin/users", data={**form, "username": "有 空格"})
    assert bad_name.status_code == 422 and "username" in bad_name.text
    unknown = client.post("/admin/users", data={**form, "username": "newdoc", "practitioner_code": "NOPE"})
    assert unknown.status_code == 422 and "NOPE" in unknown.text
    created = client.post("/admin/users", data={**form, "username": "newdoc", "practitioner_code": "D-gp_a2"})
    assert created.status_code == 200 and "newdoc" in created.text
