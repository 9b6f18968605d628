"""The single-resource writer: one FHIR resource from a sender into the platform's tables.

Used by the REST API (create, update, conditional create), by bundles (each entry) and by the bulk
importer (every NDJSON line that is not a plain Observation). The mapped types land in their
domain's tables (see ``parse.py`` for the mapping choices); every other type is kept verbatim in
``fhir_resource``, linked to its resident when its subject/patient resolves, and never refused for
being unknown.

Idempotency: a sender's resource is named by ``keys.source_key(sender, type, sender's id)`` (an
Observation is looked up by that key's ``source_hash``, see ``refs.named_by``); the
same resource sent again answers the row it made (``created`` False) and changes nothing. A Patient
is named by the sender's alias (a resident identifier) and, when it carries a resident ID that is
already on file, lands on that resident.

Resident division (the resident table requires one): the 12-digit statistical code the address
carries (see ``parse.DIVISION_EXTENSION`` / ``address.district``), else the sender institution's
division, else the district's root division.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.contracts.models import Contract, ServicePackage
from healthbrain.core.errors import DomainError
from healthbrain.core.i18n import translate
from healthbrain.core.ingest import verbatim_json
from healthbrain.core.time import SHANGHAI, local_today, utcnow
from healthbrain.geo.models import CareTeam, CareTeamMember, Division, Institution, Practitioner
from healthbrain.interop.fhir import keys, parse, refs
from healthbrain.interop.fhir.parse import Invalid, Issue, Ref
from healthbrain.interop.fhir.validate import validate_r4
from healthbrain.interop.models import FhirResource
from healthbrain.people.models import Resident, ResidentIdentifier, ResidentStatus
from healthbrain.people.resident_id import ResidentIdError
from healthbrain.people.resident_id import parse as parse_resident_id
from healthbrain.records.models import Condition, Encounter, MedicationStatement, Observation
from healthbrain.records.models import Immunization as ImmunizationRow

__all__ = ["Context", "Rejected", "Written", "apply", "resolve_patient", "write_resource"]

resolve_patient = refs.resolve_patient
log = logging.getLogger("healthbrain.fhir")


@dataclass(frozen=True, slots=True)
class Written:
    resource_type: str
    id: str | None  # server logical id, None when rejected
    created: bool  # False: it already existed (idempotent resend) or was rejected
    errors: list[dict[str, str]]  # [{"field": "Observation.subject", "message": "..."}], [] if ok


class Rejected(Exception):
    """A resource refused: the HTTP status it answers and the elements at fault."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        self.status = status
        self.issues = issues
        super().__init__("; ".join(f"{i.field}: {i.key}" for i in issues))


@dataclass
class Context:
    """One sender's unit of work: who sends, the bundle's fullUrl → (type, server id) map."""

    session: Session
    sender: str
    principal: Principal | None = None
    language: str = "zh-CN"
    urns: dict[str, tuple[str, str]] = field(default_factory=dict)
    validate: bool = True  # False: a trusted bulk path, checked by the mapping alone (no R4 model)
    _institution: Institution | None = None
    _institution_loaded: bool = False

    @property
    def institution(self) -> Institution | None:
        """The sender institution (its code is the sender), if it is one of ours."""
        if not self._institution_loaded:
            cache = _cache(self.session)
            key = ("institution", self.sender)
            if key not in cache:  # the row itself: the identity map alone would let it go
                cache[key] = self.session.scalar(select(Institution).where(Institution.code == self.sender))
            self._institution = cache[key]
            self._institution_loaded = True
        return self._institution

    def messages(self, issues: list[Issue]) -> list[dict[str, str]]:
        return [{"field": i.field, "message": translate(i.key, self.language, **i.params)} for i in issues]


def write_resource(
    session: Session,
    *,
    sender: str,
    resource: dict[str, Any],
    principal: Principal | None = None,
    language: str = "zh-CN",
    validate: bool = True,
) -> Written:
    """Write one resource; never raises for bad input (the errors come back instead), leaves no
    row of a rejected resource, only flushes. ``principal`` None: a trusted system import.

    ``validate`` False skips the R4 model validation (``fhir.resources``, ~1 ms a resource) and
    relies on the mapping's own checks (required elements, codes, lengths, references): for a
    trusted bulk path only."""
    ctx = Context(session=session, sender=sender, principal=principal, language=language, validate=validate)
    resource_type = str(resource.get("resourceType")) if isinstance(resource, dict) else "?"
    try:
        return apply(ctx, resource)
    except Rejected as exc:
        return Written(resource_type, None, False, ctx.messages(exc.issues))


