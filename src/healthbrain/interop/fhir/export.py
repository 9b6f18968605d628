"""``Patient/{id}/$everything``: one resident's whole record as a FHIR Bundle (also the record
page's "export as FHIR Bundle")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthbrain.auth.scope import Principal
from healthbrain.contracts.models import Contract, ContractConsent
from healthbrain.geo.models import CareTeam, Institution, Practitioner
from healthbrain.interop.fhir import render
from healthbrain.interop.fhir.search import team_members
from healthbrain.interop.fhir.service import RESIDENT_TYPES, render_rows
from healthbrain.interop.models import FhirResource
from healthbrain.people import service as people
from healthbrain.records.models import Observation

BASE = "urn:healthbrain:fhir"


def patient_everything(
    session: Session, *, principal: Principal, resident_id: int, base_url: str = BASE
) -> dict[str, Any]:
    """A searchset Bundle: the Patient; its contracts (EpisodeOfCare + Consent), encounters,
    observations, conditions, medications, immunisations; the resources kept verbatim about it
    (a BP panel is given as sent, not also as its component rows); and the organisations,
    practitioners and teams they reference. Scope-checked and audited (``fhir.everything``)."""
    resident = people.get_resident(session, principal=principal, resident_id=resident_id, action="fhir.everything")
    resources = render_rows(session, "Patient", [resident])
    institutions: set[int] = {resident.registered_institution_id} if resident.registered_institution_id else set()
    practitioners: set[int] = set()
    teams: set[int] = set()
    for resource_type, model in RESIDENT_TYPES:
        stmt = select(model).where(model.resident_id == resident.id).order_by(model.id)
        if model is Observation:  # a panel's component rows: the panel itself is kept verbatim below
            stmt = stmt.where(Observation.source_key.is_(None) | Observation.source_key.not_like("%#%"))
        rows = session.scalars(stmt).all()
        resources += render_rows(session, resource_type, rows)
        for row in rows:
            if getattr(row, "institution_id", None):
                institutions.add(row.institution_id)
            if getattr(row, "practitioner_id", None):
                practitioners.add(row.practitioner_id)
            if isinstance(row, Contract):
                teams.add(row.team_id)
    consents = session.scalars(
        select(ContractConsent).where(ContractConsent.resident_id == resident.id).order_by(ContractConsent.id)
    ).all()
    resources += [render.consent(c) for c in consents]
    kept = session.scalars(
        select(FhirResource).where(FhirResource.resident_id == resident.id).order_by(FhirResource.id)
    ).all()
    resources += [render.verbatim(k) for k in kept]
    team_rows = session.scalars(select(CareTeam).where(CareTeam.id.in_(teams))).all() if teams else []
    for members in team_members(session, [t.id for t in team_rows]).values():
        practitioners.update(m.practitioner_id for m in members)
    institutions.update(t.home_institution_id for t in team_rows)
    directory: list[dict[str, Any]] = []
    if institutions:
        orgs = session.scalars(select(Institution).where(Institution.id.in_(institutions)).order_by(Institution.id))
        directory += render_rows(session, "Organization", list(orgs))
    if practitioners:
        pracs = session.scalars(
            select(Practitioner).where(Practitioner.id.in_(practitioners)).order_by(Practitioner.id)
        )
        directory += render_rows(session, "Practitioner", list(pracs))
    directory += render_rows(session, "CareTeam", list(team_rows))
    entries = [*resources, *directory]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": f"{base_url}/Patient/{resident.id}/$everything"}],
        "entry": [
            {
                "fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match" if i < len(resources) else "include"},
            }
            for i, r in enumerate(entries)
        ],
    }
