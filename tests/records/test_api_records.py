"""The core clinical record through the API, and the set-based bulk observation path."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthbrain.records import codes
from healthbrain.records.models import IngestRejection, Observation
from tests.conftest import bearer
from tests.factories import World


def test_add_and_read_the_basic_record(client: TestClient, world: World) -> None:
    rid = world.residents["a1_wife"]
    headers = bearer(world, "doctor_a1")
    encounter = client.post(
        f"/api/v1/residents/{rid}/encounters",
        headers=headers,
        json={
            "encounter_class": "followup",
            "start_at": "2026-11-20T09:30:00+08:00",
            "reason_code": "I10",
            "practitioner_code": "D-gp_a1",
        },
    )
    assert encounter.status_code == 201, encounter.text
    eid = encounter.json()["id"]
    assert encounter.json()["institution_id"] == world.institutions["chc_a"]  # the doctor's centre by default
    for code, value in ((codes.SYSTOLIC_BP, 146), (codes.DIASTOLIC_BP, 88)):
        response = client.post(
            f"/api/v1/residents/{rid}/observations",
            headers=headers,
            json={
                "code": code,
                "value_num": value,
                "unit": "mm[Hg]",
                "effective_at": "2026-11-20T09:35:00+08:00",
                "encounter_id": eid,
            },
        )
        assert response.status_code == 201, response.text
    assert (
        client.post(
            f"/api/v1/residents/{rid}/conditions",
            headers=headers,
            json={"code": "i10", "display": "高血压", "onset_date": "2020-05-01"},
        ).json()["code"]
        == "I10"
    )
    assert (
        client.post(
            f"/api/v1/residents/{rid}/medications",
            headers=headers,
            json={
                "code": "C08CA01",
                "name": "苯磺酸氨氯地平片",
                "dose": "5mg",
                "frequency": "qd",
                "start_date": "2020-05-01",
            },
        ).status_code
        == 201
    )
    exam = client.post(
        f"/api/v1/residents/{rid}/physical-exams",
        headers=headers,
        json={
            "exam_date": "2026-06-01",
            "measurements": {"height_cm": 158, "weight_kg": 60.5, "systolic_bp": 138, "diastolic_bp": 84},
            "smoking": "never",
            "conclusion": "normal",
            "guidance": ["低盐饮食"],
        },
    )
    assert exam.status_code == 201, exam.text
    assert exam.json()["measurements"] == {"height_cm": 158, "weight_kg": 60.5, "systolic_bp": 138, "diastolic_bp": 84}
    record = client.get(f"/api/v1/residents/{rid}/record", headers=headers).json()
    assert [c["code"] for c in record["conditions"]] == ["I10"]
    assert record["medications"][0]["name"] == "苯磺酸氨氯地平片"
    assert {e["id"] for e in record["encounters"]} >= {eid}
    latest = {o["code"]: o["value_num"] for o in record["latest_observations"]}
    assert latest[codes.SYSTOLIC_BP] == 146  # the follow-up is later than the exam
    assert record["physical_exams"][0]["guidance"] == ["低盐饮食"]
    series = client.get(
        f"/api/v1/residents/{rid}/observations", headers=headers, params={"code": codes.SYSTOLIC_BP}
    ).json()
    assert [o["value_num"] for o in series] == [146, 138]


def test_record_write_validation(client: TestClient, world: World) -> None:
    rid = world.residents["a1_wife"]
    headers = bearer(world, "doctor_a1")
    naive = client.post(
        f"/api/v1/residents/{rid}/observations",
        headers=headers,
        json={"code": codes.SYSTOLIC_BP, "value_num": 120, "effective_at": "2026-11-20T09:35:00"},
    )
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"][-1] == "effective_at"
    no_value = client.post(
        f"/api/v1/residents/{rid}/observations",
        headers=headers,
        json={"code": codes.SYSTOLIC_BP, "effective_at": "2026-11-20T09:35:00Z"},
    )
    assert no_value.status_code == 422
    other_encounter = client.post(
        f"/api/v1/residents/{world.residents['a1_elder']}/encounters",
        headers=headers,
        json={"encounter_class": "home", "start_at": "2026-11-20T09:30:00+08:00"},
    ).json()["id"]
    wrong = client.post(
        f"/api/v1/residents/{rid}/observations",
        headers=headers,
        json={
            "code": codes.SYSTOLIC_BP,
            "value_num": 120,
            "effective_at": "2026-11-20T09:35:00Z",
            "encounter_id": other_encounter,
        },
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "encounter_id"]
    backwards = client.post(
        f"/api/v1/residents/{rid}/encounters",
        headers=headers,
        json={"encounter_class": "inpatient", "start_at": "2026-11-20T09:30:00Z", "end_at": "2026-11-19T09:30:00Z"},
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["body", "end_at"]
    unknown = client.post(
        f"/api/v1/residents/{rid}/encounters",
        headers=headers,
        json={"encounter_class": "outpatient", "start_at": "2026-11-20T09:30:00Z", "institution_code": "NOPE"},
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "institution_code"]


def test_writes_respect_scope_and_role(client: TestClient, world: World) -> None:
    body = {"encounter_class": "outpatient", "start_at": "2026-11-20T09:30:00+08:00"}
    outside = world.residents["b1_adult"]
    assert (
        client.post(
            f"/api/v1/residents/{outside}/encounters", headers=bearer(world, "doctor_a1"), json=body
        ).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/residents/{outside}/encounters", headers=bearer(world, "bureau"), json=body).status_code
        == 403
    )
    # A hospital's interface writes for any resident of the district.
    hospital = client.post(f"/api/v1/residents/{outside}/encounters", headers=bearer(world, "submitter"), json=body)
    assert hospital.status_code == 201
    assert hospital.json()["institution_id"] == world.institutions["hospital"]


def _batch(world: World) -> list[dict[str, object]]:
    return [
        {
            "resident_id": world.residents["a1_elder"],
            "code": codes.SYSTOLIC_BP,
            "value_num": 135,
            "unit": "mm[Hg]",
            "effective_at": "2026-11-24T07:00:00+08:00",
            "device_id": "BP-1",
        },
        {
            "id_number": world.id_numbers["a1_wife"],
            "code": codes.GLUCOSE_CAPILLARY,
            "value_num": 6.1,
            "unit": "mmol/L",
            "effective_at": "2026-11-24T07:05:00+08:00",
            "device_id": "GLU-1",
            "source_key": "GLU-1:0001",
        },
        {
            "resident_id": world.residents["a1_elder"],
            "code": codes.SYSTOLIC_BP,
            "value_num": "high",
            "effective_at": "2026-11-24T07:00:00+08:00",
        },
        {
            "id_number": "110105194912310021",
            "code": codes.SYSTOLIC_BP,
            "value_num": 120,
            "effective_at": "2026-11-24T07:00:00Z",
        },
        {"code": codes.SYSTOLIC_BP, "value_num": 120, "effective_at": "2026-11-24T07:00:00Z"},
        {
            "resident_id": world.residents["a1_elder"],
            "code": codes.HEART_RATE,
            "value_num": 70,
            "effective_at": "yesterday",
        },
    ]


def test_bulk_observations_keep_rejects_with_reasons(client: TestClient, world: World, session: Session) -> None:
    response = client.post(
        "/api/v1/observations/bulk", headers=bearer(world, "device"), json={"observations": _batch(world)}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["received"], result["inserted"], result["duplicates"], result["rejected"]) == (6, 2, 0, 4)
    rows = {e["row"]: e["field"] for e in result["errors"]}
    assert rows == {3: "value_num", 4: "id_number", 5: "resident_id", 6: "effective_at"}
    kept = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == result["batch_id"])).all()
    assert sorted(r.row_number for r in kept) == [3, 4, 5, 6]
    assert json.loads(kept[0].payload)["value_num"] == "high"  # verbatim, ready to be corrected and resent


def test_bulk_observations_are_idempotent(client: TestClient, world: World, session: Session) -> None:
    headers = bearer(world, "device")
    before = session.scalar(select(func.count()).select_from(Observation))
    first = client.post("/api/v1/observations/bulk", headers=headers, json={"observations": _batch(world)[:2]}).json()
    again = client.post("/api/v1/observations/bulk", headers=headers, json={"observations": _batch(world)[:2]}).json()
    assert (first["inserted"], again["inserted"], again["duplicates"]) == (2, 0, 2)
    assert session.scalar(select(func.count()).select_from(Observation)) == (before or 0) + 2
    keyed = {"batch_key": "device-BP-1-2026-11-24", "observations": _batch(world)}
    one = client.post("/api/v1/observations/bulk", headers=headers, json=keyed).json()
    two = client.post("/api/v1/observations/bulk", headers=headers, json=keyed).json()
    assert two["replayed"] is True and two["batch_id"] == one["batch_id"] and two["errors"] == one["errors"]


def test_bulk_rows_outside_the_scope_are_rejected_and_kept(client: TestClient, world: World, session: Session) -> None:
    """A centre may only send data for its own residents; a row for anybody else is a rejected row."""
    rows = [
        *_batch(world)[:2],
        {
            "resident_id": world.residents["b1_adult"],
            "code": codes.SYSTOLIC_BP,
            "value_num": 120,
            "effective_at": "2026-11-24T07:00:00Z",
        },
    ]
    response = client.post("/api/v1/observations/bulk", headers=bearer(world, "centre_a"), json={"observations": rows})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["inserted"], result["rejected"]) == (2, 1)
    assert result["errors"] == [{"row": 3, "field": "resident_id", "message": "resident outside the area you serve"}]
    forbidden = client.post("/api/v1/observations/bulk", headers=bearer(world, "bureau"), json={"observations": rows})
    assert forbidden.status_code == 403


def test_bulk_rows_pointing_at_someone_elses_encounter_are_rejected(client: TestClient, world: World) -> None:
    headers = bearer(world, "doctor_a1")
    theirs = client.post(
        f"/api/v1/residents/{world.residents['a1_wife']}/encounters",
        headers=headers,
        json={"encounter_class": "home", "start_at": "2026-11-20T09:30:00+08:00"},
    ).json()["id"]
    row = {
        "resident_id": world.residents["a1_elder"],
        "code": codes.HEART_RATE,
        "value_num": 72,
        "effective_at": "2026-11-20T09:40:00+08:00",
    }
    result = client.post(
        "/api/v1/observations/bulk",
        headers=bearer(world, "submitter"),
        json={"observations": [{**row, "encounter_id": theirs}, {**row, "encounter_id": 10**9}, row]},
    ).json()
    assert (result["inserted"], result["rejected"]) == (1, 2)
    assert [e["field"] for e in result["errors"]] == ["encounter_id", "encounter_id"]


def test_out_of_range_ids_are_422_or_rejected_rows_never_500(client: TestClient, world: World) -> None:
    headers = bearer(world, "admin")
    huge = 10**30
    assert client.get(f"/api/v1/residents/{huge}", headers=headers).status_code == 422
    assert client.get(f"/api/v1/residents/{huge}/record", headers=headers).status_code == 422
    assert client.get("/api/v1/audit", headers=headers, params={"user_id": huge}).status_code == 422
    assert client.get("/api/v1/institutions", headers=headers, params={"offset": huge}).status_code == 422
    rows = [
        {"resident_id": huge, "code": codes.HEART_RATE, "value_num": 70, "effective_at": "2026-11-20T09:40:00Z"},
        {"resident_id": True, "code": codes.HEART_RATE, "value_num": 70, "effective_at": "2026-11-20T09:40:00Z"},
        {
            "resident_id": None,
            "id_number": world.id_numbers["a1_wife"],
            "code": codes.HEART_RATE,
            "value_num": 70,
            "effective_at": "2026-11-20T09:40:00Z",
        },
    ]
    result = client.post("/api/v1/observations/bulk", headers=bearer(world, "submitter"), json={"observations": rows})
    assert result.status_code == 200
    assert (result.json()["inserted"], result.json()["rejected"]) == (1, 2)


def test_a_resent_record_changes_nothing(client: TestClient, world: World, session: Session) -> None:
    headers = bearer(world, "submitter")
    rid = world.residents["b1_adult"]
    body = {"encounter_class": "outpatient", "start_at": "2026-11-20T09:30:00+08:00", "source_key": "H1:visit:77"}
    first = client.post(f"/api/v1/residents/{rid}/encounters", headers=headers, json=body)
    again = client.post(f"/api/v1/residents/{rid}/encounters", headers=headers, json=body)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    other = client.post(f"/api/v1/residents/{world.residents['b2_villager']}/encounters", headers=headers, json=body)
    assert other.status_code == 409 and other.json()["field"] == "source_key"
    condition = {"code": "J44.9", "source_key": "H1:dx:5"}
    ids = {
        client.post(f"/api/v1/residents/{rid}/conditions", headers=headers, json=condition).json()["id"]
        for _ in range(2)
    }
    assert len(ids) == 1


def test_a_row_with_a_nul_is_rejected_and_kept_verbatim(client: TestClient, world: World, session: Session) -> None:
    # Sent as raw JSON: the escapes are what a client puts on the wire.
    rid = world.residents["a1_elder"]
    body = (
        '{"observations": [{"resident_id": ' + str(rid) + ', "code": "8480-6\\u0000", "value_num": 120,'
        ' "effective_at": "2026-11-20T09:40:00Z", "note\\u0000": "\\ud800"}]}'
    )
    headers = {**bearer(world, "submitter"), "Content-Type": "application/json"}
    result = client.post("/api/v1/observations/bulk", headers=headers, content=body)
    assert result.status_code == 200 and result.json()["rejected"] == 1
    kept = session.scalars(select(IngestRejection).where(IngestRejection.batch_id == result.json()["batch_id"])).one()
    assert json.loads(kept.payload)["code"] == "8480-6\x00"
