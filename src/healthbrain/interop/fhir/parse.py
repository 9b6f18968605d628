"""FHIR R4 resources → what the platform stores: pure functions, no session, no I/O.

Each ``parse_*`` takes a resource (a dict already validated against R4) and returns a plain
dataclass whose references are still unresolved (``Ref``), or raises :class:`Invalid` naming every
element that the relational mapping cannot take (``Observation.valueQuantity.unit``: too long …).
The writer (``store.py``) resolves the references and writes the rows.

Choices a sender should know:

* Resident division: an address may carry the 12-digit statistical code of the resident's
  community in the extension :data:`DIVISION_EXTENSION` (``valueCode``) or in
  ``address.district``; otherwise the writer uses the sender institution's division, else the
  district's root division.
* Names: ``HumanName.text`` when given, else family + given (no space between Chinese characters,
  a space between Latin words).
* A blood-pressure panel (LOINC 85354-9), or any Observation that has components and no value of
  its own, becomes one observation row per component (systolic, diastolic …), so that the BP series
  and chronic care see them; the panel itself is also kept verbatim, and reading it back gives
  what was sent.
* Text that only describes (a display, a medication's name) is cut to the column's width; a code,
  a unit, a value or an identifier that does not fit is refused, never cut.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date, datetime, time
from typing import Any

from healthbrain.core.time import SHANGHAI
from healthbrain.interop.fhir import keys

# Extensions and code systems of our own (published under the platform's base URL).
STRUCTURE_BASE = "https://fhir.healthbrain.cn/StructureDefinition/"
CODE_BASE = "https://fhir.healthbrain.cn/CodeSystem/"
DIVISION_EXTENSION = STRUCTURE_BASE + "division-code"  # Address extension: 12-digit statistical code
ENCOUNTER_CLASS_SYSTEM = CODE_BASE + "encounter-class"  # our classes (followup, physical_exam …)
INSTITUTION_KIND_SYSTEM = CODE_BASE + "institution-kind"
PROFESSION_SYSTEM = CODE_BASE + "profession"
TEAM_ROLE_SYSTEM = CODE_BASE + "team-role"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# R4 required value sets that fhir.resources 8.3 does not enforce (it takes any code).
STATUS_CODES: dict[str, frozenset[str]] = {
    "Observation": frozenset(
        ["registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"]
    ),
    "Encounter": frozenset(
        [
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    "EpisodeOfCare": frozenset(
        ["planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"]
    ),
    "MedicationStatement": frozenset(
        ["active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"]
    ),
    "Immunization": frozenset(["completed", "entered-in-error", "not-done"]),
    "CareTeam": frozenset(["proposed", "active", "suspended", "inactive", "entered-in-error"]),
}
GENDER_CODES = frozenset({"male", "female", "other", "unknown"})
CLINICAL_STATUS: dict[str, str] = {  # R4 condition-clinical → our three states
    "active": "active",
    "recurrence": "active",
    "relapse": "active",
    "inactive": "inactive",
    "remission": "inactive",
    "resolved": "resolved",
}
# v3 ActCode encounter classes → ours; our own codes are accepted as they are.
ENCOUNTER_CLASSES: dict[str, str] = {
    "AMB": "outpatient",
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "SS": "inpatient",
    "OBSENC": "inpatient",
    "PRENC": "outpatient",
    "EMER": "emergency",
    "HH": "home",
    "VR": "phone",
    "FLD": "home",
}
OUR_ENCOUNTER_CLASSES = frozenset(
    {"outpatient", "inpatient", "emergency", "home", "followup", "physical_exam", "phone", "device"}
)
CLASS_TO_V3: dict[str, str] = {
    "outpatient": "AMB",
    "inpatient": "IMP",
    "emergency": "EMER",
    "home": "HH",
    "followup": "AMB",
    "physical_exam": "AMB",
    "phone": "VR",
    "device": "VR",
}
INSTITUTION_KINDS = frozenset(
    {"hospital", "chc", "chs", "village_clinic", "school", "pharmacy", "cdc", "emergency_station"}
)
PANEL_CODES = frozenset({"85354-9"})  # blood pressure panel
_TWELVE_DIGITS = re.compile(r"^\d{12}$")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True, slots=True)
class Issue:
    """One reason a resource is refused: the element (FHIRPath-like) and a message key."""

    field: str
    key: str
    params: dict[str, Any] = dc_field(default_factory=dict)


class Invalid(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__(", ".join(f"{i.field}: {i.key}" for i in issues))


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference as sent: ``Type/id``, ``urn:uuid:…``, or a logical reference by identifier."""

    field: str  # where it was, e.g. Observation.subject
    reference: str | None
    system: str | None = None
    value: str | None = None


