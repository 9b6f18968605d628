"""Bundles posted to ``/fhir``: ``transaction`` (all or nothing) and ``batch`` (each entry on its
own), with conditional create (``request.ifNoneExist``) and urn:uuid references between entries.

Entries are applied in dependency order (directory, then patients, teams, contracts, encounters,
then everything else), whatever their order in the bundle; the response lists them in the
bundle's order. A refused resource is kept (``ingest_batch`` + ``ingest_rejection``) with its
reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from healthbrain.auth.scope import Principal
from healthbrain.core.ingest import verbatim_json
from healthbrain.core.time import utcnow
from healthbrain.interop.fhir import refs
from healthbrain.interop.fhir.parse import Issue
from healthbrain.interop.fhir.service import existing_for_condition
from healthbrain.interop.fhir.store import Context, Rejected, Written, apply
from healthbrain.records.models import IngestBatch, IngestRejection

ORDER = {
    "Organization": 0,
    "Location": 1,
    "Practitioner": 2,
    "PractitionerRole": 3,
    "Patient": 4,
    "CareTeam": 5,
    "EpisodeOfCare": 6,
    "Encounter": 7,
}
_TYPE_PREFIX = re.compile(r"^[A-Za-z]+")


@dataclass
class EntryResult:
    index: int
    written: Written | None
    status: int
    issues: list[Issue]


def entry_path(index: int, issue: Issue) -> Issue:
    """An issue of entry ``index`` named from the Bundle (``Bundle.entry[3].resource.subject``)."""
    rest = _TYPE_PREFIX.sub("", issue.field, count=1)
    return Issue(f"Bundle.entry[{index}].resource{rest}", issue.key, issue.params)


def _status_line(status: int) -> str:
    return {200: "200 OK", 201: "201 Created"}.get(status, str(status))


def apply_entry(ctx: Context, index: int, entry: Any) -> EntryResult:
    """One entry: POST (create, conditional with ifNoneExist) or PUT (update, or create under the
    sender's id when the id is not ours)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
        return EntryResult(index, None, 400, [Issue(f"Bundle.entry[{index}].resource", "fhir.error.not_a_resource")])
    resource = entry["resource"]
    raw_request = entry.get("request")
    request: dict[str, Any] = raw_request if isinstance(raw_request, dict) else {}
    method = str(request.get("method") or "POST").upper()
    full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
    resource_type = str(resource.get("resourceType"))
    try:
        if method == "POST":
            condition = request.get("ifNoneExist")
            if isinstance(condition, str) and condition:
                try:
                    matches = existing_for_condition(
                        ctx.session, sender=ctx.sender, resource_type=resource_type, condition=condition
                    )
                except ValueError:
                    raise Rejected(
                        400, [Issue("Bundle.request.ifNoneExist", "fhir.error.if_none_exist", {"value": condition})]
                    ) from None
                if len(matches) > 1:
                    raise Rejected(412, [Issue(resource_type, "fhir.error.multiple_matches", {"count": len(matches)})])
                if matches:
                    if full_url:
                        ctx.urns[full_url] = (resource_type, matches[0])
                    return EntryResult(index, Written(resource_type, matches[0], False, []), 200, [])
            written = apply(ctx, resource, full_url=full_url)
        elif method == "PUT":
            parts = refs.split_reference(str(request.get("url") or ""))
            target = parts[1] if parts else None
            ours = target is not None and _is_ours(ctx.session, resource_type, target)
            if not ours and target is not None and not resource.get("id"):
                resource = {**resource, "id": target}
            written = apply(ctx, resource, full_url=full_url, update_id=target if ours else None)
        else:
            raise Rejected(400, [Issue(resource_type, "fhir.error.method", {"value": method})])
    except Rejected as exc:
        return EntryResult(index, None, exc.status, exc.issues)
    return EntryResult(index, written, 201 if written.created else 200, [])


def _is_ours(session: Session, resource_type: str, logical_id: str) -> bool:
    from healthbrain.interop.fhir import search
    from healthbrain.interop.models import FhirResource

    model = search.MODELS.get(resource_type)
    if model is not None and logical_id.isdigit() and len(logical_id) < 19:
        return session.get(model, int(logical_id)) is not None
    from sqlalchemy import select

    return (
        session.scalar(
            select(FhirResource.id).where(
                FhirResource.resource_type == resource_type, FhirResource.logical_id == logical_id
            )
        )
        is not None
    )


def _ordered(entries: list[Any]) -> list[tuple[int, Any]]:
    def rank(item: tuple[int, Any]) -> tuple[int, int]:
        index, entry = item
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        return ORDER.get(str(kind), 99), index

    return sorted(enumerate(entries), key=rank)


def keep_rejections(
    ctx: Context, *, channel: str, received: int, inserted: int, rejected: list[tuple[int, Any, list[Issue]]]
) -> int:
    """Keep refused resources with their reasons (an ingest batch of the request)."""
    principal: Principal | None = ctx.principal
    batch = IngestBatch(
        channel=channel,
        user_id=principal.user_id if principal and principal.user_id else None,
        institution_id=ctx.institution.id if ctx.institution else None,
        received_at=utcnow(),
        received=received,
        inserted=inserted,
        duplicates=0,
        rejected=len(rejected),
    )
    ctx.session.add(batch)
    ctx.session.flush()
    for number, payload, issues in rejected:
        ctx.session.add(
            IngestRejection(
                batch_id=batch.id, row_number=number, payload=verbatim_json(payload), errors=ctx.messages(issues)
            )
        )
    ctx.session.flush()
    return batch.id


def _response_entry(result: EntryResult, ctx: Context, outcome: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"status": _status_line(result.status)}
    if result.written is not None and result.written.id is not None:
        response["location"] = f"{result.written.resource_type}/{result.written.id}"
    if result.issues:
        response["outcome"] = outcome(ctx, [entry_path(result.index, i) for i in result.issues], result.status)
    return {"response": response}


def process(ctx: Context, bundle: dict[str, Any], outcome: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, response Bundle or OperationOutcome) of a posted transaction or batch."""
    kind = bundle.get("type")
    entries = bundle.get("entry") or []
    if kind not in ("transaction", "batch"):
        return 400, outcome(ctx, [Issue("Bundle.type", "fhir.error.bundle_type", {"value": kind})], 400)
    if not isinstance(entries, list):
        return 400, outcome(ctx, [Issue("Bundle.entry", "fhir.error.not_a_resource")], 400)
    results: dict[int, EntryResult] = {}
    if kind == "transaction":
        savepoint = ctx.session.begin_nested()
        for index, entry in _ordered(entries):
            result = apply_entry(ctx, index, entry)
            if result.issues:
                savepoint.rollback()
                ctx.urns.clear()
                issues = [entry_path(index, i) for i in result.issues]
                resource = entry.get("resource") if isinstance(entry, dict) else entry
                keep_rejections(
                    ctx,
                    channel="fhir.transaction",
                    received=len(entries),
                    inserted=0,
                    rejected=[(index + 1, resource, issues)],
                )
                head = Issue("Bundle", "fhir.error.transaction_failed", {"index": index})
                status = result.status if result.status in (400, 403, 404, 409, 412, 422) else 400
                return status, outcome(ctx, [head, *issues], status)
            results[index] = result
        savepoint.commit()
    else:
        for index, entry in _ordered(entries):
            results[index] = apply_entry(ctx, index, entry)
        refused = [
            (
                i + 1,
                entries[i].get("resource") if isinstance(entries[i], dict) else entries[i],
                [entry_path(i, x) for x in r.issues],
            )
            for i, r in sorted(results.items())
            if r.issues
        ]
        if refused:
            keep_rejections(
                ctx,
                channel="fhir.batch",
                received=len(entries),
                inserted=sum(1 for r in results.values() if r.written and r.written.created),
                rejected=refused,
            )
    response = {
        "resourceType": "Bundle",
        "type": f"{kind}-response",
        "entry": [_response_entry(results[i], ctx, outcome) for i in range(len(entries))],
    }
    return 200, response
