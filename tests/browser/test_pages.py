"""The pages, driven through Chromium against a live server on a demo district.

Every test opens fresh browser contexts and logs in through the form. Facts the pages are checked
against (who serves which community, which resident lives where) come from the JSON API as the
administrator, or are registered through the API first.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from random import Random
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    CHECK_CHARACTERS,
    VIEWPORT,
    Api,
    Cast,
    LiveServer,
    Pages,
    Person,
    check_character,
    login,
    random_mobile,
    unused_id_number,
)

pytestmark = pytest.mark.browser

AsUser = Callable[[str], Page]

MASKED_ID = re.compile(r"^(\d{6})\*{8}(\d{3}[\dX])$")
MASKED_PHONE = re.compile(r"^\d{3}\*{4,}\d{4}$")
FULL_ID = re.compile(r"^\d{17}[\dX]$")
ANY_FULL_ID = re.compile(r"(?<![\dX])\d{17}[\dX](?![\dX])")

NAV_LABELS = {
    "/": "首页",
    "/residents": "居民档案",
    "/directory": "机构与辖区",
    "/admin/users": "用户管理",
    "/admin/audit": "审计日志",
    "/surveillance": "传染病预警",
    "/chronic": "慢病管理",
    "/contracts": "家庭医生签约",
    "/records/indicators": "档案与签约指标",
    "/surveillance/submit": "数据报送",
    "/interop/upload": "数据上报",
    "/linkage": "疑似重复",
}


@dataclass(frozen=True)
class Home:
    title: str
    role_label: str
    nav: tuple[str, ...]
    # Pages open to the role but reached from another page, not the menu (the CDC's console links
    # to data submission).
    reachable: tuple[str, ...] = ()


# What each demo login sees first: the heading, the role in the top bar, the links in the menu.
HOMES = {
    "admin": Home(
        "系统管理",
        "系统管理员",
        (
            "/",
            "/residents",
            "/records/indicators",
            "/surveillance",
            "/linkage",
            "/directory",
            "/admin/users",
            "/admin/audit",
        ),
    ),
    "bureau": Home("全区概览", "卫健局", ("/", "/residents", "/records/indicators", "/surveillance", "/directory")),
    "cdc": Home(
        "疾控工作台", "疾控中心", ("/", "/residents", "/surveillance", "/directory"), ("/surveillance/submit",)
    ),
    "centre": Home(
        "中心工作台",
        "社区卫生服务中心主任",
        (
            "/",
            "/residents",
            "/chronic",
            "/contracts",
            "/records/indicators",
            "/interop/upload",
            "/linkage",
            "/directory",
            "/admin/audit",
        ),
    ),
    "doctor": Home(
        "我的签约服务",
        "家庭医生",
        ("/", "/residents", "/chronic", "/contracts", "/records/indicators", "/directory"),
    ),
    "submitter": Home(
        "数据报送", "数据报送员", ("/", "/residents", "/surveillance/submit", "/interop/upload", "/directory")
    ),
    "device": Home("设备账号", "监测设备", ("/",)),
}


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def resident_link(page: Page, resident_id: int) -> str:
    return f'[data-testid="resident-link"][href="/residents/{resident_id}"]'


def csrf_token(page: Page) -> str:
    """The session's CSRF token, as htmx sends it (the body's hx-headers)."""
    headers = page.locator("body").get_attribute("hx-headers")
    assert headers, "no hx-headers on <body>: not logged in?"
    token: str = json.loads(headers)["X-CSRF-Token"]
    return token


def search(page: Page, q: str) -> None:
    """Type into the search box and wait until htmx has replaced the results (and the URL)."""
    page.get_by_test_id("q").fill(q)
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(quote(q))))


# --------------------------------------------------------------------------- logging in


@pytest.mark.parametrize("username", list(HOMES))
def test_each_role_logs_in_to_its_home_with_its_menu(page: Page, username: str) -> None:
    home = HOMES[username]
    posted = login(page, username)
    assert posted.status == 303
    assert path_of(page) == "/"
    expect(page.get_by_test_id("home-title")).to_have_text(home.title)
    expect(page.get_by_test_id("who")).to_contain_text(home.role_label)

    links = page.locator("nav.mainnav a")
    expect(links).to_have_count(len(home.nav))
    assert [a.get_attribute("href") for a in links.all()] == list(home.nav)
    assert links.all_inner_texts() == [NAV_LABELS[href] for href in home.nav]

    # What the menu shows opens; what it hides is refused, not merely hidden.
    for href in NAV_LABELS:
        response = page.goto(href)
        assert response is not None
        allowed = href in home.nav or href in home.reachable
        assert response.status == (200 if allowed else 403), f"{username} GET {href}"
        if not allowed:
            expect(page.get_by_test_id("error-message")).to_be_visible()


def test_wrong_password_shows_the_error_and_logs_nobody_in(page: Page) -> None:
    posted = login(page, "cdc", "not-the-password")
    assert posted.status == 401
    expect(page.get_by_test_id("login-error")).to_have_text("用户名或密码错误")
    expect(page.locator("input[name=username]")).to_have_value("cdc")
    expect(page.get_by_test_id("who")).to_have_count(0)
    page.goto("/")
    assert path_of(page) == "/login?next=/"

    # One failure does not lock the account.
    assert login(page, "cdc").status == 303
    expect(page.get_by_test_id("home-title")).to_have_text(HOMES["cdc"].title)


def test_login_returns_to_the_page_asked_for(page: Page) -> None:
    page.goto("/residents")
    assert path_of(page) == "/login?next=/residents"
    page.locator("input[name=username]").fill("doctor")
    page.locator("input[name=password]").fill("healthbrain-demo")
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/residents$"))
    expect(page.get_by_test_id("q")).to_be_visible()


def test_logout_ends_the_session(pages: Pages) -> None:
    page = pages.new()
    login(page, "doctor")
    cookies = page.context.storage_state()
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/residents")
    assert path_of(page) == "/login?next=/residents"
    # The old session cookie, replayed in another browser, is worth nothing now.
    replay = pages.new(cookies)
    replay.goto("/")
    assert path_of(replay) == "/login?next=/"


# --------------------------------------------------------------------------- the family doctor's desk


def test_family_doctor_searches_masked_reveals_and_the_reveal_is_audited(as_user: AsUser, cast: Cast) -> None:
    target = cast.home
    doctor = as_user("doctor")
    doctor.goto("/residents")

    surname = target.name[0]
    search(doctor, surname)
    links = doctor.get_by_test_id("resident-link")
    expect(links.filter(has_not_text=re.compile("^" + re.escape(surname)))).to_have_count(0)
    assert links.count() >= 1
    rows = doctor.get_by_test_id("results").locator("tbody tr")
    masked_ids = doctor.get_by_test_id("results").get_by_test_id("masked-id").all_inner_texts()
    assert len(masked_ids) == rows.count()
    for masked in masked_ids:
        assert MASKED_ID.match(masked), masked
    # The phone column has no test id: it is the fifth cell of a row.
    phones = rows.locator("td:nth-child(5)").all_inner_texts()
    assert len(phones) == len(masked_ids)
    assert any(p != "—" for p in phones)
    for phone in phones:
        assert phone == "—" or MASKED_PHONE.match(phone), phone
    assert not ANY_FULL_ID.search(doctor.get_by_test_id("results").inner_text())

    search(doctor, target.name)
    link = doctor.locator(resident_link(doctor, target.id))
    expect(link).to_have_text(target.name)
    row_masked = doctor.locator("tr", has=link).get_by_test_id("masked-id").inner_text()
    link.click()
    expect(doctor).to_have_url(re.compile(rf"/residents/{target.id}$"))
    expect(doctor.get_by_test_id("resident-name")).to_contain_text(target.name)
    expect(doctor.get_by_test_id("masked-id")).to_have_text(row_masked)
    expect(doctor.get_by_test_id("full-id")).to_have_count(0)

    doctor.get_by_test_id("reveal").click()
    full_id = doctor.get_by_test_id("full-id")
    expect(full_id).to_have_text(FULL_ID)
    number = full_id.inner_text()
    masked = MASKED_ID.match(row_masked)
    assert masked is not None
    assert number.startswith(masked.group(1)) and number.endswith(masked.group(2))
    assert number[17] == check_character(number[:17])
    expect(doctor.get_by_test_id("full-phone")).to_have_text(re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$"))

    admin = as_user("admin")
    admin.goto("/admin/audit")
    admin.get_by_test_id("audit-resident").fill(str(target.id))
    admin.locator("form[action='/admin/audit'] button[type=submit]").click()
    expect(admin).to_have_url(re.compile(rf"resident_id={target.id}"))
    events = admin.get_by_test_id("audit-events").locator("tbody tr")
    reveals = events.filter(has_text="resident.reveal").filter(has_text="doctor")
    expect(reveals.first).to_be_visible()
    expect(reveals.locator(f'a[href="/residents/{target.id}"]')).to_have_text(f"#{target.id}")
    # The filter works: every listed event is about this resident.
    for cell in events.locator("td:nth-child(4)").all_inner_texts():
        assert cell == f"#{target.id}", cell


# --------------------------------------------------------------------------- who sees whom

# Which of the cast's residents each role can open, and whether it has the reveal button.
SCOPES: dict[str, tuple[set[str], bool]] = {
    "admin": ({"home", "elsewhere", "submitted"}, False),
    "bureau": ({"home", "elsewhere", "submitted"}, False),
    "cdc": ({"home", "elsewhere", "submitted"}, True),
    "centre": ({"home"}, True),
    "doctor": ({"home"}, True),
    "submitter": ({"submitted"}, False),
}


@pytest.mark.parametrize("username", list(SCOPES))
def test_each_role_opens_only_the_residents_in_its_scope(as_user: AsUser, cast: Cast, username: str) -> None:
    visible, can_reveal = SCOPES[username]
    page = as_user(username)
    people: dict[str, Person] = {"home": cast.home, "elsewhere": cast.elsewhere, "submitted": cast.submitted}
    for key, person in people.items():
        response = page.goto(f"/residents/{person.id}")
        assert response is not None
        if key in visible:
            assert response.status == 200, f"{username} should open {key} #{person.id}"
            expect(page.get_by_test_id("resident-name")).to_contain_text(person.name)
            expect(page.get_by_test_id("masked-id")).to_have_text(MASKED_ID)
            expect(page.get_by_test_id("reveal")).to_have_count(1 if can_reveal else 0)
            if not can_reveal:
                # Not only hidden: the reveal endpoint refuses the role.
                refused = page.request.post(
                    f"/residents/{person.id}/reveal", headers={"X-CSRF-Token": csrf_token(page)}
                )
                assert refused.status == 403
                assert "full-id" not in refused.text()
        else:
            assert response.status == 404, f"{username} must not open {key} #{person.id}"
            expect(page.get_by_test_id("error-message")).to_be_visible()
            expect(page.get_by_test_id("resident-name")).to_have_count(0)
            assert person.name not in page.content()

        # The search lists a resident only in scope, too.
        page.goto(f"/residents?q={quote(person.name)}")
        expect(page.locator(resident_link(page, person.id))).to_have_count(1 if key in visible else 0)


def test_the_device_gets_no_resident_pages(as_user: AsUser, cast: Cast) -> None:
    page = as_user("device")
    person = cast.home
    for path in ("/residents", f"/residents?q={quote(person.name)}", f"/residents/{person.id}", "/residents/new"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 403, path
        expect(page.get_by_test_id("error-message")).to_be_visible()
        expect(page.get_by_test_id("resident-link")).to_have_count(0)
        assert person.name not in page.content()
    page.goto("/")  # error pages carry no session data (no CSRF token): take it from the home page
    refused = page.request.post(f"/residents/{person.id}/reveal", headers={"X-CSRF-Token": csrf_token(page)})
    assert refused.status == 403
    assert person.name not in refused.text()


def test_the_doctor_and_the_centre_see_their_own_communities_in_the_filter(as_user: AsUser, cast: Cast) -> None:
    for username, served in (("doctor", cast.team_codes), ("centre", cast.centre_catchment)):
        page = as_user(username)
        page.goto("/residents")
        options = page.get_by_test_id("division").locator("option").all()
        codes = {o.get_attribute("value") for o in options} - {""}
        communities = {c for c in codes if c and not c.endswith("000")}
        assert communities == served, username
        assert not codes & cast.other_centre_catchment


# --------------------------------------------------------------------------- the district and its directory


def test_bureau_home_shows_the_district_map_and_towns(as_user: AsUser, cast: Cast) -> None:
    page = as_user("bureau")
    expect(page.get_by_test_id("home-title")).to_have_text("全区概览")
    district_map = page.get_by_test_id("district-map").locator("svg.map")
    expect(district_map).to_be_visible()
    towns = page.get_by_test_id("towns")
    expect(towns.locator("tbody tr")).to_have_count(len(cast.towns))
    for town in cast.towns:
        expect(district_map.locator(f'a[href="/directory/divisions/{town["code"]}"] path.area')).to_have_count(1)
        expect(towns.locator("tbody tr", has_text=town["code"])).to_contain_text(town["name"])
    populations = [int(t) for t in towns.locator("tbody tr td:nth-child(4)").all_inner_texts()]
    assert all(n > 0 for n in populations)
    assert int(towns.locator("tfoot th").nth(3).inner_text()) == sum(populations)
    expect(page.get_by_test_id("count-all")).to_be_visible()
    expect(page.get_by_test_id("reveal")).to_have_count(0)


def test_directory_a_town_the_institutions_and_a_school(as_user: AsUser, cast: Cast, api: Api) -> None:
    page = as_user("doctor")
    page.goto("/directory")
    expect(page.get_by_test_id("district-map").locator("svg.map")).to_be_visible()
    expect(page.get_by_test_id("towns").locator("tbody tr")).to_have_count(len(cast.towns))

    town = cast.towns[0]
    page.get_by_test_id("towns").get_by_role("link", name=town["name"], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/directory/divisions/{town['code']}$"))
    expect(page.locator("h1")).to_contain_text(town["name"])
    expect(page.get_by_test_id("division-map").locator("svg.map")).to_be_visible()
    communities = api.get(f"/api/v1/divisions?parent_code={town['code']}", user="admin")
    assert communities
    for community in communities:
        expect(page.locator("td.mono", has_text=community["code"])).to_have_count(1)

    institutions = api.get("/api/v1/institutions?limit=1000", user="admin")
    page.goto("/directory/institutions")
    expect(page.get_by_test_id("institutions").locator("tbody tr")).to_have_count(len(institutions))

    schools = [i for i in institutions if i["kind"] == "school"]
    page.goto("/directory/institutions?kind=school")
    expect(page.get_by_test_id("institutions").locator("tbody tr")).to_have_count(len(schools))
    school, classes = next(
        (s, c) for s in schools if (c := api.get(f"/api/v1/institutions/{s['code']}/classes", user="admin"))
    )
    page.get_by_test_id("institutions").get_by_role("link", name=school["name"], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/directory/institutions/{school['code']}$"))
    expect(page.get_by_test_id("institution-name")).to_contain_text(school["name"])
    rows = page.get_by_test_id("classes").locator("tbody tr")
    expect(rows).to_have_count(len(classes))
    first = classes[0]
    expect(rows.first).to_contain_text(first["name"])


# --------------------------------------------------------------------------- language


def test_language_switch_to_english_and_back(as_user: AsUser) -> None:
    page = as_user("doctor")
    page.goto("/residents")
    nav = page.locator("nav.mainnav")
    expect(nav).to_contain_text("居民档案")

    page.get_by_test_id("lang-en").click()
    expect(page).to_have_url(re.compile(r"/residents$"))  # the switch keeps the page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.locator("a")).to_have_text(
        ["Home", "Residents", "Chronic care", "Family-doctor contracts", "Record indicators", "Directory"]
    )
    expect(page.get_by_test_id("lang-zh")).to_be_visible()
    page.goto("/")  # the choice sticks (cookie)
    expect(page.get_by_test_id("home-title")).to_have_text("My residents")

    page.get_by_test_id("lang-zh").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("home-title")).to_have_text("我的签约服务")
    expect(nav.locator("a")).to_have_text(
        ["首页", "居民档案", "慢病管理", "家庭医生签约", "档案与签约指标", "机构与辖区"]
    )
    expect(page.get_by_test_id("lang-en")).to_be_visible()


# --------------------------------------------------------------------------- registering a resident


def fill_new_resident(page: Page, *, name: str, id_number: str, phone: str, community: str) -> int:
    """Fill /residents/new and save; returns the status of the form's POST."""
    page.get_by_test_id("f-name").fill(name)
    page.get_by_test_id("f-id_number").fill(id_number)
    page.get_by_test_id("f-phone").fill(phone)
    page.get_by_test_id("f-division_code").select_option(community)
    page.get_by_test_id("f-address").fill("浏览器测试路 8 号")
    with page.expect_response(lambda r: r.url.endswith("/residents/new") and r.request.method == "POST") as posted:
        page.get_by_test_id("save").click()
    page.wait_for_load_state()
    return posted.value.status


