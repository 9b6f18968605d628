"""The FHIR R4 REST API at ``/fhir`` (JSON, ``application/fhir+json``).

Auth is the platform's own (bearer tokens for systems, the session cookie plus CSRF header for
pages). Every error, including a missing token or a malformed body, is an OperationOutcome naming
the element at fault.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from healthbrain import __version__
from healthbrain.auth.deps import PrincipalDep
from healthbrain.core.errors import DomainError, Forbidden, NotAuthenticated, NotFound
from healthbrain.core.i18n import language_from_accept, normalise_language
from healthbrain.interop.fhir import bundle, search, service
from healthbrain.interop.fhir.export import patient_everything
from healthbrain.interop.fhir.outcome import information, operation_outcome
from healthbrain.interop.fhir.parse import MAPPED_TYPES, Issue
from healthbrain.interop.fhir.store import Context, Rejected, apply
from healthbrain.web.deps import SessionDep

log = logging.getLogger("healthbrain.fhir")
FHIR_JSON = "application/fhir+json"
VERBATIM_EXAMPLES = (
    "AllergyIntolerance",
    "CarePlan",
    "Claim",
    "Consent",
    "Device",
    "DiagnosticReport",
    "ExplanationOfBenefit",
    "MedicationRequest",
    "Procedure",
    "Provenance",
)


class FhirResponse(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def language_of(request: Request) -> str:
    if lang := request.query_params.get("lang"):
        return normalise_language(lang)
    return language_from_accept(request.headers.get("accept-language"))


def outcome_response(
    request: Request, issues: list[Issue], status: int, headers: dict[str, str] | None = None
) -> Response:
    return FhirResponse(operation_outcome(issues, status, language_of(request)), status_code=status, headers=headers)


class BadBody(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class FhirRoute(APIRoute):
    """Every failure of a /fhir route (dependencies included: no token, bad CSRF) answers an
    OperationOutcome, never the platform's plain JSON error and never a 500 page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except BadBody as exc:
                return outcome_response(request, [Issue("", "fhir.error.bad_json", {"msg": exc.message})], 400)
            except search.BadSearch as exc:
                return outcome_response(request, [exc.issue], 400)
            except DomainError as exc:
                where = exc.field or ""
                headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
                return outcome_response(request, [Issue(where, exc.key, dict(exc.params))], exc.status_code, headers)
            except RequestValidationError as exc:
                issues = [
                    Issue(".".join(str(p) for p in e.get("loc", ())[1:]), "fhir.error.r4", {"msg": e.get("msg", "")})
                    for e in exc.errors()
                ]
                return outcome_response(request, issues, 400)
            except Exception:
                log.exception("fhir request failed", extra={"path": request.url.path})
                return outcome_response(request, [Issue("", "error.internal", {})], 500)

        return handler


router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)


async def fhir_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(str(exc)[:200]) from None


BodyDep = Annotated[Any, Depends(fhir_body)]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def capability_statement(base: str) -> dict[str, Any]:
    interactions = [{"code": c} for c in ("read", "create", "update", "search-type")]
    resources: list[dict[str, Any]] = []
    for resource_type in MAPPED_TYPES:
        params = [*search.PARAMETERS[resource_type], "_id", "_count"]
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": interactions,
            "versioning": "no-version",
            "conditionalCreate": True,
            "searchParam": [{"name": p, "type": _param_type(p)} for p in params],
        }
        if resource_type == "Patient":
            entry["operation"] = [
                {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}
            ]
        resources.append(entry)
    for resource_type in VERBATIM_EXAMPLES:
        resources.append(
            {
                "type": resource_type,
                "documentation": "Kept verbatim (any resource type is accepted the same way).",
                "interaction": interactions,
                "conditionalCreate": True,
                "searchParam": [{"name": p, "type": _param_type(p)} for p in ("patient", "_id", "_lastUpdated")],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "kind": "instance",
        "software": {"name": "healthbrain", "version": __version__},
        "implementation": {"description": "healthbrain FHIR R4 API", "url": base},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ],
                            "text": "Bearer token",
                        }
                    ]
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }


def _param_type(name: str) -> str:
    if name in ("patient", "subject", "care-manager", "team", "encounter", "partof"):
        return "reference"
    if name in ("date", "birthdate", "onset-date", "effective", "_lastUpdated"):
        return "date"
    if name == "name":
        return "string"
    if name == "_count":
        return "number"
    return "token"


