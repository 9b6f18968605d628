"""Resident pages: search (masked), registration, the resident's basic record, reveal, merge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from healthbrain.auth.deps import PrincipalDep
from healthbrain.auth.roles import Permission
from healthbrain.core.errors import DomainError
from healthbrain.core.i18n import translate
from healthbrain.core.params import IdForm, IdPath, OffsetQuery
from healthbrain.db import rollback
from healthbrain.people import service
from healthbrain.people.populations import KeyPopulation
from healthbrain.people.schemas import ResidentCreate
from healthbrain.records import codes
from healthbrain.records import service as records
from healthbrain.web.charts import Series, line_chart
from healthbrain.web.deps import LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@router.get("/residents", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    q: str = "",
    division: str = "",
    kp: str = "",
    offset: OffsetQuery = 0,
) -> Response:
    principal.require(Permission.RESIDENT_READ)
    population = KeyPopulation(kp) if kp in {p.value for p in KeyPopulation} else None
    result = service.search_residents(
        session,
        principal=principal,
        q=q.strip() or None,
        division_code=division or None,
        key_population=population,
        offset=offset,
        limit=PAGE_SIZE,
    )
    context = {
        "results": result.items,
        "has_more": result.has_more,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "q": q,
        "division": division,
        "kp": kp,
        "populations": [p.value for p in KeyPopulation],
        "divisions": service.divisions_for_filter(session, principal=principal),
    }
    template = "residents/_results.html" if request.headers.get("hx-request") else "residents/search.html"
    return render(request, template, context, principal=principal)


@router.get("/residents/new", response_class=HTMLResponse)
def new_resident_page(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    principal.require(Permission.RESIDENT_WRITE)
    return _new_form(request, session, principal, form={}, errors={})


def _new_form(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    *,
    form: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    communities = [d for d in service.divisions_for_filter(session, principal=principal) if d.level == "community"]
    return render(
        request,
        "residents/new.html",
        {"form": form, "errors": errors, "communities": communities},
        principal=principal,
        status_code=status_code,
    )


@router.post("/residents/new", response_class=HTMLResponse)
def new_resident_submit(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: LanguageDep,
    name: Annotated[str, Form()] = "",
    id_number: Annotated[str, Form()] = "",
    sex: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    division_code: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "name": name,
        "id_number": id_number,
        "sex": sex,
        "birth_date": birth_date,
        "phone": phone,
        "division_code": division_code,
        "address": address,
    }
    errors: dict[str, str] = {}
    try:
        data = ResidentCreate.model_validate({k: v for k, v in form.items() if v.strip()})
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            errors[field] = translate(f"form.invalid.{field}", language)
        return _new_form(request, session, principal, form=form, errors=errors, status_code=422)
    try:
        resident = service.create_resident(session, principal=principal, data=data)
    except DomainError as exc:
        rollback(session)
        errors[exc.field or "form"] = translate(exc.key, language, **exc.params)
        if exc.link and "resident_id" in exc.params:
            errors["existing"] = f"/residents/{exc.params['resident_id']}"
        return _new_form(request, session, principal, form=form, errors=errors, status_code=exc.status_code)
    return RedirectResponse(f"/residents/{resident.id}", status_code=303)


@router.get("/residents/{resident_id}", response_class=HTMLResponse)
def resident_page(
    request: Request, session: SessionDep, principal: PrincipalDep, language: LanguageDep, resident_id: IdPath
) -> Response:
    resident = service.get_resident(session, principal=principal, resident_id=resident_id, action="record.read")
    record = records.record_of(session, resident)
    detail = service.detail(session, resident)
    bp = records.series_of(session, resident, [codes.SYSTOLIC_BP, codes.DIASTOLIC_BP])
    glucose = records.series_of(session, resident, [codes.GLUCOSE_FASTING, codes.GLUCOSE_CAPILLARY])
    bp_chart = line_chart(
        [
            Series(
                translate("obs.systolic", language),
                "#c0392b",
                [(o.effective_at, o.value_num) for o in bp if o.code == codes.SYSTOLIC_BP and o.value_num is not None],
            ),
            Series(
                translate("obs.diastolic", language),
                "#2471a3",
                [(o.effective_at, o.value_num) for o in bp if o.code == codes.DIASTOLIC_BP and o.value_num is not None],
            ),
        ],
        bands=[(140, "140"), (90, "90")],
        title=translate("resident.bp_chart", language),
    )
    glucose_chart = line_chart(
        [
            Series(
                translate("obs.glucose", language),
                "#7d3c98",
                [(o.effective_at, o.value_num) for o in glucose if o.value_num is not None],
            )
        ],
        bands=[(7.0, "7.0")],
        title=translate("resident.glucose_chart", language),
    )
    return render(
        request,
        "residents/detail.html",
        {
            "r": detail,
            "record": record,
            "household": service.household_of(session, principal=principal, resident=resident),
            "merges": service.merges_of(session, resident=resident),
            "bp_chart": bp_chart,
            "glucose_chart": glucose_chart,
            "loinc": codes.LOINC_NAMES,
            "units": codes.UNIT_DISPLAY,
        },
        principal=principal,
    )


@router.post("/residents/{resident_id}/reveal", response_class=HTMLResponse)
def reveal_fragment(request: Request, session: SessionDep, principal: PrincipalDep, resident_id: IdPath) -> Response:
    revealed = service.reveal(session, principal=principal, resident_id=resident_id)
    return render(request, "residents/_identity.html", {"revealed": revealed}, principal=principal)


@router.post("/residents/{resident_id}/merge", response_class=HTMLResponse)
def merge_submit(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    resident_id: IdPath,
    merged_id: IdForm,
    reason: Annotated[str, Form()],
) -> Response:
    service.merge(session, principal=principal, survivor_id=resident_id, merged_id=merged_id, reason=reason.strip())
    return RedirectResponse(f"/residents/{resident_id}", status_code=303)


@router.post("/residents/merges/{merge_id}/unmerge", response_class=HTMLResponse)
def unmerge_submit(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    merge_id: IdPath,
    reason: Annotated[str, Form()],
) -> Response:
    row = service.unmerge(session, principal=principal, merge_id=merge_id, reason=reason.strip())
    return RedirectResponse(f"/residents/{row.survivor_id}", status_code=303)
