"""Residents through the HTTP API: registration, validation, duplicates, correction, merge."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from healthbrain.people.models import Resident
from healthbrain.records.models import Observation
from tests.conftest import bearer
from tests.factories import World, resident_id_number


def new_resident(world: World, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id_number": resident_id_number(date(1985, 6, 15), male=False),
        "name": "林晓燕",
        "phone": "13900001111",
        "division_code": world.codes["a1"],
        "address": "青山社区3幢2单元501室",
    }
    body.update(overrides)
    return body


def test_register_derives_sex_and_birth_date(client: TestClient, world: World, session: Session) -> None:
    response = client.post("/api/v1/residents", headers=bearer(world, "doctor_a1"), json=new_resident(world))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sex"] == "F"
    assert body["birth_date"] == "1985-06-15"
    # Identity data is masked in what comes back; the full values need reveal.
    assert body["id_number_masked"].startswith("330199") and "*" in body["id_number_masked"]
    assert body["phone_masked"] == "139****1111"
    assert "id_number" not in body
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.resident_id == body["id"], AuditEvent.action == "resident.create")
    ).one()
    assert event.username == "doctor_a1"


def test_legacy_15_digit_id_is_upgraded(client: TestClient, world: World, session: Session) -> None:
    response = client.post(
        "/api/v1/residents",
        headers=bearer(world, "doctor_a1"),
        json=new_resident(world, id_number="330199490101003", name="老王"),
    )
    assert response.status_code == 201, response.text
    stored = session.get(Resident, response.json()["id"])
    assert stored is not None and stored.id_number is not None and len(stored.id_number) == 18
    assert stored.birth_date == date(1949, 1, 1)


def test_bad_check_character_is_422_naming_the_field(client: TestClient, world: World) -> None:
    good = resident_id_number(date(1985, 6, 15), male=False)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = client.post(
        "/api/v1/residents", headers=bearer(world, "doctor_a1"), json=new_resident(world, id_number=bad)
    )
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "id_number"]
    assert detail["type"] == "error.id_number.check_character"
    assert good[17] in detail["msg"]


def test_impossible_birth_date_in_id_is_422(client: TestClient, world: World) -> None:
    first17 = "33019919850230001"  # 30 February
    from healthbrain.people.resident_id import check_character

    response = client.post(
        "/api/v1/residents",
        headers=bearer(world, "doctor_a1"),
        json=new_resident(world, id_number=first17 + check_character(first17)),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "error.id_number.birth_date"


def test_sex_contradicting_the_id_is_422(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/residents", headers=bearer(world, "doctor_a1"), json=new_resident(world, sex="M"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sex"]


def test_messages_follow_accept_language(client: TestClient, world: World) -> None:
    good = resident_id_number(date(1985, 6, 15), male=False)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    headers = bearer(world, "doctor_a1")
    zh = client.post("/api/v1/residents", headers=headers, json=new_resident(world, id_number=bad))
    en = client.post(
        "/api/v1/residents", headers={**headers, "Accept-Language": "en"}, json=new_resident(world, id_number=bad)
    )
    assert "校验位" in zh.json()["detail"][0]["msg"]
    assert "check character" in en.json()["detail"][0]["msg"]


def test_payload_errors_name_the_field(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/residents",
        headers=bearer(world, "doctor_a1"),
        json=new_resident(world, phone="12345", division_code="33"),
    )
    assert response.status_code == 422
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert ("body", "phone") in fields and ("body", "division_code") in fields
    no_id = client.post(
        "/api/v1/residents", headers=bearer(world, "doctor_a1"), json=new_resident(world, id_number=None)
    )
    assert no_id.status_code == 422  # without an ID, sex and birth date are required


def test_duplicate_is_409_with_the_existing_link(client: TestClient, world: World) -> None:
    body = new_resident(world, id_number=world.id_numbers["a1_elder"], name="王大爷")
    response = client.post("/api/v1/residents", headers=bearer(world, "doctor_a1"), json=body)
    assert response.status_code == 409
    assert response.json()["link"] == f"/api/v1/residents/{world.residents['a1_elder']}"


def test_duplicate_identifier_is_409(client: TestClient, world: World) -> None:
    headers = bearer(world, "submitter")
    ident = [{"kind": "mrn", "system": world.institution_codes["hospital"], "value": "MRN-0001"}]
    first = client.post("/api/v1/residents", headers=headers, json=new_resident(world, identifiers=ident))
    assert first.status_code == 201, first.text
    second = client.post(
        "/api/v1/residents",
        headers=headers,
        json=new_resident(world, id_number=resident_id_number(date(1970, 1, 1), male=True), identifiers=ident),
    )
    assert second.status_code == 409
    assert second.json()["link"] == f"/api/v1/residents/{first.json()['id']}"


def test_resident_without_id_number(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/residents",
        headers=bearer(world, "doctor_a1"),
        json=new_resident(world, id_number=None, sex="M", birth_date="2026-10-01", name="新生儿"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["id_number_masked"] is None
    assert "child" in response.json()["key_populations"]


def test_family_doctor_cannot_register_outside_the_team(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/residents",
        headers=bearer(world, "doctor_a1"),
        json=new_resident(world, division_code=world.codes["b1"]),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "division_code"]


def test_correction_with_optimistic_locking(client: TestClient, world: World) -> None:
    rid = world.residents["a1_wife"]
    headers = bearer(world, "doctor_a1")
    current = client.get(f"/api/v1/residents/{rid}", headers=headers).json()
    changed = client.patch(
        f"/api/v1/residents/{rid}", headers=headers, json={"phone": "13700002222", "version": current["version"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone_masked"] == "137****2222"
    stale = client.patch(
        f"/api/v1/residents/{rid}", headers=headers, json={"phone": "13700003333", "version": current["version"]}
    )
    assert stale.status_code == 409


def test_search_by_name_id_and_phone(client: TestClient, world: World) -> None:
    headers = bearer(world, "bureau")
    by_name = client.get("/api/v1/residents", headers=headers, params={"q": "王"}).json()["items"]
    assert {r["id"] for r in by_name} >= {world.residents["a1_elder"], world.residents["a1_child"]}
    by_id = client.get("/api/v1/residents", headers=headers, params={"q": world.id_numbers["b1_adult"]}).json()["items"]
    assert [r["id"] for r in by_id] == [world.residents["b1_adult"]]
    by_id_lower = client.get(
        "/api/v1/residents", headers=headers, params={"q": world.id_numbers["b1_adult"].lower()}
    ).json()
    assert [r["id"] for r in by_id_lower["items"]] == [world.residents["b1_adult"]]
    by_phone = client.get("/api/v1/residents", headers=headers, params={"q": "13812345678", "limit": 200}).json()[
        "items"
    ]
    assert len(by_phone) >= 6
    elders = client.get(
        "/api/v1/residents", headers=headers, params={"key_population": "elderly", "limit": 200}
    ).json()["items"]
    assert {r["id"] for r in elders} >= {world.residents["a1_elder"], world.residents["b2_villager"]}
    assert world.residents["a2_adult"] not in {r["id"] for r in elders}
    town = client.get("/api/v1/residents", headers=headers, params={"division_code": world.codes["town_b"]}).json()[
        "items"
    ]
    assert {r["id"] for r in town} == {world.residents["b1_adult"], world.residents["b2_villager"]}


def test_merge_moves_rows_and_unmerge_gives_them_back(client: TestClient, world: World, session: Session) -> None:
    headers = bearer(world, "centre_a")
    survivor = world.residents["a1_elder"]
    duplicate = client.post(
        "/api/v1/residents",
        headers=headers,
        json=new_resident(world, id_number=None, name="王大爷", sex="M", birth_date="1950-03-02", phone=None),
    ).json()["id"]
    obs = client.post(
        f"/api/v1/residents/{duplicate}/observations",
        headers=headers,
        json={"code": "8480-6", "value_num": 162, "unit": "mm[Hg]", "effective_at": "2026-10-01T09:00:00+08:00"},
    ).json()["id"]
    merged = client.post(
        f"/api/v1/residents/{survivor}/merge",
        headers=headers,
        json={"merged_id": duplicate, "reason": "同一人，重复建档"},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"]["observation"] == [obs]
    session.expire_all()
    assert session.get(Observation, obs).resident_id == survivor  # type: ignore[union-attr]
    gone = client.get(f"/api/v1/residents/{duplicate}", headers=headers).json()
    assert gone["status"] == "merged" and gone["merged_into_id"] == survivor
    # A merged record cannot be merged again or edited.
    again = client.post(
        f"/api/v1/residents/{survivor}/merge", headers=headers, json={"merged_id": duplicate, "reason": "again"}
    )
    assert again.status_code == 409
    undone = client.post(
        f"/api/v1/residents/merges/{merged.json()['id']}/unmerge", headers=headers, json={"reason": "不是同一人"}
    )
    assert undone.status_code == 200, undone.text
    session.expire_all()
    assert session.get(Observation, obs).resident_id == duplicate  # type: ignore[union-attr]
    assert client.get(f"/api/v1/residents/{duplicate}", headers=headers).json()["status"] == "active"
    twice = client.post(
        f"/api/v1/residents/merges/{merged.json()['id']}/unmerge", headers=headers, json={"reason": "again"}
    )
    assert twice.status_code == 409
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.resident_id == duplicate)).all()
    assert "resident.merge" in actions and "resident.unmerge" in actions


def test_merge_needs_the_permission_and_both_records_in_scope(client: TestClient, world: World) -> None:
    body = {"merged_id": world.residents["a1_wife"], "reason": "test"}
    survivor = world.residents["a1_elder"]
    assert (
        client.post(f"/api/v1/residents/{survivor}/merge", headers=bearer(world, "doctor_a1"), json=body).status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/residents/{survivor}/merge", headers=bearer(world, "bureau"), json=body).status_code
        == 403
    )
    cross = {"merged_id": world.residents["b1_adult"], "reason": "test"}
    assert (
        client.post(f"/api/v1/residents/{survivor}/merge", headers=bearer(world, "centre_a"), json=cross).status_code
        == 404
    )
    same = {"merged_id": survivor, "reason": "test"}
    assert (
        client.post(f"/api/v1/residents/{survivor}/merge", headers=bearer(world, "admin"), json=same).status_code == 422
    )


def test_text_the_database_cannot_hold_is_refused_with_its_field(client: TestClient, world: World) -> None:
    headers = bearer(world, "doctor_a1")
    response = client.post("/api/v1/residents", headers=headers, json=new_resident(world, name="王\x00五"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    search = client.get("/api/v1/residents", headers=headers, params={"q": "王\x00"})
    assert search.status_code in (200, 422)  # SQLite finds nothing; PostgreSQL refuses the term — never a 500


def test_correcting_the_id_number_rederives_sex_and_birth_date(client: TestClient, world: World) -> None:
    rid = world.residents["a2_adult"]
    headers = bearer(world, "centre_a")
    corrected = resident_id_number(date(1991, 2, 16), male=False)
    response = client.patch(f"/api/v1/residents/{rid}", headers=headers, json={"id_number": corrected})
    assert response.status_code == 200, response.text
    assert response.json()["birth_date"] == "1991-02-16"
    bad = client.patch(f"/api/v1/residents/{rid}", headers=headers, json={"id_number": corrected[:17] + "Y"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "id_number"]
    taken = client.patch(f"/api/v1/residents/{rid}", headers=headers, json={"id_number": world.id_numbers["a1_elder"]})
    assert taken.status_code == 409 and taken.json()["link"].endswith(f"/{world.residents['a1_elder']}")


def test_every_table_that_names_a_resident_follows_a_merge() -> None:
    """A table added with a resident foreign key must move with a merge (RESIDENT_OWNED) or be
    named as one that does not; otherwise a merge would leave its rows on the folded record."""
    from healthbrain.models import Base
    from healthbrain.people.service import NOT_MOVED_BY_MERGE, RESIDENT_OWNED

    owned = {m.__tablename__ for m in RESIDENT_OWNED}
    naming = {
        t.name
        for t in Base.metadata.sorted_tables
        for c in t.columns
        if t.name != "resident" and any(fk.column.table.name == "resident" for fk in c.foreign_keys)
    }
    assert naming - owned - set(NOT_MOVED_BY_MERGE) == set()
    assert {"immunization", "fhir_resource", "contract"} <= owned


def test_merge_moves_immunisations_and_hospital_documents(client: TestClient, world: World, session: Session) -> None:
    from datetime import UTC, datetime

    from healthbrain.interop.models import FhirResource
    from healthbrain.records.models import Immunization

    headers = bearer(world, "centre_a")
    survivor = world.residents["a1_elder"]
    duplicate = client.post(
        "/api/v1/residents",
        headers=headers,
        json=new_resident(world, id_number=None, name="王大爷", sex="M", birth_date="1950-03-02", phone=None),
    ).json()["id"]
    now = datetime.now(UTC)
    dose = Immunization(
        resident_id=duplicate, vaccine_code="88", occurrence_date=date(2025, 10, 1), status="completed", recorded_at=now
    )
    document = FhirResource(
        resource_type="Procedure", logical_id="p-merge-1", resident_id=duplicate, last_updated=now, content="{}"
    )
    session.add_all([dose, document])
    session.commit()
    merged = client.post(
        f"/api/v1/residents/{survivor}/merge", headers=headers, json={"merged_id": duplicate, "reason": "重复建档"}
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"]["immunization"] == [dose.id]
    assert merged.json()["moved"]["fhir_resource"] == [document.id]
    session.expire_all()
    assert session.get(Immunization, dose.id).resident_id == survivor  # type: ignore[union-attr]
    assert session.get(FhirResource, document.id).resident_id == survivor  # type: ignore[union-attr]