class _Collector:
    def __init__(self, resource_type: str) -> None:
        self.type = resource_type
        self.issues: list[Issue] = []

    def add(self, where: str, key: str, **params: Any) -> None:
        self.issues.append(Issue(f"{self.type}.{where}" if where else self.type, key, params))

    def fit(self, where: str, value: str | None, limit: int, *, cut: bool = False) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if len(value) > limit:
            if cut:
                return value[:limit]
            self.add(where, "fhir.error.too_long", limit=limit)
            return None
        return value or None

    def done(self) -> None:
        if self.issues:
            raise Invalid(self.issues)


# --- element helpers --------------------------------------------------------------------------


def ref_of(value: Any, where: str) -> Ref | None:
    if not isinstance(value, dict):
        return None
    raw = value.get("identifier")
    ident: dict[str, Any] = raw if isinstance(raw, dict) else {}
    reference = value.get("reference")
    if reference is None and not ident.get("value"):
        return None
    return Ref(where, reference if isinstance(reference, str) else None, ident.get("system"), ident.get("value"))


def first_coding(concept: Any, prefer: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]] | None:
    """The coding of a CodeableConcept to keep: the first in a preferred system, else the first."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not codings:
        return None
    for system in prefer:
        for i, c in enumerate(codings):
            if c.get("system") == system and c.get("code"):
                return i, c
    for i, c in enumerate(codings):
        if c.get("code"):
            return i, c
    return None


def concept_text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for c in concept.get("coding") or []:
        if c.get("display"):
            return str(c["display"])
    return None


def parse_instant(raw: str) -> datetime:
    """A FHIR dateTime/instant as an aware instant; a date alone (or a year, a month) is local
    midnight of its first day, a time without a zone is Shanghai time."""
    if re.fullmatch(r"\d{4}", raw):
        raw += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", raw):
        raw += "-01"
    if len(raw) == 10:
        return datetime.combine(date.fromisoformat(raw), time(0), SHANGHAI)
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)


def parse_day(raw: str) -> date:
    """A FHIR date/dateTime as a local calendar date (partial dates: the first day)."""
    return parse_instant(raw).astimezone(SHANGHAI).date()


def fhir_instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _when(c: _Collector, where: str, raw: Any, *, day: bool = False) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, str):
        c.add(where, "fhir.error.bad_date", value=str(raw)[:40])
        return None
    try:
        return parse_day(raw) if day else parse_instant(raw)
    except ValueError:
        c.add(where, "fhir.error.bad_date", value=raw)
        return None


def _status(c: _Collector, resource: dict[str, Any], *, required: bool = True) -> str | None:
    status = resource.get("status")
    allowed = STATUS_CODES[c.type]
    if status is None:
        if required:
            c.add("status", "fhir.error.required")
        return None
    if status not in allowed:
        c.add("status", "fhir.error.bad_code", value=status, allowed=", ".join(sorted(allowed)))
        return None
    return str(status)


def human_name(names: Any) -> str | None:
    if not isinstance(names, list) or not names:
        return None
    chosen = next((n for n in names if n.get("use") == "official"), names[0])
    if chosen.get("text"):
        return str(chosen["text"]).strip()
    family = str(chosen.get("family") or "")
    given = [str(g) for g in chosen.get("given") or []]
    if _CJK.search(family + "".join(given)):
        return (family + "".join(given)).strip() or None
    return " ".join([*given, family]).strip() or None


# --- Patient ---------------------------------------------------------------------------------


@dataclass
class PatientData:
    id_number: str | None
    name: str
    sex: str | None  # M / F, None: take it from the resident ID
    birth_date: date | None
    phone: str | None
    address: str | None
    division_code: str | None
    deceased_date: date | None
    identifiers: list[tuple[str, str, str]]  # (kind, system, value), other than the resident ID


def is_resident_id(identifier: dict[str, Any]) -> bool:
    if identifier.get("system") == keys.RESIDENT_ID_SYSTEM:
        return True
    return any(c.get("code") == keys.NATIONAL_ID_TYPE_CODE for c in (identifier.get("type") or {}).get("coding") or [])


def _identifier_kind(identifier: dict[str, Any]) -> str:
    if identifier.get("system") == keys.HEALTH_RECORD_SYSTEM:
        return "health_record"
    codes = {c.get("code") for c in (identifier.get("type") or {}).get("coding") or []}
    if "MR" in codes:
        return "mrn"
    if "PPN" in codes:
        return "passport"
    return "other"


def parse_patient(resource: dict[str, Any], *, sender: str) -> PatientData:
    c = _Collector("Patient")
    id_number: str | None = None
    identifiers: list[tuple[str, str, str]] = []
    for i, ident in enumerate(resource.get("identifier") or []):
        value = ident.get("value")
        if not value:
            continue
        if is_resident_id(ident):
            id_number = str(value)
            continue
        kind = _identifier_kind(ident)
        # An MRN is named by the sender institution's code (as the rest of the platform does).
        system = sender if kind == "mrn" else (ident.get("system") or sender)
        v = c.fit(f"identifier[{i}].value", str(value), 64)
        if v is not None:
            identifiers.append((kind, str(system)[:64], v))
    name = human_name(resource.get("name"))
    if not name:
        c.add("name", "fhir.error.required")
    gender = resource.get("gender")
    sex = {"male": "M", "female": "F"}.get(str(gender)) if gender else None
    if gender is not None and gender not in GENDER_CODES:
        c.add("gender", "fhir.error.bad_code", value=gender, allowed="male, female, other, unknown")
    elif id_number is None and sex is None:
        c.add("gender", "fhir.error.patient_sex")
    birth = _when(c, "birthDate", resource.get("birthDate"), day=True)
    if birth is None and id_number is None and "birthDate" not in resource:
        c.add("birthDate", "fhir.error.required")
    phone = None
    for t in resource.get("telecom") or []:
        if t.get("system") == "phone" and t.get("value"):
            phone = str(t["value"])
            break
    address_text, division_code = None, None
    addresses = resource.get("address") or []
    if addresses:
        a = addresses[0]
        address_text = a.get("text") or " ".join(
            str(x) for x in [a.get("state"), a.get("city"), a.get("district"), *(a.get("line") or [])] if x
        )
        for ext in a.get("extension") or []:
            if ext.get("url") == DIVISION_EXTENSION and ext.get("valueCode"):
                division_code = str(ext["valueCode"])
        if division_code is None and _TWELVE_DIGITS.match(str(a.get("district") or "")):
            division_code = str(a["district"])
        if division_code is not None and not _TWELVE_DIGITS.match(division_code):
            c.add("address[0].extension", "fhir.error.division_code", value=division_code)
            division_code = None
    deceased = None
    if isinstance(resource.get("deceasedDateTime"), str):
        deceased = _when(c, "deceasedDateTime", resource["deceasedDateTime"], day=True)
    data = PatientData(
        id_number=id_number,
        name=c.fit("name", name, 64) or "",
        sex=sex,
        birth_date=birth,
        phone=c.fit("telecom", phone, 20),
        address=c.fit("address[0]", address_text, 256, cut=True),
        division_code=division_code,
        deceased_date=deceased,
        identifiers=identifiers,
    )
    c.done()
    return data


# --- Organization, Practitioner, CareTeam -----------------------------------------------------


@dataclass
class OrganizationData:
    code: str | None  # our institution code (identifier in INSTITUTION_SYSTEM), if given
    name: str
    kind: str
    address: str | None
    part_of: Ref | None
    active: bool


def _own_identifier(resource: dict[str, Any], system: str) -> str | None:
    for ident in resource.get("identifier") or []:
        if ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return None


def parse_organization(resource: dict[str, Any]) -> OrganizationData:
    c = _Collector("Organization")
    kind = "hospital"
    for t in resource.get("type") or []:
        for coding in t.get("coding") or []:
            if coding.get("system") == INSTITUTION_KIND_SYSTEM and coding.get("code") in INSTITUTION_KINDS:
                kind = coding["code"]
    if not resource.get("name"):
        c.add("name", "fhir.error.required")
    address = None
    if resource.get("address"):
        a = resource["address"][0]
        address = a.get("text") or " ".join(str(x) for x in [a.get("city"), *(a.get("line") or [])] if x)
    data = OrganizationData(
        code=c.fit("identifier", _own_identifier(resource, keys.INSTITUTION_SYSTEM), 32),
        name=c.fit("name", resource.get("name"), 128, cut=True) or "",
        kind=kind,
        address=c.fit("address", address, 256, cut=True),
        part_of=ref_of(resource.get("partOf"), "Organization.partOf"),
        active=resource.get("active", True) is not False,
    )
    c.done()
    return data


@dataclass
class PractitionerData:
    code: str | None
    name: str
    sex: str
    profession: str
    phone: str | None
    active: bool


def parse_practitioner(resource: dict[str, Any]) -> PractitionerData:
    c = _Collector("Practitioner")
    name = human_name(resource.get("name"))
    if not name:
        c.add("name", "fhir.error.required")
    profession = "physician"
    for q in resource.get("qualification") or []:
        for coding in (q.get("code") or {}).get("coding") or []:
            if coding.get("system") == PROFESSION_SYSTEM and coding.get("code"):
                profession = str(coding["code"])
    phone = next((t.get("value") for t in resource.get("telecom") or [] if t.get("system") == "phone"), None)
    data = PractitionerData(
        code=c.fit("identifier", _own_identifier(resource, keys.PRACTITIONER_SYSTEM), 32),
        name=c.fit("name", name, 64, cut=True) or "",
        sex={"male": "M", "female": "F"}.get(str(resource.get("gender")), "U"),
        profession=c.fit("qualification", profession, 24) or "physician",
        phone=c.fit("telecom", phone, 20),
        active=resource.get("active", True) is not False,
    )
    c.done()
    return data


@dataclass
class CareTeamData:
    code: str | None
    name: str
    active: bool
    managing_organization: Ref | None
    members: list[tuple[Ref, str]]  # (practitioner, role)


def parse_care_team(resource: dict[str, Any]) -> CareTeamData:
    c = _Collector("CareTeam")
    status = _status(c, resource, required=False)
    if not resource.get("name"):
        c.add("name", "fhir.error.required")
    members: list[tuple[Ref, str]] = []
    for i, p in enumerate(resource.get("participant") or []):
        member = ref_of(p.get("member"), f"CareTeam.participant[{i}].member")
        if member is None or (member.reference and not member.reference.startswith(("Practitioner/", "urn:"))):
            continue
        role = "gp"
        for r in p.get("role") or []:
            hit = first_coding(r, (TEAM_ROLE_SYSTEM,))
            if hit:
                role = str(hit[1]["code"])
        members.append((member, c.fit(f"participant[{i}].role", role, 24) or "gp"))
    orgs = resource.get("managingOrganization") or []
    data = CareTeamData(
        code=c.fit("identifier", _own_identifier(resource, keys.CARE_TEAM_SYSTEM), 32),
        name=c.fit("name", resource.get("name"), 128, cut=True) or "",
        active=status in (None, "active", "proposed"),
        managing_organization=ref_of(orgs[0], "CareTeam.managingOrganization[0]") if orgs else None,
        members=members,
    )
    c.done()
    return data


# --- EpisodeOfCare (a family-doctor contract) -------------------------------------------------


@dataclass
class EpisodeData:
    patient: Ref
    status: str
    start: date
    end: date
    team: Ref
    care_manager: Ref | None
    package_code: str


def parse_episode(resource: dict[str, Any]) -> EpisodeData:
    c = _Collector("EpisodeOfCare")
    status = _status(c, resource)
    patient = ref_of(resource.get("patient"), "EpisodeOfCare.patient")
    if patient is None:
        c.add("patient", "fhir.error.required")
    period = resource.get("period") or {}
    start = _when(c, "period.start", period.get("start"), day=True)
    end = _when(c, "period.end", period.get("end"), day=True)
    if "start" not in period:
        c.add("period.start", "fhir.error.required")
    if "end" not in period:
        c.add("period.end", "fhir.error.contract_end")
    if start and end and end < start:
        c.add("period.end", "fhir.error.ends_before_start")
    teams = resource.get("team") or []
    team = ref_of(teams[0], "EpisodeOfCare.team[0]") if teams else None
    if team is None:
        c.add("team", "fhir.error.required")
    package = None
    for t in resource.get("type") or []:
        hit = first_coding(t, (keys.SERVICE_PACKAGE_SYSTEM,))
        if hit and hit[1].get("system") == keys.SERVICE_PACKAGE_SYSTEM:
            package = str(hit[1]["code"])
    if package is None:
        c.add("type", "fhir.error.package_required", system=keys.SERVICE_PACKAGE_SYSTEM)
    c.done()
    assert patient and status and start and end and team and package
    return EpisodeData(
        patient=patient,
        status=status,
        start=start,
        end=end,
        team=team,
        care_manager=ref_of(resource.get("careManager"), "EpisodeOfCare.careManager"),
        package_code=package,
    )


# --- Encounter -------------------------------------------------------------------------------


@dataclass
class EncounterData:
    subject: Ref
    encounter_class: str
    start_at: datetime
    end_at: datetime | None
    reason_code: str | None
    reason_text: str | None
    service_provider: Ref | None
    practitioner: Ref | None


def parse_encounter(resource: dict[str, Any]) -> EncounterData:
    c = _Collector("Encounter")
    _status(c, resource)
    subject = ref_of(resource.get("subject"), "Encounter.subject")
    if subject is None:
        c.add("subject", "fhir.error.required")
    klass = resource.get("class") or {}
    code = klass.get("code")
    encounter_class = code if code in OUR_ENCOUNTER_CLASSES else ENCOUNTER_CLASSES.get(str(code))
    if encounter_class is None:
        c.add("class", "fhir.error.encounter_class", value=code, allowed=", ".join(sorted(ENCOUNTER_CLASSES)))
    period = resource.get("period") or {}
    start = _when(c, "period.start", period.get("start"))
    end = _when(c, "period.end", period.get("end"))
    if "start" not in period:
        c.add("period.start", "fhir.error.required")
    if start and end and end < start:
        c.add("period.end", "fhir.error.ends_before_start")
    reason_code, reason_text = None, None
    reasons = resource.get("reasonCode") or []
    if reasons:
        hit = first_coding(reasons[0], (keys.ICD10,))
        reason_code = c.fit("reasonCode[0].coding.code", hit[1]["code"], 16) if hit else None
        reason_text = c.fit("reasonCode[0].text", concept_text(reasons[0]), 256, cut=True)
    practitioner = None
    for i, p in enumerate(resource.get("participant") or []):
        r = ref_of(p.get("individual"), f"Encounter.participant[{i}].individual")
        if r is not None and (r.reference or "").startswith(("Practitioner/", "urn:")):
            practitioner = r
            break
    c.done()
    assert subject and encounter_class and start
    return EncounterData(
        subject=subject,
        encounter_class=encounter_class,
        start_at=start,
        end_at=end,
        reason_code=reason_code,
        reason_text=reason_text,
        service_provider=ref_of(resource.get("serviceProvider"), "Encounter.serviceProvider"),
        practitioner=practitioner,
    )


# --- Observation -----------------------------------------------------------------------------


@dataclass
class ObservationValue:
    suffix: str | None  # None: the resource itself; else "#<component code>"
    code: str
    value_num: float | None
    value_text: str | None
    unit: str | None


@dataclass
class ObservationData:
    subject: Ref
    encounter: Ref | None
    performer: Ref | None
    status: str
    effective_at: datetime
    device_id: str | None
    values: list[ObservationValue]
    panel: bool  # kept verbatim too: its rows are its components


def _value(c: _Collector, where: str, element: dict[str, Any]) -> tuple[float | None, str | None, str | None]:
    """(number, text, unit) of an element's value[x]."""
    if isinstance(q := element.get("valueQuantity"), dict):
        unit = q.get("code") or q.get("unit")
        value = q.get("value")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            c.add(f"{where}valueQuantity.value", "fhir.error.not_a_number", value=str(value)[:40])
            value = None
        return (
            float(value) if value is not None else None,
            None,
            c.fit(f"{where}valueQuantity.unit", str(unit) if unit else None, 16),
        )
    if isinstance(cc := element.get("valueCodeableConcept"), dict):
        hit = first_coding(cc)
        text = str(hit[1]["code"]) if hit else concept_text(cc)
        return None, c.fit(f"{where}valueCodeableConcept", text, 256), None
    if isinstance(s := element.get("valueString"), str):
        return None, c.fit(f"{where}valueString", s, 256), None
    if isinstance(b := element.get("valueBoolean"), bool):
        return None, "true" if b else "false", None
    if isinstance(n := element.get("valueInteger"), int):
        return float(n), None, None
    if isinstance(dt := element.get("valueDateTime"), str):
        return None, c.fit(f"{where}valueDateTime", dt, 256), None
    return None, None, None


