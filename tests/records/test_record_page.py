"""The resident's longitudinal record page through the real app and database: who may open it (and
the audit of every view), the header, the timeline with its filters and paging, the charts' ranges,
the sections, the examination form, and links from where a user meets a resident."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from healthbrain.contracts.models import Contract, ContractConsent, ServicePackage
from healthbrain.core.time import local_today
from healthbrain.interop.models import FhirResource
from healthbrain.records import codes
from healthbrain.records.models import (
    Condition,
    Encounter,
    Immunization,
    MedicationStatement,
    Observation,
    PhysicalExam,
)
from tests.conftest import bearer
from tests.factories import World

NOW = datetime.now(UTC)


def _page(client: TestClient, world: World, user: str, resident: str, **params: object) -> str:
    response = client.get(f"/records/residents/{world.residents[resident]}", params=params, headers=bearer(world, user))
    assert response.status_code == 200, response.text[:2000]
    return response.text


def _encounter(session: Session, world: World, resident: str, kind: str, at: datetime, **extra: object) -> Encounter:
    e = Encounter(resident_id=world.residents[resident], encounter_class=kind, start_at=at, **extra)
    session.add(e)
    session.flush()
    return e


def _obs(session: Session, world: World, resident: str, code: str, value: float, at: datetime, **extra: object) -> None:
    unit = codes.LOINC_NAMES[code][2]
    session.add(
        Observation(
            resident_id=world.residents[resident], code=code, value_num=value, unit=unit, effective_at=at, **extra
        )
    )


@dataclass
class Rich:
    exam_id: int
    contract_id: int


def _rich_record(session: Session, world: World) -> Rich:
    """王大爷 (a1_elder) with a hospital visit, an old admission, an examination, a vaccine, a drug,
    a contract with its signature and a document a hospital sent verbatim."""
    who = "a1_elder"
    rid = world.residents[who]
    visit = _encounter(
        session,
        world,
        who,
        "outpatient",
        NOW - timedelta(days=10),
        institution_id=world.institutions["hospital"],
        practitioner_id=world.practitioners["physician"],
        reason_code="I10",
        reason_text="高血压复诊",
    )
    for code, value in ((codes.SYSTOLIC_BP, 148), (codes.DIASTOLIC_BP, 95), (codes.BODY_WEIGHT, 70.5)):
        _obs(session, world, who, code, value, visit.start_at, encounter_id=visit.id)
    session.add(
        Condition(
            resident_id=rid,
            code="E11.9",
            display="2型糖尿病",
            clinical_status="active",
            onset_date=local_today() - timedelta(days=10),
            recorded_at=NOW,
            encounter_id=visit.id,
        )
    )
    old = _encounter(
        session,
        world,
        who,
        "inpatient",
        NOW - timedelta(days=800),
        institution_id=world.institutions["hospital"],
        reason_code="J18.9",
        reason_text="社区获得性肺炎",
    )
    _obs(session, world, who, codes.SYSTOLIC_BP, 171, old.start_at, encounter_id=old.id)
    _obs(session, world, who, codes.DIASTOLIC_BP, 99, old.start_at, encounter_id=old.id)
    exam_at = NOW - timedelta(days=30)
    exam_enc = _encounter(session, world, who, "physical_exam", exam_at, institution_id=world.institutions["chc_a"])
    for code, value in ((codes.BODY_HEIGHT, 170.0), (codes.BODY_WEIGHT, 72.0), (codes.GLUCOSE_FASTING, 7.8)):
        _obs(session, world, who, code, value, exam_at, encounter_id=exam_enc.id)
    exam = PhysicalExam(
        resident_id=rid,
        encounter_id=exam_enc.id,
        exam_date=exam_at.date(),
        institution_id=world.institutions["chc_a"],
        practitioner_id=world.practitioners["gp_a1"],
        smoking="former",
        drinking="occasional",
        exercise="daily",
        diet="salty",
        conclusion="abnormal",
        abnormalities=["空腹血糖偏高"],
        guidance=["控制饮食", "定期复查血糖"],
    )
    session.add(exam)
    session.add(
        Immunization(
            resident_id=rid,
            vaccine_code="141",
            vaccine_name="流感疫苗（四价）",
            dose_number=1,
            occurrence_date=local_today() - timedelta(days=60),
            status="completed",
            lot_number="LOT-7788",
            institution_id=world.institutions["chc_a"],
            recorded_at=NOW,
        )
    )
    session.add(
        MedicationStatement(
            resident_id=rid,
            code="C08CA01",
            name="氨氯地平片",
            dose="5 mg",
            frequency="qd",
            start_date=date(2020, 3, 1),
            status="active",
            recorded_at=NOW,
        )
    )
    package = ServicePackage(code="PKG-ELDER-T", name="老年人签约服务包", population="elderly", annual_fee_yuan=0.0)
    session.add(package)
    session.flush()
    contract = Contract(
        resident_id=rid,
        team_id=world.teams["team_a1"],
        practitioner_id=world.practitioners["gp_a1"],
        package_id=package.id,
        status="active",
        start_date=local_today() - timedelta(days=100),
        end_date=local_today() + timedelta(days=265),
        signed_at=NOW - timedelta(days=100),
        created_at=NOW,
    )
    session.add(contract)
    session.flush()
    session.add(
        ContractConsent(
            contract_id=contract.id,
            resident_id=rid,
            signer_name="王大爷",
            signer_relation="self",
            method="handwritten",
            signed_at=NOW - timedelta(days=100),
            status="active",
        )
    )
    session.add(
        FhirResource(
            resource_type="Procedure",
            logical_id="proc-1",
            resident_id=rid,
            version=1,
            last_updated=NOW - timedelta(days=9),
            content='{"resourceType": "Procedure", "id": "proc-1", "status": "completed", "code": {"text": "冠脉造影"}}',
        )
    )
    session.flush()
    session.commit()
    return Rich(exam_id=exam.id, contract_id=contract.id)


def _views(session: Session, world: World, resident: str, action: str = "record.view") -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.resident_id == world.residents[resident])
        )
    )


# --- access and audit ----------------------------------------------------------------------------------
@pytest.mark.parametrize("user", ["doctor_a1", "centre_a", "cdc", "admin"])
def test_who_may_read_the_resident_sees_the_record_and_the_view_is_audited(
    client: TestClient, session: Session, world: World, user: str
) -> None:
    before = len(_views(session, world, "a1_elder"))
    html = _page(client, world, user, "a1_elder")
    assert "王大爷" in html and 'data-testid="timeline"' in html
    views = _views(session, world, "a1_elder")
    assert len(views) == before + 1
    assert views[-1].outcome == "ok" and views[-1].user_id == world.users[user]


@pytest.mark.parametrize("user", ["doctor_b", "submitter"])
def test_out_of_scope_is_404_without_data_and_the_refusal_is_audited(
    client: TestClient, session: Session, world: World, user: str
) -> None:
    _rich_record(session, world)
    rid = world.residents["a1_elder"]
    for path in (f"/records/residents/{rid}", f"/records/residents/{rid}/export"):
        response = client.get(path, headers=bearer(world, user))
        assert response.status_code == 404, (path, response.status_code)
        assert "王大爷" not in response.text and "高血压复诊" not in response.text
    refused = [e for e in _views(session, world, "a1_elder") if e.user_id == world.users[user]]
    assert refused and all(e.outcome == "denied" for e in refused)


def test_roles_without_resident_read_are_refused(client: TestClient, world: World) -> None:
    response = client.get(f"/records/residents/{world.residents['a1_elder']}", headers=bearer(world, "device"))
    assert response.status_code == 403


def test_unknown_resident_and_bad_ids(client: TestClient, world: World) -> None:
    assert client.get("/records/residents/999999999", headers=bearer(world, "admin")).status_code == 404
    assert client.get("/records/residents/0", headers=bearer(world, "admin")).status_code == 422
    bad_offset = client.get(
        f"/records/residents/{world.residents['a1_elder']}", params={"offset": -1}, headers=bearer(world, "admin")
    )
    assert bad_offset.status_code == 422


def test_login_is_required(client: TestClient, world: World) -> None:
    response = client.get(f"/records/residents/{world.residents['a1_elder']}", follow_redirects=False)
    assert response.status_code in (303, 401)


# --- what the page shows -------------------------------------------------------------------------------
def test_header_masks_identity_and_shows_populations_chronic_and_contract(
    client: TestClient, session: Session, world: World
) -> None:
    _rich_record(session, world)
    html = _page(client, world, "doctor_a1", "a1_elder")
    number = world.id_numbers["a1_elder"]
    assert number not in html and f"{number[:6]}********{number[-4:]}" in html
    assert "13812345678" not in html and "138****5678" in html
    assert "青山社区" in html and "HH-A1-1" in html
    assert "65岁及以上老年人" in html and "慢性病患者" in html  # key populations
    status = html.split('data-testid="contract-status"', 1)[1].split("</p>", 1)[0]
    assert (
        "已签约" in status and "team_a1团队" in status and (local_today() + timedelta(days=265)).isoformat() in status
    )
    assert f"/records/residents/{world.residents['a1_elder']}/export" in html


def test_header_without_contract_says_so(client: TestClient, world: World) -> None:
    html = _page(client, world, "doctor_a1", "a1_wife")
    status = html.split('data-testid="contract-status"', 1)[1].split("</p>", 1)[0]
    assert "未签约" in status


def test_sections_show_every_part_of_the_record(client: TestClient, session: Session, world: World) -> None:
    rich = _rich_record(session, world)
    html = _page(client, world, "doctor_a1", "a1_elder")

    def section(testid: str) -> str:
        return html.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]

    assert "原发性高血压" in section("conditions") and "E11.9" in section("conditions")
    assert "氨氯地平片" in section("medications") and "在用" in section("medications")
    assert "流感疫苗（四价）" in section("immunizations") and "LOT-7788" in section("immunizations")
    exams = section("exams")
    assert "有异常" in exams and "空腹血糖偏高" in exams
    assert f"/records/residents/{world.residents['a1_elder']}/exams/{rich.exam_id}" in exams
    contracts = section("contracts")
    assert "老年人签约服务包" in contracts and "刘医生" in contracts and "手写签名" in contracts and "有效" in contracts
    documents = section("documents")
    assert "Procedure" in documents and "proc-1" in documents and "冠脉造影" in documents and "<details" in documents


def test_timeline_groups_by_month_with_what_was_recorded(client: TestClient, session: Session, world: World) -> None:
    _rich_record(session, world)
    html = _page(client, world, "doctor_a1", "a1_elder")
    timeline = html.split('data-testid="timeline"', 1)[1].split("</section>", 1)[0]
    entries = re.findall(r'data-testid="tl-entry" data-kind="(\w+)"', timeline)
    assert entries[:2] == ["outpatient", "physical_exam"] and "inpatient" in entries  # newest first
    visit = timeline.split('data-kind="outpatient"', 1)[1].split("</li>", 1)[0]
    assert "测试区第一人民医院" in visit and "郑医生" in visit and "高血压复诊" in visit
    assert "血压 148/95 mmHg" in visit and "体重 70.5 kg" in visit and "E11.9 2型糖尿病" in visit
    year = str((NOW - timedelta(days=800)).astimezone().year)
    assert f'data-testid="tl-year">{year}' in timeline


def test_timeline_filters_by_kind_and_period(client: TestClient, session: Session, world: World) -> None:
    _rich_record(session, world)
    html = _page(client, world, "doctor_a1", "a1_elder", kind="inpatient")
    assert re.findall(r'data-testid="tl-entry" data-kind="(\w+)"', html) == ["inpatient"]
    html = _page(client, world, "doctor_a1", "a1_elder", period="1y")
    kinds = re.findall(r'data-testid="tl-entry" data-kind="(\w+)"', html)
    assert "inpatient" not in kinds and "outpatient" in kinds
    html = _page(client, world, "doctor_a1", "a1_elder", kind=["inpatient", "outpatient"], period="3y")
    assert sorted(re.findall(r'data-testid="tl-entry" data-kind="(\w+)"', html)) == ["inpatient", "outpatient"]
    ignored = _page(client, world, "doctor_a1", "a1_elder", kind="no-such-kind", period="forever")
    assert len(re.findall(r'data-testid="tl-entry"', ignored)) == 3  # unknown filters mean "all"


def test_timeline_pages_through_a_long_history(client: TestClient, session: Session, world: World) -> None:
    for day in range(120):
        _encounter(session, world, "a1_wife", "followup", NOW - timedelta(days=day, hours=1))
    session.commit()
    first = _page(client, world, "doctor_a1", "a1_wife")
    assert first.count('data-testid="tl-entry"') == 50 and 'data-testid="tl-older"' in first
    assert 'data-testid="tl-newer"' not in first
    last = _page(client, world, "doctor_a1", "a1_wife", offset=100)
    assert last.count('data-testid="tl-entry"') == 20 and 'data-testid="tl-older"' not in last
    assert 'data-testid="tl-newer"' in last and "offset=50" in last


def test_charts_follow_the_range(client: TestClient, session: Session, world: World) -> None:
    _rich_record(session, world)
    one_year = _page(client, world, "doctor_a1", "a1_elder")
    bp = one_year.split('data-testid="chart-bp"', 1)[1].split("</figure>", 1)[0]
    assert "<svg" in bp and "140" in bp and "90" in bp
    assert "收缩压 148 ·" in bp and "收缩压 171 ·" not in bp  # the admission 800 days ago is outside 1y
    three = _page(client, world, "doctor_a1", "a1_elder", range="3y")
    assert "收缩压 171 ·" in three.split('data-testid="chart-bp"', 1)[1].split("</figure>", 1)[0]
    glucose = one_year.split('data-testid="chart-glucose"', 1)[1].split("</figure>", 1)[0]
    assert "7.8" in glucose and "7" in glucose
    weight = one_year.split('data-testid="chart-weight"', 1)[1].split("</figure>", 1)[0]
    assert "70.5" in weight and "72 ·" in weight
    bmi = one_year.split('data-testid="chart-bmi"', 1)[1].split("</figure>", 1)[0]
    assert "BMI 24.9 ·" in bmi and "BMI 24.4 ·" in bmi  # 72/1.7² and 70.5/1.7²


def test_an_empty_record_renders_without_charts(client: TestClient, world: World) -> None:
    html = _page(client, world, "doctor_b", "b2_villager")
    assert "钱大妈" in html and 'data-testid="timeline-empty"' in html
    assert html.count("所选时间范围内没有数据") == 4


def test_english_page(client: TestClient, session: Session, world: World) -> None:
    _rich_record(session, world)
    html = _page(client, world, "doctor_a1", "a1_elder", lang="en")
    assert "Health record" in html and "Export as FHIR Bundle" in html and "Timeline of encounters" in html
    assert "Outpatient" in html and "Contracted" in html
    assert not re.search(r">\s*rec\.[a-z_.]+", html)  # no untranslated key


def test_exam_form_detail(client: TestClient, session: Session, world: World) -> None:
    rich = _rich_record(session, world)
    before = len(_views(session, world, "a1_elder"))
    rid = world.residents["a1_elder"]
    response = client.get(f"/records/residents/{rid}/exams/{rich.exam_id}", headers=bearer(world, "doctor_a1"))
    assert response.status_code == 200
    html = response.text
    assert "健康体检表" in html and "有异常" in html and "空腹血糖偏高" in html and "定期复查血糖" in html
    assert "已戒" in html and "嗜盐" in html and "东湖街道社区卫生服务中心" in html and "刘医生" in html
    table = html.split('data-testid="exam-measurements"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<th>(.+?)</th>", table) == ["身高", "体重", "空腹血糖"]  # the form's order
    assert "170 <span" in table and "cm" in table and "7.8" in table
    assert len(_views(session, world, "a1_elder")) == before + 1
    other = client.get(
        f"/records/residents/{world.residents['a1_wife']}/exams/{rich.exam_id}", headers=bearer(world, "doctor_a1")
    )
    assert other.status_code == 404 and "空腹血糖偏高" not in other.text
    out = client.get(f"/records/residents/{rid}/exams/{rich.exam_id}", headers=bearer(world, "doctor_b"))
    assert out.status_code == 404


# --- links from where a user meets a resident ----------------------------------------------------------
def test_resident_and_chronic_pages_link_to_the_record(client: TestClient, world: World) -> None:
    rid = world.residents["a1_elder"]
    detail = client.get(f"/residents/{rid}", headers=bearer(world, "doctor_a1"))
    assert f'href="/records/residents/{rid}"' in detail.text
    results = client.get("/residents", params={"q": "王大爷"}, headers=bearer(world, "doctor_a1"))
    assert f'href="/records/residents/{rid}"' in results.text
    chart = client.get(f"/chronic/residents/{rid}", headers=bearer(world, "doctor_a1"))
    assert chart.status_code == 200 and f'href="/records/residents/{rid}"' in chart.text


# --- export --------------------------------------------------------------------------------------------
def test_export_downloads_the_record_as_a_fhir_bundle_and_is_audited(
    client: TestClient, session: Session, world: World
) -> None:
    _rich_record(session, world)
    rid = world.residents["a1_elder"]
    before = len(_views(session, world, "a1_elder", "record.export"))
    response = client.get(f"/records/residents/{rid}/export", headers=bearer(world, "doctor_a1"))
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.headers["content-disposition"].startswith(f'attachment; filename="resident-{rid}-')
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    types = {entry["resource"]["resourceType"] for entry in bundle.get("entry", [])}
    assert {"Patient", "Encounter", "Observation", "Condition"} <= types
    exports = _views(session, world, "a1_elder", "record.export")
    assert len(exports) == before + 1 and exports[-1].user_id == world.users["doctor_a1"]
