"""The upload page for data submitters (数据上报): choose the kind of file, download its template,
upload a CSV or Excel file, see what was stored and rejected, download the error report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import DomainError
from healthbrain.core.i18n import translate
from healthbrain.db import rollback
from healthbrain.interop import tabular_repository as repository
from healthbrain.interop import tabular_service as service
from healthbrain.interop.tabular import KIND_NAMES, SPECS, Kind, allowed
from healthbrain.web.deps import LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)


def _context(session: Session, principal: Principal, kind: Kind, language: str) -> dict[str, Any]:
    spec = SPECS[kind]
    zh = language == "zh-CN"
    own = principal.institution_id
    return {
        "kind": kind.value,
        "kinds": [(k.value, KIND_NAMES[k][0 if zh else 1]) for k in service.kinds_for(principal)],
        "kind_names": {k.value: KIND_NAMES[k][0 if zh else 1] for k in Kind},
        "columns": [
            {
                "label": c.label(language),
                "required": c.required,
                "allowed": allowed(c) if c.codes else (c.unit or ""),
                "note": c.note_zh if zh else c.note_en,
                "example": c.example,
            }
            for c in spec.columns
        ],
        "labels": {c.name: c.label(language) for c in spec.columns},
        "institution": repository.institution_by_id(session, own) if own is not None else None,
        "batches": service.recent_uploads(session, principal=principal),
    }


def _kind(principal: Principal, value: str) -> Kind:
    kinds = service.kinds_for(principal)
    for k in kinds:
        if k.value == value:
            return k
    return kinds[0] if kinds else Kind.RESIDENTS


@router.get("/interop/upload", response_class=HTMLResponse)
def upload_page(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, kind: str = "residents"
) -> Response:
    principal.require(Permission.RECORD_IMPORT)
    context = _context(session, principal, _kind(principal, kind), language)
    return render(request, "interop/upload.html", context, principal=principal)


@router.post("/interop/upload", response_class=HTMLResponse)
async def upload_file(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    kind: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    principal.require(Permission.RECORD_IMPORT)
    content = await file.read()
    chosen = _kind(principal, kind)
    try:
        result = service.import_table(
            session,
            principal=principal,
            kind=service.parse_kind(kind),
            filename=file.filename or "",
            content=content,
            language=language,
        )
    except DomainError as exc:
        rollback(session)
        context = _context(session, principal, chosen, language)
        context["file_error"] = translate(exc.key, language, **exc.params)
        return render(request, "interop/upload.html", context, principal=principal, status_code=exc.status_code)
    context = _context(session, principal, chosen, language)
    context["result"] = result
    context["filename"] = file.filename
    return render(request, "interop/upload.html", context, principal=principal)
