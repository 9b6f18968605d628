"""Each mapped type through the API: create, read back, search by its parameters, update."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from healthbrain.contracts.models import Contract, ContractConsent, ServicePackage
from healthbrain.interop.fhir import keys
from tests.conftest import bearer
from tests.factories import World

FHIR = "application/fhir+json"


def h(world: World, user: str) -> dict[str, str]:
    return {**bearer(world, user), "Content-Type": FHIR}


def post(client: TestClient, world: World, user: str, resource: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=h(world, user))
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"]]


def test_directory_types(client: TestClient, world: World) -> None:
    org = post(
        client,
        world,
        "submitter",
        {
            "resourceType": "Organization",
            "name": "眼科门诊部",
            "identifier": [{"system": keys.INSTITUTION_SYSTEM, "value": "H33019901-EYE"}],
            "partOf": {"reference": f"Organization/{world.institutions['hospital']}"},
        },
    )
    assert org["partOf"]["reference"] == f"Organization/{world.institutions['hospital']}"
    again = client.post(
        "/fhir/Organization",
        json={"resourceType": "Organization", "name": "眼科门诊部"},
        headers={**h(world, "submitter"), "If-None-Exist": "identifier=H33019901-EYE"},
    )
    assert again.status_code == 200 and again.json()["id"] == org["id"]
    found = client.get(
        "/fhir/Organization",
        params={"identifier": f"{keys.INSTITUTION_SYSTEM}|H33019901-EYE"},
        headers=h(world, "bureau"),
    ).json()
    assert ids(found) == [org["id"]]
    prac = post(
        client,
        world,
        "submitter",
        {
            "resourceType": "Practitioner",
            "name": [{"text": "钱医生"}],
            "gender": "female",
            "identifier": [{"system": keys.PRACTITIONER_SYSTEM, "value": "D-qian"}],
        },
    )
    assert (
        client.get(f"/fhir/Practitioner/{prac['id']}", headers=h(world, "bureau")).json()["name"][0]["text"] == "钱医生"
    )
    assert ids(client.get("/fhir/Practitioner", params={"name": "钱"}, headers=h(world, "bureau")).json()) == [
        prac["id"]
    ]
    # a care team is directory data: the administrator's
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "name": "东湖三组",
        "identifier": [{"system": keys.CARE_TEAM_SYSTEM, "value": "T-dh3"}],
        "managingOrganization": [{"reference": f"Organization/{world.institutions['chc_a']}"}],
        "participant": [
            {
                "member": {"reference": f"Practitioner/{world.practitioners['gp_a1']}"},
                "role": [
                    {"coding": [{"system": "https://fhir.healthbrain.cn/CodeSystem/team-role", "code": "lead_gp"}]}
                ],
            }
        ],
    }
    r = client.post("/fhir/CareTeam", json=team, headers=h(world, "submitter"))
    assert r.status_code == 403 and r.json()["resourceType"] == "OperationOutcome"
    made = post(client, world, "admin", team)
    assert made["participant"][0]["member"]["reference"] == f"Practitioner/{world.practitioners['gp_a1']}"
    assert ids(client.get("/fhir/CareTeam", params={"identifier": "T-dh3"}, headers=h(world, "admin")).json()) == [
        made["id"]
    ]


def test_contract_as_episode_of_care_with_consent(client: TestClient, session: Session, world: World) -> None:
    session.add(ServicePackage(code="BASIC", name="基础包", annual_fee_yuan=0.0, active=True))
    session.flush()
    rid = world.residents["a1_elder"]
    episode = {
        "resourceType": "EpisodeOfCare",
        "status": "active",
        "type": [{"coding": [{"system": keys.SERVICE_PACKAGE_SYSTEM, "code": "BASIC"}]}],
        "patient": {"reference": f"Patient/{rid}"},
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "team": [{"reference": f"CareTeam/{world.teams['team_a1']}"}],
        "careManager": {"reference": f"Practitioner/{world.practitioners['gp_a1']}"},
    }
    made = post(client, world, "doctor_a1", episode)
    assert made["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    contract = session.get(Contract, int(made["id"]))
    assert contract is not None and contract.team_id == world.teams["team_a1"]
    session.add(
        ContractConsent(
            contract_id=contract.id,
            resident_id=rid,
            signer_name="王大爷",
            signer_relation="self",
            method="handwritten",
            signed_at=datetime(2026, 1, 1, 2, tzinfo=UTC),
            status="active",
        )
    )
    session.flush()
    found = client.get(
        "/fhir/EpisodeOfCare",
        params={"patient": str(rid), "status": "active", "team": str(world.teams["team_a1"])},
        headers=h(world, "doctor_a1"),
    ).json()
    assert ids(found) == [made["id"]]
    everything = client.get(f"/fhir/Patient/{rid}/$everything", headers=h(world, "doctor_a1")).json()
    kinds = [e["resource"]["resourceType"] for e in everything["entry"]]
    assert {"EpisodeOfCare", "Consent", "CareTeam", "Practitioner", "Organization", "Condition", "Observation"} <= set(
        kinds
    )
    assert post(client, world, "submitter", episode, status=403)["resourceType"] == "OperationOutcome"
    bad = post(
        client,
        world,
        "doctor_a1",
        {**episode, "type": [{"coding": [{"system": keys.SERVICE_PACKAGE_SYSTEM, "code": "NOPE"}]}]},
        status=422,
    )
    assert bad["issue"][0]["expression"] == ["EpisodeOfCare.type"]


def test_encounter_medication_immunization(client: TestClient, world: World) -> None:
    rid = world.residents["a1_wife"]
    enc = post(
        client,
        world,
        "doctor_a1",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "HH"},
            "subject": {"reference": f"Patient/{rid}"},
            "period": {"start": "2025-03-01T09:00:00+08:00"},
        },
    )
    assert enc["class"]["code"] == "HH"
    assert ids(
        client.get(
            "/fhir/Encounter",
            params={"patient": str(rid), "class": "HH", "date": "2025-03"},
            headers=h(world, "doctor_a1"),
        ).json()
    ) == [enc["id"]]
    med = post(
        client,
        world,
        "doctor_a1",
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "subject": {"reference": f"Patient/{rid}"},
            "medicationCodeableConcept": {"coding": [{"system": keys.ATC, "code": "A10BA02"}], "text": "二甲双胍"},
        },
    )
    assert med["medicationCodeableConcept"]["text"] == "二甲双胍"
    assert ids(
        client.get(
            "/fhir/MedicationStatement",
            params={"subject": f"Patient/{rid}", "code": "A10BA02"},
            headers=h(world, "doctor_a1"),
        ).json()
    ) == [med["id"]]
    imm = post(
        client,
        world,
        "doctor_a1",
        {
            "resourceType": "Immunization",
            "status": "completed",
            "patient": {"reference": f"Patient/{rid}"},
            "encounter": {"reference": f"Encounter/{enc['id']}"},
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}], "text": "流感疫苗"},
            "occurrenceDateTime": "2025-03-01",
        },
    )
    assert imm["encounter"]["reference"] == f"Encounter/{enc['id']}"
    assert ids(
        client.get(
            "/fhir/Immunization",
            params={"patient": str(rid), "date": "ge2025-01-01", "vaccine-code": "140"},
            headers=h(world, "doctor_a1"),
        ).json()
    ) == [imm["id"]]
    # update: the same row, new values
    changed = {**imm, "status": "entered-in-error"}
    r = client.put(f"/fhir/Immunization/{imm['id']}", json=changed, headers=h(world, "doctor_a1"))
    assert r.status_code == 200 and r.json()["status"] == "entered-in-error" and r.json()["id"] == imm["id"]
    # an encounter of another resident is refused, naming the element
    other = client.post(
        "/fhir/Immunization",
        json={**imm, "id": None, "patient": {"reference": f"Patient/{world.residents['a1_elder']}"}},
        headers=h(world, "doctor_a1"),
    )
    assert other.status_code == 422, other.text
    assert "Immunization.encounter" in other.json()["issue"][0]["expression"]


def test_update_unknown_id_is_404(client: TestClient, world: World) -> None:
    r = client.put(
        "/fhir/Condition/987654",
        json={
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{world.residents['a1_elder']}"},
            "code": {"coding": [{"system": keys.ICD10, "code": "I10"}]},
        },
        headers=h(world, "doctor_a1"),
    )
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"