def _loinc(c: _Collector, where: str, concept: Any) -> str | None:
    hit = first_coding(concept, (keys.LOINC,))
    if hit is None:
        c.add(where, "fhir.error.code_required")
        return None
    return c.fit(f"{where}.coding[{hit[0]}].code", str(hit[1]["code"]), 16)


def parse_observation(resource: dict[str, Any]) -> ObservationData:
    c = _Collector("Observation")
    status = _status(c, resource)
    subject = ref_of(resource.get("subject"), "Observation.subject")
    if subject is None:
        c.add("subject", "fhir.error.required")
    elif subject.reference and not subject.reference.startswith(("Patient/", "urn:")):
        c.add("subject", "fhir.error.subject_patient")
    code = _loinc(c, "code", resource.get("code"))
    raw_when = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
    raw_when = raw_when or resource.get("effectiveInstant") or resource.get("issued")
    effective = _when(c, "effectiveDateTime", raw_when)
    if raw_when is None:
        c.add("effective[x]", "fhir.error.required")
    components = resource.get("component") or []
    own = _value(c, "", resource)
    panel = bool(components) and (code in PANEL_CODES or own == (None, None, None))
    values: list[ObservationValue] = []
    if panel:
        for i, comp in enumerate(components):
            comp_code = _loinc(c, f"component[{i}].code", comp.get("code"))
            num, text, unit = _value(c, f"component[{i}].", comp)
            if comp_code is not None:
                values.append(ObservationValue(f"#{comp_code}", comp_code, num, text, unit))
    elif code is not None:
        values.append(ObservationValue(None, code, *own))
    device = ref_of(resource.get("device"), "Observation.device")
    device_id = None
    if device is not None:
        device_id = c.fit("device", device.value or (device.reference or "").rsplit("/", 1)[-1], 64)
    performer = None
    for p in resource.get("performer") or []:
        r = ref_of(p, "Observation.performer")
        if r is not None and (r.reference or "").startswith("Organization/"):
            performer = r
    c.done()
    assert subject and status and effective
    return ObservationData(
        subject=subject,
        encounter=ref_of(resource.get("encounter"), "Observation.encounter"),
        performer=performer,
        status=status,
        effective_at=effective,
        device_id=device_id,
        values=values,
        panel=panel,
    )


