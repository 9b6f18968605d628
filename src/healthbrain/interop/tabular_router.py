"""CSV / Excel import API: upload a file of one kind, download its template and the error report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from healthbrain.auth.deps import PrincipalDep
from healthbrain.core.params import IdPath
from healthbrain.interop import tabular_service as service
from healthbrain.interop.tabular import SPECS, Kind
from healthbrain.interop.tabular_files import XLSX_MEDIA_TYPE, template_csv, template_xlsx
from healthbrain.interop.tabular_schemas import BatchOut, TableResult
from healthbrain.web.deps import LanguageDep, SessionDep

router = APIRouter(prefix="/api/v1/import", tags=["import"])
KindQuery = Annotated[str, Query(description="residents, encounters, observations, exams or followups")]


@router.post(
    "/table",
    response_model=TableResult,
    summary="Import a CSV or Excel file of residents, encounters, observations, exams or follow-ups",
    description="Headers in Chinese (the template's) or English. Each row is checked on its own: good rows "
    "are stored, bad rows come back with their line in the file, the column and the reason, and are kept "
    "for the error report. The same file sent again changes nothing (its rows are duplicates).",
)
async def import_table(
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    kind: KindQuery,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030) or xlsx")],
) -> TableResult:
    parsed = service.parse_kind(kind)
    content = await file.read()
    return service.import_table(
        session, principal=principal, kind=parsed, filename=file.filename or "", content=content, language=language
    )


@router.get("/templates/{name}", summary="The template of a kind of file: {kind}.xlsx or {kind}.csv")
def template(principal: PrincipalDep, name: str) -> Response:
    kind = service.parse_kind(name)
    service.require_kind(principal, kind)
    if name.endswith(".csv"):
        return Response(
            template_csv(SPECS[kind]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{kind}-template.csv"'},
        )
    return Response(
        template_xlsx(SPECS[kind]),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.xlsx"'},
    )


@router.get("/batches", response_model=list[BatchOut], summary="Recent uploads of the caller's institution")
def batches(session: SessionDep, principal: PrincipalDep) -> list[BatchOut]:
    return service.recent_uploads(session, principal=principal)


@router.get("/batches/{batch_id}/errors.xlsx", summary="The rejected rows of an upload, to correct and resend")
def error_report(session: SessionDep, principal: PrincipalDep, batch_id: IdPath) -> Response:
    filename, content = service.error_report(session, principal=principal, batch_id=batch_id)
    return Response(
        content, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


__all__ = ["Kind", "router"]