def test_family_doctor_registers_a_resident(as_user: AsUser, cast: Cast, api: Api, rng: Random) -> None:
    page = as_user("doctor")
    page.goto("/residents")
    page.get_by_test_id("new-resident").click()
    expect(page).to_have_url(re.compile(r"/residents/new$"))
    community = sorted(cast.team_codes)[0]
    number = unused_id_number(api, rng)
    phone = random_mobile(rng)

    # A wrong check character: the field says which one was expected, the form keeps the input.
    wrong = CHECK_CHARACTERS[(CHECK_CHARACTERS.index(number[17]) + 1) % len(CHECK_CHARACTERS)]
    status = fill_new_resident(page, name="测试新居民", id_number=number[:17] + wrong, phone=phone, community=community)
    assert status == 422
    error = page.get_by_test_id("err-id_number")
    expect(error).to_be_visible()
    expect(error).to_contain_text("校验位")
    assert re.search(rf"(?<![\dX]){re.escape(number[17])}(?![\dX])", error.inner_text()), error.inner_text()
    expect(page.get_by_test_id("f-name")).to_have_value("测试新居民")
    expect(page.get_by_test_id("f-id_number")).to_have_value(number[:17] + wrong)

    # A valid number: saved, and the browser lands on the new record.
    page.get_by_test_id("f-id_number").fill(number)
    with page.expect_response(lambda r: r.url.endswith("/residents/new") and r.request.method == "POST") as posted:
        page.get_by_test_id("save").click()
    expect(page).to_have_url(re.compile(r"/residents/\d+$"))
    assert posted.value.status == 303
    new_id = int(path_of(page).rsplit("/", 1)[1])
    expect(page.get_by_test_id("resident-name")).to_contain_text("测试新居民")
    expect(page.get_by_test_id("masked-id")).to_have_text(f"{number[:6]}********{number[-4:]}")
    born = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    expect(page.locator(".resident-head")).to_contain_text(born)  # derived from the ID number
    expect(page.locator(".resident-head")).to_contain_text("男" if int(number[16]) % 2 else "女")
    page.get_by_test_id("reveal").click()
    expect(page.get_by_test_id("full-id")).to_have_text(number)

    # The same number again: the duplicate is refused with a link to the existing record.
    page.goto("/residents/new")
    status = fill_new_resident(page, name="测试重复居民", id_number=number, phone=phone, community=community)
    assert status == 409
    existing = page.get_by_test_id("existing-link")
    expect(existing).to_have_attribute("href", f"/residents/{new_id}")
    expect(page.locator("p.error[role=alert]").first).to_contain_text("已有档案")
    existing.click()
    expect(page).to_have_url(re.compile(rf"/residents/{new_id}$"))
    expect(page.get_by_test_id("resident-name")).to_contain_text("测试新居民")