@router.get("/metadata", summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    return FhirResponse(capability_statement(base_url(request)))


@router.post("", summary="Transaction or batch bundle")
def post_bundle(request: Request, session: SessionDep, principal: PrincipalDep, body: BodyDep) -> Response:
    ctx = Context(
        session=session,
        sender=service.sender_of(session, principal),
        principal=principal,
        language=language_of(request),
    )
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return outcome_response(request, [Issue("resourceType", "fhir.error.bundle_type", {"value": "-"})], 400)

    def outcome(c: Context, issues: list[Issue], status: int) -> dict[str, Any]:
        return operation_outcome(issues, status, c.language)

    status, answer = bundle.process(ctx, body, outcome)
    return FhirResponse(answer, status_code=status)


@router.get("/{resource_type}", summary="Search")
def search_type(request: Request, session: SessionDep, principal: PrincipalDep, resource_type: str) -> Response:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return FhirResponse(
        service.search_bundle(
            session, principal=principal, resource_type=resource_type, params=params, base_url=base_url(request)
        )
    )


def _written_response(
    request: Request, session: SessionDep, principal: PrincipalDep, resource_type: str, logical_id: str, status: int
) -> Response:
    location = f"{base_url(request)}/{resource_type}/{logical_id}"
    try:
        resource = service.read(session, principal=principal, resource_type=resource_type, logical_id=logical_id)
    except (NotFound, Forbidden):
        # A hospital's interface may write for any resident of the district but read back only the
        # residents it knows (its scope): the write stands, and the answer says where it is.
        key = "fhir.ok.written_not_readable"
        return FhirResponse(information(key, language_of(request)), status_code=status, headers={"Location": location})
    version = (resource.get("meta") or {}).get("versionId", "1")
    return FhirResponse(
        resource,
        status_code=status,
        headers={"Location": f"{location}/_history/{version}", "Content-Location": location, "ETag": f'W/"{version}"'},
    )


def _reject(request: Request, ctx: Context, body: Any, exc: Rejected, channel: str) -> Response:
    bundle.keep_rejections(ctx, channel=channel, received=1, inserted=0, rejected=[(1, body, exc.issues)])
    return outcome_response(request, exc.issues, exc.status)


@router.post("/{resource_type}", summary="Create (conditional with If-None-Exist)")
def create(
    request: Request, session: SessionDep, principal: PrincipalDep, resource_type: str, body: BodyDep
) -> Response:
    ctx = Context(
        session=session,
        sender=service.sender_of(session, principal),
        principal=principal,
        language=language_of(request),
    )
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        got = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        return outcome_response(
            request, [Issue("resourceType", "fhir.error.type_mismatch", {"got": got, "expected": resource_type})], 400
        )
    condition = request.headers.get("if-none-exist")
    if condition:
        try:
            matches = service.existing_for_condition(
                session, sender=ctx.sender, resource_type=resource_type, condition=condition
            )
        except ValueError:
            issue = Issue("If-None-Exist", "fhir.error.if_none_exist", {"value": condition})
            return outcome_response(request, [issue], 400)
        if len(matches) > 1:
            issue = Issue("If-None-Exist", "fhir.error.multiple_matches", {"count": len(matches)})
            return outcome_response(request, [issue], 412)
        if matches:
            return _written_response(request, session, principal, resource_type, matches[0], 200)
    try:
        written = apply(ctx, body)
    except Rejected as exc:
        return _reject(request, ctx, body, exc, "fhir.rest")
    assert written.id is not None
    return _written_response(request, session, principal, resource_type, written.id, 201 if written.created else 200)


@router.get("/{resource_type}/{logical_id}", summary="Read")
def read(
    request: Request, session: SessionDep, principal: PrincipalDep, resource_type: str, logical_id: str
) -> Response:
    resource = service.read(session, principal=principal, resource_type=resource_type, logical_id=logical_id)
    version = (resource.get("meta") or {}).get("versionId")
    return FhirResponse(resource, headers={"ETag": f'W/"{version}"'} if version else None)


@router.put("/{resource_type}/{logical_id}", summary="Update")
def update(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    resource_type: str,
    logical_id: str,
    body: BodyDep,
) -> Response:
    ctx = Context(
        session=session,
        sender=service.sender_of(session, principal),
        principal=principal,
        language=language_of(request),
    )
    if not isinstance(body, dict) or body.get("resourceType") != resource_type:
        got = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        return outcome_response(
            request, [Issue("resourceType", "fhir.error.type_mismatch", {"got": got, "expected": resource_type})], 400
        )
    if body.get("id") is not None and str(body["id"]) != logical_id:
        issue = Issue(f"{resource_type}.id", "fhir.error.id_mismatch", {"got": body["id"], "expected": logical_id})
        return outcome_response(request, [issue], 400)
    body = {k: v for k, v in body.items() if k not in ("id", "meta")}
    try:
        written = apply(ctx, body, update_id=logical_id)
    except Rejected as exc:
        return _reject(request, ctx, body, exc, "fhir.rest")
    assert written.id is not None
    return _written_response(request, session, principal, resource_type, written.id, 201 if written.created else 200)


@router.get("/Patient/{logical_id}/$everything", summary="Everything about a patient")
def everything(request: Request, session: SessionDep, principal: PrincipalDep, logical_id: str) -> Response:
    if not logical_id.isdigit() or len(logical_id) > 18:
        return outcome_response(
            request, [Issue("", "fhir.error.not_found", {"type": "Patient", "id": logical_id})], 404
        )
    return FhirResponse(
        patient_everything(session, principal=principal, resident_id=int(logical_id), base_url=base_url(request))
    )
