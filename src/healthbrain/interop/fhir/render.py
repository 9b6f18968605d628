"""The platform's rows → FHIR R4 resources (read, search, $everything): pure functions over rows
already loaded (no session), each the inverse of its ``parse.parse_*``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from healthbrain.contracts.models import Contract, ContractConsent
from healthbrain.geo.models import CareTeam, CareTeamMember, Institution, Practitioner
from healthbrain.interop.fhir import keys
from healthbrain.interop.fhir.parse import (
    CLASS_TO_V3,
    CONDITION_CLINICAL,
    DIVISION_EXTENSION,
    ENCOUNTER_CLASS_SYSTEM,
    INSTITUTION_KIND_SYSTEM,
    PROFESSION_SYSTEM,
    TEAM_ROLE_SYSTEM,
    V3_ACT_CODE,
    fhir_instant,
)
from healthbrain.interop.models import FhirResource
from healthbrain.people.models import Resident, ResidentIdentifier, ResidentStatus
from healthbrain.records.codes import LOINC_NAMES
from healthbrain.records.models import Condition, Encounter, MedicationStatement, Observation
from healthbrain.records.models import Immunization as ImmunizationRow

IDENTIFIER_TYPES = {"mrn": "MR", "passport": "PPN", "health_record": "HC"}
VITAL_SIGNS = frozenset({"8480-6", "8462-4", "8867-4", "8302-2", "29463-7", "39156-5", "8280-0", "8310-5", "85354-9"})


def _ref(kind: str, row_id: int | None) -> dict[str, str] | None:
    return {"reference": f"{kind}/{row_id}"} if row_id is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _instant(value: datetime | None) -> str | None:
    return fhir_instant(value) if value is not None else None


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
    """Drop empty elements (FHIR forbids empty values)."""
    return {k: v for k, v in resource.items() if v not in (None, [], {}, "")}


def patient(resident: Resident, identifiers: Sequence[ResidentIdentifier], division_code: str | None) -> dict[str, Any]:
    idents: list[dict[str, Any]] = []
    if resident.id_number:
        idents.append(
            {
                "use": "official",
                "type": {"coding": [{"system": keys.IDENTIFIER_TYPE_SYSTEM, "code": keys.NATIONAL_ID_TYPE_CODE}]},
                "system": keys.RESIDENT_ID_SYSTEM,
                "value": resident.id_number,
            }
        )
    for ident in identifiers:
        out: dict[str, Any] = {"system": ident.system, "value": ident.value}
        if ident.kind in IDENTIFIER_TYPES:
            code = IDENTIFIER_TYPES[ident.kind]
            out["type"] = {"coding": [{"system": keys.IDENTIFIER_TYPE_SYSTEM, "code": code}]}
        idents.append(out)
    address: dict[str, Any] = {}
    if resident.address:
        address["text"] = resident.address
    if division_code:
        address["extension"] = [{"url": DIVISION_EXTENSION, "valueCode": division_code}]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(resident.id),
        "meta": {"versionId": str(resident.version), "lastUpdated": _instant(resident.updated_at)},
        "identifier": idents,
        "active": resident.status in (ResidentStatus.ACTIVE, ResidentStatus.DECEASED),
        "name": [{"use": "official", "text": resident.name}],
        "telecom": [{"system": "phone", "value": resident.phone}] if resident.phone else [],
        "gender": {"M": "male", "F": "female"}.get(resident.sex, "unknown"),
        "birthDate": _day(resident.birth_date),
        "address": [address] if address else [],
        "managingOrganization": _ref("Organization", resident.registered_institution_id),
    }
    if resident.deceased_date:
        resource["deceasedDateTime"] = _day(resident.deceased_date)
    if resident.merged_into_id:
        resource["link"] = [{"other": {"reference": f"Patient/{resident.merged_into_id}"}, "type": "replaced-by"}]
    return _clean(resource)


def organization(row: Institution) -> dict[str, Any]:
    return _clean(
        {
            "resourceType": "Organization",
            "id": str(row.id),
            "identifier": [{"system": keys.INSTITUTION_SYSTEM, "value": row.code}],
            "active": row.active,
            "type": [{"coding": [{"system": INSTITUTION_KIND_SYSTEM, "code": row.kind}]}],
            "name": row.name,
            "address": [{"text": row.address}] if row.address else [],
            "partOf": _ref("Organization", row.parent_id),
        }
    )


def practitioner(row: Practitioner) -> dict[str, Any]:
    return _clean(
        {
            "resourceType": "Practitioner",
            "id": str(row.id),
            "identifier": [{"system": keys.PRACTITIONER_SYSTEM, "value": row.code}],
            "active": row.active,
            "name": [{"text": row.name}],
            "telecom": [{"system": "phone", "value": row.phone}] if row.phone else [],
            "gender": {"M": "male", "F": "female"}.get(row.sex, "unknown"),
            "qualification": [{"code": {"coding": [{"system": PROFESSION_SYSTEM, "code": row.profession}]}}],
        }
    )


def care_team(row: CareTeam, members: Sequence[CareTeamMember]) -> dict[str, Any]:
    return _clean(
        {
            "resourceType": "CareTeam",
            "id": str(row.id),
            "identifier": [{"system": keys.CARE_TEAM_SYSTEM, "value": row.code}],
            "status": "active" if row.active else "inactive",
            "name": row.name,
            "participant": [
                {
                    "role": [{"coding": [{"system": TEAM_ROLE_SYSTEM, "code": m.role}]}],
                    "member": {"reference": f"Practitioner/{m.practitioner_id}"},
                }
                for m in members
            ],
            "managingOrganization": [{"reference": f"Organization/{row.home_institution_id}"}],
        }
    )


def episode_of_care(row: Contract, package_code: str | None) -> dict[str, Any]:
    return _clean(
        {
            "resourceType": "EpisodeOfCare",
            "id": str(row.id),
            "status": row.status,
            "type": [{"coding": [{"system": keys.SERVICE_PACKAGE_SYSTEM, "code": package_code}]}]
            if package_code
            else [],
            "patient": {"reference": f"Patient/{row.resident_id}"},
            "period": {"start": _day(row.start_date), "end": _day(row.end_date)},
            "careManager": _ref("Practitioner", row.practitioner_id),
            "team": [{"reference": f"CareTeam/{row.team_id}"}],
        }
    )


def consent(row: ContractConsent) -> dict[str, Any]:
    """The signature of a contract (read-only; written with the contract by the contracts module)."""
    return _clean(
        {
            "resourceType": "Consent",
            "id": f"contract-consent-{row.id}",
            "status": row.status,
            "scope": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{row.resident_id}"},
            "dateTime": _instant(row.signed_at),
            "sourceReference": {"reference": f"EpisodeOfCare/{row.contract_id}"},
            "extension": [
                {"url": "https://fhir.healthbrain.cn/StructureDefinition/signer", "valueString": row.signer_name},
                {"url": "https://fhir.healthbrain.cn/StructureDefinition/signature-method", "valueCode": row.method},
            ],
        }
    )


def encounter(row: Encounter) -> dict[str, Any]:
    reason: list[dict[str, Any]] = []
    if row.reason_code or row.reason_text:
        concept: dict[str, Any] = {}
        if row.reason_code:
            concept["coding"] = [{"system": keys.ICD10, "code": row.reason_code}]
        if row.reason_text:
            concept["text"] = row.reason_text
        reason.append(concept)
    klass = row.encounter_class
    return _clean(
        {
            "resourceType": "Encounter",
            "id": str(row.id),
            "status": "finished" if row.end_at is not None or klass != "inpatient" else "in-progress",
            "class": {"system": V3_ACT_CODE, "code": CLASS_TO_V3.get(klass, "AMB")},
            "type": [{"coding": [{"system": ENCOUNTER_CLASS_SYSTEM, "code": klass}]}],
            "subject": {"reference": f"Patient/{row.resident_id}"},
            "participant": [{"individual": {"reference": f"Practitioner/{row.practitioner_id}"}}]
            if row.practitioner_id
            else [],
            "period": _clean({"start": _instant(row.start_at), "end": _instant(row.end_at)}),
            "reasonCode": reason,
            "serviceProvider": _ref("Organization", row.institution_id),
        }
    )


def observation(row: Observation) -> dict[str, Any]:
    names = LOINC_NAMES.get(row.code)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(row.id),
        "status": row.status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs" if row.code in VITAL_SIGNS else "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [_clean({"system": keys.LOINC, "code": row.code, "display": names[1] if names else None})]},
        "subject": {"reference": f"Patient/{row.resident_id}"},
        "encounter": _ref("Encounter", row.encounter_id),
        "effectiveDateTime": _instant(row.effective_at),
        "performer": [{"reference": f"Organization/{row.institution_id}"}] if row.institution_id else [],
        "device": {"display": row.device_id} if row.device_id else None,
    }
    if row.value_num is not None:
        quantity: dict[str, Any] = {"value": row.value_num}
        if row.unit:
            quantity.update(unit=row.unit, system=keys.UCUM, code=row.unit)
        resource["valueQuantity"] = quantity
    elif row.value_text is not None:
        resource["valueString"] = row.value_text
    else:
        resource["dataAbsentReason"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]
        }
    return _clean(resource)


def condition(row: Condition) -> dict[str, Any]:
    status = row.clinical_status if row.clinical_status in ("active", "inactive", "resolved") else "active"
    return _clean(
        {
            "resourceType": "Condition",
            "id": str(row.id),
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": status}]},
            "code": {
                "coding": [_clean({"system": keys.ICD10, "code": row.code, "display": row.display})],
                "text": row.display,
            },
            "subject": {"reference": f"Patient/{row.resident_id}"},
            "encounter": _ref("Encounter", row.encounter_id),
            "onsetDateTime": _day(row.onset_date),
            "abatementDateTime": _day(row.abatement_date),
            "recordedDate": _instant(row.recorded_at),
        }
    )


def medication_statement(row: MedicationStatement) -> dict[str, Any]:
    dosage = _clean(
        {
            "text": row.dose,
            "timing": {"code": {"text": row.frequency}} if row.frequency else None,
            "route": {"text": row.route} if row.route else None,
        }
    )
    concept: dict[str, Any] = {"text": row.name}
    if row.code:
        concept["coding"] = [{"system": keys.ATC, "code": row.code}]
    return _clean(
        {
            "resourceType": "MedicationStatement",
            "id": str(row.id),
            "status": row.status,
            "medicationCodeableConcept": concept,
            "subject": {"reference": f"Patient/{row.resident_id}"},
            "effectivePeriod": _clean({"start": _day(row.start_date), "end": _day(row.end_date)}),
            "dateAsserted": _instant(row.recorded_at),
            "dosage": [dosage] if dosage else [],
        }
    )


def immunization(row: ImmunizationRow) -> dict[str, Any]:
    return _clean(
        {
            "resourceType": "Immunization",
            "id": str(row.id),
            "status": row.status,
            "vaccineCode": {
                "coding": [_clean({"system": row.vaccine_system, "code": row.vaccine_code})],
                "text": row.vaccine_name,
            },
            "patient": {"reference": f"Patient/{row.resident_id}"},
            "encounter": _ref("Encounter", row.encounter_id),
            "occurrenceDateTime": _day(row.occurrence_date),
            "recorded": _instant(row.recorded_at),
            "lotNumber": row.lot_number,
            "performer": [{"actor": {"reference": f"Organization/{row.institution_id}"}}] if row.institution_id else [],
            "protocolApplied": [{"doseNumberPositiveInt": row.dose_number}] if row.dose_number else [],
        }
    )


def verbatim(row: FhirResource) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(row.content)
    return content
