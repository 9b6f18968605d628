"""The resident's longitudinal record page in Chromium, on the demo district: the family doctor opens
a chronic patient's record from the residents list, reads the timeline, filters it, switches the
charts' range, opens an examination form, exports the record as a FHIR Bundle; the page in
English; a doctor of another team is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, Cast

pytestmark = pytest.mark.browser

AsUser = Callable[[str], Page]
RAW_KEY = re.compile(r"(?<![\w.])(?:rec|error|nav|sex|encounter|kp)\.[a-z_]+(?:\.[a-z_]+)*")
SHOTS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screenshots"


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _no_raw_keys(page: Page) -> None:
    text = page.locator("main").inner_text()
    assert not RAW_KEY.search(text), RAW_KEY.findall(text)[:5]


def test_the_doctor_reads_filters_charts_and_exports_the_record(
    as_user: AsUser, cast: Cast, api: Api, tmp_path: Path
) -> None:
    person = cast.home
    page = as_user("doctor")
    page.goto(f"/residents?q={person.name}")
    page.locator(f"a[data-testid=record-link][href='/records/residents/{person.id}']").click()
    expect(page).to_have_url(re.compile(rf"/records/residents/{person.id}$"))
    expect(page.get_by_test_id("record-name")).to_contain_text(person.name)
    expect(page.get_by_test_id("record-kp")).to_contain_text("慢性病患者")
    expect(page.get_by_test_id("contract-status")).to_be_visible()
    entries = page.get_by_test_id("tl-entry")
    expect(entries.first).to_be_visible()
    total = entries.count()
    assert 0 < total <= 50
    expect(page.get_by_test_id("chart-bp").locator("svg")).to_be_visible()
    _no_raw_keys(page)
    _shot(page, "record-zh")

    # The timeline's filter: only the chronic follow-ups.
    page.get_by_test_id("kind-followup").check()
    page.get_by_test_id("timeline-apply").click()
    expect(page).to_have_url(re.compile(r"kind=followup"))
    kinds = set(page.get_by_test_id("tl-entry").evaluate_all("els => els.map(e => e.dataset.kind)"))
    assert kinds <= {"followup"}

    # The charts over three years, then everything.
    page.get_by_test_id("range-3y").click()
    expect(page).to_have_url(re.compile(r"range=3y"))
    expect(page.locator("strong[data-testid=range-3y]")).to_be_visible()
    expect(page.locator("a[data-testid=range-1y]")).to_be_visible()
    page.get_by_test_id("range-all").click()
    expect(page.locator("strong[data-testid=range-all]")).to_be_visible()
    points_all = page.get_by_test_id("chart-bp").locator("circle").count()
    assert points_all > 0

    # An examination form, when the record has one, and back.
    exams = page.get_by_test_id("exam-link")
    if exams.count():
        exams.first.click()
        expect(page.get_by_test_id("exam-form")).to_be_visible()
        _no_raw_keys(page)
        page.get_by_test_id("exam-back").click()
        expect(page.get_by_test_id("record-name")).to_be_visible()

    # The export: a FHIR Bundle about this resident.
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    bundle = json.loads(saved.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle"
    assert any(e["resource"]["resourceType"] == "Patient" for e in bundle.get("entry", []))

    # Every view and the export are in the audit trail.
    events = api.get(f"/api/v1/audit?resident_id={person.id}&limit=200", user="admin")
    actions = [e["action"] for e in events]
    assert "record.view" in actions and "record.export" in actions


def test_the_record_in_english(as_user: AsUser, cast: Cast) -> None:
    page = as_user("doctor")
    page.goto(f"/records/residents/{cast.home.id}")
    page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("export")).to_have_text("Export as FHIR Bundle")
    expect(page.locator("#timeline h2")).to_have_text("Timeline of encounters")
    _no_raw_keys(page)
    _shot(page, "record-en")
    page.get_by_test_id("lang-zh").click()
    expect(page.get_by_test_id("export")).to_have_text("导出 FHIR Bundle")


def test_a_doctor_of_another_team_is_refused(as_user: AsUser, cast: Cast) -> None:
    page = as_user("doctor")
    response = page.goto(f"/records/residents/{cast.elsewhere.id}")
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("error-message")).to_be_visible()
    assert cast.elsewhere.name not in page.content()
