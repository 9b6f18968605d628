"""``POST /api/v1/import/fhir``: the bulk FHIR importer over HTTP (the engine of ``healthbrain import
fhir``), for an institution's system sending a day's NDJSON export.

The body is the NDJSON itself (``Content-Type: application/fhir+ndjson`` or
``application/x-ndjson``; gzip as ``Content-Encoding: gzip`` or a .gz body), or a multipart upload
with the file in the field ``file``. The sender is the caller's institution. The whole upload is
one unit of work: it lands entirely or not at all, and sending it again changes nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.roles import Permission
from healthbrain.auth.scope import Principal
from healthbrain.core.errors import InvalidInput
from healthbrain.core.params import IdPath
from healthbrain.interop import bulk
from healthbrain.interop.models import BulkImport
from healthbrain.web.deps import LanguageDep, SessionDep

router = APIRouter(prefix="/api/v1/import", tags=["import"])
_PIECE = 1 << 20


class BulkImportOut(BaseModel):
    id: int
    file_name: str
    sha256: str
    sender: str | None
    status: str
    lines: int
    inserted: int
    duplicates: int
    rejected: int
    already_done: bool = False
    rejects_url: str


def _out(row: BulkImport, *, already_done: bool = False) -> BulkImportOut:
    return BulkImportOut(
        id=row.id,
        file_name=row.file_name,
        sha256=row.file_sha256,
        sender=row.sender,
        status=row.status,
        lines=row.lines_done,
        inserted=row.inserted,
        duplicates=row.duplicates,
        rejected=row.rejected,
        already_done=already_done,
        rejects_url=f"/api/v1/import/fhir/{row.id}/rejects",
    )


async def _spool(request: Request) -> tuple[Path, str]:
    """The upload in a temporary file (compressed or not: the engine reads either), and its name."""
    handle = tempfile.NamedTemporaryFile(prefix="hb-import-", suffix=".ndjson", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    name = "upload.ndjson"
    try:
        with handle:
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                form = await request.form()
                upload = form.get("file")
                if isinstance(upload, UploadFile):
                    name = upload.filename or name
                    while piece := await upload.read(_PIECE):
                        handle.write(piece)
            else:
                async for piece in request.stream():
                    handle.write(piece)
        if path.stat().st_size == 0:
            raise InvalidInput("bulk.error.empty_upload", field="body")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, name


def _import(session: Session, principal: Principal, path: Path, name: str, language: str) -> BulkImportOut:
    principal.require(Permission.RECORD_IMPORT)
    sender = bulk.sender_of(session, principal)

    def units() -> AbstractContextManager[Session]:
        return nullcontext(session)  # one unit of work: the request's

    try:
        result = bulk.import_file(units, path, sender=sender, principal=principal, language=language, file_name=name)
    except (EOFError, OSError) as exc:  # a truncated or corrupt gzip body
        raise InvalidInput("bulk.error.bad_gzip", field="body", msg=str(exc)[:200]) from None
    row = session.get(BulkImport, result.import_id)
    assert row is not None
    return _out(row, already_done=result.already_done)


@router.post(
    "/fhir",
    response_model=BulkImportOut,
    summary="Import FHIR resources from NDJSON (any type; plain Observations in bulk)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/fhir+ndjson": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                },
            }
        }
    },
)
async def import_fhir(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep
) -> BulkImportOut:
    principal.require(Permission.RECORD_IMPORT)
    path, name = await _spool(request)
    try:
        return await run_in_threadpool(_import, session, principal, path, name, language)
    finally:
        path.unlink(missing_ok=True)


@router.get("/fhir/{import_id}", response_model=BulkImportOut, summary="A bulk import's counts and state")
def import_status(session: SessionDep, principal: PrincipalDep, import_id: IdPath) -> BulkImportOut:
    return _out(bulk.import_of(session, principal=principal, import_id=import_id))


@router.get(
    "/fhir/{import_id}/rejects",
    summary="A bulk import's rejected lines: NDJSON of {line, errors, resource}",
    response_class=StreamingResponse,
)
def import_rejects(session: SessionDep, principal: PrincipalDep, import_id: IdPath) -> StreamingResponse:
    row = bulk.import_of(session, principal=principal, import_id=import_id)
    assert row.batch_id is not None
    lines: Iterator[bytes] = iter(list(bulk.reject_lines(session, row.batch_id)))
    return StreamingResponse(lines, media_type="application/x-ndjson")