# --- Condition, MedicationStatement, Immunization ------------------------------------------


@dataclass
class ConditionData:
    subject: Ref
    encounter: Ref | None
    code: str
    display: str | None
    clinical_status: str
    onset_date: date | None
    abatement_date: date | None
    recorded_at: datetime | None


def parse_condition(resource: dict[str, Any]) -> ConditionData:
    c = _Collector("Condition")
    subject = ref_of(resource.get("subject"), "Condition.subject")
    if subject is None:
        c.add("subject", "fhir.error.required")
    hit = first_coding(resource.get("code"), (keys.ICD10, "http://hl7.org/fhir/sid/icd-10-cn"))
    code = None
    if hit is None:
        c.add("code", "fhir.error.code_required")
    else:
        code = c.fit(f"code.coding[{hit[0]}].code", str(hit[1]["code"]).upper(), 16)
    clinical = "active"
    cs = first_coding(resource.get("clinicalStatus"), (CONDITION_CLINICAL,))
    if cs is not None:
        mapped = CLINICAL_STATUS.get(str(cs[1]["code"]))
        if mapped is None:
            c.add("clinicalStatus", "fhir.error.bad_code", value=cs[1]["code"], allowed=", ".join(CLINICAL_STATUS))
        clinical = mapped or "active"
    onset_raw = resource.get("onsetDateTime") or (resource.get("onsetPeriod") or {}).get("start")
    abate_raw = resource.get("abatementDateTime") or (resource.get("abatementPeriod") or {}).get("start")
    onset = _when(c, "onsetDateTime", onset_raw, day=True)
    abatement = _when(c, "abatementDateTime", abate_raw, day=True)
    if onset and abatement and abatement < onset:
        c.add("abatementDateTime", "fhir.error.ends_before_start")
    data_display = concept_text(resource.get("code"))
    recorded = _when(c, "recordedDate", resource.get("recordedDate"))
    c.done()
    assert subject and code
    return ConditionData(
        subject=subject,
        encounter=ref_of(resource.get("encounter"), "Condition.encounter"),
        code=code,
        display=data_display[:128] if data_display else None,
        clinical_status=clinical,
        onset_date=onset,
        abatement_date=abatement,
        recorded_at=recorded,
    )


