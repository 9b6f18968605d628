"""Reference resolution, one rule for every FHIR path (REST, bundles, bulk NDJSON).

* ``urn:uuid:…`` (inside a bundle): the entry whose ``fullUrl`` it is.
* ``Patient/X``: the resident the sender calls X (its alias, ``keys.alias_system(sender)``), else
  our resident X; a merged record answers its survivor.
* ``Encounter/X`` (and the other clinical types): the row the sender delivered as X (its
  ``source_key``), else our row X.
* ``Organization/X``, ``Practitioner/X``, ``CareTeam/X``: the entry the sender delivered as X (its
  code is derived from the sender's id), else our code X, else our row X.
* A logical reference by identifier: a resident ID (system ``keys.RESIDENT_ID_SYSTEM``, or type
  NNCHN), any other resident identifier (system|value), an institution / practitioner / team code.
* Absolute URLs (``https://…/fhir/Patient/X``) are read as their last two segments.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.contracts.models import Contract
from healthbrain.geo.models import CareTeam, Institution, Practitioner
from healthbrain.interop.fhir import keys
from healthbrain.interop.models import FhirResource
from healthbrain.people.models import Resident, ResidentIdentifier
from healthbrain.people.resident_id import ResidentIdError, parse
from healthbrain.records.models import Condition, Encounter, MedicationStatement, Observation
from healthbrain.records.models import Immunization as ImmunizationRow

ROW_MODELS: dict[str, Any] = {
    "Encounter": Encounter,
    "Observation": Observation,
    "Condition": Condition,
    "MedicationStatement": MedicationStatement,
    "Immunization": ImmunizationRow,
    "EpisodeOfCare": Contract,
}
DIRECTORY_MODELS: dict[str, Any] = {"Organization": Institution, "Practitioner": Practitioner, "CareTeam": CareTeam}


def split_reference(reference: str) -> tuple[str, str] | None:
    """("Type", "id") of a relative or absolute literal reference, None for anything else."""
    parts = reference.split("?", 1)[0].rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) < 2 or not parts[-2][:1].isupper() or not parts[-1]:
        return None
    return parts[-2], parts[-1]


def directory_code(sender: str, resource_type: str, logical_id: str) -> str:
    """The code given to an Organization / Practitioner / CareTeam a sender names only by its own
    id (a code column holds 32 characters; a sender's UUID and name do not fit together)."""
    digest = hashlib.sha256(keys.source_key(sender, resource_type, logical_id).encode()).hexdigest()
    return f"fhir-{digest[:24]}"


def _survivor(session: Session, resident_id: int | None) -> int | None:
    seen: set[int] = set()
    while resident_id is not None and resident_id not in seen:
        seen.add(resident_id)
        merged_into = session.scalar(select(Resident.merged_into_id).where(Resident.id == resident_id))
        if merged_into is None:
            return resident_id if session.get(Resident, resident_id) is not None else None
        resident_id = merged_into
    return resident_id


def alias_owner(session: Session, sender: str, logical_id: str) -> int | None:
    owner = session.scalar(
        select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == keys.alias_system(sender), ResidentIdentifier.value == logical_id[:64]
        )
    )
    return _survivor(session, owner)


def patient_by_identifier(session: Session, system: str | None, value: str, *, national: bool = False) -> int | None:
    if national or system == keys.RESIDENT_ID_SYSTEM:
        try:
            number = parse(value).number
        except ResidentIdError:
            return None
        return _survivor(session, session.scalar(select(Resident.id).where(Resident.id_number == number)))
    if system is None:
        return None
    owner = session.scalar(
        select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == system[:64], ResidentIdentifier.value == value[:64]
        )
    )
    return _survivor(session, owner)


def patient_by_logical_id(session: Session, sender: str, logical_id: str) -> int | None:
    found = alias_owner(session, sender, logical_id)
    if found is None and logical_id.isdigit() and len(logical_id) < 19:
        found = _survivor(session, int(logical_id))
    return found


def resolve_patient(session: Session, *, sender: str, reference: dict[str, Any] | str) -> int | None:
    """The resident a sender's reference to a Patient names (see the module's rule), or None."""
    if isinstance(reference, str):
        reference = {"reference": reference}
    literal = reference.get("reference")
    if isinstance(literal, str):
        parts = split_reference(literal)
        if parts is None or parts[0] != "Patient":
            return None
        return patient_by_logical_id(session, sender, parts[1])
    ident = reference.get("identifier")
    if isinstance(ident, dict) and ident.get("value"):
        national = any(
            c.get("code") == keys.NATIONAL_ID_TYPE_CODE for c in (ident.get("type") or {}).get("coding") or []
        )
        return patient_by_identifier(session, ident.get("system"), str(ident["value"]), national=national)
    return None


def named_by(model: Any, key: str) -> Any:
    """The condition that finds a sender's row by its ``source_key``: an Observation by the key's
    hash (``keys.key_hash``; bulk-imported Observations carry only the hash)."""
    if model is Observation:
        return Observation.source_hash == keys.key_hash(key)
    return model.source_key == key


def row_by_logical_id(session: Session, sender: str, resource_type: str, logical_id: str) -> int | None:
    """A clinical row (or contract) the sender delivered as ``logical_id``, else our row of that id."""
    model = ROW_MODELS[resource_type]
    found = session.scalar(select(model.id).where(named_by(model, keys.source_key(sender, resource_type, logical_id))))
    if found is None and logical_id.isdigit() and len(logical_id) < 19:
        found = session.scalar(select(model.id).where(model.id == int(logical_id)))
    return int(found) if found is not None else None


def directory_by_logical_id(session: Session, sender: str, resource_type: str, logical_id: str) -> int | None:
    model = DIRECTORY_MODELS[resource_type]
    for code in (directory_code(sender, resource_type, logical_id), logical_id):
        found = session.scalar(select(model.id).where(model.code == code[:32]))
        if found is not None:
            return int(found)
    if logical_id.isdigit() and len(logical_id) < 19:
        found = session.scalar(select(model.id).where(model.id == int(logical_id)))
    return int(found) if found is not None else None


def directory_by_code(session: Session, resource_type: str, code: str) -> int | None:
    model = DIRECTORY_MODELS[resource_type]
    found = session.scalar(select(model.id).where(model.code == code[:32]))
    return int(found) if found is not None else None


def verbatim_by_logical_id(session: Session, sender: str, resource_type: str, logical_id: str) -> str | None:
    """The server id of a kept-verbatim resource the sender delivered as ``logical_id`` (or ours)."""
    found = session.scalar(
        select(FhirResource.logical_id).where(
            FhirResource.source_key == keys.source_key(sender, resource_type, logical_id)
        )
    )
    if found is None:
        found = session.scalar(
            select(FhirResource.logical_id).where(
                FhirResource.resource_type == resource_type, FhirResource.logical_id == logical_id
            )
        )
    return found
