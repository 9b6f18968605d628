"""A hospital's FHIR client (the real ``fhirclient`` library, over real HTTP to a live uvicorn
server) creates, searches and reads back as it would against any FHIR R4 server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fhirclient import client as fhir_client
from fhirclient.models.bundle import Bundle
from fhirclient.models.codeableconcept import CodeableConcept
from fhirclient.models.coding import Coding
from fhirclient.models.condition import Condition
from fhirclient.models.fhirdatetime import FHIRDateTime
from fhirclient.models.fhirreference import FHIRReference
from fhirclient.models.humanname import HumanName
from fhirclient.models.identifier import Identifier
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.models.quantity import Quantity
from fhirclient.server import FHIRNotFoundException

from healthbrain.app import create_app
from healthbrain.db import Database
from healthbrain.interop.fhir import keys
from tests.factories import World


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_url(db: Database) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/fhir/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def hospital(live_url: str, world: World) -> fhir_client.FHIRClient:
    smart = fhir_client.FHIRClient(settings={"app_id": "his", "api_base": live_url})
    smart.server.session.headers["Authorization"] = f"Bearer {world.tokens['submitter']}"
    return smart


def test_hospital_client_creates_searches_and_reads(hospital: fhir_client.FHIRClient, world: World) -> None:
    server = hospital.server
    capability = server.capabilityStatement
    assert capability.fhirVersion == "4.0.1"
    assert "Observation" in {r.type for r in capability.rest[0].resource}

    patient = Patient()
    national = Identifier()
    national.system, national.value = keys.RESIDENT_ID_SYSTEM, world.id_numbers["b1_adult"]
    mrn = Identifier()
    mrn.type = CodeableConcept({"coding": [{"system": keys.IDENTIFIER_TYPE_SYSTEM, "code": "MR"}]})
    mrn.system, mrn.value = "urn:his:mrn", "MRN-778899"
    patient.identifier = [national, mrn]
    name = HumanName()
    name.text = "孙先生"
    patient.name = [name]
    patient.gender = "male"
    created = patient.create(server)
    assert created is not None and created["id"] == str(world.residents["b1_adult"])  # the clinic's record

    observation = Observation()
    observation.status = "final"
    coding = Coding()
    coding.system, coding.code = keys.LOINC, "8480-6"
    observation.code = CodeableConcept()
    observation.code.coding = [coding]
    subject = FHIRReference()
    subject.reference = f"Patient/{created['id']}"
    observation.subject = subject
    observation.effectiveDateTime = FHIRDateTime("2024-07-01T09:00:00+08:00")
    quantity = Quantity()
    quantity.value, quantity.unit, quantity.system, quantity.code = 151, "mmHg", keys.UCUM, "mm[Hg]"
    observation.valueQuantity = quantity
    made = observation.create(server)
    assert made is not None and made["valueQuantity"]["value"] == 151

    condition = Condition()
    condition.code = CodeableConcept({"coding": [{"system": keys.ICD10, "code": "I10", "display": "原发性高血压"}]})
    condition.clinicalStatus = CodeableConcept(
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}
    )
    condition.subject = subject
    assert condition.create(server) is not None
    diagnoses = Condition.where(struct={"patient": created["id"], "code": f"{keys.ICD10}|I10"}).perform_resources(
        server
    )
    assert [c.code.coding[0].code for c in diagnoses] == ["I10"]

    search = Observation.where(struct={"patient": created["id"], "code": f"{keys.LOINC}|8480-6"})
    found = search.perform_resources(server)
    assert 151 in [o.valueQuantity.value for o in found]
    bundle = search.perform(server)
    assert isinstance(bundle, Bundle) and bundle.total >= 1

    back = Observation.read(made["id"], server)
    assert back.subject.reference == f"Patient/{created['id']}" and back.valueQuantity.value == 151
    assert back.effectiveDateTime.isostring.startswith("2024-07-01T09:00:00")

    read_patient = Patient.read(created["id"], server)
    assert read_patient.name[0].text == "孙先生"
    assert "MRN-778899" in [i.value for i in read_patient.identifier]

    with pytest.raises(FHIRNotFoundException):
        Patient.read("999999999", server)