@dataclass
class MedicationData:
    subject: Ref
    code: str | None
    name: str
    dose: str | None
    frequency: str | None
    route: str | None
    start_date: date | None
    end_date: date | None
    status: str


def parse_medication(resource: dict[str, Any]) -> MedicationData:
    c = _Collector("MedicationStatement")
    status = _status(c, resource)
    subject = ref_of(resource.get("subject"), "MedicationStatement.subject")
    if subject is None:
        c.add("subject", "fhir.error.required")
    concept = resource.get("medicationCodeableConcept")
    code, name = None, None
    if isinstance(concept, dict):
        hit = first_coding(concept, (keys.ATC,))
        code = c.fit(f"medicationCodeableConcept.coding[{hit[0]}].code", str(hit[1]["code"]), 32) if hit else None
        name = concept_text(concept) or code
    elif isinstance(ref := resource.get("medicationReference"), dict):
        name = ref.get("display")
    if not name:
        c.add("medication[x]", "fhir.error.medication_name")
    dosage = (resource.get("dosage") or [{}])[0]
    frequency = None
    timing = (dosage.get("timing") or {}).get("code")
    if timing:
        frequency = concept_text(timing) or (first_coding(timing) or (0, {"code": None}))[1].get("code")
    route = concept_text(dosage.get("route"))
    period = resource.get("effectivePeriod") or {}
    start_raw = period.get("start") or resource.get("effectiveDateTime")
    start = _when(c, "effectivePeriod.start", start_raw, day=True)
    end = _when(c, "effectivePeriod.end", period.get("end"), day=True)
    if start and end and end < start:
        c.add("effectivePeriod.end", "fhir.error.ends_before_start")
    c.done()
    assert subject and status and name
    return MedicationData(
        subject=subject,
        code=code,
        name=name[:128],
        dose=(str(dosage["text"])[:64] if dosage.get("text") else None),
        frequency=frequency[:32] if frequency else None,
        route=route[:32] if route else None,
        start_date=start,
        end_date=end,
        status=status,
    )


