"""The FHIR REST API through a real HTTP client: create/read/update/search, bundles, errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthbrain.auth.models import AuditEvent
from healthbrain.interop.fhir import keys
from healthbrain.interop.models import FhirResource
from healthbrain.people.models import Resident
from healthbrain.records.models import Condition, Encounter, IngestRejection, Observation
from tests.conftest import bearer
from tests.factories import World

DATA = Path(__file__).parent / "data"
FHIR = "application/fhir+json"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def h(world: World, user: str = "submitter") -> dict[str, str]:
    return {**bearer(world, user), "Content-Type": FHIR}


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def assert_outcome(body: dict[str, Any], expression: str | None = None) -> None:
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and all(i["severity"] and i["code"] and i["diagnostics"] for i in body["issue"])
    if expression is not None:
        assert expression in [e for i in body["issue"] for e in i.get("expression", [])], body


def test_metadata(client: TestClient) -> None:
    r = client.get("/fhir/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith(FHIR)
    cs = r.json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    types = {x["type"] for x in cs["rest"][0]["resource"]}
    assert {"Patient", "Observation", "EpisodeOfCare", "Immunization", "Claim"} <= types


def test_create_read_update_search_patient(client: TestClient, world: World) -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": keys.RESIDENT_ID_SYSTEM, "value": "11010519491231002X"}],
        "name": [{"text": "张桂英"}],
        "gender": "female",
        "birthDate": "1949-12-31",
        "address": [
            {
                "text": "青山社区",
                "extension": [
                    {
                        "url": "https://fhir.healthbrain.cn/StructureDefinition/division-code",
                        "valueCode": world.codes["a1"],
                    }
                ],
            }
        ],
    }
    r = client.post("/fhir/Patient", json=patient, headers=h(world))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.headers["location"].endswith(f"/fhir/Patient/{pid}/_history/1")
    got = client.get(f"/fhir/Patient/{pid}", headers=h(world)).json()
    assert got["name"][0]["text"] == "张桂英" and got["birthDate"] == "1949-12-31"
    assert got["address"][0]["extension"][0]["valueCode"] == world.codes["a1"]
    # conditional create: already there, nothing new
    r2 = client.post(
        "/fhir/Patient",
        json=patient,
        headers={**h(world), "If-None-Exist": f"identifier={keys.RESIDENT_ID_SYSTEM}|11010519491231002X"},
    )
    assert r2.status_code == 200 and r2.json()["id"] == pid
    upd = {**got, "telecom": [{"system": "phone", "value": "13900000000"}]}
    r3 = client.put(f"/fhir/Patient/{pid}", json=upd, headers=h(world))
    assert r3.status_code == 200, r3.text
    assert r3.json()["telecom"][0]["value"] == "13900000000" and r3.json()["meta"]["versionId"] == "2"
    s = client.get(
        "/fhir/Patient", params={"identifier": f"{keys.RESIDENT_ID_SYSTEM}|11010519491231002X"}, headers=h(world)
    ).json()
    assert s["type"] == "searchset" and s["total"] == 1 and s["entry"][0]["resource"]["id"] == pid
    s = client.get(
        "/fhir/Patient", params={"birthdate": "le1950-01-01", "gender": "female", "name": "桂英"}, headers=h(world)
    ).json()
    assert [e["resource"]["id"] for e in s["entry"]] == [pid]


def test_observation_search_by_patient_code_date_and_paging(client: TestClient, world: World) -> None:
    rid = world.residents["a1_elder"]
    for day in range(1, 6):
        body = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": keys.LOINC, "code": "29463-7"}]},
            "subject": {"reference": f"Patient/{rid}"},
            "effectiveDateTime": f"2024-05-0{day}T08:00:00+08:00",
            "valueQuantity": {"value": 60 + day, "unit": "kg", "system": keys.UCUM, "code": "kg"},
        }
        assert client.post("/fhir/Observation", json=body, headers=h(world, "doctor_a1")).status_code == 201
    params = {"patient": str(rid), "code": f"{keys.LOINC}|29463-7", "date": "ge2024-05-02", "_count": "2"}
    page1 = client.get("/fhir/Observation", params=params, headers=h(world, "doctor_a1")).json()
    assert page1["total"] == 4 and len(page1["entry"]) == 2
    nxt = next(link["url"] for link in page1["link"] if link["relation"] == "next")
    page2 = client.get(nxt, headers=h(world, "doctor_a1")).json()
    assert len(page2["entry"]) == 2
    values = [e["resource"]["valueQuantity"]["value"] for e in page1["entry"] + page2["entry"]]
    assert sorted(values) == [62, 63, 64, 65]
    day = client.get(
        "/fhir/Observation", params={"patient": str(rid), "date": "2024-05-03"}, headers=h(world, "doctor_a1")
    ).json()
    assert [e["resource"]["valueQuantity"]["value"] for e in day["entry"]] == [63]
    # out of the doctor's scope: team a1 does not serve b1
    other = client.get(
        "/fhir/Observation", params={"patient": str(world.residents["b1_adult"])}, headers=h(world, "doctor_a1")
    ).json()
    assert other["total"] == 0


def test_synthea_transaction_lands_everything_and_resend_is_idempotent(
    client: TestClient, session: Session, world: World
) -> None:
    bundle = load("synthea_patient.json")
    r = client.post("/fhir", json=bundle, headers=h(world))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["type"] == "transaction-response" and len(answer["entry"]) == len(bundle["entry"])
    assert all(e["response"]["status"] == "201 Created" for e in answer["entry"]), answer
    pid = answer["entry"][0]["response"]["location"].split("/")[1]
    snapshot = [count(session, m) for m in (Resident, Encounter, Observation, Condition, FhirResource)]
    again = client.post("/fhir", json=bundle, headers=h(world)).json()
    assert all(e["response"]["status"] == "200 OK" for e in again["entry"]), again
    assert [e["response"]["location"] for e in again["entry"]] == [e["response"]["location"] for e in answer["entry"]]
    assert [count(session, m) for m in (Resident, Encounter, Observation, Condition, FhirResource)] == snapshot
    everything = client.get(f"/fhir/Patient/{pid}/$everything", headers=h(world)).json()
    kinds = sorted(e["resource"]["resourceType"] for e in everything["entry"])
    for kind in (
        "Patient",
        "Organization",
        "Practitioner",
        "Encounter",
        "Condition",
        "Observation",
        "MedicationStatement",
        "MedicationRequest",
        "Immunization",
        "Procedure",
        "Claim",
        "ExplanationOfBenefit",
        "DiagnosticReport",
        "CarePlan",
        "AllergyIntolerance",
    ):
        assert kind in kinds, kind
    assert kinds.count("Encounter") == 2 and kinds.count("Observation") == 5  # 3 vitals, the BP panel, smoking
    panel = next(
        e["resource"]
        for e in everything["entry"]
        if e["resource"]["resourceType"] == "Observation" and e["resource"]["code"]["coding"][0]["code"] == "85354-9"
    )
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [86, 146]
    # urn:uuid references inside kept resources point at our resources now
    report = next(e["resource"] for e in everything["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    assert report["subject"]["reference"] == f"Patient/{pid}"
    assert report["result"][0]["reference"] == f"Observation/{panel['id']}"
    claim = next(e["resource"] for e in everything["entry"] if e["resource"]["resourceType"] == "Claim")
    assert client.get(f"/fhir/Claim/{claim['id']}", headers=h(world)).json()["total"]["value"] == 129.16
    found = client.get("/fhir/Claim", params={"patient": pid}, headers=h(world)).json()
    assert found["total"] == 1
    bp = client.get("/fhir/Observation", params={"patient": pid, "code": "8480-6"}, headers=h(world)).json()
    assert [e["resource"]["valueQuantity"]["value"] for e in bp["entry"]] == [146]
    smoking = client.get("/fhir/Observation", params={"patient": pid, "code": "72166-2"}, headers=h(world)).json()
    assert smoking["entry"][0]["resource"]["valueString"] == "266919005"
    audited = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "fhir.everything", AuditEvent.resident_id == int(pid))
    )
    assert audited == 1


def test_chinese_hospital_bundle_lands_on_the_clinic_resident(
    client: TestClient, session: Session, world: World
) -> None:
    bundle = load("chinese_hospital.json")
    number = world.id_numbers["b1_adult"]
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = number
    bundle["entry"][0]["resource"]["birthDate"] = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    bundle["entry"][0]["resource"]["gender"] = "male"
    before = count(session, Resident)
    r = client.post("/fhir", json=bundle, headers=h(world))
    assert r.status_code == 200, r.text
    assert r.json()["entry"][0]["response"]["location"] == f"Patient/{world.residents['b1_adult']}"
    assert count(session, Resident) == before
    conditions = session.scalars(
        select(Condition.code).where(Condition.resident_id == world.residents["b1_adult"])
    ).all()
    assert {"I10", "E11.9"} <= set(conditions)
    bp = session.scalars(
        select(Observation.value_num).where(
            Observation.resident_id == world.residents["b1_adult"], Observation.code == "8480-6"
        )
    ).all()
    assert 158.0 in bp


def test_new_chinese_patient_placed_in_division_of_address(client: TestClient, session: Session, world: World) -> None:
    r = client.post("/fhir", json=load("chinese_hospital.json"), headers=h(world))
    assert r.status_code == 200, r.text
    pid = int(r.json()["entry"][0]["response"]["location"].split("/")[1])
    resident = session.get(Resident, pid)
    assert resident is not None and resident.division_id == world.divisions["a1"] and resident.name == "张桂英"


def test_transaction_with_one_bad_entry_writes_nothing(client: TestClient, session: Session, world: World) -> None:
    bundle = load("synthea_patient.json")
    bad = copy.deepcopy(bundle)
    obs = bad["entry"][6]["resource"]
    assert obs["resourceType"] == "Observation"
    obs["valueQuantity"]["value"] = "heavy"
    snapshot = [count(session, m) for m in (Resident, Encounter, Observation, FhirResource)]
    r = client.post("/fhir", json=bad, headers=h(world))
    assert r.status_code in (400, 422)
    assert_outcome(r.json(), "Bundle.entry[6].resource.valueQuantity.value")
    assert [count(session, m) for m in (Resident, Encounter, Observation, FhirResource)] == snapshot
    kept = session.scalars(select(IngestRejection).order_by(IngestRejection.id.desc())).first()
    assert kept is not None and kept.row_number == 7 and "heavy" in kept.payload
    # bad status code (fhir.resources takes any string: our own check)
    bad = copy.deepcopy(bundle)
    bad["entry"][3]["resource"]["status"] = "done"
    r = client.post("/fhir", json=bad, headers=h(world))
    assert r.status_code == 422
    assert_outcome(r.json(), "Bundle.entry[3].resource.status")


def test_batch_writes_the_good_entries(client: TestClient, session: Session, world: World) -> None:
    rid = world.residents["b1_adult"]
    good = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{rid}"},
        "effectiveDateTime": "2024-06-01T08:00:00+08:00",
        "valueQuantity": {"value": 72, "unit": "/min", "code": "/min", "system": keys.UCUM},
    }
    missing = {**good, "subject": {"reference": "Patient/999999"}}
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": good, "request": {"method": "POST", "url": "Observation"}},
            {"resource": missing, "request": {"method": "POST", "url": "Observation"}},
            {
                "resource": {
                    "resourceType": "Procedure",
                    "status": "whatever",
                    "subject": {"reference": f"Patient/{rid}"},
                },
                "request": {"method": "POST", "url": "Procedure"},
            },
        ],
    }
    r = client.post("/fhir", json=bundle, headers=h(world))
    assert r.status_code == 200
    entries = r.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created", "422", "201 Created"]
    assert_outcome(entries[1]["response"]["outcome"], "Bundle.entry[1].resource.subject")
    assert (
        session.scalar(
            select(func.count())
            .select_from(Observation)
            .where(Observation.resident_id == rid, Observation.code == "8867-4")
        )
        == 1
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expression"),
    [
        ("get", "/fhir/Patient/999999", None, 404, None),
        ("get", "/fhir/Claim/nope", None, 404, None),
        ("post", "/fhir/Patient", "{not json", 400, None),
        ("post", "/fhir/Observation", {"resourceType": "Patient"}, 400, "resourceType"),
        (
            "post",
            "/fhir/Observation",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "Patient/1"},
                "effectiveDateTime": "2024-01-01",
                "valueQuantity": {"value": "x"},
            },
            422,
            "Observation.valueQuantity.value",
        ),
        (
            "post",
            "/fhir/Observation",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": keys.LOINC, "code": "8867-4"}]},
                "subject": {"reference": "Patient/999999"},
                "effectiveDateTime": "2024-01-01",
                "valueQuantity": {"value": 1},
            },
            422,
            "Observation.subject",
        ),
        (
            "post",
            "/fhir/Patient",
            {
                "resourceType": "Patient",
                "name": [{"text": "x"}],
                "gender": "female",
                "birthDate": "1990-01-01",
                "foo": 1,
            },
            422,
            "Patient.foo",
        ),
        ("get", "/fhir/Observation?bogus=1", None, 400, "bogus"),
        ("get", "/fhir/Observation?date=notadate", None, 400, "date"),
        ("post", "/fhir", {"resourceType": "Bundle", "type": "collection"}, 400, "Bundle.type"),
    ],
)
def test_every_error_is_an_operation_outcome(
    client: TestClient, world: World, method: str, path: str, body: Any, status: int, expression: str | None
) -> None:
    kwargs: dict[str, Any] = {"headers": h(world)}
    if isinstance(body, str):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(FHIR)
    assert_outcome(r.json(), expression)


def test_auth_errors_are_operation_outcomes(client: TestClient, world: World) -> None:
    r = client.get("/fhir/Patient")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert_outcome(r.json())
    r = client.get("/fhir/Patient", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert_outcome(r.json())
    # a reader may not write
    r = client.post(
        "/fhir/Patient",
        json={"resourceType": "Patient", "name": [{"text": "x"}], "gender": "male", "birthDate": "1990-01-01"},
        headers=h(world, "bureau"),
    )
    assert r.status_code == 403
    assert_outcome(r.json())
    # out of scope reads as not found
    r = client.get(f"/fhir/Patient/{world.residents['b1_adult']}", headers=h(world, "doctor_a1"))
    assert r.status_code == 404
    assert_outcome(r.json())


def test_english_diagnostics(client: TestClient, world: World) -> None:
    r = client.get("/fhir/Patient/999999", headers={**h(world), "Accept-Language": "en"})
    assert "does not exist" in r.json()["issue"][0]["diagnostics"]
    r = client.get("/fhir/Patient/999999", headers=h(world))
    assert "不存在" in r.json()["issue"][0]["diagnostics"]


def test_everything_is_valid_r4(client: TestClient, world: World) -> None:
    from healthbrain.interop.fhir.validate import validate_r4

    r = client.post("/fhir", json=load("chinese_hospital.json"), headers=h(world))
    pid = r.json()["entry"][0]["response"]["location"].split("/")[1]
    bundle = client.get(f"/fhir/Patient/{pid}/$everything", headers=h(world)).json()
    assert bundle["total"] == len(bundle["entry"]) >= 9
    for entry in bundle["entry"]:
        assert validate_r4(entry["resource"]) == [], entry["resource"]
    assert validate_r4(bundle) == []


def test_a_hospital_writes_for_a_resident_it_may_not_read_back(
    client: TestClient, session: Session, world: World
) -> None:
    """A hospital's interface writes for any resident of the district but reads only its own: the
    create stands (201, Location) and the answer is an informational outcome, not a 404 that would
    roll the write back."""
    rid = world.residents["b1_adult"]
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": "8480-6"}]},
        "subject": {"reference": f"Patient/{rid}"},
        "effectiveDateTime": "2026-11-20T09:30:00+08:00",
        "valueQuantity": {"value": 143, "unit": "mmHg", "system": keys.UCUM, "code": "mm[Hg]"},
    }
    answer = client.post("/fhir/Observation", json=obs, headers=bearer(world, "submitter"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert answer.json()["issue"][0]["severity"] == "information"
    logical_id = answer.headers["Location"].rsplit("/", 1)[1]
    row = session.get(Observation, int(logical_id))
    assert row is not None and row.resident_id == rid and row.value_num == 143
    # The resident's family doctor reads it.
    assert client.get(f"/fhir/Observation/{logical_id}", headers=bearer(world, "doctor_b")).status_code == 200
