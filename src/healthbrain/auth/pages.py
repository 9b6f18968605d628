"""Pages of the auth domain: log in and out, users (administrator), the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from healthbrain.auth import repository, service
from healthbrain.auth.deps import SESSION_COOKIE, OptionalPrincipalDep, PrincipalDep, require
from healthbrain.auth.roles import Permission, Role
from healthbrain.auth.schemas import UserCreate
from healthbrain.auth.scope import Principal
from healthbrain.config import get_settings
from healthbrain.core.errors import DomainError
from healthbrain.core.i18n import translate
from healthbrain.core.params import IdPath, IdQuery
from healthbrain.db import rollback
from healthbrain.geo import repository as geo_repository
from healthbrain.web.deps import LanguageDep, SessionDep
from healthbrain.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, principal: OptionalPrincipalDep, next: str | None = None) -> Response:
    if principal is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    session: SessionDep,
    language: LanguageDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        issued = service.login(
            session,
            username=username.strip(),
            password=password,
            kind="web",
            ip=request.client.host if request.client else None,
        )
    except DomainError as exc:
        # The failed attempt is audited and counted even though this request "fails".
        session.commit()
        message = translate(exc.key, language, **exc.params)
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": message, "username": username},
            status_code=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        httponly=True,
        samesite="lax",
        secure=get_settings().cookie_secure,
        max_age=get_settings().session_hours * 3600,
        path="/",
    )
    return response


@router.post("/logout")
def logout(session: SessionDep, principal: PrincipalDep) -> Response:
    service.logout(session, principal=principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


AdminDep = Annotated[Principal, Depends(require(Permission.USER_ADMIN))]
AuditorDep = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, principal: AdminDep) -> Response:
    return _users(request, session, principal)


def _users(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    error: str | None = None,
    notice: str | None = None,
    token: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/users.html",
        {
            "users": repository.list_users(session, limit=500),
            "roles": list(Role),
            "institutions": {
                i.id: i
                for i in geo_repository.institutions(session, kind=None, division_ids=None, limit=5000, offset=0)
            },
            "error": error,
            "notice": notice,
            "token": token,
        },
        principal=principal,
        status_code=status_code,
    )


@router.post("/admin/users", response_class=HTMLResponse)
def create_user_submit(
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    language: LanguageDep,
    username: Annotated[str, Form()],
    display_name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[Role, Form()],
    institution_code: Annotated[str, Form()] = "",
    practitioner_code: Annotated[str, Form()] = "",
) -> Response:
    try:
        institution_id, practitioner_id = service.bindings_by_code(
            session,
            institution_code=institution_code.strip() or None,
            practitioner_code=practitioner_code.strip() or None,
        )
        data = UserCreate(
            username=username.strip(),
            display_name=display_name.strip(),
            password=password,
            role=role,
            institution_id=institution_id,
            practitioner_id=practitioner_id,
        )
        user = service.create_user(session, actor=principal, data=data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _users(request, session, principal, error=problems, status_code=422)
    except DomainError as exc:
        rollback(session)
        return _users(request, session, principal, error=translate(exc.key, language, **exc.params), status_code=422)
    return _users(request, session, principal, notice=translate("users.created", language, username=user.username))


@router.post("/admin/users/{user_id}/token", response_class=HTMLResponse)
def issue_token_submit(
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    language: LanguageDep,
    user_id: IdPath,
    label: Annotated[str, Form()],
) -> Response:
    user = service.get_user(session, user_id)
    issued = service.issue_token(session, actor=principal, user=user, label=label.strip() or "token", days=365)
    return _users(
        request,
        session,
        principal,
        notice=translate("users.token_issued", language, username=user.username),
        token=issued.token,
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    principal: AuditorDep,
    resident_id: str = "",
    username: str = "",
    action: str = "",
    before_id: IdQuery = None,
) -> Response:
    user_id = None
    if username.strip():
        user = repository.user_by_username(session, username.strip())
        user_id = user.id if user else -1
    events = service.audit_trail(
        session,
        principal=principal,
        resident_id=int(resident_id) if resident_id.strip().isdigit() else None,
        user_id=user_id,
        action=action.strip() or None,
        before_id=before_id,
        limit=100,
    )
    return render(
        request,
        "admin/audit.html",
        {"events": events, "filters": {"resident_id": resident_id, "username": username, "action": action}},
        principal=principal,
    )