def apply(
    ctx: Context,
    resource: Any,
    *,
    full_url: str | None = None,
    update_id: str | None = None,
) -> Written:
    """Write (or, with ``update_id``, update) one resource inside a savepoint; on any refusal the
    savepoint is rolled back and :class:`Rejected` raised."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise Rejected(400, [Issue("resourceType", "fhir.error.not_a_resource")])
    try:
        written = _in_savepoint(ctx, resource, full_url=full_url, update_id=update_id)
    except BaseException:
        # What was looked up inside the rolled-back savepoint may be gone: forget it all.
        ctx.session.info.pop(_CACHE_KEY, None)
        raise
    if full_url and written.id is not None:
        ctx.urns[full_url] = (resource["resourceType"], written.id)
    return written


def _in_savepoint(ctx: Context, resource: dict[str, Any], *, full_url: str | None, update_id: str | None) -> Written:
    resource_type = resource["resourceType"]
    try:
        with ctx.session.begin_nested():
            return _dispatch(ctx, resource, full_url=full_url, update_id=update_id)
    except Rejected:
        raise
    except Invalid as exc:
        raise Rejected(422, exc.issues) from None
    except DomainError as exc:
        where = f"{resource_type}.{exc.field}" if exc.field else resource_type
        raise Rejected(exc.status_code, [Issue(where, exc.key, dict(exc.params))]) from None
    except IntegrityError as exc:
        log.info("fhir resource conflicts: %s", str(exc.orig)[:300])
        raise Rejected(409, [Issue(resource_type, "fhir.error.conflict")]) from None
    except DataError:
        raise Rejected(422, [Issue(resource_type, "error.unstorable")]) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, AssertionError) as exc:
        # Input no check above foresaw: refused with its reason rather than a crash.
        log.warning("fhir resource refused", extra={"type": resource_type, "error": repr(exc)[:200]})
        raise Rejected(422, [Issue(resource_type, "fhir.error.unreadable", {"msg": str(exc)[:200]})]) from None


def sender_id(resource: dict[str, Any], full_url: str | None) -> str | None:
    """What the sender calls this resource: its id, else the uuid of its urn:uuid fullUrl."""
    if isinstance(resource.get("id"), str) and resource["id"]:
        return str(resource["id"])[:64]
    if full_url and full_url.startswith("urn:uuid:"):
        return full_url.removeprefix("urn:uuid:")[:64]
    return None


def _dispatch(ctx: Context, resource: dict[str, Any], *, full_url: str | None, update_id: str | None) -> Written:
    resource_type = resource["resourceType"]
    handler = _HANDLERS.get(resource_type)
    if handler is None:
        return _verbatim(ctx, resource, full_url=full_url, update_id=update_id)
    issues = validate_r4(resource) if ctx.validate else []
    if issues:
        raise Rejected(422, issues)
    return handler(ctx, resource, sender_id(resource, full_url), update_id)


# --- references ------------------------------------------------------------------------------

# A per-session memo of what a sender's Patient ids and code resolve to (a bulk run resolves the
# same few patients thousands of times); dropped whenever a write rolls back, and with the session.
_CACHE_KEY = "healthbrain.fhir.resolved"


def _cache(session: Session) -> dict[tuple[Any, ...], Any]:
    cache: dict[tuple[Any, ...], Any] = session.info.setdefault(_CACHE_KEY, {})
    return cache


def _unresolved(ref: Ref) -> Rejected:
    return Rejected(422, [Issue(ref.field, "fhir.error.unresolved", {"value": ref.reference or ref.value or ""})])


def _resolve(ctx: Context, ref: Ref, expected: str) -> int | None:
    """The row a reference names, or None when it names nothing we know."""
    s = ctx.session
    if ref.reference is not None:
        if ref.reference in ctx.urns:
            kind, found = ctx.urns[ref.reference]
            return int(found) if kind == expected and found.isdigit() else None
        parts = refs.split_reference(ref.reference)
        if parts is None or parts[0] != expected:
            return None
        if expected == "Patient":
            cache = _cache(s)
            key = ("patient", ctx.sender, parts[1])
            if key not in cache:
                resident_id = refs.patient_by_logical_id(s, ctx.sender, parts[1])
                if resident_id is None:
                    return None  # not remembered: the Patient may arrive later in the run
                cache[key] = resident_id
            return int(cache[key])
        if expected in refs.ROW_MODELS:
            return refs.row_by_logical_id(s, ctx.sender, expected, parts[1])
        return refs.directory_by_logical_id(s, ctx.sender, expected, parts[1])
    if ref.value is None:
        return None
    if expected == "Patient":  # a resident ID (our system, or no system), else any resident identifier
        return refs.patient_by_identifier(s, ref.system, ref.value, national=ref.system is None)
    if expected in refs.DIRECTORY_MODELS:
        return refs.directory_by_code(s, expected, ref.value)
    return None


def _required(ctx: Context, ref: Ref, expected: str) -> int:
    found = _resolve(ctx, ref, expected)
    if found is None:
        raise _unresolved(ref)
    return found


def _optional(ctx: Context, ref: Ref | None, expected: str) -> int | None:
    return _required(ctx, ref, expected) if ref is not None else None


def _resident(ctx: Context, ref: Ref) -> Resident:
    """The resident a clinical resource is about, that the caller may write to."""
    resident_id = _required(ctx, ref, "Patient")
    if ctx.principal is not None:
        from healthbrain.records.service import writable_resident

        return writable_resident(ctx.session, principal=ctx.principal, resident_id=resident_id)
    cache = _cache(ctx.session)
    resident = cache.get(("resident", resident_id)) or ctx.session.get(Resident, resident_id)
    assert resident is not None
    cache[("resident", resident_id)] = resident
    if resident.status != ResidentStatus.ACTIVE:
        raise Rejected(409, [Issue(ref.field, "error.resident.not_active", {})])
    return resident


def _encounter(ctx: Context, ref: Ref | None, resident: Resident) -> int | None:
    found = _optional(ctx, ref, "Encounter")
    if found is not None and ref is not None:
        owner = ctx.session.scalar(select(Encounter.resident_id).where(Encounter.id == found))
        if owner != resident.id:
            raise Rejected(422, [Issue(ref.field, "fhir.error.other_patient", {})])
    return found


def _require(ctx: Context, permission: Permission) -> None:
    if ctx.principal is not None:
        ctx.principal.require(permission)


def _previous(ctx: Context, model: Any, key: str | None) -> Any:
    if key is None:
        return None
    return ctx.session.scalar(select(model).where(refs.named_by(model, key)))


def _institution_id(ctx: Context, ref: Ref | None = None) -> int | None:
    if ref is not None:
        found = _resolve(ctx, ref, "Organization")
        if found is not None:
            return found
    return ctx.institution.id if ctx.institution else None


def _row_for_update(ctx: Context, model: Any, update_id: str, resource_type: str) -> Any:
    row = ctx.session.get(model, int(update_id)) if update_id.isdigit() and len(update_id) < 19 else None
    if row is None:
        raise Rejected(404, [Issue(resource_type, "fhir.error.not_found", {"type": resource_type, "id": update_id})])
    return row


def _audit(ctx: Context, action: str, resident_id: int | None, resource_type: str, row_id: Any) -> None:
    if ctx.principal is not None:
        audit.record(
            ctx.session, ctx.principal, action, resident_id=resident_id, object_type=resource_type, object_id=row_id
        )


# --- Patient ---------------------------------------------------------------------------------


def _division_id(ctx: Context, code: str | None) -> int:
    s = ctx.session
    if code is not None:
        found = s.scalar(select(Division.id).where(Division.code == code))
        if found is None:
            raise Rejected(422, [Issue("Patient.address[0]", "fhir.error.unknown_division", {"value": code})])
        return int(found)
    if ctx.institution is not None:
        return ctx.institution.division_id
    root = s.scalar(select(Division.id).where(Division.parent_id.is_(None)).order_by(Division.id).limit(1))
    if root is None:
        raise Rejected(422, [Issue("Patient.address", "fhir.error.no_division", {})])
    return int(root)


def _add_identifier(ctx: Context, resident_id: int, kind: str, system: str, value: str, where: str) -> None:
    s = ctx.session
    owner = s.scalar(
        select(ResidentIdentifier.resident_id).where(
            ResidentIdentifier.system == system, ResidentIdentifier.value == value
        )
    )
    if owner == resident_id:
        return
    if owner is not None:
        raise Rejected(409, [Issue(where, "fhir.error.identifier_taken", {"value": value, "id": owner})])
    s.add(
        ResidentIdentifier(
            resident_id=resident_id,
            kind=kind,
            system=system,
            institution_id=ctx.institution.id if ctx.institution else None,
            value=value,
        )
    )


def _decode_id(data: parse.PatientData, resource: dict[str, Any]) -> None:
    """The resident ID in its 18-character form; sex and birth date from it, checked if also given."""
    if data.id_number is None:
        return
    index = next(i for i, ident in enumerate(resource.get("identifier") or []) if parse.is_resident_id(ident))
    where = f"Patient.identifier[{index}].value"
    try:
        decoded = parse_resident_id(data.id_number, today=local_today())
    except ResidentIdError as exc:
        raise Rejected(422, [Issue(where, f"error.id_number.{exc.reason}", dict(exc.params))]) from None
    if data.sex is not None and data.sex != decoded.sex:
        raise Rejected(422, [Issue("Patient.gender", "fhir.error.sex_mismatch", {"derived": decoded.sex})])
    if data.birth_date is not None and data.birth_date != decoded.birth_date:
        raise Rejected(
            422, [Issue("Patient.birthDate", "fhir.error.birth_mismatch", {"derived": decoded.birth_date.isoformat()})]
        )
    data.id_number, data.sex, data.birth_date = decoded.number, decoded.sex, decoded.birth_date


def _patient(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    s = ctx.session
    _require(ctx, Permission.RESIDENT_WRITE)
    data = parse.parse_patient(resource, sender=ctx.sender)
    _decode_id(data, resource)
    if update_id is None and sid is not None and (known := refs.alias_owner(s, ctx.sender, sid)) is not None:
        return Written("Patient", str(known), False, [])  # a resend
    resident: Resident | None = None
    if update_id is not None:
        resident = _row_for_update(ctx, Resident, update_id, "Patient")
        if ctx.principal is not None:
            from healthbrain.people.service import get_resident

            resident = get_resident(s, principal=ctx.principal, resident_id=resident.id, action="fhir.update")
    landed = False
    if resident is None and data.id_number is not None:
        found = s.scalar(select(Resident.id).where(Resident.id_number == data.id_number))
        if found is not None:
            resident = s.get(Resident, refs._survivor(s, found))
            landed = True
    if resident is None and update_id is None:
        for kind, system, value in data.identifiers:
            if kind == "mrn" and (owner := refs.patient_by_identifier(s, system, value)) is not None:
                resident, landed = s.get(Resident, owner), True
                break
    if landed and resident is not None:
        if ctx.principal is not None:
            from healthbrain.records.service import writable_resident

            writable_resident(s, principal=ctx.principal, resident_id=resident.id)
        _patient_identifiers(ctx, resident.id, data, sid, resource)
        s.flush()
        return Written("Patient", str(resident.id), False, [])
    if data.birth_date is None or data.sex is None:
        raise Rejected(422, [Issue("Patient.birthDate", "fhir.error.required", {})])
    if data.birth_date > local_today():
        raise Rejected(422, [Issue("Patient.birthDate", "fhir.error.future", {})])
    if data.id_number is not None and resident is not None and data.id_number != resident.id_number:
        taken = s.scalar(select(Resident.id).where(Resident.id_number == data.id_number))
        if taken is not None:
            raise Rejected(
                409, [Issue("Patient.identifier", "fhir.error.identifier_taken", {"value": "", "id": taken})]
            )
    now = utcnow()
    created = resident is None
    division_id = _division_id(ctx, data.division_code) if created or data.division_code else None
    if resident is None:
        resident = Resident(
            status=ResidentStatus.ACTIVE,
            registered_institution_id=ctx.institution.id if ctx.institution else None,
            record_created_on=local_today(),
            created_at=now,
            version=0,
        )
        s.add(resident)
    resident.id_number = data.id_number or resident.id_number
    resident.name = data.name
    resident.sex = data.sex
    resident.birth_date = data.birth_date
    resident.phone = data.phone
    resident.address = data.address
    if division_id is not None:
        resident.division_id = division_id
    if data.deceased_date is not None:
        resident.status, resident.deceased_date = ResidentStatus.DECEASED, data.deceased_date
    resident.updated_at = now
    resident.version = (resident.version or 0) + 1
    s.flush()
    _patient_identifiers(ctx, resident.id, data, sid, resource)
    s.flush()
    _audit(ctx, "fhir.create" if created else "fhir.update", resident.id, "Patient", resident.id)
    return Written("Patient", str(resident.id), created, [])


def _patient_identifiers(
    ctx: Context, resident_id: int, data: parse.PatientData, sid: str | None, resource: dict[str, Any]
) -> None:
    if sid is not None:
        _add_identifier(ctx, resident_id, keys.FHIR_ALIAS_KIND, keys.alias_system(ctx.sender), sid, "Patient.id")
    for i, (kind, system, value) in enumerate(data.identifiers):
        _add_identifier(ctx, resident_id, kind, system, value, f"Patient.identifier[{i}]")
    del resource


# --- directory: Organization, Practitioner, CareTeam ------------------------------------------


def _directory_row(
    ctx: Context, model: Any, resource_type: str, code: str | None, sid: str | None, update_id: str | None
) -> tuple[Any, bool]:
    """(row, created) for a directory entry: the one updated, the one it names, or a new one."""
    s = ctx.session
    if update_id is not None:
        return _row_for_update(ctx, model, update_id, resource_type), False
    wanted = code or (refs.directory_code(ctx.sender, resource_type, sid) if sid else None)
    if wanted is not None and (row := s.scalar(select(model).where(model.code == wanted))) is not None:
        return row, False
    if wanted is None:
        wanted = f"fhir-{uuid.uuid4().hex[:24]}"
    return model(code=wanted), True


def _organization(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_organization(resource)
    _require(ctx, Permission.DIRECTORY_WRITE if update_id else Permission.RECORD_WRITE)
    row, created = _directory_row(ctx, Institution, "Organization", data.code, sid, update_id)
    if not created and update_id is None:
        return Written("Organization", str(row.id), False, [])
    parent_id = _optional(ctx, data.part_of, "Organization")
    parent = ctx.session.get(Institution, parent_id) if parent_id else None
    row.name, row.kind, row.address, row.active, row.parent_id = (
        data.name,
        data.kind,
        data.address,
        data.active,
        parent_id,
    )
    if created:
        fallback = ctx.institution.division_id if ctx.institution else None
        row.division_id = parent.division_id if parent else fallback or _division_id(ctx, None)
        ctx.session.add(row)
    ctx.session.flush()
    _audit(ctx, "fhir.create" if created else "fhir.update", None, "Organization", row.id)
    return Written("Organization", str(row.id), created, [])


def _practitioner(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_practitioner(resource)
    _require(ctx, Permission.DIRECTORY_WRITE if update_id else Permission.RECORD_WRITE)
    row, created = _directory_row(ctx, Practitioner, "Practitioner", data.code, sid, update_id)
    if not created and update_id is None:
        return Written("Practitioner", str(row.id), False, [])
    if created:
        if ctx.institution is None:
            raise Rejected(422, [Issue("Practitioner", "fhir.error.sender_institution", {"sender": ctx.sender})])
        row.institution_id = ctx.institution.id
        ctx.session.add(row)
    row.name, row.sex, row.profession, row.phone, row.active = (
        data.name,
        data.sex,
        data.profession,
        data.phone,
        data.active,
    )
    ctx.session.flush()
    _audit(ctx, "fhir.create" if created else "fhir.update", None, "Practitioner", row.id)
    return Written("Practitioner", str(row.id), created, [])


def _care_team(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_care_team(resource)
    _require(ctx, Permission.DIRECTORY_WRITE)
    row, created = _directory_row(ctx, CareTeam, "CareTeam", data.code, sid, update_id)
    if not created and update_id is None:
        return Written("CareTeam", str(row.id), False, [])
    home = _optional(ctx, data.managing_organization, "Organization") or _institution_id(ctx)
    if home is None:
        raise Rejected(422, [Issue("CareTeam.managingOrganization", "fhir.error.required", {})])
    members = [(_required(ctx, ref, "Practitioner"), role) for ref, role in data.members]
    row.name, row.active, row.home_institution_id = data.name, data.active, home
    lead = next((p for p, role in members if role == "lead_gp"), members[0][0] if members else None)
    row.leader_id = lead
    if created:
        ctx.session.add(row)
    ctx.session.flush()
    ctx.session.execute(delete(CareTeamMember).where(CareTeamMember.team_id == row.id))
    seen: set[int] = set()
    for practitioner_id, role in members:
        if practitioner_id not in seen:
            seen.add(practitioner_id)
            ctx.session.add(CareTeamMember(team_id=row.id, practitioner_id=practitioner_id, role=role))
    ctx.session.flush()
    _audit(ctx, "fhir.create" if created else "fhir.update", None, "CareTeam", row.id)
    return Written("CareTeam", str(row.id), created, [])


# --- clinical rows ---------------------------------------------------------------------------


def _clinical_row(
    ctx: Context, model: Any, resource_type: str, sid: str | None, update_id: str | None, resident: Resident
) -> tuple[Any, bool]:
    """(row, created): the row to update, the one a resend names (None, False), or a new one."""
    if update_id is not None:
        row = _row_for_update(ctx, model, update_id, resource_type)
        if row.resident_id != resident.id:
            raise Rejected(422, [Issue(f"{resource_type}.subject", "fhir.error.other_patient", {})])
        return row, False
    key = keys.source_key(ctx.sender, resource_type, sid) if sid else None
    previous = _previous(ctx, model, key)
    if previous is not None:
        if previous.resident_id != resident.id:
            raise Rejected(409, [Issue(f"{resource_type}.id", "error.record.source_key_taken", {})])
        return None, False
    return model(resident_id=resident.id, source_key=key), True


def _finish(ctx: Context, row: Any, created: bool, resource_type: str) -> Written:
    if created:
        ctx.session.add(row)
    ctx.session.flush()
    _audit(ctx, "fhir.create" if created else "fhir.update", row.resident_id, resource_type, row.id)
    return Written(resource_type, str(row.id), created, [])


def _resend(ctx: Context, model: Any, resource_type: str, sid: str | None) -> Written:
    key = keys.source_key(ctx.sender, resource_type, sid or "")
    found = ctx.session.scalar(select(model.id).where(refs.named_by(model, key)))
    return Written(resource_type, str(found), False, [])


def _episode(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    s = ctx.session
    data = parse.parse_episode(resource)
    _require(ctx, Permission.CONTRACT_MANAGE)
    resident = _resident(ctx, data.patient)
    row, created = _clinical_row(ctx, Contract, "EpisodeOfCare", sid, update_id, resident)
    if row is None:
        return _resend(ctx, Contract, "EpisodeOfCare", sid)
    package = s.scalar(select(ServicePackage.id).where(ServicePackage.code == data.package_code))
    if package is None:
        raise Rejected(422, [Issue("EpisodeOfCare.type", "fhir.error.unknown_package", {"value": data.package_code})])
    row.team_id = _required(ctx, data.team, "CareTeam")
    row.practitioner_id = _optional(ctx, data.care_manager, "Practitioner")
    row.package_id = package
    row.status = data.status
    row.start_date, row.end_date = data.start, data.end
    if created:
        row.signed_at = datetime.combine(data.start, time(9), SHANGHAI)
        row.created_at = utcnow()
        row.created_by_id = ctx.principal.user_id if ctx.principal and ctx.principal.user_id else None
    return _finish(ctx, row, created, "EpisodeOfCare")


def _encounter_handler(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_encounter(resource)
    resident = _resident(ctx, data.subject)
    row, created = _clinical_row(ctx, Encounter, "Encounter", sid, update_id, resident)
    if row is None:
        return _resend(ctx, Encounter, "Encounter", sid)
    row.institution_id = _institution_id(ctx, data.service_provider)
    row.practitioner_id = _resolve(ctx, data.practitioner, "Practitioner") if data.practitioner else None
    row.encounter_class = data.encounter_class
    row.start_at, row.end_at = data.start_at, data.end_at
    row.reason_code, row.reason_text = data.reason_code, data.reason_text
    return _finish(ctx, row, created, "Encounter")


def _condition(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_condition(resource)
    resident = _resident(ctx, data.subject)
    row, created = _clinical_row(ctx, Condition, "Condition", sid, update_id, resident)
    if row is None:
        return _resend(ctx, Condition, "Condition", sid)
    row.encounter_id = _encounter(ctx, data.encounter, resident)
    row.code, row.display, row.clinical_status = data.code, data.display, data.clinical_status
    row.onset_date, row.abatement_date = data.onset_date, data.abatement_date
    row.recorded_at = data.recorded_at or (row.recorded_at if not created else utcnow())
    row.institution_id = _institution_id(ctx)
    return _finish(ctx, row, created, "Condition")


def _medication(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_medication(resource)
    resident = _resident(ctx, data.subject)
    row, created = _clinical_row(ctx, MedicationStatement, "MedicationStatement", sid, update_id, resident)
    if row is None:
        return _resend(ctx, MedicationStatement, "MedicationStatement", sid)
    row.code, row.name, row.dose, row.frequency, row.route = (
        data.code,
        data.name,
        data.dose,
        data.frequency,
        data.route,
    )
    row.start_date, row.end_date, row.status = data.start_date, data.end_date, data.status
    row.institution_id = _institution_id(ctx)
    if created:
        row.recorded_at = utcnow()
    return _finish(ctx, row, created, "MedicationStatement")


def _immunization(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_immunization(resource)
    resident = _resident(ctx, data.patient)
    row, created = _clinical_row(ctx, ImmunizationRow, "Immunization", sid, update_id, resident)
    if row is None:
        return _resend(ctx, ImmunizationRow, "Immunization", sid)
    row.encounter_id = _encounter(ctx, data.encounter, resident)
    row.vaccine_code, row.vaccine_system, row.vaccine_name = data.vaccine_code, data.vaccine_system, data.vaccine_name
    row.dose_number, row.occurrence_date, row.status = data.dose_number, data.occurrence_date, data.status
    row.lot_number = data.lot_number
    row.institution_id = _institution_id(ctx)
    row.recorded_at = data.recorded_at or (utcnow() if created else row.recorded_at)
    return _finish(ctx, row, created, "Immunization")


def component_key(base: str, code: str) -> str:
    """The source_key of one component row of a panel (``…#8480-6``)."""
    return f"{base}#{code}"[:128] if len(base) + len(code) < 128 else f"{base[: 127 - len(code)]}#{code}"


def _observation(ctx: Context, resource: dict[str, Any], sid: str | None, update_id: str | None) -> Written:
    data = parse.parse_observation(resource)
    resident = _resident(ctx, data.subject)
    if data.panel or (update_id is not None and not update_id.isdigit()):
        return _panel(ctx, resource, data, resident, sid, update_id)
    row, created = _clinical_row(ctx, Observation, "Observation", sid, update_id, resident)
    if row is None:
        return _resend(ctx, Observation, "Observation", sid)
    value = data.values[0]
    _fill_observation(ctx, row, data, value, resident)
    if created and sid is not None:
        row.source_hash = keys.source_hash(ctx.sender, "Observation", sid)
    return _finish(ctx, row, created, "Observation")


def _fill_observation(
    ctx: Context, row: Observation, data: parse.ObservationData, value: parse.ObservationValue, resident: Resident
) -> None:
    row.encounter_id = _encounter(ctx, data.encounter, resident)
    row.code, row.value_num, row.value_text, row.unit = value.code, value.value_num, value.value_text, value.unit
    row.effective_at, row.status, row.device_id = data.effective_at, data.status, data.device_id
    row.institution_id = _institution_id(ctx, data.performer)


def _panel(
    ctx: Context,
    resource: dict[str, Any],
    data: parse.ObservationData,
    resident: Resident,
    sid: str | None,
    update_id: str | None,
) -> Written:
    """A panel: kept verbatim (read back as sent) and as one observation row per component."""
    s = ctx.session
    written = _verbatim(ctx, resource, full_url=None, update_id=update_id, sid=sid, resident_id=resident.id)
    if not written.created and update_id is None:
        return written
    assert written.id is not None
    kept_key = s.scalar(
        select(FhirResource.source_key).where(
            FhirResource.resource_type == "Observation", FhirResource.logical_id == written.id
        )
    )
    base = kept_key or f"fhir-panel|{written.id}"  # an update keeps the components' keys of the first write
    if not written.created:
        # An update replaces the components of the earlier write. The prefix match reads the table
        # (LIKE … ESCAPE uses no index); it runs only for updates, rare next to first writes, which
        # have no components to remove.
        s.execute(delete(Observation).where(Observation.source_key.startswith(base + "#", autoescape=True)))
    for value in data.values:
        assert value.suffix is not None
        row = Observation(resident_id=resident.id, source_key=component_key(base, value.code))
        _fill_observation(ctx, row, data, value, resident)
        if sid is not None:
            row.source_hash = keys.source_hash(ctx.sender, "Observation", sid + value.suffix)
        s.add(row)
    s.flush()
    return written


# --- verbatim --------------------------------------------------------------------------------

PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")


def _resolve_any(ctx: Context, reference: str) -> str | None:
    """``Type/server id`` of any reference that names something we hold, else None."""
    if reference in ctx.urns:
        kind, found = ctx.urns[reference]
        return f"{kind}/{found}"
    parts = refs.split_reference(reference)
    if parts is None:
        return None
    kind, logical = parts
    s = ctx.session
    found_id: Any = None
    if kind == "Patient":
        found_id = refs.patient_by_logical_id(s, ctx.sender, logical)
    elif kind in refs.ROW_MODELS:
        found_id = refs.row_by_logical_id(s, ctx.sender, kind, logical)
    elif kind in refs.DIRECTORY_MODELS:
        found_id = refs.directory_by_logical_id(s, ctx.sender, kind, logical)
    if found_id is None:
        found_id = refs.verbatim_by_logical_id(s, ctx.sender, kind, logical)
    return f"{kind}/{found_id}" if found_id is not None else None


def _rewrite_references(ctx: Context, node: Any) -> Any:
    """The resource with every reference that resolves pointing at our resource (as a FHIR server
    does with a transaction's urn:uuid references); the others are left as sent."""
    if isinstance(node, dict):
        out = {k: _rewrite_references(ctx, v) for k, v in node.items()}
        if isinstance(node.get("reference"), str) and (hit := _resolve_any(ctx, node["reference"])) is not None:
            out["reference"] = hit
        return out
    if isinstance(node, list):
        return [_rewrite_references(ctx, v) for v in node]
    return node


def _subject_resident(ctx: Context, resource: dict[str, Any]) -> int | None:
    for element in PATIENT_ELEMENTS:
        value = resource.get(element)
        if isinstance(value, dict):
            ref = parse.ref_of(value, f"{resource['resourceType']}.{element}")
            if ref is not None:
                found = _resolve(ctx, ref, "Patient")
                if found is not None:
                    return found
    return None


def _verbatim(
    ctx: Context,
    resource: dict[str, Any],
    *,
    full_url: str | None,
    update_id: str | None,
    sid: str | None = None,
    resident_id: int | None = None,
) -> Written:
    """Keep a resource as sent (plus our id and meta); never refused for its type or content."""
    s = ctx.session
    resource_type = str(resource["resourceType"])[:64]
    sid = sid if sid is not None else sender_id(resource, full_url)
    key = keys.source_key(ctx.sender, resource_type, sid) if sid else None
    if update_id is None and key is not None:
        previous = s.scalar(select(FhirResource).where(FhirResource.source_key == key))
        if previous is not None:
            return Written(resource_type, previous.logical_id, False, [])
    row: FhirResource | None = None
    if update_id is not None:
        row = s.scalar(
            select(FhirResource).where(
                FhirResource.resource_type == resource_type, FhirResource.logical_id == update_id
            )
        )
        if row is None:
            raise Rejected(
                404, [Issue(resource_type, "fhir.error.not_found", {"type": resource_type, "id": update_id})]
            )
    if resident_id is None:
        resident_id = _subject_resident(ctx, resource)
    if ctx.principal is not None:
        _require(ctx, Permission.RECORD_WRITE)
        if resident_id is not None:
            from healthbrain.records.service import writable_resident

            writable_resident(s, principal=ctx.principal, resident_id=resident_id)
    now = utcnow()
    created = row is None
    if row is None:
        row = FhirResource(
            resource_type=resource_type,
            logical_id=str(uuid.uuid4()),
            version=0,
            source_key=key,
            last_updated=now,
            content="{}",
        )
        s.add(row)
    row.version = (row.version or 0) + 1
    row.last_updated = now
    row.resident_id = resident_id
    content = _rewrite_references(ctx, resource)
    content["id"] = row.logical_id
    content["meta"] = {
        **(content.get("meta") if isinstance(content.get("meta"), dict) else {}),
        "versionId": str(row.version),
        "lastUpdated": parse.fhir_instant(now),
    }
    row.content = verbatim_json(content)
    s.flush()
    _audit(ctx, "fhir.create" if created else "fhir.update", resident_id, resource_type, row.logical_id)
    return Written(resource_type, row.logical_id, created, [])


_HANDLERS: dict[str, Callable[[Context, dict[str, Any], str | None, str | None], Written]] = {
    "Patient": _patient,
    "Organization": _organization,
    "Practitioner": _practitioner,
    "CareTeam": _care_team,
    "EpisodeOfCare": _episode,
    "Encounter": _encounter_handler,
    "Observation": _observation,
    "Condition": _condition,
    "MedicationStatement": _medication,
    "Immunization": _immunization,
}
