"""Use cases of the FHIR API: read, search, and the rendering of rows as resources. Every read of a
resident's data goes through the caller's scope and is audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth import audit
from healthbrain.auth.roles import Permission, Scope
from healthbrain.auth.scope import Principal
from healthbrain.contracts.models import Contract, ServicePackage
from healthbrain.core.errors import NotFound
from healthbrain.geo.models import Division, Institution
from healthbrain.interop.fhir import keys, render, search
from healthbrain.interop.fhir.parse import Issue
from healthbrain.interop.models import FhirResource
from healthbrain.people import service as people
from healthbrain.people.models import ResidentIdentifier
from healthbrain.records.models import Condition, Encounter, MedicationStatement, Observation
from healthbrain.records.models import Immunization as ImmunizationRow

MAX_COUNT = 500
DEFAULT_COUNT = 20


def sender_of(session: Session, principal: Principal) -> str:
    """The sender a caller writes as: its institution's code (data submitters are bound to one)."""
    if principal.institution_id is not None:
        code = session.scalar(select(Institution.code).where(Institution.id == principal.institution_id))
        if code:
            return code
    return f"user:{principal.username}"[:32]


def render_rows(session: Session, resource_type: str, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows of one type as FHIR resources (their lookups batched)."""
    if not rows:
        return []
    match resource_type:
        case "Patient":
            ids = [r.id for r in rows]
            idents: dict[int, list[ResidentIdentifier]] = {i: [] for i in ids}
            for ident in session.scalars(
                select(ResidentIdentifier)
                .where(ResidentIdentifier.resident_id.in_(ids))
                .order_by(ResidentIdentifier.id)
            ):
                idents[ident.resident_id].append(ident)
            divisions: dict[int, str] = {
                i: c
                for i, c in session.execute(
                    select(Division.id, Division.code).where(Division.id.in_({r.division_id for r in rows}))
                )
            }
            return [render.patient(r, idents[r.id], divisions.get(r.division_id)) for r in rows]
        case "Organization":
            return [render.organization(r) for r in rows]
        case "Practitioner":
            return [render.practitioner(r) for r in rows]
        case "CareTeam":
            members = search.team_members(session, [r.id for r in rows])
            return [render.care_team(r, members[r.id]) for r in rows]
        case "EpisodeOfCare":
            packages: dict[int, str] = {
                i: c
                for i, c in session.execute(
                    select(ServicePackage.id, ServicePackage.code).where(
                        ServicePackage.id.in_({r.package_id for r in rows})
                    )
                )
            }
            return [render.episode_of_care(r, packages.get(r.package_id)) for r in rows]
        case "Encounter":
            return [render.encounter(r) for r in rows]
        case "Observation":
            return [render.observation(r) for r in rows]
        case "Condition":
            return [render.condition(r) for r in rows]
        case "MedicationStatement":
            return [render.medication_statement(r) for r in rows]
        case "Immunization":
            return [render.immunization(r) for r in rows]
    return [render.verbatim(r) for r in rows]


def _not_found(resource_type: str, logical_id: str) -> NotFound:
    return NotFound("fhir.error.not_found", type=resource_type, id=logical_id)


def _as_int(logical_id: str) -> int | None:
    return int(logical_id) if logical_id.isdigit() and len(logical_id) < 19 else None


def _readable_unlinked(session: Session, principal: Principal, row: FhirResource) -> bool:
    """A kept resource about no resident: the whole-district roles, or the institution that sent it."""
    if principal.scope == Scope.ALL:
        return True
    return row.source_key is not None and row.source_key.startswith(f"fhir|{sender_of(session, principal)}|")


def read(session: Session, *, principal: Principal, resource_type: str, logical_id: str) -> dict[str, Any]:
    """One resource by its logical id, through the caller's scope (out of scope reads as 404)."""
    number = _as_int(logical_id)
    if resource_type == "Patient":
        if number is None:
            raise _not_found(resource_type, logical_id)
        resident = people.get_resident(session, principal=principal, resident_id=number, action="fhir.read")
        return render_rows(session, "Patient", [resident])[0]
    if resource_type in search.DIRECTORY:
        principal.require(Permission.DIRECTORY_READ)
        row = session.get(search.MODELS[resource_type], number) if number is not None else None
        if row is None:
            raise _not_found(resource_type, logical_id)
        return render_rows(session, resource_type, [row])[0]
    model = search.MODELS.get(resource_type)
    if model is not None and number is not None:
        row = session.get(model, number)
        if row is None:
            raise _not_found(resource_type, logical_id)
        people.get_resident(session, principal=principal, resident_id=row.resident_id, action="fhir.read")
        return render_rows(session, resource_type, [row])[0]
    kept = session.scalar(
        select(FhirResource).where(FhirResource.resource_type == resource_type, FhirResource.logical_id == logical_id)
    )
    if kept is None:
        raise _not_found(resource_type, logical_id)
    if kept.resident_id is not None:
        people.get_resident(session, principal=principal, resident_id=kept.resident_id, action="fhir.read")
    else:
        principal.require(Permission.RESIDENT_READ)
        if not _readable_unlinked(session, principal, kept):
            raise _not_found(resource_type, logical_id)
        audit.record(session, principal, "fhir.read", object_type=resource_type, object_id=logical_id)
    return render.verbatim(kept)


def _count(params: list[tuple[str, str]], name: str, default: int) -> int:
    for key, value in params:
        if key == name:
            if not value.isdigit():
                raise search.BadSearch(Issue(name, "fhir.error.bad_search", {"name": name, "msg": "a whole number"}))
            return int(value)
    return default


def search_bundle(
    session: Session,
    *,
    principal: Principal,
    resource_type: str,
    params: list[tuple[str, str]],
    base_url: str,
) -> dict[str, Any]:
    """A searchset Bundle of one page, with ``total`` and self/next/previous links."""
    if resource_type in search.DIRECTORY:
        principal.require(Permission.DIRECTORY_READ)
    else:
        principal.require(Permission.RESIDENT_READ)
    count = min(_count(params, "_count", DEFAULT_COUNT), MAX_COUNT)
    offset = _count(params, "_offset", 0)
    query = search.build(session, principal, resource_type, params, sender=sender_of(session, principal))
    total, rows = search.page(session, query, offset=offset, count=count)
    resources = render_rows(session, resource_type, rows)
    residents = sorted({r.resident_id for r in rows if getattr(r, "resident_id", None) is not None})
    if resource_type == "Patient":
        residents = sorted(r.id for r in rows)
    for resident_id in residents:
        audit.record(session, principal, "fhir.search", resident_id=resident_id, object_type=resource_type)
    if not residents:
        audit.record(
            session, principal, "fhir.search", object_type=resource_type, detail={"total": total, "page": len(rows)}
        )
    kept = [(k, v) for k, v in params if k not in ("_count", "_offset")]

    def link(relation: str, at: int) -> dict[str, str]:
        query_string = urlencode([*kept, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{base_url}/{resource_type}?{query_string}"}

    links = [link("self", offset)]
    if offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def existing_for_condition(session: Session, *, sender: str, resource_type: str, condition: str) -> list[str]:
    """Logical ids matching an ``If-None-Exist`` condition: ``identifier=system|value`` or
    ``_id=<the sender's id>`` (a query string; several parameters are AND)."""
    from urllib.parse import parse_qsl

    from healthbrain.interop.fhir import refs

    found: set[str] | None = None
    for name, value in parse_qsl(condition, keep_blank_values=True):
        ids: set[str] = set()
        if name == "identifier":
            system, code = search.token(value)
            if code is None:
                raise ValueError(condition)
            if resource_type == "Patient":
                hit = refs.patient_by_identifier(session, system, code, national=system is None)
                if hit is None and system is None:
                    hit = refs.patient_by_logical_id(session, sender, code)
                ids = {str(hit)} if hit is not None else set()
            elif resource_type in search.DIRECTORY:
                hit = refs.directory_by_code(session, resource_type, code)
                ids = {str(hit)} if hit is not None else set()
            else:
                ids = _by_sender_id(session, sender, resource_type, code)
        elif name == "_id":
            ids = _by_sender_id(session, sender, resource_type, value)
        else:
            raise ValueError(condition)
        found = ids if found is None else found & ids
    if found is None:
        raise ValueError(condition)
    return sorted(found)


def _by_sender_id(session: Session, sender: str, resource_type: str, logical_id: str) -> set[str]:
    from healthbrain.interop.fhir import refs

    if resource_type == "Patient":
        hit = refs.alias_owner(session, sender, logical_id)
    elif resource_type in refs.ROW_MODELS:
        model = refs.ROW_MODELS[resource_type]
        hit = session.scalar(
            select(model.id).where(refs.named_by(model, keys.source_key(sender, resource_type, logical_id)))
        )
        if hit is None and resource_type == "Observation":
            found = refs.verbatim_by_logical_id(session, sender, resource_type, logical_id)
            return {found} if found else set()
    elif resource_type in refs.DIRECTORY_MODELS:
        hit = refs.directory_by_code(session, resource_type, refs.directory_code(sender, resource_type, logical_id))
    else:
        found = refs.verbatim_by_logical_id(session, sender, resource_type, logical_id)
        return {found} if found else set()
    return {str(hit)} if hit is not None else set()


# Types whose rows name their resident (for $everything).
RESIDENT_TYPES: tuple[tuple[str, Any], ...] = (
    ("EpisodeOfCare", Contract),
    ("Encounter", Encounter),
    ("Observation", Observation),
    ("Condition", Condition),
    ("MedicationStatement", MedicationStatement),
    ("Immunization", ImmunizationRow),
)