# --------------------------------------------------------------------------- merging records


def test_centre_manager_merges_and_unmerges_two_records_of_one_person(
    as_user: AsUser, cast: Cast, api: Api, rng: Random
) -> None:
    community = sorted(cast.centre_catchment)[-1]
    number = unused_id_number(api, rng, male=False)
    born = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    phone = random_mobile(rng)
    mrn = f"MRN{rng.randrange(10**9):09d}"
    survivor = api.post(
        "/api/v1/residents",
        {"id_number": number, "name": "合并测试", "phone": phone, "division_code": community},
        user="centre",
    )
    duplicate = api.post(
        "/api/v1/residents",
        {
            "name": "合并测试",
            "sex": "F",
            "birth_date": born,
            "phone": phone,
            "division_code": community,
            "identifiers": [{"kind": "mrn", "system": cast.centre_code, "value": mrn}],
        },
        user="centre",
    )
    keep, fold = survivor["id"], duplicate["id"]

    page = as_user("centre")
    page.goto(f"/residents/{keep}")
    expect(page.get_by_test_id("merges")).to_have_count(0)
    expect(page.get_by_text(mrn)).to_have_count(0)
    page.get_by_test_id("merge-id").fill(str(fold))
    page.get_by_test_id("merge-reason").fill("同一人重复建档（浏览器测试）")
    page.get_by_test_id("merge-submit").click()
    expect(page).to_have_url(re.compile(rf"/residents/{keep}$"))
    merges = page.get_by_test_id("merges").locator("tbody tr")
    expect(merges).to_have_count(1)
    expect(merges.first).to_contain_text(f"#{fold}")
    expect(merges.first).to_contain_text("同一人重复建档")
    expect(page.get_by_text(mrn)).to_be_visible()  # the duplicate's identifier moved to the survivor

    page.goto(f"/residents/{fold}")
    banner = page.get_by_test_id("merged-banner")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("link")).to_have_attribute("href", f"/residents/{keep}")
    expect(page.get_by_test_id("merge-form")).to_have_count(0)
    expect(page.get_by_text(mrn)).to_have_count(0)

    banner.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/residents/{keep}$"))
    page.get_by_test_id("unmerge-reason").fill("并非同一人（浏览器测试）")
    page.get_by_test_id("unmerge-submit").click()
    expect(page).to_have_url(re.compile(rf"/residents/{keep}$"))
    expect(merges.first).to_contain_text("已撤销")
    expect(page.get_by_test_id("unmerge-submit")).to_have_count(0)
    expect(page.get_by_text(mrn)).to_have_count(0)

    page.goto(f"/residents/{fold}")
    expect(page.get_by_test_id("merged-banner")).to_have_count(0)
    expect(page.get_by_test_id("merge-form")).to_be_visible()
    expect(page.get_by_text(mrn)).to_be_visible()
    assert api.get(f"/api/v1/residents/{fold}", user="centre")["status"] == "active"


# --------------------------------------------------------------------------- screenshots for review


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_full_page_screenshots(as_user: AsUser, cast: Cast, screenshot_dir: Path, live_server: LiveServer) -> None:
    doctor = as_user("doctor")
    doctor.goto(f"/residents/{cast.home.id}")
    expect(doctor.locator("svg.chart").first).to_be_visible()
    record = screenshot_dir / "doctor-resident.png"
    doctor.screenshot(path=record, full_page=True)

    bureau = as_user("bureau")
    expect(bureau.locator("svg.map")).to_be_visible()
    home = screenshot_dir / "bureau-home.png"
    bureau.screenshot(path=home, full_page=True)

    for shot in (record, home):
        assert shot.stat().st_size > 10_000, shot
        width, height = png_size(shot)
        assert width == VIEWPORT["width"]
        assert height >= VIEWPORT["height"]
    print(f"screenshots in {screenshot_dir}")