@dataclass
class ImmunizationData:
    patient: Ref
    encounter: Ref | None
    vaccine_code: str
    vaccine_system: str | None
    vaccine_name: str | None
    dose_number: int | None
    occurrence_date: date
    status: str
    lot_number: str | None
    recorded_at: datetime | None


def parse_immunization(resource: dict[str, Any]) -> ImmunizationData:
    c = _Collector("Immunization")
    status = _status(c, resource)
    patient = ref_of(resource.get("patient"), "Immunization.patient")
    if patient is None:
        c.add("patient", "fhir.error.required")
    hit = first_coding(resource.get("vaccineCode"))
    code = None
    if hit is None:
        c.add("vaccineCode", "fhir.error.code_required")
    else:
        code = c.fit(f"vaccineCode.coding[{hit[0]}].code", str(hit[1]["code"]), 32)
    raw = resource.get("occurrenceDateTime")
    occurred = _when(c, "occurrenceDateTime", raw, day=True)
    if raw is None:
        c.add("occurrenceDateTime", "fhir.error.required")
    dose = None
    for p in resource.get("protocolApplied") or []:
        if isinstance(p.get("doseNumberPositiveInt"), int):
            dose = int(p["doseNumberPositiveInt"])
    name = concept_text(resource.get("vaccineCode"))
    data_system = str(hit[1].get("system")) if hit and hit[1].get("system") else None
    recorded = _when(c, "recorded", resource.get("recorded"))
    lot = c.fit("lotNumber", resource.get("lotNumber"), 32)
    system = c.fit("vaccineCode.coding.system", data_system, 128)
    c.done()
    assert patient and code and occurred and status
    return ImmunizationData(
        patient=patient,
        encounter=ref_of(resource.get("encounter"), "Immunization.encounter"),
        vaccine_code=code,
        vaccine_system=system,
        vaccine_name=name[:128] if name else None,
        dose_number=dose,
        occurrence_date=occurred,
        status=status,
        lot_number=lot,
        recorded_at=recorded,
    )


MAPPED_TYPES: tuple[str, ...] = (
    "Patient",
    "Organization",
    "Practitioner",
    "CareTeam",
    "EpisodeOfCare",
    "Encounter",
    "Observation",
    "Condition",
    "MedicationStatement",
    "Immunization",
)
