"""How a resource a sender gives us is named, once, for every FHIR path (REST, bundles, bulk NDJSON).

A sender is an institution, named by its code (the submitting user's institution, or the
``--sender`` of a bulk import). What the sender calls a resource (its logical id, e.g. Synthea's
UUIDs) is kept as the row's ``source_key`` (text) and, for Observations, as ``source_hash``
(64 bits of SHA-256 of the text key), which is how an Observation is found again (the bulk
importer's rows carry only the hash). The sender's Patient ids are kept as
resident identifiers of kind ``fhir`` in the system ``fhir:<sender>``, so that a later
``Observation.subject = Patient/<sender's id>`` finds the resident.
"""

from __future__ import annotations

import hashlib

# Our own naming systems (a regional platform publishes its NamingSystems under its base URL).
SID_BASE = "https://fhir.healthbrain.cn/sid/"
RESIDENT_ID_SYSTEM = SID_BASE + "resident-id"  # 居民身份证号 (GB 11643)
HEALTH_RECORD_SYSTEM = SID_BASE + "health-record"  # 健康档案编号
INSTITUTION_SYSTEM = SID_BASE + "institution"  # institution code
PRACTITIONER_SYSTEM = SID_BASE + "practitioner"
CARE_TEAM_SYSTEM = SID_BASE + "care-team"
SERVICE_PACKAGE_SYSTEM = SID_BASE + "service-package"
# HL7 v2 table 0203 "NN" + ISO 3166 alpha-3: a national person identifier of China. A hospital that
# names the resident ID by type rather than by our system URL is understood too.
NATIONAL_ID_TYPE_CODE = "NNCHN"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"

FHIR_ALIAS_KIND = "fhir"  # resident_identifier.kind of a sender's Patient id


def alias_system(sender: str) -> str:
    """The resident_identifier.system under which a sender's Patient ids are kept."""
    return f"fhir:{sender}"[:64]


def source_key(sender: str, resource_type: str, logical_id: str) -> str:
    """The text key of a sender's resource (≤ 128 characters: sender ≤ 32, id ≤ 64)."""
    return f"fhir|{sender}|{resource_type}|{logical_id}"[:128]


def source_hash(sender: str, resource_type: str, logical_id: str) -> int:
    """64 bits of the SHA-256 of :func:`source_key`, as a signed integer (a BIGINT)."""
    return key_hash(source_key(sender, resource_type, logical_id))


def key_hash(key: str) -> int:
    """The ``source_hash`` of a ``source_key``. An Observation is found by it, never by its text key:
    the bulk importer's rows leave ``source_key`` empty (its unique text index is the slowest part of
    a bulk insert), so every path looks a sender's Observation up by this hash."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
