"""The issue's "done when": a hospital's FHIR bundle, a clinic's spreadsheet and a bulk NDJSON file
all land in the same resident's record, which the record page and ``$everything`` then show."""

from __future__ import annotations

import csv
import io

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.interop.fhir import keys
from healthbrain.records import codes
from healthbrain.records.models import Observation
from tests.conftest import bearer
from tests.factories import World


def _bundle(id_number: str) -> dict[str, object]:
    patient = "urn:uuid:7c1e0c4e-0000-4000-8000-000000000001"
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient,
                "resource": {
                    "resourceType": "Patient",
                    "id": "his-p-77",
                    "identifier": [
                        {
                            "type": {
                                "coding": [{"system": keys.IDENTIFIER_TYPE_SYSTEM, "code": keys.NATIONAL_ID_TYPE_CODE}]
                            },
                            "value": id_number,
                        }
                    ],
                    "name": [{"text": "李阿姨"}],
                    "gender": "female",
                    "birthDate": "1952-07-09",
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:7c1e0c4e-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "Observation",
                    "id": "his-o-1",
                    "status": "final",
                    "code": {"coding": [{"system": keys.LOINC, "code": codes.SYSTOLIC_BP}]},
                    "subject": {"reference": patient},
                    "effectiveDateTime": "2026-11-20T09:30:00+08:00",
                    "valueQuantity": {"value": 151, "unit": "mmHg", "system": keys.UCUM, "code": "mm[Hg]"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }


def _clinic_csv(client: TestClient, world: World, id_number: str) -> bytes:
    """The observations template as a clinic downloads it, filled in with one row."""
    template = client.get("/api/v1/import/templates/observations.csv", headers=bearer(world, "centre_a"))
    assert template.status_code == 200
    header = next(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
    values = {"身份证号": id_number, "项目": codes.GLUCOSE_FASTING, "结果": "7.8", "检查时间": "2026/11/21 8:05"}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerow([values.get(h, "") for h in header])
    return out.getvalue().encode("utf-8-sig")


def test_fhir_spreadsheet_and_bulk_land_in_one_record(client: TestClient, session: Session, world: World) -> None:
    resident_id = world.residents["a1_wife"]
    id_number = world.id_numbers["a1_wife"]

    # 1. The hospital's interface posts a transaction bundle; its Patient carries the resident ID.
    answer = client.post("/fhir", json=_bundle(id_number), headers=bearer(world, "submitter"))
    assert answer.status_code == 200, answer.text
    locations = [e["response"]["location"] for e in answer.json()["entry"]]
    assert locations[0].startswith(f"Patient/{resident_id}")

    # 2. A community health centre uploads the template it downloaded.
    upload = client.post(
        "/api/v1/import/table?kind=observations",
        files={"file": ("血糖.csv", _clinic_csv(client, world, id_number), "text/csv")},
        headers=bearer(world, "centre_a"),
    )
    assert upload.status_code == 200, upload.text
    assert (upload.json()["inserted"], upload.json()["rejected"]) == (1, 0)

    # 3. The hospital's laboratory sends NDJSON naming the patient by the hospital's own id.
    line = {
        "resourceType": "Observation",
        "id": "lis-hba1c-1",
        "status": "final",
        "code": {"coding": [{"system": keys.LOINC, "code": codes.HBA1C}]},
        "subject": {"reference": "Patient/his-p-77"},
        "effectiveDateTime": "2026-11-22T10:00:00+08:00",
        "valueQuantity": {"value": 7.1, "unit": "%", "system": keys.UCUM, "code": "%"},
    }
    bulk = client.post(
        "/api/v1/import/fhir",
        content=orjson.dumps(line) + b"\n",
        headers={**bearer(world, "submitter"), "Content-Type": "application/fhir+ndjson"},
    )
    assert bulk.status_code == 200, bulk.text
    assert (bulk.json()["inserted"], bulk.json()["rejected"]) == (1, 0)

    # One record holds the three.
    found = {
        (code, value)
        for code, value in session.execute(
            select(Observation.code, Observation.value_num).where(Observation.resident_id == resident_id)
        )
    }
    assert {(codes.SYSTOLIC_BP, 151.0), (codes.GLUCOSE_FASTING, 7.8), (codes.HBA1C, 7.1)} <= found

    # The family doctor's record page and the FHIR export show them.
    page = client.get(f"/records/residents/{resident_id}", params={"range": "all"}, headers=bearer(world, "doctor_a1"))
    assert page.status_code == 200
    everything = client.get(f"/fhir/Patient/{resident_id}/$everything", headers=bearer(world, "doctor_a1"))
    assert everything.status_code == 200
    observed = {
        (e["resource"]["code"]["coding"][0]["code"], e["resource"].get("valueQuantity", {}).get("value"))
        for e in everything.json()["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }
    assert {(codes.SYSTOLIC_BP, 151), (codes.GLUCOSE_FASTING, 7.8), (codes.HBA1C, 7.1)} <= observed
