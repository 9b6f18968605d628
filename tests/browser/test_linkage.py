"""The review queue of possible duplicates (疑似重复), in Chromium against the live demo server:
two people registered twice, `healthbrain link run` as an operator runs it, then one pair decided
as the same person (merged) and one as not the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from random import Random

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, Cast, LiveServer, _server_env, random_mobile, unused_id_number

pytestmark = pytest.mark.browser


def _register(api: Api, body: dict[str, str]) -> int:
    created: int = api.post("/api/v1/residents", body, user="centre")["id"]
    return created


def test_review_queue_merges_one_pair_and_closes_another(
    as_user: object, api: Api, cast: Cast, live_server: LiveServer, rng: Random, screenshot_dir: Path
) -> None:
    community = sorted(cast.centre_catchment)[0]
    phone_a, phone_b = random_mobile(rng), random_mobile(rng)
    id_a = unused_id_number(api, rng, address="330102", male=True)
    born_a = f"{id_a[6:10]}-{id_a[10:12]}-{id_a[12:14]}"
    # One man registered by ID, then again by a clinic that romanised his name and swapped two digits of his phone.
    first = _register(
        api,
        {"id_number": id_a, "name": "曾国藩", "phone": phone_a, "division_code": community, "address": "和平路137号"},
    )
    # Two adjacent digits that differ (a random number may repeat a digit, and swapping equal
    # digits would give the same phone).
    at = next(i for i in range(3, 10) if phone_a[i] != phone_a[i + 1])
    swapped = phone_a[:at] + phone_a[at + 1] + phone_a[at] + phone_a[at + 2 :]
    second = _register(
        api,
        {
            "name": "Zeng Guofan",
            "sex": "M",
            "birth_date": born_a,
            "phone": swapped,
            "division_code": community,
            "address": "和平路一三七号",
        },
    )
    # Two women with one name sound, one birth date and one phone (twins in one household): not the same.
    born_b = "2011-06-20"
    twin_a = _register(
        api,
        {
            "name": "欧阳静",
            "sex": "F",
            "birth_date": born_b,
            "phone": phone_b,
            "division_code": community,
            "address": "解放路8号",
        },
    )
    twin_b = _register(
        api,
        {
            "name": "欧阳婧",
            "sex": "F",
            "birth_date": born_b,
            "phone": phone_b,
            "division_code": community,
            "address": "解放路8号",
        },
    )

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "healthbrain",
            "link",
            "run",
            "--threshold",
            "0.5",
            "--database-url",
            live_server.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=_server_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "link run #" in done.stdout

    page: Page = as_user("centre")  # type: ignore[operator]
    page.get_by_role("link", name="疑似重复").click()
    expect(page.locator("h1")).to_have_text("疑似重复档案")
    merge_pair = page.locator(
        f"[data-testid=pair][data-left='{min(first, second)}'][data-right='{max(first, second)}']"
    )
    twins_pair = page.locator(
        f"[data-testid=pair][data-left='{min(twin_a, twin_b)}'][data-right='{max(twin_a, twin_b)}']"
    )
    expect(merge_pair).to_be_visible()
    expect(twins_pair).to_be_visible()
    # Identity is masked until revealed; the evidence names what agreed.
    expect(merge_pair.locator("[data-testid=masked-phone]").first).to_have_text(phone_a[:3] + "****" + phone_a[-4:])
    expect(merge_pair).to_contain_text("拼音相同")
    expect(merge_pair).to_contain_text("相差一位或相邻两位颠倒")
    expect(merge_pair.locator("[data-testid=suggested]")).to_have_count(1)
    merge_pair.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "linkage-queue.png"), full_page=False)
    merge_pair.locator("[data-testid=reveal]").first.click()
    expect(merge_pair.locator("[data-testid=full-phone]").first).to_have_text(phone_a if first < second else swapped)

    merge_pair.locator("[data-testid=decide-same]").click()
    expect(
        page.locator(f"[data-testid=pair][data-left='{min(first, second)}'][data-right='{max(first, second)}']")
    ).to_have_count(0)
    merged = api.get(f"/api/v1/residents/{second}", user="admin")
    assert merged["status"] == "merged" and merged["merged_into_id"] == first  # the record with the ID stays

    page.locator(f"[data-testid=pair][data-left='{min(twin_a, twin_b)}'] [data-testid=decide-not-same]").click()
    expect(
        page.locator(f"[data-testid=pair][data-left='{min(twin_a, twin_b)}'][data-right='{max(twin_a, twin_b)}']")
    ).to_have_count(0)
    for twin in (twin_a, twin_b):
        assert api.get(f"/api/v1/residents/{twin}", user="admin")["status"] == "active"

    # Decided pairs: the merge can be undone from there.
    page.get_by_test_id("tab-decided").click()
    decided = page.locator(f"[data-testid=pair][data-left='{min(first, second)}']")
    expect(decided.locator("[data-testid=pair-status]")).to_have_text("同一人，已合并")
    expect(
        page.locator(f"[data-testid=pair][data-left='{min(twin_a, twin_b)}'] [data-testid=pair-status]")
    ).to_have_text("不是同一人")
    page.screenshot(path=str(screenshot_dir / "linkage-decided.png"), full_page=True)
    decided.locator("[data-testid=unmerge-reason]").fill("核实为两人")
    decided.locator("[data-testid=unmerge]").click()
    expect(
        page.locator(f"[data-testid=pair][data-left='{min(first, second)}'] [data-testid=pair-status]")
    ).to_have_text("不是同一人")
    assert api.get(f"/api/v1/residents/{second}", user="admin")["status"] == "active"
